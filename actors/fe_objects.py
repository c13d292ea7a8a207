"""Frontend commands and reads for views, materialized views, functions, external catalogs and settings.

Commands return (events, reply); a callable reply runs after the events are applied. Catalog secrets are
sealed here (the frontend owns the data directory and its key) before they reach an event.
"""

from __future__ import annotations

from typing import Any

from actors.fe_commands import backend_dir, table_layout
from actors.frontend import Frontend, command, read
from events import objects
from events.catalog import TableSpec, get_db
from events.errors import CatalogError
from events.event import Event
from events.model import Column, Function, MvInfo
from events.plain import load, to_plain
from events.state import ClusterState
from storage.secrets import SecretBox, mask_props

Args = dict[str, Any]
Reply = tuple[list[Event], Any]

def seal_catalog_properties(box: SecretBox, props: dict[str, str]) -> dict[str, Any]:
    return box.seal(props)


def mask_catalog_properties(props: dict[str, Any]) -> dict[str, str]:
    return mask_props(props)


def _now(fe: Frontend) -> int:
    return fe.runtime.clock.now_ns()


# ------------------------------------------------------------------ views


@command("create_view")
def _create_view(fe: Frontend, s: ClusterState, a: Args) -> Reply:
    cols = [load(Column, c) for c in a.get("column_defs", [])]
    return objects.create_view(s, a["db"], a["name"], a["query"], cols, a.get("view_columns", []),
                               a.get("comment") or "", a.get("if_not_exists", False), a.get("or_replace", False)), None


@command("alter_view")
def _alter_view(fe: Frontend, s: ClusterState, a: Args) -> Reply:
    cols = [load(Column, c) for c in a.get("column_defs", [])]
    return objects.alter_view(s, a["db"], a["name"], a["query"], cols, a.get("view_columns", [])), None


@command("drop_view")
def _drop_view(fe: Frontend, s: ClusterState, a: Args) -> Reply:
    return objects.drop_view(s, a["db"], a["name"], a.get("if_exists", False)), None


# ------------------------------------------------------------------ materialized views


@command("create_sync_mv")
def _create_sync_mv(fe: Frontend, s: ClusterState, a: Args) -> Reply:
    schema = [load(Column, c) for c in a["schema"]]
    evs = objects.create_sync_mv(s, a["db"], a["name"], a["base_table"], a["definition"], schema, a["keys_type"],
                                 a.get("if_not_exists", False))

    def reply() -> Any:
        if not evs:
            return None
        db = get_db(fe.state, a["db"])
        base = db.tables[a["base_table"]]
        return table_layout(fe, fe.state, a["db"], base)

    return evs, reply


@command("create_async_mv")
def _create_async_mv(fe: Frontend, s: ClusterState, a: Args) -> Reply:
    spec = load(TableSpec, a["spec"])
    info = load(MvInfo, a["mv"])
    return objects.create_async_mv(s, a["db"], spec, info, a.get("if_not_exists", False)), None


@command("drop_mv")
def _drop_mv(fe: Frontend, s: ClusterState, a: Args) -> Reply:
    return objects.drop_mv(s, a["db"], a["name"], a.get("if_exists", False)), None


@command("alter_mv_active")
def _alter_mv_active(fe: Frontend, s: ClusterState, a: Args) -> Reply:
    return objects.alter_mv_active(s, a["db"], a["name"], a["active"]), None


@command("mv_refresh_start")
def _mv_refresh_start(fe: Frontend, s: ClusterState, a: Args) -> Reply:
    evs, plan = objects.refresh_start(s, a["db"], a["name"], _now(fe))
    table = get_db(s, a["db"]).tables[a["name"]]
    partitions = []
    for p in table.partitions.values():
        tablets = []
        for t in plan["new_tablets"][str(p.id)]:
            dirs = [str(backend_dir(fe.data_dir, b) / "tablets" / str(t["id"])) for b in t["backends"]]
            tablets.append({"id": t["id"], "backends": t["backends"], "dirs": dirs, "files": []})
        partitions.append({**to_plain(p), "tablets": {str(table.base_index_id): tablets}})
    plan["layout"] = {"db": a["db"], "db_id": plan["db_id"], "table": to_plain(table), "partitions": partitions}
    return evs, plan


@command("mv_refresh_finish")
def _mv_refresh_finish(fe: Frontend, s: ClusterState, a: Args) -> Reply:
    return objects.refresh_finish(s, a["db"], a["name"], a["table_id"], a["start_ns"], a["partitions"], _now(fe))


@command("mv_refresh_failed")
def _mv_refresh_failed(fe: Frontend, s: ClusterState, a: Args) -> Reply:
    return objects.refresh_failed(s, a["db"], a["name"], a["table_id"], a["start_ns"], a["error"], _now(fe)), None


