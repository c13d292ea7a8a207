"""BACKUP jobs, pure: submit (decide), milestones and state changes (evolve), and effects (react).

States (reference §3.1): PENDING -> SNAPSHOTING -> UPLOAD_SNAPSHOT -> UPLOADING -> SAVE_META -> UPLOAD_INFO
-> FINISHED, or CANCELLED. Unlike StarRocks every step is an event: snapshot made per tablet, file
uploaded with its checksum, meta and info written, snapshot verified, snapshots released. `react` derives
a job's effects from its folded state alone, so after a restart the same function re-sends exactly the
unfinished work.

FINISHED means restorable: UPLOAD_INFO ends with a verification (one listing of the snapshot directory)
that every planned file is there under its final name and size, with the meta file and exactly one info
file for the job's timestamp. What is missing is uploaded again from the snapshot, which is held until the
job ends (MAX_REPAIRS rounds), else the job is CANCELLED naming it. The info file's bytes are a function of
the job state alone (the log head it names is fixed by the event that enters UPLOAD_INFO), so a retried
write after a crash writes the same bytes under the same name.
"""

from __future__ import annotations

from typing import Any

from events.catalog import get_db
from events.errors import ERR_BAD_TABLE, CatalogError
from events.event import Event
from events.job_common import (
    Job,
    SendTask,
    backup_timestamp,
    check_no_running_job,
    compact_if_done,
    is_running,
    spread_tasks,
    status_error,
    status_ok,
    timeout_of,
)
from events.layout import tablet_remote_dir
from events.model import Database, Table
from events.plain import to_plain
from events.state import ClusterState, applies

SNAPSHOT_BATCH = 256  # tablets per snapshot task: few messages for 100k tablets, bounded work per task
MAX_REPAIRS = 3  # verification rounds that may re-upload lost files before the job is cancelled
MAX_NAMED = 5  # files named in a status


def stream(job_id: int) -> str:
    return f"job/{job_id}"


# ---------------------------------------------------------------------------- submit


def _select_objects(db: Database, objects: list[dict[str, Any]]) -> tuple[list[tuple[Table, list[str] | None]], list[Table], list[Any]]:
    """Resolve ON (...) into (tables and MVs with their partitions, views, functions)."""
    tables: list[tuple[Table, list[str] | None]] = []
    views: list[Table] = []
    functions: list[Any] = []
    if not objects:
        for t in sorted(db.tables.values(), key=lambda t: t.id):
            if t.kind == "VIEW":
                views.append(t)
            else:
                tables.append((t, None))
        functions = list(db.functions)
        return tables, views, functions
    seen: set[str] = set()

    def add_table(t: Table, parts: list[str] | None) -> None:
        if t.name not in seen:
            seen.add(t.name)
            tables.append((t, parts))

    for obj in objects:
        kind, name = obj["kind"], obj["name"]
        if kind == "TABLE":
            if name is None:
                for t in sorted(db.tables.values(), key=lambda t: t.id):
                    if t.kind == "OLAP":
                        add_table(t, None)
                continue
            t = db.tables.get(name)
            if t is None:
                raise CatalogError(f"Unknown table '{name}'", ERR_BAD_TABLE)
            if t.kind == "VIEW":
                raise CatalogError(f"Table: {name} can not support backup restore, type: VIEW")
            if obj.get("temporary"):
                raise CatalogError("Do not support backing up temp partitions")
            parts = list(obj.get("partitions") or []) or None
            for p in parts or []:
                if p not in t.partitions:
                    raise CatalogError(f"partition[{p}] does not exist  in table{name}")
            add_table(t, parts)
        elif kind == "MATERIALIZED_VIEW":
            candidates = [t for t in db.tables.values() if t.kind == "MATERIALIZED_VIEW"]
            if name is None:
                for t in sorted(candidates, key=lambda t: t.id):
                    add_table(t, None)
                continue
            t = db.tables.get(name)
            if t is None or t.kind != "MATERIALIZED_VIEW":
                raise CatalogError(f"Unknown materialized view '{name}'", ERR_BAD_TABLE)
            add_table(t, None)
        elif kind == "VIEW":
            candidates = [t for t in db.tables.values() if t.kind == "VIEW"]
            if name is None:
                for t in sorted(candidates, key=lambda t: t.id):
                    if t not in views:
                        views.append(t)
                continue
            t = db.tables.get(name)
            if t is None or t.kind != "VIEW":
                raise CatalogError(f"Unknown view '{name}'", ERR_BAD_TABLE)
            if t not in views:
                views.append(t)
        elif kind == "FUNCTION":
            matched = [f for f in db.functions if name is None or f.name.lower() == name.lower()]
            if name is not None and not matched:
                raise CatalogError(f"Invalid backup function(s), function name: {name}")
            for f in matched:
                if f not in functions:
                    functions.append(f)
    return tables, views, functions


