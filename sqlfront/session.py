"""One MySQL connection: split statements, route each to its handler, turn refusals into MySQL errors.

Our statements run on a worker thread (sqlfront.interrupt) so a slow load never blocks other clients, and
KILL, a client that goes away and shutdown interrupt them.
Statements we do not own (SET, SHOW VARIABLES, SELECT @@version_comment, ...) go to mysql-mimic's own
middlewares, which is what MySQL clients expect when they connect.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, TypeVar

import duckdb
import sqlglot
from mysql_mimic import Session
from mysql_mimic.charset import Collation
from mysql_mimic.errors import ErrorCode, MysqlError
from mysql_mimic.intercept import value_to_expression
from mysql_mimic.results import ResultColumn, ensure_result_set, infer_type
from mysql_mimic.schema import Column, InfoSchema, info_schema_tables
from mysql_mimic.session import mysql_function_mapping
from mysql_mimic.types import ColumnType
from mysql_mimic.variables import (
    SYSTEM_VARIABLES,
    GlobalVariables,
    SessionVariables,
    Variables,
    VariableSchema,
    parse_timezone,
)
from sqlglot import exp

from events.errors import CatalogError
from sqlfront import sqltext
from sqlfront.cluster import ClusterClient
from sqlfront.interrupt import on_daemon_thread, outcome_value, run_interruptible
from sqlfront.query import SQLGLOT_TRIPPED, QueryEngine, clean_duckdb_error, parse, sqlglot_message
from sqlfront.split import split_statements

log = logging.getLogger("starbackup.sql")
T = TypeVar("T")

Result = Any
Handler = Callable[["StarSession", str, re.Match[str]], Result]
_HANDLERS: list[tuple[re.Pattern[str], Handler]] = []
AstHandler = Callable[["StarSession", Any], Result]
AST_HANDLERS: dict[type, AstHandler] = {}

NOT_OURS = object()
# The only statements mysql-mimic answers: session state (SET, @@variables, SHOW VARIABLES/STATUS/WARNINGS/
# ERRORS), transactions (every statement commits on its own, so BEGIN/COMMIT/ROLLBACK have nothing to do)
# and KILL. Static SELECTs and SELECTs of information_schema reach it through the SELECT handler. Nothing
# else does: mysql-mimic answers what it does not know with an empty OK.
_MIMIC_STATEMENTS = re.compile(
    r"^\s*(set\b|show\s+(session\s+|global\s+)?(variables|status|warnings|errors)\b|begin\b|"
    r"start\s+transaction\b|commit\b|rollback\b|kill\b)",
    re.I,
)
_PASSTHROUGH_FUNCS = re.compile(r"@@|\b(database|schema|user|current_user|connection_id|version)\s*\(", re.I)
# StarRocks statements starbackup does not run: refused as unsupported rather than as a syntax error.
_UNSUPPORTED_FIRST_WORDS = {
    "UPDATE", "DELETE", "EXPLAIN", "ANALYZE", "LOAD", "EXPORT", "GRANT", "REVOKE", "SUBMIT", "PAUSE", "RESUME",
    "STOP", "RECOVER", "INSTALL", "UNINSTALL", "SYNC", "EXECUTE", "PREPARE", "DEALLOCATE", "TRACE", "CLEAN",
    "UNSET", "CALL", "REPLACE", "LOCK", "UNLOCK", "FLUSH", "OPTIMIZE", "HELP",
}


def statement(pattern: str) -> Callable[[Handler], Handler]:
    """Register a handler for statements matching `pattern` (case-insensitive, from the start)."""

    def register(fn: Handler) -> Handler:
        _HANDLERS.append((re.compile(r"^\s*" + pattern, re.I | re.S), fn))
        return fn

    return register


def ast_statement(cls: type) -> Callable[[AstHandler], AstHandler]:
    def register(fn: AstHandler) -> AstHandler:
        AST_HANDLERS[cls] = fn
        return fn

    return register


class StarSession(Session):
    def __init__(self, cluster: ClusterClient) -> None:
        super().__init__(StarRocksVariables(GlobalVariables(SESSION_VARIABLES)))
        # What `mysql` prints on connect and what `SELECT @@version_comment` answers.
        self.variables.set("version_comment", "starbackup (StarRocks-compatible BACKUP/RESTORE)", force=True)
        self.cluster = cluster
        self._engine: QueryEngine | None = None
        self.last_affected_rows = 0

    @property
    def engine(self) -> QueryEngine:
        if self._engine is None:
            from sqlfront.functions import register_functions

            self._engine = QueryEngine(self.cluster.resolve, register_functions)
        return self._engine

    @property
    def db(self) -> str | None:
        return self.database

    async def handle_query(self, sql: str, attrs: dict[str, str]) -> Result:
        result: Result = None
        for stmt in await off_loop(split_statements, sql):
            result = await self._one(stmt, attrs)
        return result if result is not None else ([], [])

    async def _one(self, stmt: str, attrs: dict[str, str]) -> Result:
        """Run one statement. This is the one place a statement's errors leave the session: every refusal
        becomes a MySQL error with a code and a readable, bounded message, and one bounded log line."""
        try:
            prepared = await off_loop(sqltext.prepare, stmt)
            with self._statement_variables(prepared.hints):
                result = await run_interruptible(self, self._timed, prepared.text)
                if result is NOT_OURS:
                    result = await self._mimic(prepared.text.strip(), attrs)
            return result
        except Exception as e:  # noqa: BLE001  (mapped, never a traceback to the client, never a dropped connection)
            raise refusal(stmt, e) from None

    async def _mimic(self, stmt: str, attrs: dict[str, str]) -> Result:
        """mysql-mimic answers a session statement, a static SELECT or a query of information_schema (with
        sqlglot's Python executor). What that executor cannot evaluate (a str + int, an unknown function,
        a join whose columns clash) is refused here, inside the boundary, and not half-way through
        writing a result."""
        try:
            result = await super().handle_query(stmt, attrs)
            return None if result is None else await ensure_result_set(result)
        except (MysqlError, CatalogError, sqlglot.errors.ParseError, sqlglot.errors.TokenError):
            raise
        except (sqlglot.errors.SqlglotError, TypeError, ValueError, KeyError, NameError, IndexError,
                AttributeError, ArithmeticError, AssertionError):
            raise CatalogError("This statement over session variables or information_schema uses an "
                               "expression, function or join that cannot be evaluated here", 5064) from None

    @contextmanager
    def _statement_variables(self, hints: dict[str, str]) -> Iterator[None]:
        """StarRocks' /*+ SET_VAR(k = v) */: the variables hold for this statement only."""
        values = {name: coerce_variable(self.variables, name, value) for name, value in hints.items()}
        saved = {name: self.variables.get_variable(name) for name in values}
        hinted: dict[str, Any] = {}
        try:
            for name, value in values.items():
                self.variables.set(name, value)
                hinted[name] = self.variables.get_variable(name)
            yield
        finally:
            for name, value in saved.items():
                # a statement that set the variable itself (`/*+ SET_VAR(x = 1) */ SET x = 2`) keeps its value
                if name not in hinted or self.variables.get_variable(name) == hinted[name]:
                    self.variables.set(name, value)

    def _timed(self, stmt: str) -> Result:
        """`execute` under StarRocks' timeouts: a SELECT still running after query_timeout seconds, an INSERT
        after insert_timeout seconds, is interrupted (an interrupted INSERT stores nothing)."""
        kind = _SELECT_OR_INSERT.match(stmt)
        if kind is None:
            return self.execute(stmt)
        variable = "insert_timeout" if kind.group(1).lower() == "insert" else "query_timeout"
        timeout = int(self.variables.get(variable) or 0)
        if timeout <= 0 or timeout > MAX_TIMER_S:  # beyond what a timer can wait: no limit, as for 0
            return self.execute(stmt)
        con = self.engine.con
        fired = threading.Event()

        def interrupt() -> None:
            fired.set()
            con.interrupt()

        timer = threading.Timer(timeout, interrupt)
        timer.daemon = True
        timer.start()
        try:
            return self.execute(stmt)
        except (duckdb.Error, CatalogError):
            if fired.is_set():
                raise CatalogError(f"Query reached its timeout of {timeout} seconds, please increase the "
                                   f"'{variable}' session variable and retry", 5024) from None
            raise
        finally:
            timer.cancel()

    def execute(self, stmt: str) -> Result:
        """Run one statement synchronously; NOT_OURS hands it to mysql-mimic. `stmt` has its comments
        blanked (sqltext.prepare); `execute` blanks them again when called directly."""
        from sqlfront.parse import statements as stmt_parser

        if "--" in stmt or "#" in stmt or "/*" in stmt:
            stmt = sqltext.prepare(stmt).text
        try:
            ast = stmt_parser.parse_statement(stmt)
        except stmt_parser.StatementSyntaxError as e:
            raise CatalogError(_mask_secret_echo(stmt, str(e)), 1064) from None
        except stmt_parser.StatementError as e:
            raise CatalogError(str(e)) from None
        if ast is not None:
            handler = AST_HANDLERS.get(type(ast))
            if handler is None:
                raise CatalogError(f"Statement {type(ast).__name__} is not supported yet")
            return handler(self, ast)
        for pattern, fn in _HANDLERS:
            m = pattern.match(stmt)
            if m:
                return fn(self, stmt, m)
        if _MIMIC_STATEMENTS.match(stmt):
            self.check_for_mimic(stmt)
            return NOT_OURS
        words = stmt.split()
        word = words[0] if words else stmt
        if word.upper() in _UNSUPPORTED_FIRST_WORDS:
            raise CatalogError(f"{word.upper()} statements are not supported by starbackup", 5064)
        raise CatalogError(
            f"Getting syntax error at line 1, column 0. Detail message: Unexpected input '{word[:40]}', "
            "the most similar input is {a legal statement}.",
            1064,
        )

    def check_for_mimic(self, stmt: str) -> None:
        """Refuse what mysql-mimic would answer with an empty OK without doing it: a statement its parser
        keeps only as an opaque command (`SET SNAPSHOT ...`, `SET CATALOG ...`) or of a kind it does not
        handle; and @@variables nobody defines (mysql-mimic would answer NULL)."""
        try:
            trees = [t for t in sqlglot.parse(stmt, read="mysql") if t is not None]
        except sqlglot.errors.SqlglotError as e:
            raise CatalogError(sqlglot_message(e), 1064) from None
        except (IndexError, KeyError, AttributeError, TypeError, ValueError, AssertionError):
            raise CatalogError(SQLGLOT_TRIPPED, 1064) from None
        for tree in trees:
            answered = isinstance(tree, _MIMIC_TREES) and not (
                isinstance(tree, exp.Show) and tree.name.upper() not in ("VARIABLES", "STATUS", "WARNINGS", "ERRORS"))
            if isinstance(tree, exp.Set):  # SET alone, SET SESSION, SET TRANSACTION: nothing to set
                answered = answered and bool(tree.expressions) and all(
                    isinstance(i, exp.SetItem) and (i.this is not None or i.expressions) for i in tree.expressions)
            if not answered:
                words = stmt.split()
                shown = words[1] if len(words) > 1 else words[0] if words else stmt
                col = stmt.find(shown)
                raise CatalogError(f"Getting syntax error at line 1, column {max(col, 0)}. Detail message: "
                                   f"Unexpected input '{shown[:40]}', the most similar input is {{a legal statement}}.",
                                   1064)
            for param in tree.find_all(exp.SessionParameter):
                self.variables.get_schema(param.name)
            if isinstance(tree, exp.Set):
                for item in tree.expressions:
                    if isinstance(item, exp.SetItem) and item.text("kind").upper() in ("NAMES", "CHARACTER SET") \
                            and item.name.upper() != "DEFAULT":
                        check_charset(item.name)

    async def schema(self) -> InfoSchema:  # type: ignore[override]
        """What mysql-mimic's information_schema shows: our databases, tables and columns (without it, a
        query of information_schema.tables would answer that we have no tables). Built from columns, with
        databases and tables that have none added: mysql-mimic guessed the mapping's shape from its depth,
        and one database without tables made it read databases as tables (SCHEMATA listed '', not ours)."""
        catalog = await run_interruptible(self, self._catalog_schema)
        columns = [Column(name=c, type=t, table=table, schema=db, catalog="def")
                   for db, tables in catalog.items() for table, cols in tables.items() for c, t in cols.items()]
        data = info_schema_tables(columns)
        for db, tables in sorted(catalog.items()):
            if not any(tables.values()):
                data["information_schema"]["schemata"].append(("def", db, "utf8mb4", "utf8mb4_general_ci", None))
            for table, cols in sorted(tables.items()):
                if not cols:
                    data["information_schema"]["tables"].append(
                        ("def", db, table, "BASE TABLE", "StarRocks", "1.0", *([None] * 11), "utf8mb4_general_ci",
                         None, None, None))
        return InfoSchema(data)

    def _catalog_schema(self) -> dict[str, dict[str, dict[str, str]]]:
        out: dict[str, dict[str, dict[str, str]]] = {}
        for db in self.cluster.read("databases"):
            tables: dict[str, dict[str, str]] = {}
            for t in self.cluster.read("tables", db=db):
                try:
                    layout = self.cluster.read("table", db=db, table=t["name"])
                    columns = layout["table"].get("columns") or []
                    tables[t["name"]] = {c["name"]: c["type"] for c in columns}
                except CatalogError:
                    tables[t["name"]] = {}
            out[db] = tables
        return out

    def _show_variables(self, show: exp.Show) -> Result:
        """SHOW VARIABLES [LIKE 'p']: the pattern is SQL's LIKE (mysql-mimic compiles it as a regex, so
        `LIKE '(('` was an internal error)."""
        rows = [(k, None if v is None else str(v)) for k, v in self.variables.list()]
        like = show.text("like")
        if like:
            rx = like_regex(like)
            rows = [(k, v) for k, v in rows if rx.fullmatch(k)]
        where = show.args.get("where")
        if where is not None:  # mysql-mimic ignored it and listed every variable
            condition = where.this if isinstance(where, exp.Where) else where
            rows = [(k, v) for k, v in rows if _show_condition(condition, {"variable_name": k, "value": v})]
        return rows, ["Variable_name", "Value"]

    def _set_names(self, item: exp.SetItem) -> None:
        _lowercase_names(item)
        super()._set_names(item)

    def _set_charset(self, item: exp.SetItem) -> None:
        _lowercase_names(item)
        super()._set_charset(item)

    async def use(self, database: str) -> None:
        try:
            if database and database.lower() != "information_schema":
                await run_interruptible(self, self.cluster.require_database, database)
        except Exception as e:  # noqa: BLE001  (COM_INIT_DB: the same errors as a USE statement)
            raise refusal(f"USE {database}", e) from None
        self.database = database


