"""What BACKUP and RESTORE jobs share: states, status text, effects, failures and timeouts, and the
per-database job rules.

Effects are what a job's `react` asks the shell (actors/jobs.py) to do: `SendTask` gives a backend work,
`Advance` leaves a state that has no work of its own in a delivery of its own (the shell sends itself an
AdvanceJob message, and at its delivery the job module's `advance` decides the events, against the job's
state then). The shell builds no event of a job itself.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from events.errors import CatalogError
from events.event import Event
from events.job_record import Job
from events.plain import to_plain
from events.state import ClusterState
from events.timefmt import snapshot_timestamp

DONE_STATES = ("FINISHED", "CANCELLED")
CATALOG_JOB_KEY = "__external_catalog__"  # StarRocks keys the cluster-wide catalog job by -1
MIN_TIMEOUT_S = 600

# Task kinds that read or write the repository: their tasks carry its access (see task_args).
TRANSFER_KINDS = ("upload", "meta", "info", "download", "verify")


def stream(job_id: int) -> str:
    return f"job/{job_id}"


@dataclass(frozen=True)
class SendTask:
    """Effect: give a backend a task (see actors/messages.Task)."""

    backend_id: int
    kind: str
    job_id: int
    key: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Advance:
    """Effect: move a job to its next state at once (a state with no work of its own), in a delivery of its
    own; the job module's `advance` decides the events when it is delivered."""

    job_id: int
    kind: str
    state: str


Effect = SendTask | Advance


def task_args(state: ClusterState, job: Job, effect: SendTask) -> dict[str, Any]:
    """A task's arguments: its items, and for a transfer the repository's access (as plain data)."""
    args = dict(effect.args)
    if effect.kind in TRANSFER_KINDS:
        repo = state.repositories.get(job["repo"])
        if repo is None:
            return args
        args["repo"] = to_plain(repo)
        args["root"] = repo.root
        args["label"] = job["label"]
    return args


TABLETS_PER_TASK = 64  # when a per-backend task cap is 0 (no limit), tasks carry at most this many tablets...
MIN_TASKS_PER_BACKEND = 16  # ...and a backend gets at least this many tasks (if it has the tablets), so every
# thread of its pool has work: a pool takes one task per thread, and 21 tablets in one task left 1 of 2 busy.