def _objects_text(db_name: str, tables: list[tuple[Table, list[str] | None]], views: list[Table], functions: list[Any],
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


def submit(state: ClusterState, args: dict[str, Any], now_ns: int) -> list[Event]:
    """Decide a BACKUP statement. `args`: db, label, repo, objects, external_catalogs, timeout_s, type."""
    repo = state.repositories.get(args["repo"])
    if repo is None:
        raise CatalogError(f"Repository [{args['repo']}] does not exist")
    if repo.read_only:
        raise CatalogError(f"Repository {repo.name} is read only")
    if args.get("type", "FULL") != "FULL":
        raise CatalogError("Currently does not support incremental backup")
    catalogs_arg = args.get("external_catalogs")
    from events.catalog import Ids

    ids = Ids(state)
    job_id = ids.take()
    ts = backup_timestamp(now_ns)
    meta: dict[str, Any] = {"database": None, "tables": [], "views": [], "functions": [], "catalogs": []}
    tablets: dict[str, dict[str, Any]] = {}
    if catalogs_arg is not None:
        if args.get("db_given") or args.get("objects"):
            raise CatalogError("Can not specify database for external catalog snapshot")
        check_no_running_job(state, None)
        check_label_free(state, repo.name, args["label"])
        if catalogs_arg == "ALL":
            names = sorted(state.catalogs)
            if not names:
                raise CatalogError("No external catalog can be backed up")
        else:
            names = list(catalogs_arg)
            for c in names:
                if c not in state.catalogs:
                    raise CatalogError(f"external catalog {c} does not existed.")
        meta["catalogs"] = [to_plain(state.catalogs[c]) for c in names]
        db_name, db_id = "", 0
        objects_text = _objects_text("", [], [], [], names)
    else:
        db = get_db(state, args["db"])
        check_no_running_job(state, db.name)
        check_label_free(state, repo.name, args["label"])
        tables, views, functions = _select_objects(db, args.get("objects") or [])
        if not tables and not views and not functions:
            raise CatalogError(f"Database: {db.name} is empty")
        for t, _ in tables:
            if t.state != "NORMAL":
                raise CatalogError(f"Table {t.name} is in {t.state} state, can not be backed up now")
        db_name, db_id = db.name, db.id
        meta["database"] = {"id": db.id, "name": db.name}
        for t, parts in tables:
            table_meta, table_tablets = _table_snapshot(state, db, t, parts)
            meta["tables"].append(table_meta)
            tablets.update(table_tablets)
        meta["views"] = [to_plain(v) for v in views]
        meta["functions"] = [to_plain(f) for f in functions]
        objects_text = _objects_text(db.name, tables, views, functions, [])
    job: Job = {
        "id": job_id,
        "type": "BACKUP",
        "label": args["label"],
        "db": db_name,
        "db_id": db_id,
        "repo": repo.name,
        "state": "PENDING",
        "create_time_ns": now_ns,
        "timestamp": ts,
        "timeout_s": timeout_of(state, args.get("timeout_s")),
        "snapshot_finished_ns": 0,
        "upload_finished_ns": 0,
        "finished_ns": 0,
        "status": status_ok(),
        "task_errors": [],
        "objects_text": objects_text,
        "tablets": tablets,
        "meta": meta,
        "files_total": sum(len(t["files"]) for t in tablets.values()),
        "released": not tablets,  # nothing to release when only metadata is backed up
        "attempts": {},
    }
    return [
        Event("backup.submitted", {"job": job, "next_id": ids.next}, stream=stream(job_id), key=f"backup/{job_id}"),
        Event("backup.state", {"job_id": job_id, "state": "SNAPSHOTING"}, stream=stream(job_id)),
    ]


def _table_snapshot(state: ClusterState, db: Database, table: Table, parts: list[str] | None) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The table's metadata restricted to the chosen partitions, and one snapshot item per tablet."""
    plain = to_plain(table)
    chosen = [p for p in table.partitions.values() if parts is None or p.name in parts]
    plain["partitions"] = {p.name: to_plain(p) for p in chosen}
    tablets: dict[str, dict[str, Any]] = {}
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


# ---------------------------------------------------------------------------- evolve


@applies("backup.submitted")
def _submitted(state: ClusterState, d: dict[str, Any]) -> None:
    # Appliers own the event data they are given (the log decodes a fresh copy for every reader), so a
    # 100,000-tablet job is not deep-copied again here.
    state.jobs[d["job"]["id"]] = d["job"]


@applies("backup.state")
def _state(state: ClusterState, d: dict[str, Any]) -> None:
    job = state.jobs[d["job_id"]]
    for key in ("state", "status", "snapshot_finished_ns", "upload_finished_ns", "finished_ns", "info_file",
                "meta_file", "head_hash", "meta_size", "info_size", "data_verified"):
        if key in d:
            job[key] = d[key]
    compact_if_done(job)


@applies("backup.snapshot_made")
def _snapshot_made(state: ClusterState, d: dict[str, Any]) -> None:
    job = state.jobs[d["job_id"]]
    tablet = job["tablets"][str(d["tablet_id"])]
    if not tablet["snap"]:
        tablet["snap"] = True
        job["snapped"] = job.get("snapped", 0) + 1  # a counter, so a report need not scan every tablet


@applies("backup.file_uploaded")
def _file_uploaded(state: ClusterState, d: dict[str, Any]) -> None:
    job = state.jobs[d["job_id"]]
    tablet = job["tablets"][str(d["tablet_id"])]
    if d["file"] not in tablet["up"]:
        job["uploaded"] = job.get("uploaded", 0) + 1
    tablet["up"][d["file"]] = d["md5"]


@applies("backup.repair")
def _repair(state: ClusterState, d: dict[str, Any]) -> None:
    """The verification found files missing: they are uploaded (or written) again."""
    job = state.jobs[d["job_id"]]
    job["repairs"] = job.get("repairs", 0) + 1
    job.pop("data_verified", None)
    for tid, f in d.get("lost", []):
        tablet = job["tablets"][str(tid)]
        if tablet["up"].pop(f, None) is not None:
            job["uploaded"] = job.get("uploaded", 0) - 1
    if d.get("meta_lost"):
        job.pop("meta_file", None)
    if d.get("info_lost"):
        job.pop("info_file", None)


@applies("backup.replica_damaged")
def _replica_damaged(state: ClusterState, d: dict[str, Any]) -> None:
    """A tablet file's copy on `backend` is not what was loaded: the next untried replica serves the tablet."""
    job = state.jobs[d["job_id"]]
    tablet = job["tablets"][str(d["tablet_id"])]
    damaged = tablet.setdefault("damaged", [])
    if d["backend"] not in damaged:
        damaged.append(d["backend"])
    if d.get("next_backend"):
        extra = job.setdefault("extra_bes", [])  # snapshots were taken there too: release them at the end
        if tablet["be"] not in extra:
            extra.append(tablet["be"])
        tablet["be"] = d["next_backend"]
        tablet["resnap"] = True


@applies("backup.snapshot_released")
def _released(state: ClusterState, d: dict[str, Any]) -> None:
    job = state.jobs[d["job_id"]]
    if "backend" not in d:  # a v1 event, written before releases were counted per backend
        job["released"] = True
        compact_if_done(job)
        return
    job.setdefault("released_bes", []).append(d["backend"])
    job["released"] = set(job["released_bes"]) >= snapshot_backends(job)
    compact_if_done(job)


@applies("backup.task_error")
def _task_error(state: ClusterState, d: dict[str, Any]) -> None:
    record_task_error(state.jobs[d["job_id"]], d)


def record_task_error(job: Job, d: dict[str, Any]) -> None:
    job["task_errors"] = (job["task_errors"] + [d["message"]])[-3:]
    key = d.get("item_key")
    if key:
        job["attempts"][key] = job["attempts"].get(key, 0) + 1


# ---------------------------------------------------------------------------- decide on reports


def on_report(job: Job, kind: str, done: list[dict[str, Any]], error: str | None, error_item: dict[str, Any] | None,
              now_ns: int, head_hash: str = "") -> list[Event]:
    """Milestones from a backend's report. `head_hash`: the event log's head now (the info file names it)."""
    jid = job["id"]
    s = stream(jid)
    if kind == "release":
        # Released snapshots matter for ended jobs too: a cancelled job must not leave hard links behind.
        fresh = sorted({d["backend"] for d in done} - set(job.get("released_bes", [])))
        return [Event("backup.snapshot_released", {"job_id": jid, "backend": be}, stream=s) for be in fresh]
    if not is_running(job):
        return []
    events: list[Event] = []
    st = job["state"]
    if kind == "snapshot" and st == "SNAPSHOTING":
        fresh = sorted({str(d["tablet_id"]) for d in done if not job["tablets"][str(d["tablet_id"])]["snap"]})
        events += [Event("backup.snapshot_made", {"job_id": jid, "tablet_id": int(t)}, stream=s) for t in fresh]
        if job.get("snapped", 0) + len(fresh) >= len(job["tablets"]):
            events.append(Event("backup.state", {"job_id": jid, "state": "UPLOAD_SNAPSHOT", "snapshot_finished_ns": now_ns},
                                stream=s))
    elif kind == "upload" and st in ("UPLOADING", "UPLOAD_INFO"):
        fresh = {(str(d["tablet_id"]), d["file"]): d for d in done if d["file"] not in job["tablets"][str(d["tablet_id"])]["up"]}
        events += [
            Event("backup.file_uploaded", {"job_id": jid, "tablet_id": d["tablet_id"], "file": d["file"], "md5": d["md5"],
                                           "size": d["size"]}, stream=s)
            for d in fresh.values()
        ]
        if fresh and job.get("uploaded", 0) + len(fresh) >= _total_files(job) and not _missing_uploads(job, set(fresh)):
            if st == "UPLOADING":
                events.append(Event("backup.state", {"job_id": jid, "state": "SAVE_META", "upload_finished_ns": now_ns},
                                    stream=s))
            else:  # lost files uploaded again: verify once more
                events.append(Event("backup.state", {"job_id": jid, "state": "UPLOAD_INFO"}, stream=s))
    elif kind == "meta" and st in ("SAVE_META", "UPLOAD_INFO") and done:
        data: dict[str, Any] = {"job_id": jid, "state": "UPLOAD_INFO", "meta_file": done[0]["key"],
                                "meta_size": done[0].get("size", -1)}
        if st == "SAVE_META":
            # Fixed here, before the info file is written: a retried write names the same head, same bytes.
            data["head_hash"] = head_hash
        events.append(Event("backup.state", data, stream=s))
    elif kind == "info" and st == "UPLOAD_INFO" and done:
        events.append(Event("backup.state", {"job_id": jid, "state": "UPLOAD_INFO", "info_file": done[0]["key"],
                                             "info_size": done[0].get("size", -1)}, stream=s))
    elif (kind == "verify" and st == "UPLOAD_INFO" and done and job.get("meta_file")
          and not _missing_uploads(job, set())  # (a late verification from before a repair is ignored)
          and bool(job.get("info_file")) == done[0].get("with_info", True)):  # (nor one of the other round)
        if not job.get("info_file") and not done[0].get("problems"):
            # Data and meta are complete: only now is the info file (what SHOW SNAPSHOT and RESTORE look for)
            # written, so a snapshot never has one while it is incomplete, even if the job ends here.
            events.append(Event("backup.state", {"job_id": jid, "state": "UPLOAD_INFO", "data_verified": True},
                                stream=s))
        else:
            events += on_verified(job, done[0], now_ns)
    if error is not None:
        events += task_failed(job, "backup", error, error_item, now_ns)
    return events


def on_verified(job: Job, result: dict[str, Any], now_ns: int) -> list[Event]:
    """Decide on a verification: FINISHED if the snapshot is complete, else repair what is missing (files
    are uploaded again from the held snapshot), or CANCEL naming it after MAX_REPAIRS rounds."""
    jid = job["id"]
    s = stream(jid)
    problems = result.get("problems", [])
    if not problems:
        return [Event("backup.state", {"job_id": jid, "state": "FINISHED", "finished_ns": now_ns}, stream=s)]
    names = [p["key"].rsplit("/", 1)[-1] + (f" (found {p['found']} bytes, expected {p['size']})"
                                            if p.get("found") is not None else "") for p in problems]
    count = result.get("problem_count", len(problems))
    what = ", ".join(names[:MAX_NAMED]) + (f" and {count - MAX_NAMED} more" if count > MAX_NAMED else "")
    foreign = [p["key"].rsplit("/", 1)[-1] for p in problems if p.get("what") == "foreign_meta"]
    if foreign:  # another backup wrote this label: no repair makes it restorable
        return [cancel_event(job, "backup", status_error(
            "COMMON_ERROR", f"snapshot {job['label']} has another backup's meta file {', '.join(foreign[:MAX_NAMED])}: "
                            "another backup with this label wrote to the repository"), now_ns)]
    if job.get("repairs", 0) >= MAX_REPAIRS:
        return [cancel_event(job, "backup", status_error(
            "COMMON_ERROR", f"snapshot incomplete after {MAX_REPAIRS} repairs, missing from the repository: {what}"),
            now_ns)]
    lost = [[p["tablet_id"], p["file"]] for p in problems if p.get("what") == "data"]
    return [
        Event("backup.task_error", {"job_id": jid, "message": f"verification: missing from the repository: {what}",
                                    "item_key": ""}, stream=s),
        Event("backup.repair", {"job_id": jid, "lost": lost, "meta_lost": any(p.get("what") == "meta" for p in problems),
                                "info_lost": any(p.get("what") == "info" for p in problems)}, stream=s),
        Event("backup.state", {"job_id": jid, "state": "UPLOAD_INFO"}, stream=s),
    ]


def manifest(job: Job, root: str, with_info: bool = True) -> list[dict[str, Any]]:
    """What a complete snapshot holds: every planned file under its final name with its size, the meta file
    and (`with_info`) the info file (the verification's expectation). The first verification runs before the
    info file is written, without it."""
    sizes: dict[str, dict[str, int]] = {}
    for table in job["meta"]["tables"]:
        for tid, files in table.get("tablet_files", {}).items():
            sizes[str(tid)] = {f["name"]: f["size"] for f in files}
    out: list[dict[str, Any]] = []
    for tid, t in sorted(job["tablets"].items(), key=lambda kv: int(kv[0])):
        rdir = tablet_remote_dir(root, job["label"], t["db_id"], t["table_id"], t["part_id"], t["index_id"], int(tid))
        for f in t["files"]:
            md5 = t["up"].get(f)
            out.append({"what": "data", "tablet_id": int(tid), "file": f, "key": f"{rdir}/{f}.{md5}",
                        "size": sizes.get(tid, {}).get(f, -1)})
    out.append({"what": "meta", "key": job["meta_file"], "size": job.get("meta_size", -1)})
    if with_info:
        out.append({"what": "info", "key": job["info_file"], "size": job.get("info_size", -1)})
    return out


def task_failed(job: Job, kind: str, error: str, error_item: dict[str, Any] | None, now_ns: int,
                record: bool = True) -> list[Event]:
    """A failed item. A permanent error (bad credentials, checksum mismatch: `fatal`) ends the job at once;
    a damaged replica hands the tablet to the next untried replica, and ends the job when none is left; a
    transient one is only recorded (when `record`: the engine records the first of a run of failures, not
    every retry) and the item is retried with backoff for as long as the job runs (see actors/jobs.py)."""
    jid = job["id"]
    item = error_item or {}
    item_key = item.get("key", "")
    error_event = Event(f"{kind}.task_error", {"job_id": jid, "message": error, "item_key": item_key},
                        stream=stream(jid))
    damaged = item.get("damaged")
    if damaged and kind == "backup" and str(damaged["tablet_id"]) in job["tablets"]:
        return _replica_damaged_events(job, error, damaged, error_event, now_ns)
    if item.get("fatal"):
        return [error_event, cancel_event(job, kind, status_error("COMMON_ERROR", error), now_ns)]
    return [error_event] if record else []


def _replica_damaged_events(job: Job, error: str, damaged: dict[str, Any], error_event: Event,
                            now_ns: int) -> list[Event]:
    jid = job["id"]
    tid = str(damaged["tablet_id"])
    tablet = job["tablets"][tid]
    if damaged["backend"] != tablet["be"]:
        return [error_event]  # a late report about a replica already given up
    tried = set(tablet.get("damaged", [])) | {damaged["backend"]}
    left = [b for b in tablet.get("replicas", []) if b not in tried]
    data = {"job_id": jid, "tablet_id": int(tid), "file": damaged["file"], "backend": damaged["backend"],
            "next_backend": left[0] if left else 0}
    events = [error_event, Event("backup.replica_damaged", data, stream=stream(jid))]
    if not left:
        replicas = ", ".join(str(b) for b in sorted(tried))
        events.append(cancel_event(job, "backup", status_error(
            "COMMON_ERROR", f"tablet file {damaged['file']} of tablet {tid} is damaged on every replica "
                            f"(backends {replicas}); last: {error}"), now_ns))
    return events


def snapshot_backends(job: Job) -> set[int]:
    """Backends holding snapshot links of this job (the chosen replicas, and any given up as damaged)."""
    return {t["be"] for t in job["tablets"].values()} | set(job.get("extra_bes", []))


def _total_files(job: Job) -> int:
    if "files_total" in job:
        return int(job["files_total"])
    return sum(len(t["files"]) for t in job["tablets"].values())  # jobs submitted before the counter


def _missing_uploads(job: Job, just_done: set[tuple[str, str]]) -> list[tuple[str, str]]:
    return [
        (tid, f)
        for tid, t in job["tablets"].items()
        for f in t["files"]
        if f not in t["up"] and (tid, f) not in just_done
    ]


def cancel_event(job: Job, kind: str, status: str, now_ns: int) -> Event:
    return Event(f"{kind}.state", {"job_id": job["id"], "state": "CANCELLED", "status": status, "finished_ns": now_ns},
                 stream=stream(job["id"]))


def cancel(state: ClusterState, db: str | None, catalog: bool, now_ns: int) -> list[Event]:
    from events.job_common import last_jobs

    key = "__external_catalog__" if catalog else db
    if not catalog and not db:
        raise CatalogError("No database selected", 1046)
    job = last_jobs(state).get(key or "")
    if job is None or job["type"] != "BACKUP":
        raise CatalogError("No backup job is currently running")
    if not is_running(job):
        raise CatalogError(f"Failed to cancel job: Job with label {job['label']} can not be cancelled. state: {job['state']}")
    return [cancel_event(job, "backup", status_error("COMMON_ERROR", "user cancelled"), now_ns)]


# ---------------------------------------------------------------------------- react


def react(state: ClusterState, job: Job) -> list[Any]:
    """The effects a backup job needs in its current state (idempotent: safe to repeat after a restart)."""
    st = job["state"]
    jid = job["id"]
    effects: list[Any] = []
    if st == "SNAPSHOTING":
        by_be: dict[int, list[dict[str, Any]]] = {}
        for tid, t in sorted(job["tablets"].items(), key=lambda kv: int(kv[0])):
            if not t["snap"]:
                by_be.setdefault(t["be"], []).append({"tablet_id": int(tid), "files": t["files"]})
        for be, items in sorted(by_be.items()):
            for i in range(0, len(items), SNAPSHOT_BATCH):
                chunk = items[i : i + SNAPSHOT_BATCH]
                effects.append(SendTask(be, "snapshot", jid, f"snap/{chunk[0]['tablet_id']}", {"tablets": chunk}))
        if not job["tablets"]:
            effects.append(Advance(jid, "backup", "UPLOAD_SNAPSHOT"))
    elif st == "UPLOAD_SNAPSHOT":
        effects.append(Advance(jid, "backup", "UPLOADING"))
    elif st == "UPLOADING":
        effects.extend(_upload_tasks(state, job))
        if not _missing_uploads(job, set()):
            effects.append(Advance(jid, "backup", "SAVE_META"))
    elif st == "SAVE_META":
        # The snapshots stay held until the job ends: the verification may need to upload a file again.
        effects.append(SendTask(_meta_backend(state, job), "meta", jid, "meta", {}))
    elif st == "UPLOAD_INFO":
        if _missing_uploads(job, set()):
            effects.extend(_upload_tasks(state, job))  # lost files, found by the verification
        elif not job.get("meta_file"):
            effects.append(SendTask(_meta_backend(state, job), "meta", jid, "meta", {}))
        elif not job.get("info_file") and not job.get("data_verified"):
            effects.append(SendTask(_meta_backend(state, job), "verify", jid, "verify-data", {}))
        elif not job.get("info_file"):
            effects.append(SendTask(_meta_backend(state, job), "info", jid, "info", {}))
        else:
            effects.append(SendTask(_meta_backend(state, job), "verify", jid, "verify", {}))
    elif st in ("FINISHED", "CANCELLED") and not job.get("released"):
        effects.extend(_release_tasks(job))
    return effects


class Advance:
    """Effect: move a job to its next state at once (a state with no work of its own)."""

    def __init__(self, job_id: int, kind: str, state: str) -> None:
        self.job_id = job_id
        self.kind = kind
        self.state = state

    def __repr__(self) -> str:
        return f"Advance({self.job_id}, {self.state})"


def _meta_backend(state: ClusterState, job: Job) -> int:
    return min(state.backends)


def _release_tasks(job: Job) -> list[SendTask]:
    bes = sorted(snapshot_backends(job) - set(job.get("released_bes", [])))
    return [SendTask(be, "release", job["id"], f"release/{be}", {}) for be in bes]


def _upload_tasks(state: ClusterState, job: Job) -> list[SendTask]:
    """The missing uploads of each backend, over at most max_upload_task_per_be tasks."""
    cap = state.config_int("max_upload_task_per_be")
    by_be: dict[int, list[dict[str, Any]]] = {}
    for tid, t in sorted(job["tablets"].items(), key=lambda kv: int(kv[0])):
        missing = [f for f in t["files"] if f not in t["up"]]
        if missing:
            item = {"tablet_id": int(tid), "db_id": t["db_id"], "table_id": t["table_id"], "part_id": t["part_id"],
                    "index_id": t["index_id"], "files": missing}
            known = t.get("known")
            if known:
                item["known"] = {f: known[f] for f in missing if f in known}
            if t.get("resnap"):
                item["snapshot"] = t["files"]  # a replica taken over from a damaged one: link its snapshot first
            by_be.setdefault(t["be"], []).append(item)
    return spread_tasks(job["id"], "upload", by_be, cap)


def timed_out(job: Job, now_ns: int) -> bool:
    return is_running(job) and now_ns - job["create_time_ns"] > job["timeout_s"] * 1_000_000_000


def _event_kind(job: Job) -> str:
    return "backup" if job["type"] == "BACKUP" else "restore"


def timeout_event(job: Job, now_ns: int) -> Event:
    kind = _event_kind(job)
    msg = "" if kind == "backup" else f"restore job with label: {job['label']}  timeout."
    return cancel_event(job, kind, status_error("TIMEOUT", msg), now_ns)


def stalled(last_progress_ns: int, now_ns: int, limit_s: int) -> bool:
    """Has a running job gone `limit_s` (backup_job_no_progress_timeout_s; 0: never) without progress?"""
    return limit_s > 0 and now_ns - last_progress_ns > limit_s * 1_000_000_000


def stall_event(job: Job, limit_s: int, reason: str | None, now_ns: int) -> Event:
    """CANCEL a job that made no progress for `limit_s`, naming the storage's last reason."""
    why = f"; last error: {reason}" if reason else ""
    return cancel_event(job, _event_kind(job), status_error("COMMON_ERROR", f"no progress for {limit_s} s in state {job['state']}{why}"),
                        now_ns)
