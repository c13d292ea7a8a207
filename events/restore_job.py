"""RESTORE jobs, pure: the state machine. What a job needs in each state (react), leaving a state with no
work of its own (advance: COMMITTING re-checks the plan and publishes it in one event), decisions on
reports, what its tasks carry, and cancel. Planning is events/restore_plan.py, the state changes
events/restore_evolve.py; this module is the restore job's whole face to the shell (actors/jobs.py).

States (reference §3.2): PENDING -> SNAPSHOTING -> DOWNLOAD -> DOWNLOADING -> COMMIT -> COMMITTING ->
FINISHED, or CANCELLED. Where StarRocks moves files into live tablets during COMMIT (so a cancel there can
corrupt data), we download into new tablets that no reader knows about, and `restore.committed` swaps them
into the catalog in one event (design §2.7): before it the target is untouched, after it the job finishes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
    task_failed,
)
from events.job_common import task_args as common_task_args
from events.job_record import Job
from events.restore_plan import submit
from events.state import ClusterState

__all__ = ["advance", "cancel", "on_report", "react", "submit", "task_args"]


def on_report(job: Job, kind: str, done: list[dict[str, Any]], error: str | None, error_item: dict[str, Any] | None,
              now_ns: int, head_hash: str = "") -> list[Event]:
    """Milestones from a backend's report (`head_hash`, the log head, is a backup's concern)."""
    if not is_running(job):
        if kind == "drop" and job["state"] == "CANCELLED" and not job.get("cleaned"):
            return [Event("restore.rolled_back", {"job_id": job["id"]}, stream=stream(job["id"]))]
        return []
    jid = job["id"]
    s = stream(jid)
    events: list[Event] = []
    if kind == "download" and job["state"] == "DOWNLOADING":
        fresh_items = {(str(d["tablet_id"]), d["file"]): d for d in done
                       if d["file"] not in job["tablets"][str(d["tablet_id"])]["down"]}
        fresh = set(fresh_items)
        events += [Event("restore.file_downloaded", {"job_id": jid, "tablet_id": int(t), "file": f,
                                                     "xxh3": fresh_items[(t, f)].get("xxh3", "")}, stream=s)
                   for t, f in sorted(fresh)]
        if "downloaded" in job:  # (a job from a state snapshot of an older version has no counters)
            complete = job["downloaded"] + len(fresh) >= job["files_total"]
        else:
            complete = not [1 for t, v in job["tablets"].items() for f in v["files"]
                            if f not in v["down"] and (t, f) not in fresh]
        if complete:
            events.append(Event("restore.state", {"job_id": jid, "state": "COMMIT", "download_finished_ns": now_ns}, stream=s))
    if error is not None:
        events += task_failed(job, "restore", error, error_item, now_ns)
    return events


def commit_events(state: ClusterState, job: Job, now_ns: int) -> list[Event]:
    """COMMIT: re-check that nothing the plan relies on changed, then publish everything in one event."""
    jid = job["id"]
    s = stream(jid)
    problem = _commit_problem(state, job)
    if problem:
        return [cancel_event(job, "restore", status_error("NOT_FOUND", problem), now_ns)]
    return [
        Event("restore.state", {"job_id": jid, "state": "COMMITTING"}, stream=s),
        Event("restore.committed", {"job_id": jid}, stream=s, key=f"restore-commit/{jid}"),
        Event("restore.state", {"job_id": jid, "state": "FINISHED", "finished_ns": now_ns}, stream=s),
    ]


def _commit_problem(state: ClusterState, job: Job) -> str | None:
    if not job["db"]:
        clash = [c["name"] for c in job["plan"]["catalogs"] if c["name"] in state.catalogs]
        return f"catalog {clash[0]} was created during the restore" if clash else None
    db = state.databases.get(job["db"])
    if db is None and job["plan"]["create_db"] is None:
        return f"database {job['db']} has been dropped"
    for entry in job["plan"]["tables"]:
        existing = db.tables.get(entry["target"]) if db else None
        if entry["action"] == "create" and existing is not None:
            return f"table {entry['target']} was created during the restore"
        if entry["action"] == "overwrite" and (existing is None or existing.id != entry["table_id"]):
            return f"table {entry['target']} has been dropped"
    return None


def cancel(state: ClusterState, db: str | None, catalog: bool, now_ns: int) -> list[Event]:
    key = "__external_catalog__" if catalog else db
    if not catalog and not db:
        raise CatalogError("No database selected", 1046)
    job = last_jobs(state).get(key or "")
    if job is None or job["type"] != "RESTORE":
        raise CatalogError("No restore is currently running")
    if not is_running(job) or job["state"] in ("COMMITTING",):
        raise CatalogError(f"Failed to cancel job: Job with label {job['label']} can not be cancelled. state: {job['state']}")
    return [cancel_event(job, "restore", status_error("COMMON_ERROR", f"user cancelled, current state: {job['state']}"), now_ns)]


def react(state: ClusterState, job: Job) -> list[Effect]:
    st = job["state"]
    jid = job["id"]
    if st == "SNAPSHOTING":
        # Nothing to prepare: new tablets get their directories when their files arrive.
        return [Advance(jid, "restore", "DOWNLOAD")]
    if st == "DOWNLOAD":
        return [Advance(jid, "restore", "DOWNLOADING")]
    if st == "DOWNLOADING":
        effects: list[Effect] = list(_download_tasks(state, job))
        if not effects:
            effects.append(Advance(jid, "restore", "COMMIT"))
        return effects
    if st == "COMMIT":
        return [Advance(jid, "restore", "COMMITTING")]
    if st == "CANCELLED" and not job.get("cleaned"):
        by_be: dict[int, list[int]] = {}
        for tid, t in job["tablets"].items():
            for be in t["backends"]:
                by_be.setdefault(be, []).append(int(tid))
        if not by_be:
            return [SendTask(min(state.backends), "drop", jid, "drop/none", {"tablet_ids": []})]
        return [SendTask(be, "drop", jid, f"drop/{be}", {"tablet_ids": sorted(tids)}) for be, tids in sorted(by_be.items())]
    return []


def _download_tasks(state: ClusterState, job: Job) -> list[SendTask]:
    cap = state.config_int("max_download_task_per_be")
    by_be: dict[int, list[dict[str, Any]]] = {}
    for tid, t in sorted(job["tablets"].items(), key=lambda kv: int(kv[0])):
        missing = [f for f in t["files"] if f not in t["down"]]
        if missing:
            by_be.setdefault(t["be"], []).append(
                {"tablet_id": int(tid), "remote_dir": t["remote_dir"], "files": missing, "replicas": t["backends"][1:]}
            )
    return spread_tasks(job["id"], "download", by_be, cap)


def advance(state: ClusterState, job: Job, to_state: str, now_ns: int) -> list[Event]:
    """Leave a state with no work of its own (see job_common.Advance): decided at the AdvanceJob's delivery,
    against the state then. Entering COMMITTING is the commit itself (see commit_events)."""
    if to_state == "COMMITTING":
        return commit_events(state, job, now_ns)
    data: dict[str, Any] = {"job_id": job["id"], "state": to_state}
    if to_state == "DOWNLOAD":
        data["snapshot_finished_ns"] = now_ns  # the new tablets' (empty) snapshot step is done
    return [Event("restore.state", data, stream=stream(job["id"]))]


def task_args(state: ClusterState, job: Job, effect: SendTask, log_head: Callable[[], str]) -> dict[str, Any]:
    """What a task of this job carries: its items, and for a download the repository's access."""
    return common_task_args(state, job, effect)
