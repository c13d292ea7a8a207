"""User-defined functions inside a session's DuckDB.

A Python UDF (`"type"="Python"`, `"file"="inline"`) is its $$ body run once per connection; the callable
named by `"symbol"` becomes a DuckDB Python function under a private name. DuckDB cannot overload Python
functions, so each database gets a typed macro per function name whose overloads (one per StarRocks
signature) call those private functions: `SELECT f(1)` then resolves through the session database's
schema, and DuckDB picks the overload by argument types. Java UDFs are metadata only: calling one is a
clear error. Registrations are cached per connection by (db, signature, body hash).
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections.abc import Callable
from typing import Any

from engine.types import duck_type, quote
from events.errors import CatalogError

_CACHE: weakref.WeakKeyDictionary[Any, _ConnState] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


class _ConnState:
    def __init__(self) -> None:
        self.python: set[str] = set()  # private DuckDB function names registered
        self.macros: dict[tuple[str, str], str] = {}  # (db, name) -> macro SQL last created


def load_python_udf(body: str, symbol: str, where: str = "") -> Callable[..., Any]:
    """Run an inline UDF body and return its `symbol`; refuse broken code with a clear message."""
    namespace: dict[str, Any] = {"__name__": f"starbackup_udf_{symbol}"}
    try:
        code = compile(body, f"<udf {where or symbol}>", "exec")
        exec(code, namespace)  # noqa: S102  (a Python UDF is user code by definition, as in StarRocks)
    except SyntaxError as e:
        raise CatalogError(f"Python UDF {where}: syntax error in the body at line {e.lineno}: {e.msg}") from None
    except Exception as e:  # noqa: BLE001  (any failure of user code is a refusal, never a traceback)
        raise CatalogError(f"Python UDF {where}: the body failed to run: {type(e).__name__}: {e}") from None
    fn: object = namespace.get(symbol)
    if not callable(fn):
        raise CatalogError(f"Python UDF {where}: symbol '{symbol}' is not a function defined in the body")
    return fn


def _private_name(db: str, f: dict[str, Any]) -> str:
    h = hashlib.sha256(
        "\x00".join([db, f["name"], ",".join(f["arg_types"]), f["return_type"], f.get("body", ""),
                     repr(sorted(f.get("properties", {}).items()))]).encode()
    ).hexdigest()[:16]
    return f"__sb_udf_{h}"


def _props(f: dict[str, Any]) -> dict[str, str]:
    return {k.lower(): v for k, v in f.get("properties", {}).items()}


def _fixed_args(f: dict[str, Any]) -> list[str]:
    return [t for t in f["arg_types"] if t != "..."]


def _overload_sql(con: Any, state: _ConnState, db: str, f: dict[str, Any]) -> str:
    args = _fixed_args(f)
    params = ", ".join(f"a{i} {duck_type(t)}" for i, t in enumerate(args))
    call_args = ", ".join(f"a{i}" for i in range(len(args)))
    signature = f"{f['name']}({', '.join(f['arg_types'])})"
    props = _props(f)
    ftype = props.get("type", "").lower()
    if ftype != "python" or f.get("kind", "SCALAR") != "SCALAR":
        kind = "Java" if ftype == "starrocksjar" else "This"
        message = (f"{kind} UDF {db}.{signature} cannot be called: starbackup keeps Java UDFs as metadata only "
                   "(for backup and restore); only inline Python UDFs run here")
        return f"({params}) AS error({_sql_string(message)})"
    private = _private_name(db, f)
    if private not in state.python:
        fn = load_python_udf(f.get("body", ""), props.get("symbol", ""), f"{db}.{signature}")
        con.create_function(private, fn, [duck_type(t) for t in args], duck_type(f["return_type"]),
                            side_effects=False)
        state.python.add(private)
    return f"({params}) AS {private}({call_args})"


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def register_functions(con: Any, functions_by_db: dict[str, list[dict[str, Any]]]) -> None:
    """Make the UDFs of the databases a query touches callable in DuckDB (as `f(...)` in the session db)."""
    with _LOCK:
        state = _CACHE.get(con)
        if state is None:
            state = _CACHE[con] = _ConnState()
    for db, functions in functions_by_db.items():
        by_name: dict[str, list[dict[str, Any]]] = {}
        for f in functions:
            by_name.setdefault(f["name"], []).append(f)
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(db)}")
        for name, overloads in sorted(by_name.items()):
            # One macro overload per arity+types; DuckDB refuses two with identical parameter types.
            seen: set[tuple[str, ...]] = set()
            parts = []
            for f in sorted(overloads, key=lambda f: f["arg_types"]):
                key = tuple(duck_type(t) for t in _fixed_args(f))
                if key in seen:
                    continue
                seen.add(key)
                parts.append(_overload_sql(con, state, db, f))
            sql = f"CREATE OR REPLACE MACRO {quote(db)}.{quote(name)} " + ", ".join(parts)
            if state.macros.get((db, name)) != sql:
                con.execute(sql)
                state.macros[(db, name)] = sql
        for (mdb, mname) in [k for k in state.macros if k[0] == db and k[1] not in by_name]:
            con.execute(f"DROP MACRO IF EXISTS {quote(mdb)}.{quote(mname)}")
            del state.macros[(mdb, mname)]