_MIMIC_TREES = (exp.Set, exp.Show, exp.Transaction, exp.Commit, exp.Rollback, exp.Kill, exp.Select)
# A threading.Timer cannot wait longer than threading.TIMEOUT_MAX (about 292 years): its thread dies with an
# OverflowError. A timeout beyond a century bounds nothing anyway.
MAX_TIMER_S = 100 * 365 * 86400
_SELECT_OR_INSERT = re.compile(r"^\s*(select|with|insert)\b", re.I)


OFF_LOOP_CHARS = 64 * 1024  # statements longer than this are scanned on a thread


async def off_loop(fn: Callable[[str], T], text: str) -> T:
    """fn(text), on a thread when the text is long: scanning megabytes of SQL in the event loop held every
    other client, and the SIGTERM handler, until it ended."""
    if len(text) < OFF_LOOP_CHARS:
        return fn(text)
    return outcome_value(await on_daemon_thread(fn, text, name="scan-statement"))  # type: ignore[no-any-return]


def invalid_text(data: bytes, e: UnicodeDecodeError) -> MysqlError:
    """A COM_QUERY whose bytes are not valid in the client's character set (utf8mb4): refused with the
    position of the first bad byte, before any parser sees it."""
    text = e.object[: e.start].decode("utf-8", errors="replace") if isinstance(e.object, bytes) else ""
    line, col = sqltext.line_col(text, len(text))
    bad = e.object[e.start : e.start + 4].hex(" ") if isinstance(e.object, bytes) else "?"
    message = (f"Getting syntax error at line {line}, column {col}. Detail message: the statement is not valid "
               f"UTF-8 (bytes {bad}).")
    log.info("statement refused (1064): %s | %s", message,
             _logged_statement(data.decode("utf-8", errors="backslashreplace")))
    err = MysqlError(message, code=ErrorCode.PARSE_ERROR)
    err.logged = True  # type: ignore[attr-defined]
    return err


