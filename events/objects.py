"""The `decide` half for the objects around tables: views, materialized views, functions, catalogs.

Pure functions like events/catalog.py: state and command in, events out (or a CatalogError with
StarRocks' text). Everything that needs a query engine (a view's output schema, an MV's rows) is worked
out by the SQL front and handed in as plain data; time comes in as `now_ns`.
"""

from __future__ import annotations

import re
from typing import Any

from events import catalog
from events.catalog import TableSpec, check_writable, get_db, get_table
from events.errors import ERR_TABLE_EXISTS, CatalogError, unknown_table
from events.event import Event
from events.model import Column, Database, Function, Index, MvInfo, Table
from events.placement import Ids, new_tablets
from events.plain import to_plain
from events.state import ClusterState

ERR_UNKNOWN_MV = 5502
CATALOG_TYPES = ("hive", "iceberg", "hudi", "deltalake", "jdbc", "paimon")
INTERNAL_CATALOG = "default_catalog"
UDF_TYPES = {"python": "Python", "starrocksjar": "StarrocksJar"}
INTERVAL_SECONDS = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400, "WEEK": 604800, "MONTH": 2592000,
                    "YEAR": 31536000}


def _name_taken(db: Database, name: str) -> str | None:
    """What already uses `name` in the database: a table/view/MV, or a synchronous MV (an index)."""
    if name in db.tables:
        return db.tables[name].kind
    if find_sync_mv(db, name) is not None:
        return "SYNC_MV"
    return None


def find_sync_mv(db: Database, name: str) -> tuple[Table, Index] | None:
    for t in db.tables.values():
        for idx in t.indexes.values():
            if idx.id != t.base_index_id and idx.name == name:
                return t, idx
    return None


# ---------------------------------------------------------------- views


def create_view(state: ClusterState, db_name: str | None, name: str, query: str, columns: list[Column],
                view_columns: list[str], comment: str, if_not_exists: bool, or_replace: bool) -> list[Event]:
    db = get_db(state, db_name)
    taken = _name_taken(db, name)
    if taken is not None:
        if taken == "VIEW" and or_replace:
            return alter_view(state, db_name, name, query, columns, view_columns, comment)
        if if_not_exists:
            return []
        raise CatalogError(f"Table '{name}' already exists", ERR_TABLE_EXISTS)
    ids = Ids(state)
    table = Table(id=ids.take(), name=name, kind="VIEW", columns=list(columns), view_sql=query,
                  view_columns=list(view_columns), comment=comment, partition_type="UNPARTITIONED")
    return [Event("table.created", {"db_id": db.id, "table": to_plain(table), "tablets": [], "next_id": ids.next})]


def _get_view(state: ClusterState, db_name: str | None, name: str) -> tuple[Database, Table]:
    db = get_db(state, db_name)
    table = db.tables.get(name)
    if table is None:
        raise unknown_table(name)
    if table.kind != "VIEW":
        raise CatalogError(f"'{db.name}.{name}' is not a view", 5503)
    return db, table


def alter_view(state: ClusterState, db_name: str | None, name: str, query: str, columns: list[Column],
               view_columns: list[str], comment: str | None = None) -> list[Event]:
    db, old = _get_view(state, db_name, name)
    new = Table(id=old.id, name=old.name, kind="VIEW", columns=list(columns), view_sql=query,
                view_columns=list(view_columns), comment=old.comment if comment is None else comment,
                partition_type="UNPARTITIONED")
    return [Event("table.altered", {"db_id": db.id, "table_id": old.id, "table": to_plain(new)})]


def drop_view(state: ClusterState, db_name: str | None, name: str, if_exists: bool) -> list[Event]:
    db = get_db(state, db_name)
    table = db.tables.get(name)
    if table is None:
        if if_exists:
            return []
        raise unknown_table(name)
    if table.kind != "VIEW":
        raise CatalogError(f"'{db.name}.{name}' is not a view, use DROP TABLE or DROP MATERIALIZED VIEW", 5503)
    return catalog.drop_table(state, db_name, name, if_exists, kind="VIEW")


# ---------------------------------------------------------------- synchronous MVs (rollup indexes)


