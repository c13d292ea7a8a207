"""The frontend's catalog commands and reads, registered by name for `Cmd` and `Read` messages.

Commands return (events, reply). Reads return plain data built from the state; they never hand out a
live state object, because the asking session runs on another thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from actors.frontend import Frontend, command, read
from events import catalog
from events.catalog import PartitionSpec, TableSpec, check_writable, get_db, get_table
from events.errors import CatalogError, unknown_table
from events.event import Event
from events.model import Table
from events.plain import load, to_plain
from events.state import ClusterState

Args = dict[str, Any]


def backend_dir(data_dir: Path, backend_id: int) -> Path:
    return data_dir / f"be{backend_id}"


# ------------------------------------------------------------------ DDL


@command("create_database")
def _create_database(fe: Frontend, s: ClusterState, a: Args) -> tuple[list[Event], Any]:
    return catalog.create_database(s, a["name"], a.get("if_not_exists", False)), None


@command("drop_database")
def _drop_database(fe: Frontend, s: ClusterState, a: Args) -> tuple[list[Event], Any]:
    return catalog.drop_database(s, a["name"], a.get("if_exists", False)), None


@command("create_table")
def _create_table(fe: Frontend, s: ClusterState, a: Args) -> tuple[list[Event], Any]:
    spec = load(TableSpec, a["spec"])
    return catalog.create_table(s, a["db"], spec, a.get("if_not_exists", False)), None


@command("drop_table")
def _drop_table(fe: Frontend, s: ClusterState, a: Args) -> tuple[list[Event], Any]:
    return catalog.drop_table(s, a["db"], a["name"], a.get("if_exists", False), a.get("kind", "OLAP")), None


@command("add_partitions")
def _add_partitions(fe: Frontend, s: ClusterState, a: Args) -> tuple[list[Event], Any]:
    specs = [load(PartitionSpec, p) for p in a["partitions"]]
    return catalog.add_partitions(s, a["db"], a["table"], specs, a.get("if_not_exists", False)), None


@command("drop_partition")
def _drop_partition(fe: Frontend, s: ClusterState, a: Args) -> tuple[list[Event], Any]:
    return catalog.drop_partition(s, a["db"], a["table"], a["partition"], a.get("if_exists", False)), None


@command("truncate")
def _truncate(fe: Frontend, s: ClusterState, a: Args) -> tuple[list[Event], Any]:
    return catalog.truncate(s, a["db"], a["table"], a.get("partitions")), None


@command("set_config")
def _set_config(fe: Frontend, s: ClusterState, a: Args) -> tuple[list[Event], Any]:
    return catalog.set_config(s, a["key"], a["value"]), None


# ------------------------------------------------------------------ loads


def table_layout(fe: Frontend, s: ClusterState, db_name: str, table: Table) -> dict[str, Any]:
    """Everything a load or a query needs about a table, as plain data with absolute file paths."""
    db = get_db(s, db_name)
    partitions = []
    for p in table.partitions.values():
        tablets: dict[str, list[dict[str, Any]]] = {}
        for index_id, tids in p.tablets.items():
            tablets[str(index_id)] = []
            for tid in tids:
                tablet = s.tablets[tid]
                reader = tablet.backends[0]
                visible = [r for r in tablet.rowsets if r.version <= p.visible_version]
                tablets[str(index_id)].append(
                    {
                        "id": tid,
                        "backends": list(tablet.backends),
                        "dirs": [str(backend_dir(fe.data_dir, b) / "tablets" / str(tid)) for b in tablet.backends],
                        "files": [
                            [str(backend_dir(fe.data_dir, reader) / "tablets" / str(tid) / r.file), r.version]
                            for r in visible
                        ],
                        # The catalog knows these; SHOW need not open every file to count them.
                        "rows": sum(r.rows for r in visible),
                        "bytes": sum(r.size for r in visible),
                    }
                )
        partitions.append({**to_plain(p), "tablets": tablets})
    return {
        "db": db_name,
        "db_id": db.id,
        "table": to_plain(table),
        "partitions": partitions,
    }


@read("load_layout")
def _load_layout(fe: Frontend, s: ClusterState, a: Args) -> dict[str, Any]:
    _, table = get_table(s, a["db"], a["table"])
    if table.kind == "VIEW":
        raise CatalogError(f"The target table {a['table']} is a view, can not load into it")
    if table.kind == "MATERIALIZED_VIEW" and not a.get("internal"):
        raise CatalogError(f"The data of '{a['table']}' cannot be inserted because '{a['table']}' is a materialized view")
    check_writable(table)
    return table_layout(fe, s, a["db"], table)


@command("commit_load")
def _commit_load(fe: Frontend, s: ClusterState, a: Args) -> tuple[list[Event], Any]:
    """Publish a load: each touched partition's version advances by one and its new rowsets become visible."""
    db, table = get_table(s, a["db"], a["table"])
    check_writable(table)
    if table.id != a["table_id"]:
        raise CatalogError(f"Table {table.name} was dropped and re-created during the load")
    parts = []
    rows = 0
    for part in a["partitions"]:
        partition = table.partition_by_id(part["partition_id"])
        if partition is None:
            raise CatalogError(f"Partition of table {table.name} was dropped during the load")
        live = {t for ids in partition.tablets.values() for t in ids}
        for r in part["rowsets"]:
            if r["tablet_id"] not in live:
                raise CatalogError(f"Table {table.name} was truncated or restored during the load; retry it")
            rows += r["rows"] if r.get("base", True) else 0
        parts.append({"partition_id": partition.id, "version": partition.visible_version + 1,
                      "rowsets": [{k: r[k] for k in ("tablet_id", "file", "rows", "size", "md5", "xxh3") if k in r}
                                  for r in part["rowsets"]]})
    ev = Event("load.committed", {"db_id": db.id, "table_id": table.id, "txn": a["txn"], "partitions": parts},
               key=f"load/{a['txn']}")
    return [ev], rows