def guard_decoding(connection_cls: type) -> None:
    """COM_INIT_DB, COM_STMT_PREPARE, COM_STMT_EXECUTE (its string parameters) and COM_FIELD_LIST decode their
    text too: invalid UTF-8 there is the
    same 1064 as in a COM_QUERY, not an internal error with Python's codec message."""
    for name in ("handle_init_db", "handle_stmt_prepare", "handle_stmt_execute", "handle_field_list"):
        original = getattr(connection_cls, name)
        if getattr(original, "guarded", False):
            continue

        async def guarded(self: Any, data: bytes, _original: Any = original) -> None:
            try:
                await _original(self, data)
            except UnicodeDecodeError as e:
                raise invalid_text(data, e) from None

        guarded.guarded = True  # type: ignore[attr-defined]
        setattr(connection_cls, name, guarded)


def refusal(stmt: str, e: BaseException) -> MysqlError:
    """The MySQL error for a statement that failed with `e`, logged as one bounded line. A user's mistake
    is never logged with a traceback; an internal error is, and the client is told no Python text."""
    from sqlfront.parse import statements as stmt_parser

    code: int
    if isinstance(e, sqltext.SqlTextError):
        code, message = e.code, e.message
    elif isinstance(e, CatalogError):
        code, message = e.code, e.message
    elif isinstance(e, MysqlError):
        code, message = int(e.code), e.msg
    elif isinstance(e, stmt_parser.StatementSyntaxError):
        code, message = 1064, e.message
    elif isinstance(e, stmt_parser.StatementError):
        code, message = 5064, e.message
    elif isinstance(e, duckdb.Error):
        code, message = 1064, clean_duckdb_error(e)
    elif isinstance(e, sqlglot.errors.SqlglotError):
        code, message = 1064, sqlglot_message(e)
    elif isinstance(e, RecursionError):
        code, message = 1064, ("Getting syntax error at line 1, column 0. Detail message: the statement nests "
                               f"too deeply to be analysed (more than {sqltext.MAX_NESTING} levels).")
    else:
        ref = uuid.uuid4().hex[:12]
        log.exception("internal error %s on statement: %s", ref, _logged_statement(stmt))
        err = MysqlError(f"Internal error {ref} while running the statement; the daemon log has the details",
                         code=1105)  # type: ignore[arg-type]
        err.logged = True  # type: ignore[attr-defined]
        return err
    message = sqltext.clean_message(_mask_secret_echo(stmt, message))
    log.info("statement refused (%s): %s | %s", code, sqltext.excerpt(message, 300), _logged_statement(stmt))
    err = MysqlError(message, code=code)  # type: ignore[arg-type]
    err.logged = True  # type: ignore[attr-defined]
    return err