def create_sync_mv(state: ClusterState, db_name: str | None, name: str, base_table: str, definition: str,
                   schema: list[Column], keys_type: str, if_not_exists: bool) -> list[Event]:
    db, table = get_table(state, db_name, base_table)
    if _name_taken(db, name) is not None:
        if if_not_exists:
            return []
        raise CatalogError(f"Table '{name}' already exists", ERR_TABLE_EXISTS)
    if table.kind != "OLAP":
        raise CatalogError(f"The base table of a synchronous materialized view must be an OLAP table: {base_table}")
    if table.keys_type not in ("DUP_KEYS", "AGG_KEYS"):
        raise CatalogError("Synchronous materialized views are supported on DUPLICATE KEY and AGGREGATE KEY "
                           f"tables only; {base_table} is a {table.keys_type} table. Use an asynchronous "
                           "materialized view (REFRESH ASYNC) instead")
    check_writable(table)
    if not schema:
        raise CatalogError("A materialized view needs at least one column")
    ids = Ids(state)
    index = Index(id=ids.take(), name=name, columns=[c.name for c in schema], keys_type=keys_type,
                  definition=definition, schema=list(schema))
    partition_tablets: dict[str, list[int]] = {}
    tablets: list[dict[str, Any]] = []
    for p in table.partitions.values():
        by_index, plain = new_tablets(state, ids, [index.id], p.buckets, p.replication_num)
        partition_tablets[str(p.id)] = by_index[index.id]
        tablets.extend(plain)
    return [Event("index.added", {"db_id": db.id, "table_id": table.id, "index": to_plain(index), "tablets": tablets,
                                  "partition_tablets": partition_tablets, "next_id": ids.next})]


# ---------------------------------------------------------------- asynchronous MVs


def interval_seconds(value: int | None, unit: str | None) -> int | None:
    if value is None:
        return None
    unit = (unit or "SECOND").upper().rstrip("S") or "SECOND"
    if unit not in INTERVAL_SECONDS:
        raise CatalogError(f"Unsupported refresh interval unit: {unit}")
    if value <= 0:
        raise CatalogError("Refresh interval must be larger than 0")
    return value * INTERVAL_SECONDS[unit]


def create_async_mv(state: ClusterState, db_name: str | None, spec: TableSpec, info: MvInfo,
                    if_not_exists: bool) -> list[Event]:
    db = get_db(state, db_name)
    if _name_taken(db, spec.name) is not None:
        if if_not_exists:
            return []
        raise CatalogError(f"Table '{spec.name}' already exists", ERR_TABLE_EXISTS)
    if info.refresh not in ("ASYNC", "MANUAL"):
        raise CatalogError(f"Unsupported refresh type {info.refresh} for a materialized view")
    for base_db, base in info.base_tables:
        get_table(state, base_db, base)
    events = catalog.create_table(state, db_name, spec, False)
    out = []
    for ev in events:
        data = dict(ev.data)
        table = dict(data["table"])
        table["kind"] = "MATERIALIZED_VIEW"
        table["mv"] = to_plain(info)
        data["table"] = table
        out.append(Event(ev.type, data, stream=ev.stream, key=ev.key))
    return out


def _get_async_mv(state: ClusterState, db_name: str | None, name: str) -> tuple[Database, Table]:
    db = get_db(state, db_name)
    table = db.tables.get(name)
    if table is None or table.kind != "MATERIALIZED_VIEW" or table.mv is None:
        if find_sync_mv(db, name) is not None:
            raise CatalogError(f"'{name}' is a synchronous materialized view; this statement needs an "
                               "asynchronous one")
        raise CatalogError(f"Materialized view {name} is not found", ERR_UNKNOWN_MV)
    return db, table


def drop_mv(state: ClusterState, db_name: str | None, name: str, if_exists: bool) -> list[Event]:
    db = get_db(state, db_name)
    table = db.tables.get(name)
    if table is not None and table.kind == "MATERIALIZED_VIEW":
        return catalog.drop_table(state, db_name, name, if_exists, kind="MATERIALIZED_VIEW")
    if table is not None:
        raise CatalogError(f"'{db.name}.{name}' is not a materialized view", 5503)
    found = find_sync_mv(db, name)
    if found is None:
        if if_exists:
            return []
        raise CatalogError(f"Materialized view {name} is not found", ERR_UNKNOWN_MV)
    base, index = found
    check_writable(base)
    return [Event("index.dropped", {"db_id": db.id, "table_id": base.id, "index_id": index.id})]


