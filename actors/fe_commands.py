"""The frontend's handlers for tables that need the shell: layouts name files under the data directory, so
they are built here rather than in `events/`.

Commands return (events, reply). Reads return plain data built from the state; they never hand out a
live state object, because the asking session runs on another thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from actors.fe_shell import Shell
from events import queries as q
from events.catalog import check_writable, get_db, get_table
from events.commands import StartJobs
from events.errors import CatalogError, unknown_table
from events.event import Event
from events.model import Index, Table
from events.plain import to_plain
from events.state import ClusterState


def backend_dir(data_dir: Path, backend_id: int) -> Path:
    return data_dir / f"be{backend_id}"


def table_layout(fe: Shell, s: ClusterState, db_name: str, table: Table) -> dict[str, Any]:
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


def table(fe: Shell, s: ClusterState, query: q.TableLayout) -> dict[str, Any]:
    db, t = get_table(s, query.db, query.table)
    return table_layout(fe, s, db.name, t)


def load_layout(fe: Shell, s: ClusterState, query: q.LoadLayout) -> dict[str, Any]:
    db, t = get_table(s, query.db, query.table)
    name = query.table
    if t.kind == "VIEW":
        raise CatalogError(f"The target table {name} is a view, can not load into it")
    if t.kind == "MATERIALIZED_VIEW" and not query.internal:
        raise CatalogError(f"The data of '{name}' cannot be inserted because '{name}' is a materialized view")
    check_writable(t)
    return table_layout(fe, s, db.name, t)


def resolve(fe: Shell, s: ClusterState, query: q.Resolve) -> dict[str, Any]:
    """Resolve table references of a query: layouts for tables and MVs, definitions for views."""
    out: dict[str, Any] = {"tables": {}, "functions": {}}
    for db_name, name in query.refs:
        db = s.databases.get(db_name)
        if db is None:
            raise CatalogError(f"Unknown database '{db_name}'", 5501)
        t = db.tables.get(name)
        key = f"{db_name}.{name}"
        if t is None:
            index = _find_sync_mv(db.tables.values(), name)
            if index is None:
                raise unknown_table(name)
            base, idx = index
            layout = table_layout(fe, s, db_name, base)
            layout["index_id"] = idx.id
            out["tables"][key] = layout
            continue
        if t.kind == "VIEW":
            out["tables"][key] = {"view_sql": t.view_sql, "view_columns": t.view_columns, "db": db_name,
                                  "table": to_plain(t)}
        else:
            if t.mv is not None and not t.mv.is_active and query.strict_mv:
                raise CatalogError(f"Materialized view {name} is inactive: {t.mv.inactive_reason}")
            out["tables"][key] = table_layout(fe, s, db_name, t)
    for db_name in query.function_dbs:
        fdb = s.databases.get(db_name)
        if fdb is not None:
            out["functions"][db_name] = [to_plain(f) for f in fdb.functions]
    return out


def _find_sync_mv(tables: Any, name: str) -> tuple[Table, Index] | None:
    for t in tables:
        for idx in t.indexes.values():
            if idx.id != t.base_index_id and idx.name == name:
                return t, idx
    return None


def backends(fe: Shell, s: ClusterState, _: q.Backends) -> list[dict[str, Any]]:
    counts: dict[int, int] = {b: 0 for b in s.backends}
    for t in s.tablets.values():
        for b in t.backends:
            counts[b] = counts.get(b, 0) + 1
    return [{**to_plain(b), "tablets": counts.get(b.id, 0), "dir": str(backend_dir(fe.data_dir, b.id))}
            for b in s.backends.values()]


def start_jobs(fe: Shell, s: ClusterState, _: StartJobs) -> tuple[list[Event], Any]:
    """Called once the backends are up: re-derive the effects of every unfinished job."""
    fe.jobs.resume()
    return [], None
