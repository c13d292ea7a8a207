"""Functions, external catalogs and the frontend's configuration (ADMIN SET/SHOW FRONTEND CONFIG)."""

from __future__ import annotations

import json
import re

from engine.functions import load_python_udf
from events.commands import CreateCatalog, CreateFunction, DropCatalog, DropFunction, SetConfig
from events.errors import CatalogError
from events.model import Function
from events.objects import INTERNAL_CATALOG
from events.plain import to_plain
from events.queries import CatalogInfo, Catalogs, Config, Functions
from sqlfront.handler_base import HandlerSession, Result, like_pattern, need_db
from sqlfront.parse import ast as A

OK: Result = ([], [])


# ---------------------------------------------------------------------------------------- functions


def create_function(s: HandlerSession, ast: A.CreateFunction) -> Result:
    db = need_db(s, ast.db)
    args = list(ast.arg_types) + (["..."] if ast.varargs else [])
    fn = Function(name=ast.name.lower(), arg_types=args, return_type=ast.return_type,
                  properties=dict(ast.properties), body=ast.body or "", global_=ast.is_global, kind=ast.kind,
                  intermediate_type=ast.intermediate_type)
    props = {k.lower(): v for k, v in ast.properties.items()}
    if props.get("type", "").lower() == "python" and (ast.body or "").strip():
        load_python_udf(ast.body or "", props.get("symbol", ""), f"{db}.{fn.signature}")
    s.cluster.cmd(CreateFunction(db=db, function=to_plain(fn), if_not_exists=ast.if_not_exists))
    return OK


def drop_function(s: HandlerSession, ast: A.DropFunction) -> Result:
    if ast.is_global:
        raise CatalogError("GLOBAL functions are not supported; drop the function from its database")
    args = list(ast.arg_types) + (["..."] if ast.varargs else [])
    s.cluster.cmd(DropFunction(db=need_db(s, ast.db), name=ast.name.lower(), arg_types=args, if_exists=ast.if_exists))
    return OK


_FUNCTION_TYPES = {"SCALAR": "Scalar", "AGGREGATE": "Aggregate", "TABLE": "Table"}


def show_functions(s: HandlerSession, ast: A.ShowFunctions) -> Result:
    if ast.is_global:
        return ([], ["Signature", "Return Type", "Function Type", "Intermediate Type", "Properties"]) if ast.full \
            else ([], ["Function Name"])
    db = need_db(s, ast.db)
    like = like_pattern(ast.like)
    functions = [f for f in s.cluster.read(Functions(db=db)) if like is None or like.match(f["name"])]
    functions.sort(key=lambda f: (f["name"], f["arg_types"]))
    if not ast.full:
        names = sorted({f["name"] for f in functions})
        return [(n,) for n in names], ["Function Name"]
    rows = []
    for f in functions:
        sig = f"{f['name']}({', '.join(f['arg_types'])})"
        rows.append((sig, f["return_type"], _FUNCTION_TYPES.get(f.get("kind", "SCALAR"), "Scalar"),
                     f.get("intermediate_type") or "", json.dumps(f["properties"], separators=(",", ":"), sort_keys=True)))
    return rows, ["Signature", "Return Type", "Function Type", "Intermediate Type", "Properties"]


# ---------------------------------------------------------------------------------------- external catalogs


def create_catalog(s: HandlerSession, ast: A.CreateExternalCatalog) -> Result:
    s.cluster.cmd(CreateCatalog(name=ast.name, comment=ast.comment or "", properties=dict(ast.properties),
                  if_not_exists=ast.if_not_exists))
    return OK


def drop_catalog(s: HandlerSession, ast: A.DropCatalog) -> Result:
    s.cluster.cmd(DropCatalog(name=ast.name, if_exists=ast.if_exists))
    return OK


def _catalog_type(props: dict[str, str]) -> str:
    t = props.get("type", "")
    return t[:1].upper() + t[1:]


def show_catalogs(s: HandlerSession, ast: A.ShowCatalogs) -> Result:
    rows = [(INTERNAL_CATALOG, "Internal", "An internal catalog contains this cluster's self-managed tables.")]
    rows += [(c["name"], _catalog_type(c["properties"]), c["comment"]) for c in s.cluster.read(Catalogs())]
    return rows, ["Catalog", "Type", "Comment"]


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def show_create_catalog(s: HandlerSession, ast: A.ShowCreateCatalog) -> Result:
    if ast.name == INTERNAL_CATALOG:
        raise CatalogError("SHOW CREATE CATALOG is not supported for the internal catalog default_catalog")
    c = s.cluster.read(CatalogInfo(name=ast.name))
    text = f"CREATE EXTERNAL CATALOG `{c['name']}`\n"
    if c["comment"]:
        text += f'comment "{_esc(c["comment"])}"\n'
    props = ",\n".join(f'"{_esc(k)}"  =  "{_esc(str(v))}"' for k, v in c["properties"].items())
    text += f"PROPERTIES ({props})"
    return [(c["name"], text)], ["Catalog", "Create Catalog"]


# ---------------------------------------------------------------------------------------- FE config


def admin_set_config(s: HandlerSession, ast: A.AdminSetFrontendConfig) -> Result:
    bits = 64 if ast.key in _LONG_KEYS else 32
    value = ast.value.strip()
    if re.fullmatch(r"[+-]?[0-9]+", value) and (len(value) > 20 or not -(2 ** (bits - 1)) <= int(value) < 2 ** (bits - 1)):
        # a Java int (or long) config: StarRocks refuses what does not fit
        raise CatalogError(f"Invalid value '{value}' for config '{ast.key}': out of range")
    s.cluster.cmd(SetConfig(key=ast.key, value=ast.value))
    return OK


_LONG_KEYS = {"backup_job_default_timeout_ms", "history_job_keep_max_second"}


def admin_show_config(s: HandlerSession, ast: A.AdminShowFrontendConfig) -> Result:
    like = like_pattern(ast.like)
    config = s.cluster.read(Config())
    rows = [(k, "[]", v, "long" if k in _LONG_KEYS else "int", "true", "")
            for k, v in sorted(config.items()) if like is None or like.match(k)]
    return rows, ["Key", "AliasNames", "Value", "Type", "IsMutable", "Comment"]
