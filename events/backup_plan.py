"""BACKUP planning, pure: the `decide` of a BACKUP statement (which objects, which tablets, the job record).

`submit` resolves ON (...) against the catalog, checks the job rules, and returns the `backup.submitted`
event carrying the whole job (its metadata copy and one snapshot item per tablet), then SNAPSHOTING.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from events.catalog import get_db
from events.errors import ERR_BAD_TABLE, CatalogError
from events.event import Event
from events.job_common import (
    backup_timestamp,
    check_no_running_job,
    is_running,
    status_ok,
    stream,
    timeout_of,
)
from events.job_record import Job, JobTablet
from events.model import Database, Function, Table
from events.placement import Ids
from events.plain import to_plain
from events.state import ClusterState

TableChoice = tuple[Table, list[str] | None]  # a table or MV and its chosen partitions (None: all)


@dataclass
class _Selection:
    """What ON (...) chose, in statement order, each object once."""

    tables: list[TableChoice] = field(default_factory=list)
    views: list[Table] = field(default_factory=list)
    functions: list[Function] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)

    def add_table(self, t: Table, parts: list[str] | None) -> None:
        if t.name not in self.seen:
            self.seen.add(t.name)
            self.tables.append((t, parts))

    def add_view(self, t: Table) -> None:
        if t not in self.views:
            self.views.append(t)


def _by_id(db: Database, kind: str) -> list[Table]:
    return sorted((t for t in db.tables.values() if t.kind == kind), key=lambda t: t.id)


def _select_all(db: Database) -> _Selection:
    sel = _Selection()
    for t in sorted(db.tables.values(), key=lambda t: t.id):
        if t.kind == "VIEW":
            sel.views.append(t)
        else:
            sel.tables.append((t, None))
    sel.functions = list(db.functions)
    return sel


def _select_table(db: Database, obj: dict[str, Any], sel: _Selection) -> None:
    name = obj["name"]
    if name is None:
        for t in _by_id(db, "OLAP"):
            sel.add_table(t, None)
        return
    table = db.tables.get(name)
    if table is None:
        raise CatalogError(f"Unknown table '{name}'", ERR_BAD_TABLE)
    if table.kind == "VIEW":
        raise CatalogError(f"Table: {name} can not support backup restore, type: VIEW")
    if obj.get("temporary"):
        raise CatalogError("Do not support backing up temp partitions")
    parts = list(obj.get("partitions") or []) or None
    for p in parts or []:
        if p not in table.partitions:
            raise CatalogError(f"partition[{p}] does not exist  in table{name}")
    sel.add_table(table, parts)


def _select_mv(db: Database, name: str | None, sel: _Selection) -> None:
    if name is None:
        for t in _by_id(db, "MATERIALIZED_VIEW"):
            sel.add_table(t, None)
        return
    table = db.tables.get(name)
    if table is None or table.kind != "MATERIALIZED_VIEW":
        raise CatalogError(f"Unknown materialized view '{name}'", ERR_BAD_TABLE)
    sel.add_table(table, None)


def _select_view(db: Database, name: str | None, sel: _Selection) -> None:
    if name is None:
        for t in _by_id(db, "VIEW"):
            sel.add_view(t)
        return
    table = db.tables.get(name)
    if table is None or table.kind != "VIEW":
        raise CatalogError(f"Unknown view '{name}'", ERR_BAD_TABLE)
    sel.add_view(table)


def _select_functions(db: Database, name: str | None, sel: _Selection) -> None:
    matched = [f for f in db.functions if name is None or f.name.lower() == name.lower()]
    if name is not None and not matched:
        raise CatalogError(f"Invalid backup function(s), function name: {name}")
    for f in matched:
        if f not in sel.functions:
            sel.functions.append(f)


def _select_objects(db: Database, objects: list[dict[str, Any]]) -> _Selection:
    """Resolve ON (...) into (tables and MVs with their partitions, views, functions)."""
    if not objects:
        return _select_all(db)
    sel = _Selection()
    for obj in objects:
        kind, name = obj["kind"], obj["name"]
        if kind == "TABLE":
            _select_table(db, obj, sel)
        elif kind == "MATERIALIZED_VIEW":
            _select_mv(db, name, sel)
        elif kind == "VIEW":
            _select_view(db, name, sel)
        elif kind == "FUNCTION":
            _select_functions(db, name, sel)
    return sel


def _objects_text(db_name: str, tables: list[TableChoice], views: list[Table], functions: list[Function],
                  catalogs: list[str]) -> str:
    parts = []
    for t, p in tables:
        parts.append(f"[{db_name}.{t.name}" + (f" PARTITIONS ({', '.join(p)})" if p else "") + "]")
    parts.extend(f"[{db_name}.{v.name}]" for v in views)
    parts.extend(f"[{f.signature}]" for f in functions)
    parts.extend(f"[{c}]" for c in catalogs)
    return ", ".join(parts)


def check_label_free(state: ClusterState, repo: str, label: str) -> None:
    """A running backup of this label to this repository (of another database) has not written its snapshot
    yet, so the repository listing does not show it: two jobs would write one `__ss_<label>` directory with two
    meta files, and neither would restore."""
    for job in state.jobs.values():
        if job.get("type") == "BACKUP" and is_running(job) and job["repo"] == repo and job["label"] == label:
            raise CatalogError(f"Snapshot with name '{label}' already exist in repository")


@dataclass
class _Plan:
    """What a backup copies: the database's name and id ("" and 0 for external catalogs), its metadata
    copy, one snapshot item per tablet (keyed by tablet id as text) and SHOW's object list."""

    db_name: str
    db_id: int
    meta: dict[str, Any]
    tablets: dict[str, JobTablet]
    objects_text: str