# ---------------------------------------------------------------------------- session variables

# StarRocks session variables clients and hints set, next to MySQL's: (type, default, dynamic).
# query_timeout bounds a SELECT and insert_timeout an INSERT, enable_insert_strict = false leaves out the rows
# a load would refuse; the others are accepted and shown, and change nothing here.
SESSION_VARIABLES: dict[str, VariableSchema] = {
    **SYSTEM_VARIABLES,
    "query_timeout": (int, 300, True),
    "insert_timeout": (int, 14400, True),
    "query_mem_limit": (int, 0, True),
    "load_mem_limit": (int, 0, True),
    "exec_mem_limit": (int, 2147483648, True),
    "enable_insert_strict": (bool, True, True),
    "pipeline_dop": (int, 0, True),
    "parallel_fragment_exec_instance_num": (int, 1, True),
    "enable_profile": (bool, False, True),
    "enable_spill": (bool, False, True),
    "new_planner_optimize_timeout": (int, 3000, True),
    "batch_size": (int, 4096, True),
    "sql_dialect": (str, "StarRocks", True),
    "resource_group": (str, "", True),
    "tx_isolation": (str, "REPEATABLE-READ", True),
    "query_cache_size": (int, 1048576, True),
    "query_cache_type": (str, "OFF", True),
}


