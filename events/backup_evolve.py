"""BACKUP jobs' evolve half, pure: how each backup event changes the job in the state (the fold's table)."""

from __future__ import annotations

from typing import Any

from events.job_common import compact_if_done, record_task_error
from events.job_record import Job
from events.state import Applier, ClusterState


def snapshot_backends(job: Job) -> set[int]:
    """Backends holding snapshot links of this job (the chosen replicas, and any given up as damaged)."""
    return {t["be"] for t in job["tablets"].values()} | set(job.get("extra_bes", []))


def _submitted(state: ClusterState, d: dict[str, Any]) -> None:
    # Appliers own the event data they are given (the log decodes a fresh copy for every reader), so a
    # 100,000-tablet job is not deep-copied again here.
    state.jobs[d["job"]["id"]] = d["job"]


def _state(state: ClusterState, d: dict[str, Any]) -> None:
    job = state.jobs[d["job_id"]]
    for key in ("state", "status", "snapshot_finished_ns", "upload_finished_ns", "finished_ns", "info_file",
                "meta_file", "head_hash", "meta_size", "info_size", "data_verified"):
        if key in d:
            job[key] = d[key]
    compact_if_done(job)


def _snapshot_made(state: ClusterState, d: dict[str, Any]) -> None:
    job = state.jobs[d["job_id"]]
    tablet = job["tablets"][str(d["tablet_id"])]
    if not tablet["snap"]:
        tablet["snap"] = True
        job["snapped"] = job.get("snapped", 0) + 1  # a counter, so a report need not scan every tablet


def _file_uploaded(state: ClusterState, d: dict[str, Any]) -> None:
    job = state.jobs[d["job_id"]]
    tablet = job["tablets"][str(d["tablet_id"])]
    if d["file"] not in tablet["up"]:
        job["uploaded"] = job.get("uploaded", 0) + 1
    tablet["up"][d["file"]] = d["md5"]


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


def _released(state: ClusterState, d: dict[str, Any]) -> None:
    job = state.jobs[d["job_id"]]
    if "backend" not in d:  # a v1 event, written before releases were counted per backend
        job["released"] = True
        compact_if_done(job)
        return
    job.setdefault("released_bes", []).append(d["backend"])
    job["released"] = set(job["released_bes"]) >= snapshot_backends(job)
    compact_if_done(job)


def _task_error(state: ClusterState, d: dict[str, Any]) -> None:
    record_task_error(state.jobs[d["job_id"]], d)


APPLIERS: dict[str, Applier] = {
    "backup.submitted": _submitted,
    "backup.state": _state,
    "backup.snapshot_made": _snapshot_made,
    "backup.file_uploaded": _file_uploaded,
    "backup.repair": _repair,
    "backup.replica_damaged": _replica_damaged,
    "backup.snapshot_released": _released,
    "backup.task_error": _task_error,
}