def _empty_meta() -> dict[str, Any]:
    return {"database": None, "tables": [], "views": [], "functions": [], "catalogs": []}


def _plan_catalogs(state: ClusterState, args: dict[str, Any], repo: str, catalogs_arg: Any) -> _Plan:
    if args.get("db_given") or args.get("objects"):
        raise CatalogError("Can not specify database for external catalog snapshot")
    check_no_running_job(state, None)
    check_label_free(state, repo, args["label"])
    if catalogs_arg == "ALL":
        names = sorted(state.catalogs)
        if not names:
            raise CatalogError("No external catalog can be backed up")
    else:
        names = list(catalogs_arg)
        for c in names:
            if c not in state.catalogs:
                raise CatalogError(f"external catalog {c} does not existed.")
    meta = _empty_meta()
    meta["catalogs"] = [to_plain(state.catalogs[c]) for c in names]
    return _Plan("", 0, meta, {}, _objects_text("", [], [], [], names))


def _plan_database(state: ClusterState, args: dict[str, Any], repo: str) -> _Plan:
    db = get_db(state, args["db"])
    check_no_running_job(state, db.name)
    check_label_free(state, repo, args["label"])
    sel = _select_objects(db, args.get("objects") or [])
    if not sel.tables and not sel.views and not sel.functions:
        raise CatalogError(f"Database: {db.name} is empty")
    for t, _ in sel.tables:
        if t.state != "NORMAL":
            raise CatalogError(f"Table {t.name} is in {t.state} state, can not be backed up now")
    meta = _empty_meta()
    meta["database"] = {"id": db.id, "name": db.name}
    tablets: dict[str, JobTablet] = {}
    for t, parts in sel.tables:
        table_meta, table_tablets = _table_snapshot(state, db, t, parts)
        meta["tables"].append(table_meta)
        tablets.update(table_tablets)
    meta["views"] = [to_plain(v) for v in sel.views]
    meta["functions"] = [to_plain(f) for f in sel.functions]
    return _Plan(db.name, db.id, meta, tablets, _objects_text(db.name, sel.tables, sel.views, sel.functions, []))


