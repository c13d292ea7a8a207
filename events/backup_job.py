"""BACKUP jobs, pure: the state machine. What a job needs in each state (react), leaving a state with no
work of its own (advance), what its tasks carry (task_args), and cancel. Planning is events/backup_plan.py,
decisions on reports events/backup_reports.py, the state changes events/backup_evolve.py; this module is
the backup job's whole face to the shell (actors/jobs.py), so it names those too.

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

from collections.abc import Callable
from typing import Any

from events.backup_evolve import snapshot_backends
from events.backup_plan import submit
from events.backup_reports import manifest, missing_uploads, on_report
from events.errors import CatalogError
from events.event import Event
from events.job_common import (
    Advance,
    Effect,
    SendTask,
    cancel_event,
    is_running,
    last_jobs,
    spread_tasks,
    status_error,
    stream,
)
from events.job_common import task_args as common_task_args
from events.job_record import Job
from events.layout import META_NAME, info_file_name, snapshot_dir
from events.state import ClusterState

__all__ = ["advance", "cancel", "on_report", "react", "submit", "task_args"]

SNAPSHOT_BATCH = 256  # tablets per snapshot task: few messages for 100k tablets, bounded work per task


def cancel(state: ClusterState, db: str | None, catalog: bool, now_ns: int) -> list[Event]:
    key = "__external_catalog__" if catalog else db
    if not catalog and not db:
        raise CatalogError("No database selected", 1046)
    job = last_jobs(state).get(key or "")
    if job is None or job["type"] != "BACKUP":
        raise CatalogError("No backup job is currently running")
    if not is_running(job):
        raise CatalogError(f"Failed to cancel job: Job with label {job['label']} can not be cancelled. state: {job['state']}")
    return [cancel_event(job, "backup", status_error("COMMON_ERROR", "user cancelled"), now_ns)]


def react(state: ClusterState, job: Job) -> list[Effect]:
    """The effects a backup job needs in its current state (idempotent: safe to repeat after a restart)."""
    st = job["state"]
    jid = job["id"]
    effects: list[Effect] = []
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
        if not missing_uploads(job, set()):
            effects.append(Advance(jid, "backup", "SAVE_META"))
    elif st == "SAVE_META":
        # The snapshots stay held until the job ends: the verification may need to upload a file again.
        effects.append(SendTask(_meta_backend(state, job), "meta", jid, "meta", {}))
    elif st == "UPLOAD_INFO":
        if missing_uploads(job, set()):
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


def advance(state: ClusterState, job: Job, to_state: str, now_ns: int) -> list[Event]:
    """Leave a state with no work of its own (see job_common.Advance): decided at the AdvanceJob's delivery."""
    return [Event("backup.state", {"job_id": job["id"], "state": to_state}, stream=stream(job["id"]))]


def file_facts(job: Job) -> dict[str, Any]:
    """The plain data the meta and info files are built from (storage/snapshot_files.py) on the backend:
    their bytes are a function of it alone, so a retried write writes the same bytes. (The metadata copy
    is never changed after submit; the uploaded checksums are copied.)"""
    return {"label": job["label"], "create_time_ns": job["create_time_ns"], "meta": job["meta"],
            "tablets": {tid: {"up": dict(t["up"])} for tid, t in job["tablets"].items()}}


def task_args(state: ClusterState, job: Job, effect: SendTask, log_head: Callable[[], str]) -> dict[str, Any]:
    """What a task of this job carries: its items, the repository's access, and for the meta and info files
    their names and facts (the info file names the log head fixed when the job entered UPLOAD_INFO;
    `log_head` gives the head now, for a job that entered it before heads were fixed)."""
    args = common_task_args(state, job, effect)
    if "root" not in args:  # not a transfer, or the repository is gone
        return args
    sdir = snapshot_dir(args["root"], job["label"])
    if effect.kind == "meta":
        args.update(name=META_NAME, remote_dir=sdir, facts=file_facts(job))
    elif effect.kind == "info":
        args.update(name=info_file_name(job["timestamp"]), remote_dir=sdir, facts=file_facts(job),
                    head_hash=job.get("head_hash") or log_head())
    elif effect.kind == "verify":
        args.update(remote_dir=sdir, info_prefix=f"{sdir}/{info_file_name(job['timestamp'])}.",
                    expected=manifest(job, args["root"], with_info=bool(job.get("info_file"))))
    return args