def spread_tasks(job_id: int, kind: str, by_backend: dict[int, list[dict[str, Any]]], cap: int) -> list[SendTask]:
    """Spread each backend's items (one per tablet, in tablet order) over at most `cap` tasks; cap 0 means
    no limit, and then each task carries up to TABLETS_PER_TASK tablets (few messages for 100k tablets)."""
    effects = []
    for be, items in sorted(by_backend.items()):
        if cap <= 0:
            n_tasks = max(-(-len(items) // TABLETS_PER_TASK), min(len(items), MIN_TASKS_PER_BACKEND))
        else:
            n_tasks = min(cap, len(items))
        groups: list[list[dict[str, Any]]] = [[] for _ in range(n_tasks)]
        for i, item in enumerate(items):
            groups[i % n_tasks].append(item)
        for g in groups:
            effects.append(SendTask(be, kind, job_id, f"{kind}/{g[0]['tablet_id']}", {"items": g}))
    return effects


MAX_LISTED_TASKS = 50  # UnfinishedTasks lists at most this many entries (then "...")


def progress_text(job: Job) -> tuple[str, str]:
    """SHOW's Progress (`[backend: done/total]` files) and UnfinishedTasks (`tablet=backend`)."""
    if "final_progress" in job:
        return job["final_progress"], ""
    backup = job["type"] == "BACKUP"
    progress: dict[int, list[int]] = {}
    unfinished: list[str] = []
    for tid, t in sorted(job["tablets"].items(), key=lambda kv: int(kv[0])):
        files = t["files"]
        transferred: Collection[str] = t["up"] if backup else t["down"]
        done = len([f for f in files if f in transferred])
        counts = progress.setdefault(t["be"], [0, 0])
        counts[0] += done
        counts[1] += len(files)
        if done < len(files):
            unfinished.append(f"{tid}={t['be']}")
    text = ", ".join(f"[{be}: {d}/{n}]" for be, (d, n) in sorted(progress.items()) if n)
    listed = ", ".join(unfinished[:MAX_LISTED_TASKS]) + (", ..." if len(unfinished) > MAX_LISTED_TASKS else "")
    return text, listed


def compact_if_done(job: Job) -> None:
    """An ended job that has nothing left to clean up keeps only what SHOW prints.

    Its per-tablet detail (and a backup's metadata copy, a restore's plan) would otherwise stay in the
    state forever: every later snapshot would carry it and memory would grow with every job. Called by
    the appliers, so a fold of the log compacts at exactly the same point."""
    if job["state"] not in DONE_STATES or "final_progress" in job:
        return
    if job["type"] == "BACKUP" and not job.get("released"):
        return
    if job["type"] == "RESTORE" and job["state"] == "CANCELLED" and not job.get("cleaned"):
        return
    job["final_progress"] = progress_text(job)[0]
    job["tablet_count"] = len(job["tablets"])
    job["tablets"] = {}
    job.pop("meta", None)
    job.pop("plan", None)


def status_ok() -> str:
    return "[OK]"


def status_error(code: str, msg: str) -> str:
    return f"[{code}, msg: {msg}]"


def is_running(job: Job) -> bool:
    return job["state"] not in DONE_STATES


def backup_timestamp(time_ns: int) -> str:
    """The snapshot's name for this run: its creation time, `yyyy-MM-dd-HH-mm-ss-SSS`, UTC (see README)."""
    return snapshot_timestamp(time_ns)


def job_key(job: Job) -> str:
    return job["db"] if job["db"] else CATALOG_JOB_KEY


def last_jobs(state: ClusterState) -> dict[str, Job]:
    """StarRocks keeps one job per database: the last one submitted."""
    latest: dict[str, Job] = {}
    for job in sorted(state.jobs.values(), key=lambda j: j["id"]):
        latest[job_key(job)] = job
    return latest


def check_no_running_job(state: ClusterState, db: str | None) -> None:
    for job in state.jobs.values():
        if not is_running(job):
            continue
        if db and job["db"] == db:
            raise CatalogError("Can only run one backup or restore job of a database at same time")
        if not db and not job["db"]:
            raise CatalogError("Can only run one backup or restore job of external catalog")


def timeout_of(state: ClusterState, timeout_s: int | None) -> int:
    if timeout_s is not None:
        return timeout_s
    return state.config_int("backup_job_default_timeout_ms") // 1000


def record_task_error(job: Job, d: dict[str, Any]) -> None:
    job["task_errors"] = (job["task_errors"] + [d["message"]])[-3:]
    key = d.get("item_key")
    if key:
        job["attempts"][key] = job["attempts"].get(key, 0) + 1


def cancel_event(job: Job, kind: str, status: str, now_ns: int) -> Event:
    return Event(f"{kind}.state", {"job_id": job["id"], "state": "CANCELLED", "status": status, "finished_ns": now_ns},
                 stream=stream(job["id"]))


def task_failed(job: Job, kind: str, error: str, error_item: dict[str, Any] | None, now_ns: int,
                record: bool = True) -> list[Event]:
    """A failed item. A permanent error (bad credentials, checksum mismatch: `fatal`) ends the job at once; a
    transient one is only recorded (when `record`: the engine records the first of a run of failures, not
    every retry) and the item is retried with backoff for as long as the job runs (see actors/jobs.py).
    (A backup also hands a damaged replica's tablet on: backup_reports.task_failed.)"""
    item = error_item or {}
    error_event = Event(f"{kind}.task_error", {"job_id": job["id"], "message": error, "item_key": item.get("key", "")},
                        stream=stream(job["id"]))
    if item.get("fatal"):
        return [error_event, cancel_event(job, kind, status_error("COMMON_ERROR", error), now_ns)]
    return [error_event] if record else []


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
