"""Views, materialized views, UDFs, external catalogs and FE settings over the MySQL protocol.

Anything that needs the query engine happens here, in the session's thread: a view's or MV's output schema
comes from DuckDB describing the prepared query, and MV rows are written by the session (or by the
refresher's pool thread) before one command publishes them.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlglot import exp

from engine.load import remove_rowsets
from engine.mv_refresh import parse_start, refresh_mv
from engine.query import QueryEngine, parse, table_refs, to_duckdb
from engine.sync_mv import initial_rowsets, mv_select
from engine.types import quote
from events.catalog import TableSpec
from events.commands import (
    AlterMvActive,
    AlterView,
    CommitLoad,
    CreateAsyncMv,
    CreateSyncMv,
    CreateView,
    DropMv,
    DropView,
)
from events.errors import CatalogError
from events.model import Column, Index, MvInfo, Table
from events.objects import interval_seconds
from events.plain import load, to_plain
from events.queries import MvList, ObjectInfo
from sqlfront.handler_base import HandlerSession, Result, fmt_time, like_pattern, need_db
from sqlfront.parse import ast as A
from sqlfront.show_objects import (
    MV_COLUMNS,
    mv_row,
    render_create_mv,
    render_create_sync_mv,
    render_create_view,
)

OK: Result = ([], [])

_DUCK_TO_SR = {
    "TINYINT": "TINYINT", "SMALLINT": "SMALLINT", "INTEGER": "INT", "BIGINT": "BIGINT", "HUGEINT": "LARGEINT",
    "UTINYINT": "SMALLINT", "USMALLINT": "INT", "UINTEGER": "BIGINT", "UBIGINT": "LARGEINT", "FLOAT": "FLOAT",
    "DOUBLE": "DOUBLE", "BOOLEAN": "BOOLEAN", "DATE": "DATE", "TIMESTAMP": "DATETIME",
    "TIMESTAMP WITH TIME ZONE": "DATETIME", "VARCHAR": "VARCHAR(65533)", "BLOB": "VARBINARY", "JSON": "JSON",
}


def sr_type(duck: str) -> str:
    """A DuckDB result type as the StarRocks column type stored in the catalog."""
    d = duck.strip().upper()
    if d.endswith("[]"):
        return f"ARRAY<{sr_type(d[:-2])}>"
    m = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", d)
    if m:
        return f"DECIMAL({m.group(1)},{m.group(2)})"
    return _DUCK_TO_SR.get(d, "VARCHAR(65533)")


def describe_query(engine: QueryEngine, query: str | exp.Expression, db: str) -> list[tuple[str, str]]:
    """(name, DuckDB type) of each output column of a SELECT, checking that it runs against the catalog."""
    tree = parse(query) if isinstance(query, str) else query
    if not isinstance(tree, exp.Query):
        raise CatalogError("Expected a SELECT statement after AS", 1064)
    engine.prepare(tree, db)
    rows, _ = engine.run(f"DESCRIBE {to_duckdb(tree, db)}", db)
    return [(str(r[0]), str(r[1])) for r in rows]


def _named_columns(described: list[tuple[str, str]], given: tuple[A.ViewColumn, ...], what: str) -> list[Column]:
    if given and len(given) != len(described):
        raise CatalogError(f"The number of columns of the {what} ({len(given)}) does not match the number of "
                           f"columns of its query ({len(described)})")
    cols = []
    for i, (name, duck) in enumerate(described):
        col = given[i] if given else None
        cols.append(Column(name=col.name if col else name, type=sr_type(duck), comment=(col.comment or "") if col else ""))
    seen = [c.name.lower() for c in cols]
    dup = next((n for n in seen if seen.count(n) > 1), None)
    if dup:
        raise CatalogError(f"Duplicate column name '{dup}'", 1060)
    return cols


# ---------------------------------------------------------------------------------------- views


def create_view(s: HandlerSession, ast: A.CreateView) -> Result:
    db = need_db(s, ast.db)
    cols = _named_columns(describe_query(s.engine, ast.query, db), ast.columns, "view")
    s.cluster.cmd(CreateView(db=db, name=ast.name, query=ast.query, column_defs=to_plain(cols),
                             view_columns=[c.name for c in ast.columns], comment=ast.comment or "",
                             if_not_exists=ast.if_not_exists, or_replace=ast.or_replace))
    return OK


def alter_view(s: HandlerSession, ast: A.AlterView) -> Result:
    db = need_db(s, ast.db)
    current = s.cluster.read(ObjectInfo(db=db, name=ast.name))
    if current["kind"] is None:
        raise CatalogError(f"Unknown table '{ast.name}'", 5502)
    if current["kind"] != "VIEW":
        raise CatalogError(f"'{db}.{ast.name}' is not a view", 5503)
    cols = _named_columns(describe_query(s.engine, ast.query, db), ast.columns, "view")
    s.cluster.cmd(AlterView(db=db, name=ast.name, query=ast.query, column_defs=to_plain(cols),
                            view_columns=[c.name for c in ast.columns]))
    return OK


def drop_view(s: HandlerSession, ast: A.DropView) -> Result:
    s.cluster.cmd(DropView(db=need_db(s, ast.db), name=ast.name, if_exists=ast.if_exists))
    return OK


def show_create_view(s: HandlerSession, ast: A.ShowCreateView) -> Result:
    db = need_db(s, ast.db)
    obj = s.cluster.read(ObjectInfo(db=db, name=ast.name))
    if obj["kind"] is None:
        raise CatalogError(f"Unknown table '{ast.name}'", 5502)
    if obj["kind"] != "VIEW":
        raise CatalogError(f"'{db}.{ast.name}' is not a view", 5503)
    table = load(Table, obj["table"])
    return [(table.name, render_create_view(table), "utf8", "utf8_general_ci")], [
        "View", "Create View", "character_set_client", "collation_connection"]


# ---------------------------------------------------------------------------------------- materialized views


def create_mv(s: HandlerSession, ast: A.CreateMaterializedView) -> Result:
    if ast.synchronous:
        return _create_sync_mv(s, ast)
    return _create_async_mv(s, ast)


def _create_sync_mv(s: HandlerSession, ast: A.CreateMaterializedView) -> Result:
    db = need_db(s, ast.db)
    tree, outputs = mv_select(ast.query)
    base_ref = next(iter(tree.find_all(exp.Table)))
    if base_ref.db and base_ref.db != db:
        raise CatalogError("A synchronous materialized view must be in the database of its base table")
    base_name = base_ref.name
    obj = s.cluster.read(ObjectInfo(db=db, name=base_name))
    if obj["kind"] is None:
        raise CatalogError(f"Unknown table '{base_name}'", 5502)
    if obj["kind"] != "OLAP":
        raise CatalogError(f"The base table of a synchronous materialized view must be an OLAP table: {base_name}")
    base = load(Table, obj["table"])
    described = describe_query(s.engine, tree, db)
    has_agg = any(o["aggregation"] for o in outputs)
    if base.keys_type == "AGG_KEYS":
        _check_agg_base(base, outputs)
    schema: list[Column] = []
    for o, (name, duck) in zip(outputs, described, strict=True):
        typ = sr_type(duck)
        if o["aggregation"] == "SUM" and typ == "LARGEINT":
            typ = "BIGINT"  # StarRocks sums integers as BIGINT; DuckDB would widen to HUGEINT
        schema.append(Column(name=name, type=typ, is_key=not o["aggregation"] if has_agg else not schema,
                             aggregation=o["aggregation"]))
    layout = s.cluster.cmd(CreateSyncMv(db=db, name=ast.name, base_table=base_name, definition=ast.query,
                                        schema=to_plain(schema), keys_type="AGG_KEYS" if has_agg else "DUP_KEYS",
                                        if_not_exists=ast.if_not_exists))
    if layout is None:
        return OK
    index = next(i for i in layout["table"]["indexes"].values() if i["name"] == ast.name)
    txn = uuid.uuid4().hex
    parts = initial_rowsets(s.engine.con, layout, index["id"], txn)
    if parts:
        payload = [{"partition_id": layout["partitions"][p]["id"], "rowsets": rs} for p, rs in sorted(parts.items())]
        try:
            s.cluster.cmd(CommitLoad(db=db, table=base_name, table_id=layout["table"]["id"], txn=txn,
                                     partitions=payload))
        except BaseException:
            remove_rowsets(layout, parts)
            raise
    return OK


def _check_agg_base(base: Table, outputs: list[dict[str, Any]]) -> None:
    """On an AGGREGATE KEY table an MV can only regroup keys and re-aggregate values the same way."""
    for o in outputs:
        agg = o["aggregation"]
        if not agg:
            continue
        col = base.column(o["arg"] or "")
        if col is None or col.is_key or (col.aggregation or "").upper() != agg:
            raise CatalogError(
                f"Materialized view column {o['name']}: on AGGREGATE KEY table {base.name} an aggregate must "
                f"apply to a value column with the same aggregation type ({agg.lower()} over a {agg} column)")



def _create_async_mv(s: HandlerSession, ast: A.CreateMaterializedView) -> Result:
    db = need_db(s, ast.db)
    refresh = ast.refresh
    kind = (refresh.kind if refresh and refresh.kind else "ASYNC").upper()
    if kind not in ("ASYNC", "MANUAL"):
        raise CatalogError(f"REFRESH {kind} is not supported; use REFRESH ASYNC or REFRESH MANUAL")
    tree = parse(ast.query)
    cols = _named_columns(describe_query(s.engine, tree, db), ast.columns, "materialized view")
    refs = [[d, n] for d, n in table_refs(tree, db)]
    if not refs:
        raise CatalogError("A materialized view must read at least one table")
    cols[0].is_key = True
    names = {c.name.lower(): c.name for c in cols}
    dist = ast.distribution
    if dist is not None and dist.kind == "HASH":
        missing = [c for c in dist.columns if c.lower() not in names]
        if missing:
            raise CatalogError(f"Distribution column '{missing[0]}' is not a column of the materialized view")
        distribution, dist_cols = "HASH", [names[c.lower()] for c in dist.columns]
    else:
        distribution, dist_cols = "RANDOM", []
    if dist is not None and dist.buckets is not None and dist.buckets <= 0:
        raise CatalogError("Number of buckets should be larger than 0")
    spec = TableSpec(name=ast.name, columns=cols, keys_type="DUP_KEYS", key_columns=[cols[0].name],
                     distribution=distribution, distribution_columns=dist_cols,
                     buckets=(dist.buckets or 0) if dist else 0, properties=dict(ast.properties),
                     comment=ast.comment or "")
    interval = interval_seconds(refresh.every_value, refresh.every_unit) if refresh and kind == "ASYNC" else None
    info = MvInfo(definition=ast.query, refresh=kind, refresh_start=refresh.start if refresh else None,
                  refresh_interval_s=interval, base_tables=refs, partition_by=ast.partition_by)
    if info.refresh_start:
        parse_start(info.refresh_start)
    before = s.cluster.read(ObjectInfo(db=db, name=ast.name))
    s.cluster.cmd(CreateAsyncMv(db=db, spec=to_plain(spec), mv=to_plain(info), if_not_exists=ast.if_not_exists))
    if before["kind"] is not None:  # IF NOT EXISTS on an existing object: nothing was created
        return OK
    if not (refresh and refresh.moment == "DEFERRED"):
        refresh_mv(s.cluster, s.engine, db, ast.name)
    return OK



def refresh_materialized_view(s: HandlerSession, ast: A.RefreshMaterializedView) -> Result:
    db = need_db(s, ast.db)
    refresh_mv(s.cluster, s.engine, db, ast.name)
    return [(uuid.uuid4().hex,)], ["QUERY_ID"]


def drop_mv(s: HandlerSession, ast: A.DropMaterializedView) -> Result:
    s.cluster.cmd(DropMv(db=need_db(s, ast.db), name=ast.name, if_exists=ast.if_exists))
    return OK


def alter_mv(s: HandlerSession, ast: A.AlterMaterializedView) -> Result:
    db = need_db(s, ast.db)
    if ast.active:
        obj = s.cluster.read(ObjectInfo(db=db, name=ast.name))
        was_active = obj["kind"] == "MATERIALIZED_VIEW" and obj["table"]["mv"]["is_active"]
        s.cluster.cmd(AlterMvActive(db=db, name=ast.name, active=True))  # refuses missing base tables
        if not was_active:
            describe_query(s.engine, obj["table"]["mv"]["definition"], db)  # the query must still bind
            try:
                refresh_mv(s.cluster, s.engine, db, ast.name)
            except CatalogError:
                pass  # the MV is active; the failed refresh shows in SHOW MATERIALIZED VIEWS
    else:
        s.cluster.cmd(AlterMvActive(db=db, name=ast.name, active=False))
    return OK


def show_mvs(s: HandlerSession, ast: A.ShowMaterializedViews) -> Result:
    db = need_db(s, ast.db)
    s.cluster.require_database(db)
    like = like_pattern(ast.like)
    rows = []
    for item in s.cluster.read(MvList(db=db)):
        if like is not None and not like.match(item["name"]):
            continue
        if ast.where_name is not None and item["name"] != ast.where_name:
            continue
        rows.append(mv_row(db, item, fmt_time))
    return rows, list(MV_COLUMNS)


def show_create_mv(s: HandlerSession, ast: A.ShowCreateMaterializedView) -> Result:
    db = need_db(s, ast.db)
    obj = s.cluster.read(ObjectInfo(db=db, name=ast.name))
    if obj["kind"] == "MATERIALIZED_VIEW":
        text = render_create_mv(load(Table, obj["table"]))
    elif obj["kind"] == "SYNC_MV":
        text = render_create_sync_mv(load(Index, obj["index"]))
    else:
        raise CatalogError(f"Materialized view {ast.name} is not found", 5502)
    return [(ast.name, text)], ["Materialized View", "Create Materialized View"]


__all__ = ["quote", "refresh_mv", "sr_type"]