class StarRocksVariables(SessionVariables):
    """mysql-mimic's session variables with StarRocks' names and its message for an unknown one."""

    def get_schema(self, name: str) -> VariableSchema:
        schema = self.schema.get(name.lower())
        if not schema:
            raise MysqlError(f"Unknown system variable '{name}'", code=ErrorCode.UNKNOWN_SYSTEM_VARIABLE)
        return schema

    def set(self, name: str, value: Any, force: bool = False) -> None:
        """mysql-mimic's set, refusing values it would store and then fail on in every later statement (or
        while writing a result, which drops the connection): unusable time zones and character sets,
        text for numbers."""
        lowered = name.lower()
        type_, _, _ = self.get_schema(lowered)
        if type_ is str and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)  # SET time_zone = 5 is checked as the text it becomes
        if isinstance(value, str):
            if type_ in (int, bool):
                value = coerce_variable(self, lowered, value)
            elif lowered == "time_zone":
                try:
                    parse_timezone(value)
                except (MysqlError, ValueError, OverflowError):
                    raise MysqlError(f"Unknown or incorrect time zone: '{sqltext.excerpt(value, 60)}'",
                                     code=1298) from None  # type: ignore[arg-type]
            elif lowered.startswith("character_set_"):
                check_charset(value)
                value = value.lower()  # mysql-mimic looks the name up as it is stored
            elif lowered.startswith("collation_"):
                if value.lower() not in _COLLATIONS:
                    raise MysqlError(f"Unknown collation: '{sqltext.excerpt(value, 60)}'", code=1273)  # type: ignore[arg-type]
                value = value.lower()
        elif type_ is bool and isinstance(value, int) and not isinstance(value, bool) and value not in (0, 1):
            raise MysqlError(f"Variable '{name}' can't be set to the value of '{value}'",
                             code=ErrorCode.WRONG_VALUE_FOR_VAR)
        elif isinstance(value, float) and type_ is int:
            raise MysqlError(f"Incorrect argument type to variable '{name}'", code=1232)  # type: ignore[arg-type]
        elif type_ is int and isinstance(value, int) and not -2**63 <= value < 2**63:  # StarRocks' are Java longs
            raise MysqlError(f"Variable '{name}' can't be set to the value of '{sqltext.excerpt(str(value), 60)}'",
                             code=ErrorCode.WRONG_VALUE_FOR_VAR)
        try:
            super().set(lowered, value, force)
        except (ValueError, TypeError, OverflowError):
            raise MysqlError(f"Variable '{name}' can't be set to the value of '{sqltext.excerpt(str(value), 60)}'",
                             code=ErrorCode.WRONG_VALUE_FOR_VAR) from None