def alter_mv_active(state: ClusterState, db_name: str | None, name: str, active: bool) -> list[Event]:
    db, table = _get_async_mv(state, db_name, name)
    assert table.mv is not None
    if active:
        missing = [f"{d}.{t}" for d, t in table.mv.base_tables
                   if d not in state.databases or t not in state.databases[d].tables]
        if missing:
            raise CatalogError(f"Can not active materialized view [{name}] because its base table(s) "
                               f"[{', '.join(missing)}] do not exist; create them again first")
        if table.mv.is_active:
            return []
        return [Event("mv.state_changed", {"db_id": db.id, "table_id": table.id, "is_active": True, "reason": ""})]
    if not table.mv.is_active:
        return []
    return [Event("mv.state_changed", {"db_id": db.id, "table_id": table.id, "is_active": False,
                                       "reason": "user use alter materialized view set status to inactive"})]


def refresh_start(state: ClusterState, db_name: str | None, name: str, now_ns: int,
                  ) -> tuple[list[Event], dict[str, Any]]:
    """Reserve new tablets for every partition of the MV and mark the refresh RUNNING.

    The event carries `next_id`, so the reserved tablet ids are never handed out again, even though the
    tablets only enter the catalog when `refresh_finish` swaps them in.
    """
    db, table = _get_async_mv(state, db_name, name)
    assert table.mv is not None
    if not table.mv.is_active:
        raise CatalogError(f"Refresh materialized view {name} failed: the materialized view is inactive "
                           f"({table.mv.inactive_reason}); run ALTER MATERIALIZED VIEW {name} ACTIVE first")
    check_writable(table)
    ids = Ids(state)
    new: dict[str, list[dict[str, Any]]] = {}
    for p in table.partitions.values():
        _, plain = new_tablets(state, ids, [table.base_index_id], p.buckets, p.replication_num)
        new[str(p.id)] = plain
    ev = Event("mv.refreshed", {"db_id": db.id, "table_id": table.id, "state": "RUNNING", "time_ns": now_ns,
                                "start_ns": now_ns, "next_id": ids.next})
    return [ev], {"db_id": db.id, "table_id": table.id, "start_ns": now_ns, "new_tablets": new,
                  "definition": table.mv.definition}


def refresh_finish(state: ClusterState, db_name: str | None, name: str, table_id: int, start_ns: int,
                   partitions: list[dict[str, Any]], now_ns: int) -> tuple[list[Event], str]:
    """Swap the written tablets in, unless the MV changed or a newer refresh started meanwhile."""
    db, table = _get_async_mv(state, db_name, name)
    assert table.mv is not None
    if table.id != table_id:
        raise CatalogError(f"Materialized view {name} was dropped and re-created during its refresh")
    if table.mv.last_refresh_start_ns != start_ns:
        return [], "SUPERSEDED"
    tablets: list[dict[str, Any]] = []
    partition_tablets: dict[str, list[int]] = {}
    for part in partitions:
        p = table.partition_by_id(int(part["partition_id"]))
        if p is None:
            raise CatalogError(f"A partition of materialized view {name} was dropped during its refresh")
        version = p.visible_version + 1
        ids = []
        for t in part["tablets"]:
            t = dict(t)
            t["rowsets"] = [{**r, "version": version} for r in t.get("rowsets", [])]
            tablets.append(t)
            ids.append(t["id"])
        partition_tablets[str(p.id)] = ids
    ev = Event("mv.refreshed", {"db_id": db.id, "table_id": table.id, "state": "SUCCESS", "time_ns": now_ns,
                                "start_ns": start_ns, "tablets": tablets, "partition_tablets": partition_tablets})
    return [ev], "SUCCESS"


def refresh_failed(state: ClusterState, db_name: str | None, name: str, table_id: int, start_ns: int, error: str,
                   now_ns: int) -> list[Event]:
    db = get_db(state, db_name)
    table = db.tables.get(name)
    if table is None or table.id != table_id or table.mv is None or table.mv.last_refresh_start_ns != start_ns:
        return []
    return [Event("mv.refreshed", {"db_id": db.id, "table_id": table.id, "state": "FAILED", "time_ns": now_ns,
                                   "start_ns": start_ns, "error": error[:1000]})]