def submit(state: ClusterState, args: dict[str, Any], now_ns: int) -> list[Event]:
    """Decide a BACKUP statement. `args`: db, label, repo, objects, external_catalogs, timeout_s, type."""
    repo = state.repositories.get(args["repo"])
    if repo is None:
        raise CatalogError(f"Repository [{args['repo']}] does not exist")
    if repo.read_only:
        raise CatalogError(f"Repository {repo.name} is read only")
    if args.get("type", "FULL") != "FULL":
        raise CatalogError("Currently does not support incremental backup")
    ids = Ids(state)
    job_id = ids.take()
    catalogs_arg = args.get("external_catalogs")
    if catalogs_arg is not None:
        plan = _plan_catalogs(state, args, repo.name, catalogs_arg)
    else:
        plan = _plan_database(state, args, repo.name)
    job = _new_job(state, job_id, args, repo.name, plan, now_ns)
    return [
        Event("backup.submitted", {"job": job, "next_id": ids.next}, stream=stream(job_id), key=f"backup/{job_id}"),
        Event("backup.state", {"job_id": job_id, "state": "SNAPSHOTING"}, stream=stream(job_id)),
    ]


def _new_job(state: ClusterState, job_id: int, args: dict[str, Any], repo: str, plan: _Plan, now_ns: int) -> Job:
    return {
        "id": job_id,
        "type": "BACKUP",
        "label": args["label"],
        "db": plan.db_name,
        "db_id": plan.db_id,
        "repo": repo,
        "state": "PENDING",
        "create_time_ns": now_ns,
        "timestamp": backup_timestamp(now_ns),
        "timeout_s": timeout_of(state, args.get("timeout_s")),
        "snapshot_finished_ns": 0,
        "upload_finished_ns": 0,
        "finished_ns": 0,
        "status": status_ok(),
        "task_errors": [],
        "objects_text": plan.objects_text,
        "tablets": plan.tablets,
        "meta": plan.meta,
        "files_total": sum(len(t["files"]) for t in plan.tablets.values()),
        "released": not plan.tablets,  # nothing to release when only metadata is backed up
        "attempts": {},
    }


def _table_snapshot(state: ClusterState, db: Database, table: Table, parts: list[str] | None) -> tuple[dict[str, Any], dict[str, JobTablet]]:
    """The table's metadata restricted to the chosen partitions, and one snapshot item per tablet."""
    plain = to_plain(table)
    chosen = [p for p in table.partitions.values() if parts is None or p.name in parts]
    plain["partitions"] = {p.name: to_plain(p) for p in chosen}
    tablets: dict[str, JobTablet] = {}
    files_meta: dict[str, list[dict[str, Any]]] = {}
    for p in chosen:
        for index_id, tids in p.tablets.items():
            for tid in tids:
                tablet = state.tablets[tid]
                visible = [r for r in tablet.rowsets if r.version <= p.visible_version]
                files_meta[str(tid)] = [
                    {"name": r.file, "version": r.version, "rows": r.rows, "size": r.size} for r in visible
                ]
                tablets[str(tid)] = {
                    # Every replica has every visible rowset; taking them in turn spreads snapshot and upload work
                    # over all backends (StarRocks takes the lowest replica id, which piles it on one).
                    "be": sorted(tablet.backends)[tid % len(tablet.backends)],
                    "replicas": sorted(tablet.backends),  # where to turn when the chosen copy is damaged
                    "db_id": db.id,
                    "table_id": table.id,
                    "part_id": p.id,
                    "index_id": index_id,
                    "files": [r.file for r in visible],
                    # md5 and size recorded when each file was written: the upload names the file with them
                    # instead of hashing it again (files loaded before checksums were recorded are hashed).
                    # (With the xxh3, when recorded: the copy path checks the bytes against it.)
                    "known": {r.file: [r.md5, r.size] + ([r.xxh3] if r.xxh3 else []) for r in visible if r.md5},
                    "snap": False,
                    "up": {},
                }
    plain["tablet_files"] = files_meta
    return plain, tablets  # to_plain made fresh objects: nothing is shared with the state
