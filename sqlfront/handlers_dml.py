"""INSERT INTO ... VALUES / SELECT, including StarRocks' FILES() table function for bulk loads."""

from __future__ import annotations

import re

from sqlglot import exp

from engine import load
from engine.query import to_duckdb
from engine.sync_mv import sync_mv_rowsets
from events.errors import ERR_SYNTAX, CatalogError
from sqlfront.handler_base import HandlerSession, Result, rows_affected
from sqlfront.parse.ast_query import Insert


def files_to_reader(tree: exp.Expression) -> exp.Expression:
    """Rewrite FILES("path" = ..., "format" = ...) into DuckDB's streaming file readers."""
    for table in list(tree.find_all(exp.Table)):
        fn = table.this
        if not isinstance(fn, exp.Anonymous) or str(fn.this).upper() != "FILES":
            continue
        props: dict[str, str] = {}
        for arg in fn.expressions:
            if isinstance(arg, exp.EQ):
                props[arg.left.name.lower()] = arg.right.name
        path = props.get("path")
        if not path:
            raise CatalogError("FILES() needs a \"path\" property")
        if "\x00" in path:
            raise CatalogError("FILES() path must not contain a NUL character", ERR_SYNTAX)
        fmt = props.get("format", "parquet").lower()
        if path.startswith("file://"):
            path = path[len("file://") :]
        elif re.match(r"^[a-z0-9]+://", path):
            raise CatalogError(f"FILES() reads local paths (file://) in this version; got {path}")
        reader = {"parquet": "read_parquet", "csv": "read_csv_auto", "json": "read_json_auto"}.get(fmt)
        if reader is None:
            raise CatalogError(f"Unsupported FILES() format: {fmt}")
        call = exp.Anonymous(this=reader, expressions=[exp.Literal.string(path)])
        table.set("this", call)
    return tree


def insert(s: HandlerSession, st: Insert) -> Result:
    tree = st.tree
    if tree is None:  # the analyzer refuses INSERT OVERWRITE
        raise CatalogError("INSERT OVERWRITE is not supported")
    target = tree.this
    columns: list[str] | None = None
    if isinstance(target, exp.Schema):
        columns = [c.name for c in target.expressions]
        target = target.this
    if not isinstance(target, exp.Table) or not isinstance(target.this, exp.Identifier):
        raise CatalogError("Getting syntax error at line 1, column 0. Detail message: INSERT INTO needs a table "
                           "name.", ERR_SYNTAX)
    db = target.db or s.db
    if not db:
        raise CatalogError("No database selected", 1046)
    source = tree.expression
    if isinstance(source, exp.Values):
        width = len(source.expressions[0].expressions) if source.expressions else 0
        source_sql = exp.select("*").from_(source.copy()).sql(dialect="duckdb")
    else:
        source = files_to_reader(source.copy())
        s.engine.prepare(source, s.db)
        source_sql = to_duckdb(source, s.db)
        width = len(s.engine.con.execute(f"SELECT * FROM ({source_sql}) LIMIT 0").description or [])
    rows = run_load(s, db, target.name, source_sql, width, columns)
    return rows_affected(s, rows)


def run_load(s: HandlerSession, db: str, table: str, source_sql: str, width: int, columns: list[str] | None,
             internal: bool = False) -> int:
    if s.db:
        s.engine.con.execute(f"SET schema = '{s.db}'") if s.db in s.engine._schemas else None
    return load.load(s.engine.con, s.cluster.ask, db, table, source_sql, width, columns,
                     sync_mv_hook=sync_mv_rowsets, internal=internal,
                     strict=bool(s.variables.get("enable_insert_strict")))