# The character sets a session may use: StarRocks speaks UTF-8 only.
_CHARSETS = {"utf8", "utf8mb4"}
_COLLATIONS = {c for c in Collation.__members__ if c.startswith(("utf8_", "utf8mb4_"))}


def _show_condition(node: exp.Expression, row: dict[str, str | None]) -> bool:
    """SHOW VARIABLES ... WHERE over Variable_name and Value: =, <>, IN, LIKE, AND, OR, NOT."""
    def value(n: exp.Expression) -> str | None:
        if isinstance(n, exp.Column) and n.name.lower() in row:
            return row[n.name.lower()]
        if isinstance(n, exp.Literal):
            return n.name
        raise CatalogError("SHOW VARIABLES ... WHERE compares Variable_name or Value with literals only", 5064)

    def text(n: exp.Expression) -> str:
        return (value(n) or "").lower()

    if isinstance(node, exp.Paren):
        return _show_condition(node.this, row)
    if isinstance(node, exp.And):
        return _show_condition(node.this, row) and _show_condition(node.expression, row)
    if isinstance(node, exp.Or):
        return _show_condition(node.this, row) or _show_condition(node.expression, row)
    if isinstance(node, exp.Not):
        return not _show_condition(node.this, row)
    if isinstance(node, exp.EQ):
        return text(node.this) == text(node.expression)
    if isinstance(node, exp.NEQ):
        return text(node.this) != text(node.expression)
    if isinstance(node, exp.In):
        return text(node.this) in {text(e) for e in node.expressions}
    if isinstance(node, exp.Like):
        return bool(like_regex(value(node.expression) or "").fullmatch(value(node.this) or ""))
    raise CatalogError("SHOW VARIABLES ... WHERE supports =, <>, IN, LIKE, AND, OR and NOT", 5064)