def due_refreshes(state: ClusterState, now_ns: int, start_times: dict[str, int]) -> list[tuple[str, str]]:
    """ASYNC MVs with an EVERY interval whose next refresh time has come (on the injected clock).

    `start_times` maps "db.mv" to the START time in ns (parsed by the caller, which knows the time zone).
    """
    due = []
    for db in state.databases.values():
        for t in db.tables.values():
            mv = t.mv
            if mv is None or mv.refresh != "ASYNC" or not mv.refresh_interval_s or not mv.is_active:
                continue
            if t.state != "NORMAL":
                continue
            start = start_times.get(f"{db.name}.{t.name}", 0)
            if now_ns < start:
                continue
            if mv.last_refresh_start_ns and now_ns < mv.last_refresh_start_ns + mv.refresh_interval_s * 10**9:
                continue
            due.append((db.name, t.name))
    return sorted(due)


# ---------------------------------------------------------------- functions


def create_function(state: ClusterState, db_name: str | None, fn: Function, if_not_exists: bool) -> list[Event]:
    db = get_db(state, db_name)
    if fn.global_:
        raise CatalogError("GLOBAL functions are not supported; create the function in a database")
    props = {k.lower(): v for k, v in fn.properties.items()}
    kind = UDF_TYPES.get(props.get("type", "").lower())
    if kind is None:
        raise CatalogError(f"Unsupported function type \"{props.get('type', '')}\": use \"type\"=\"Python\" "
                           "(with \"file\"=\"inline\" and a $$ body) or \"type\"=\"StarrocksJar\"")
    if not props.get("symbol"):
        raise CatalogError("Required property \"symbol\" is missing")
    if kind == "Python":
        if props.get("file", "inline").lower() != "inline":
            raise CatalogError("Python UDFs must be inline: \"file\"=\"inline\" with the code between $$ and $$")
        if not fn.body.strip():
            raise CatalogError("An inline Python UDF needs its code between $$ and $$")
        if fn.kind != "SCALAR":
            raise CatalogError("Only scalar Python UDFs are supported")
    elif not props.get("file"):
        raise CatalogError("Required property \"file\" is missing (the URL of the jar)")
    existing = next((f for f in db.functions if f.signature == fn.signature), None)
    if existing is not None:
        if if_not_exists:
            return []
        raise CatalogError(f"function already exists: {fn.signature}", 5064)
    return [Event("function.created", {"db_id": db.id, "function": to_plain(fn)})]


def drop_function(state: ClusterState, db_name: str | None, name: str, arg_types: list[str], if_exists: bool,
                  ) -> list[Event]:
    db = get_db(state, db_name)
    signature = f"{name}({', '.join(arg_types)})"
    if not any(f.signature == signature for f in db.functions):
        if if_exists:
            return []
        raise CatalogError(f"Unknown function: {signature}", 5064)
    return [Event("function.dropped", {"db_id": db.id, "signature": signature})]


# ---------------------------------------------------------------- external catalogs


def create_catalog(state: ClusterState, name: str, comment: str, sealed_properties: dict[str, Any],
                   if_not_exists: bool, now_ns: int) -> list[Event]:
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{0,255}", name):
        raise CatalogError(f"Incorrect catalog name '{name}'")
    if name == INTERNAL_CATALOG:
        raise CatalogError(f"Can't create catalog '{name}': it is the internal catalog")
    if name in state.catalogs:
        if if_not_exists:
            return []
        raise CatalogError(f"Can't create catalog '{name}'; catalog exists", 1007)
    ctype = sealed_properties.get("type")
    if not isinstance(ctype, str) or not ctype:
        raise CatalogError("Missing \"type\" in the catalog properties; one of: " + ", ".join(CATALOG_TYPES))
    if ctype.lower() not in CATALOG_TYPES:
        raise CatalogError(f"Unsupported catalog type '{ctype}'; supported types: " + ", ".join(CATALOG_TYPES))
    props = dict(sealed_properties)
    props["type"] = ctype.lower()
    cat = {"name": name, "comment": comment, "properties": props, "create_time_ns": now_ns}
    return [Event("catalog.created", {"catalog": cat})]


def drop_catalog(state: ClusterState, name: str, if_exists: bool) -> list[Event]:
    if name == INTERNAL_CATALOG:
        raise CatalogError("Can't drop the internal catalog default_catalog")
    if name not in state.catalogs:
        if if_exists:
            return []
        raise CatalogError(f"Unknown catalog '{name}'", 1049)
    return [Event("catalog.dropped", {"name": name})]
