"""Frontend handlers for views, materialized views and external catalogs that need the shell: catalog
secrets are sealed and masked here (the frontend owns the data directory and its key), and refresh plans and
MV layouts name tablet directories under it.

Commands return (events, reply); a callable reply runs after the events are applied.
"""

from __future__ import annotations

from typing import Any

from actors.fe_commands import backend_dir, table_layout
from actors.fe_shell import Shell
from events import objects
from events import queries as q
from events.catalog import get_db
from events.commands import CreateCatalog, CreateSyncMv, MvRefreshStart
from events.errors import CatalogError
from events.event import Event
from events.model import Column, ExternalCatalog
from events.plain import load, to_plain
from events.state import ClusterState
from storage.secrets import SecretBox, mask_props

Reply = tuple[list[Event], Any]

def seal_catalog_properties(box: SecretBox, props: dict[str, str]) -> dict[str, Any]:
    return box.seal(props)


def mask_catalog_properties(props: dict[str, Any]) -> dict[str, str]:
    return mask_props(props)


# ------------------------------------------------------------------ materialized views


def create_sync_mv(fe: Shell, s: ClusterState, c: CreateSyncMv) -> Reply:
    schema = [load(Column, col) for col in c.schema]
    evs = objects.create_sync_mv(s, c.db, c.name, c.base_table, c.definition, schema, c.keys_type, c.if_not_exists)

    def reply() -> Any:
        if not evs:
            return None
        db = get_db(fe.state, c.db)
        return table_layout(fe, fe.state, db.name, db.tables[c.base_table])

    return evs, reply


def mv_refresh_start(fe: Shell, s: ClusterState, c: MvRefreshStart) -> Reply:
    evs, plan = objects.refresh_start(s, c.db, c.name, fe.runtime.clock.now_ns())
    db = get_db(s, c.db)
    table = db.tables[c.name]
    partitions = []
    for p in table.partitions.values():
        tablets = []
        for t in plan["new_tablets"][str(p.id)]:
            dirs = [str(backend_dir(fe.data_dir, b) / "tablets" / str(t["id"])) for b in t["backends"]]
            tablets.append({"id": t["id"], "backends": t["backends"], "dirs": dirs, "files": []})
        partitions.append({**to_plain(p), "tablets": {str(table.base_index_id): tablets}})
    plan["layout"] = {"db": db.name, "db_id": plan["db_id"], "table": to_plain(table), "partitions": partitions}
    return evs, plan


def mv_due(fe: Shell, s: ClusterState, query: q.MvDue) -> list[list[str]]:
    now = query.now_ns or fe.runtime.clock.now_ns()
    return [list(x) for x in objects.due_refreshes(s, now, query.start_times)]


# ------------------------------------------------------------------ external catalogs


def create_catalog(fe: Shell, s: ClusterState, c: CreateCatalog) -> Reply:
    if c.name in s.catalogs and c.if_not_exists:
        return [], None
    sealed = seal_catalog_properties(SecretBox(str(fe.data_dir)), dict(c.properties))
    return objects.create_catalog(s, c.name, c.comment or "", sealed, c.if_not_exists, fe.runtime.clock.now_ns()), None


def _shown_catalog(c: ExternalCatalog) -> dict[str, Any]:
    """A catalog as SHOW may print it: secret values masked, the sealed values never leave the frontend."""
    return {"name": c.name, "comment": c.comment, "properties": mask_catalog_properties(c.properties),
            "create_time_ns": c.create_time_ns}


def catalogs(fe: Shell, s: ClusterState, _: q.Catalogs) -> list[dict[str, Any]]:
    return [_shown_catalog(c) for c in sorted(s.catalogs.values(), key=lambda c: c.name)]


def catalog(fe: Shell, s: ClusterState, query: q.CatalogInfo) -> dict[str, Any]:
    c = s.catalogs.get(query.name)
    if c is None:
        raise CatalogError(f"Unknown catalog '{query.name}'", 1049)
    return _shown_catalog(c)