def like_regex(pattern: str) -> re.Pattern[str]:
    """SQL LIKE as a regex: % any run, _ one character, backslash escapes, case-insensitive."""
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.I | re.S)


def _lowercase_names(item: exp.SetItem) -> None:
    """SET NAMES UTF8 COLLATE UTF8_GENERAL_CI: mysql-mimic looks charset and collation names up as written."""
    for key in ("this", "collate"):
        node = item.args.get(key)
        if isinstance(node, exp.Var) and node.name.upper() != "DEFAULT":
            item.set(key, exp.var(node.name.lower()))


def check_charset(value: str) -> None:
    if value.lower() not in _CHARSETS:
        raise MysqlError(f"Unknown character set: '{sqltext.excerpt(value, 60)}'", code=1115)  # type: ignore[arg-type]


def coerce_variable(variables: Variables, name: str, value: str) -> Any:
    """A hint's text value as the variable's type; a value that does not fit is refused (1231)."""
    type_, _, dynamic = variables.get_schema(name)
    if not dynamic:
        raise MysqlError(f"Variable '{name}' is a read only variable", code=1238)  # type: ignore[arg-type]
    if type_ is bool:
        lowered = value.lower()
        if lowered in ("true", "on", "1"):
            return True
        if lowered in ("false", "off", "0"):
            return False
    elif type_ is int:
        if re.fullmatch(r"[+-]?[0-9]{1,19}", value):
            return int(value)
    else:
        return value
    raise MysqlError(f"Variable '{name}' can't be set to the value of '{sqltext.excerpt(value, 60)}'",
                     code=ErrorCode.WRONG_VALUE_FOR_VAR)