@read("mv_due")
def _mv_due(fe: Frontend, s: ClusterState, a: Args) -> list[list[str]]:
    now = a.get("now_ns") or _now(fe)
    return [list(x) for x in objects.due_refreshes(s, now, a.get("start_times", {}))]


@read("mv_schedules")
def _mv_schedules(fe: Frontend, s: ClusterState, a: Args) -> list[dict[str, Any]]:
    """ASYNC MVs with a timed refresh: what the refresher needs to compute START times."""
    out = []
    for db in s.databases.values():
        for t in db.tables.values():
            if t.mv is not None and t.mv.refresh == "ASYNC" and t.mv.refresh_interval_s:
                out.append({"db": db.name, "name": t.name, "start": t.mv.refresh_start})
    return out


def _visible_rows(s: ClusterState, partitions: Any, index_id: int) -> int:
    rows = 0
    for p in partitions:
        for tid in p.tablets.get(index_id, []):
            tablet = s.tablets.get(tid)
            if tablet is not None:
                rows += sum(r.rows for r in tablet.rowsets if r.version <= p.visible_version)
    return rows


@read("mv_list")
def _mv_list(fe: Frontend, s: ClusterState, a: Args) -> list[dict[str, Any]]:
    """Both kinds of MV in a database, as plain rows for SHOW MATERIALIZED VIEWS."""
    db = get_db(s, a["db"])
    out: list[dict[str, Any]] = []
    for t in db.tables.values():
        if t.kind == "MATERIALIZED_VIEW" and t.mv is not None:
            out.append({"id": t.id, "name": t.name, "sync": False, "mv": to_plain(t.mv), "table": to_plain(t),
                        "rows": _visible_rows(s, t.partitions.values(), t.base_index_id)})
        for idx in t.indexes.values():
            if idx.id != t.base_index_id:
                out.append({"id": idx.id, "name": idx.name, "sync": True, "base_table": t.name,
                            "index": to_plain(idx), "rows": _visible_rows(s, t.partitions.values(), idx.id)})
    return sorted(out, key=lambda r: r["id"])


@read("object")
def _object(fe: Frontend, s: ClusterState, a: Args) -> dict[str, Any]:
    """A table, view or MV by name (plain), or a synchronous MV index with its base table's name."""
    db = get_db(s, a["db"])
    t = db.tables.get(a["name"])
    if t is not None:
        return {"kind": t.kind, "table": to_plain(t)}
    found = objects.find_sync_mv(db, a["name"])
    if found is not None:
        return {"kind": "SYNC_MV", "base_table": found[0].name, "index": to_plain(found[1])}
    return {"kind": None}


# ------------------------------------------------------------------ functions


@command("create_function")
def _create_function(fe: Frontend, s: ClusterState, a: Args) -> Reply:
    fn = load(Function, a["function"])
    return objects.create_function(s, a["db"], fn, a.get("if_not_exists", False)), None


@command("drop_function")
def _drop_function(fe: Frontend, s: ClusterState, a: Args) -> Reply:
    return objects.drop_function(s, a["db"], a["name"], a["arg_types"], a.get("if_exists", False)), None


@read("functions")
def _functions(fe: Frontend, s: ClusterState, a: Args) -> list[dict[str, Any]]:
    return [to_plain(f) for f in get_db(s, a["db"]).functions]


# ------------------------------------------------------------------ external catalogs


@command("create_catalog")
def _create_catalog(fe: Frontend, s: ClusterState, a: Args) -> Reply:
    if a["name"] in s.catalogs and a.get("if_not_exists"):
        return [], None
    sealed = seal_catalog_properties(SecretBox(str(fe.data_dir)), dict(a["properties"]))
    return objects.create_catalog(s, a["name"], a.get("comment") or "", sealed, a.get("if_not_exists", False),
                                  _now(fe)), None


@command("drop_catalog")
def _drop_catalog(fe: Frontend, s: ClusterState, a: Args) -> Reply:
    return objects.drop_catalog(s, a["name"], a.get("if_exists", False)), None


@read("catalogs")
def _catalogs(fe: Frontend, s: ClusterState, a: Args) -> list[dict[str, Any]]:
    """External catalogs with secret values masked: the sealed values never leave the frontend."""
    return [{"name": c.name, "comment": c.comment, "properties": mask_catalog_properties(c.properties),
             "create_time_ns": c.create_time_ns} for c in sorted(s.catalogs.values(), key=lambda c: c.name)]


@read("catalog")
def _catalog(fe: Frontend, s: ClusterState, a: Args) -> dict[str, Any]:
    c = s.catalogs.get(a["name"])
    if c is None:
        raise CatalogError(f"Unknown catalog '{a['name']}'", 1049)
    return {"name": c.name, "comment": c.comment, "properties": mask_catalog_properties(c.properties),
            "create_time_ns": c.create_time_ns}