# ------------------------------------------------------------------ reads for queries and SHOW


@read("resolve")
def _resolve(fe: Frontend, s: ClusterState, a: Args) -> dict[str, Any]:
    """Resolve table references of a query: layouts for tables and MVs, definitions for views."""
    out: dict[str, Any] = {"tables": {}, "functions": {}}
    for db_name, name in a["refs"]:
        db = s.databases.get(db_name)
        if db is None:
            raise CatalogError(f"Unknown database '{db_name}'", 5501)
        table = db.tables.get(name)
        key = f"{db_name}.{name}"
        if table is None:
            index = _find_sync_mv(db.tables.values(), name)
            if index is None:
                raise unknown_table(name)
            base, idx = index
            layout = table_layout(fe, s, db_name, base)
            layout["index_id"] = idx.id
            out["tables"][key] = layout
            continue
        if table.kind == "VIEW":
            out["tables"][key] = {"view_sql": table.view_sql, "view_columns": table.view_columns, "db": db_name,
                                  "table": to_plain(table)}
        else:
            if table.mv is not None and not table.mv.is_active and a.get("strict_mv"):
                raise CatalogError(f"Materialized view {name} is inactive: {table.mv.inactive_reason}")
            out["tables"][key] = table_layout(fe, s, db_name, table)
    for db_name in a.get("function_dbs", []):
        db = s.databases.get(db_name)
        if db is not None:
            out["functions"][db_name] = [to_plain(f) for f in db.functions]
    return out


def _find_sync_mv(tables: Any, name: str) -> Any:
    for t in tables:
        for idx in t.indexes.values():
            if idx.id != t.base_index_id and idx.name == name:
                return t, idx
    return None


@read("databases")
def _databases(fe: Frontend, s: ClusterState, a: Args) -> list[str]:
    return sorted(s.databases)


@read("tables")
def _tables(fe: Frontend, s: ClusterState, a: Args) -> list[dict[str, Any]]:
    db = get_db(s, a["db"])
    return [{"name": t.name, "kind": t.kind} for t in sorted(db.tables.values(), key=lambda t: t.name)]


@read("table")
def _table(fe: Frontend, s: ClusterState, a: Args) -> dict[str, Any]:
    _, table = get_table(s, a["db"], a["table"])
    return table_layout(fe, s, a["db"], table)


@read("backends")
def _backends(fe: Frontend, s: ClusterState, a: Args) -> list[dict[str, Any]]:
    counts: dict[int, int] = {b: 0 for b in s.backends}
    for t in s.tablets.values():
        for b in t.backends:
            counts[b] = counts.get(b, 0) + 1
    return [{**to_plain(b), "tablets": counts.get(b.id, 0), "dir": str(backend_dir(fe.data_dir, b.id))}
            for b in s.backends.values()]


@read("config")
def _config(fe: Frontend, s: ClusterState, a: Args) -> dict[str, str]:
    return dict(s.config)


@read("start_jobs")
def _start_jobs(fe: Frontend, s: ClusterState, a: Args) -> None:
    """Called once the backends are up: re-derive the effects of every unfinished job."""
    fe.jobs.resume()