class _MimicRefusals(logging.Filter):
    """mysql-mimic logs every error it sends; ours are logged already (one bounded line), and its own are
    cut to one bounded line too."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, MysqlError):
            if getattr(record.msg, "logged", False):
                return False
            record.msg = f"refused ({record.msg.code}): {sqltext.excerpt(record.msg.msg, 300)}"
            record.args = ()
        return True


def quiet_mimic_refusals() -> None:
    logger = logging.getLogger("mysql_mimic.connection")
    if not any(isinstance(f, _MimicRefusals) for f in logger.filters):
        logger.addFilter(_MimicRefusals())
    # sqlglot warns, quoting the whole statement, when it keeps one as an opaque command: we refuse those.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)


# ---------------------------------------------------------------------------- SELECT


@statement(r"(select|with)\b")
def _select(s: StarSession, sql: str, m: re.Match[str]) -> Result:
    tree = parse(sql)
    has_tables = any(isinstance(t.this, exp.Identifier) for t in tree.find_all(exp.Table))
    if not has_tables and _PASSTHROUGH_FUNCS.search(sql):
        for param in tree.find_all(exp.SessionParameter):
            s.variables.get_schema(param.name)  # an unknown @@variable is an error, not NULL
        return NOT_OURS
    if any((t.db or "").lower() == "information_schema" for t in tree.find_all(exp.Table)):
        return NOT_OURS
    params = list(tree.find_all(exp.SessionParameter))
    infos = [(f, name) for f in tree.find_all(exp.Func) if (name := _info_function(f)) is not None]
    if params or infos:
        # `SELECT k, @@query_timeout, database() FROM t`: the session's values, as literals, for DuckDB
        # (which answered database() with its own schema 'main' and user() with 'duckdb')
        functions = mysql_function_mapping(s)
        for param in params:
            value = value_to_expression(s.variables.get_variable(param.name))
            if isinstance(param.parent, exp.Select) and param.arg_key == "expressions":
                value = exp.alias_(value, exp.to_identifier(param.sql()))
            param.replace(value)
        for func, name in infos:
            value = value_to_expression(functions[name]())
            if isinstance(func.parent, exp.Select) and func.arg_key == "expressions":
                value = exp.alias_(value, exp.to_identifier(f"{_INFO_NAMES.get(type(func), name.lower())}()"))
            func.replace(value)
        sql = tree.sql(dialect="starrocks")
    rows, names = s.engine.select(sql, s.db)
    return rows, typed_columns(rows, names)


_INFO_FUNCTIONS = {"CONNECTION_ID", "USER", "CURRENT_USER", "VERSION", "DATABASE", "SYSTEM_USER", "SESSION_USER",
                   "SCHEMA", "CURRENT_SCHEMA", "CURRENT_VERSION"}
_INFO_NAMES = {exp.CurrentSchema: "database", exp.CurrentUser: "current_user", exp.SessionUser: "session_user",
               exp.CurrentVersion: "version"}


def _info_function(node: exp.Func) -> str | None:
    """The name mysql-mimic knows an information function by (DATABASE(), USER(), ...), or None."""
    name = node.name.upper() if isinstance(node, exp.Anonymous) else node.sql_name()
    if isinstance(node, exp.Anonymous) and node.expressions:
        return None
    return name if name in _INFO_FUNCTIONS else None


def typed_columns(rows: list[tuple[Any, ...]], names: list[str]) -> list[str | ResultColumn]:
    """Column definitions for a result: DECIMAL columns are declared NEWDECIMAL, as StarRocks sends them, so
    clients get decimals and not text (mysql-mimic would infer VARCHAR for a Decimal); the others get the
    type of their first non-NULL value. Every column is typed here, by position: mysql-mimic infers by
    name, and a result with two columns of one name (`SELECT k, k`, `SELECT * AS x`) broke it."""
    columns: list[str | ResultColumn] = []
    for i, name in enumerate(names):
        first = next((row[i] for row in rows if row[i] is not None), None)
        if isinstance(first, Decimal):
            type_ = ColumnType.NEWDECIMAL
        elif first is None:
            type_ = ColumnType.NULL
        else:
            type_ = infer_type(first)
        columns.append(ResultColumn(name=str(name), type=type_))
    return columns


_SECRET_PROPERTY = re.compile(r"(secret|password|access[._]key|token)", re.I)


def _holds_secrets(stmt: str) -> bool:
    return bool(_SECRET_PROPERTY.search(stmt))


def _mask_secret_echo(stmt: str, message: str) -> str:
    """A syntax error quotes the unexpected input; in a statement holding credentials that input could be
    a secret, so it is not echoed (to the client or the log)."""
    if _holds_secrets(stmt):
        message = re.sub(r"Unexpected input '.*?'(?=, the most similar|\.$|$)", "Unexpected input '******'", message,
                         flags=re.S)
        message = re.sub(r"starting here: .*", "starting here.", message, flags=re.S)
    return message


def _logged_statement(stmt: str) -> str:
    """What the log keeps of a refused statement: its first 200 characters, or only its first words when it
    may hold credentials (secrets never reach the log)."""
    if _holds_secrets(stmt):
        words = " ".join(stmt.split()[:3])
        return f"{sqltext.excerpt(words, 60)} ... (may hold credentials: not shown, {len(stmt)} characters)"
    return sqltext.excerpt(stmt)


def load_modules() -> None:
    """Import the modules that register statement handlers (and keep mysql-mimic's log of refusals short)."""
    quiet_mimic_refusals()
    import sqlfront.handlers_ddl  # noqa: F401
    import sqlfront.handlers_dml  # noqa: F401

    for optional in ("sqlfront.handlers_objects", "sqlfront.handlers_repo", "sqlfront.handlers_backup"):
        try:
            __import__(optional)
        except ModuleNotFoundError as e:
            if e.name != optional:
                raise
