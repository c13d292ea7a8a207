"""Frontend handlers for BACKUP / RESTORE jobs that need the shell: the clock, the secret box, the job
engine's retry reasons; and SHOW BACKUP / SHOW RESTORE, whose columns and rows are both built here."""

from __future__ import annotations

from dataclasses import asdict

from actors.fe_objects import seal_catalog_properties
from actors.fe_shell import Shell
from events import backup_job, restore_job
from events import queries as q
from events.commands import SubmitBackup, SubmitRestore
from events.event import Event
from events.job_common import MAX_LISTED_TASKS, is_running, last_jobs, progress_text
from events.job_record import Job
from events.state import ClusterState
from events.timefmt import display_time
from storage.secrets import SecretBox

BACKUP_COLUMNS = ("JobId", "SnapshotName", "DbName", "State", "BackupObjs", "CreateTime", "SnapshotFinishedTime",
                  "UploadFinishedTime", "FinishedTime", "UnfinishedTasks", "Progress", "TaskErrMsg", "Status",
                  "Timeout")
RESTORE_COLUMNS = ("JobId", "Label", "Timestamp", "DbName", "State", "AllowLoad", "ReplicationNum", "RestoreObjs",
                   "CreateTime", "MetaPreparedTime", "SnapshotFinishedTime", "DownloadFinishedTime", "FinishedTime",
                   "UnfinishedTasks", "Progress", "TaskErrMsg", "Status", "Timeout")


def _submitted(events: list[Event]) -> tuple[list[Event], int]:
    """A submit's reply is the new job's id."""
    return events, int(events[0].data["job"]["id"])


def submit_backup(fe: Shell, s: ClusterState, c: SubmitBackup) -> tuple[list[Event], int]:
    return _submitted(backup_job.submit(s, asdict(c), fe.runtime.clock.now_ns()))


def submit_restore(fe: Shell, s: ClusterState, c: SubmitRestore) -> tuple[list[Event], int]:
    # Catalog credentials travel in the snapshot in the clear (as in StarRocks); in our log they are sealed.
    args = asdict(c)
    box = SecretBox(str(fe.data_dir))
    for catalog in args["meta"].get("catalogs", []):
        catalog["properties"] = seal_catalog_properties(box, catalog["properties"])
    return _submitted(restore_job.submit(s, args, fe.runtime.clock.now_ns()))


def task_err_msg(fe: Shell, job: Job) -> str:
    """TaskErrMsg: the last recorded failures, and while items are being retried, the storage's reason."""
    messages = list(job["task_errors"])
    retrying = fe.jobs.retry_reason(job["id"]) if is_running(job) else None
    if retrying:
        messages.append(retrying)
    return ", ".join(f"[{m}]" for m in messages)


def fmt_ns(ns: int) -> str | None:
    if not ns:
        return None
    return display_time(ns)


def _visible_jobs(fe: Shell, s: ClusterState, kind: str, db: str | None) -> list[Job]:
    """Reference §2.2: the last job of each database (or of one database), if it is of this kind."""
    now = fe.runtime.clock.now_ns()
    keep_ns = s.config_int("history_job_keep_max_second") * 1_000_000_000
    out = []
    for key, job in sorted(last_jobs(s).items(), key=lambda kv: kv[1]["id"]):
        if job["type"] != kind:
            continue
        if db is not None and key != db:
            continue
        if not is_running(job) and job["finished_ns"] and now - job["finished_ns"] > keep_ns:
            continue
        out.append(job)
    return out


def show_backup(fe: Shell, s: ClusterState, query: q.ShowBackup) -> q.Shown:
    rows = []
    for job in _visible_jobs(fe, s, "BACKUP", query.db):
        progress = unfinished = ""
        if job["state"] == "SNAPSHOTING":
            pending = [f"{tid}={t['be']}" for tid, t in job["tablets"].items() if not t["snap"]]
            unfinished = ", ".join(pending[:MAX_LISTED_TASKS]) + (", ..." if len(pending) > MAX_LISTED_TASKS else "")
        elif job["state"] in ("UPLOAD_SNAPSHOT", "UPLOADING", "SAVE_META", "UPLOAD_INFO", "FINISHED"):
            progress, unfinished = progress_text(job)
        rows.append((
            job["id"], job["label"], job["db"], job["state"], job["objects_text"], fmt_ns(job["create_time_ns"]),
            fmt_ns(job["snapshot_finished_ns"]), fmt_ns(job["upload_finished_ns"]), fmt_ns(job["finished_ns"]),
            unfinished, progress, task_err_msg(fe, job), job["status"], job["timeout_s"],
        ))
    return q.Shown(BACKUP_COLUMNS, rows)


def show_restore(fe: Shell, s: ClusterState, query: q.ShowRestore) -> q.Shown:
    rows = []
    for job in _visible_jobs(fe, s, "RESTORE", query.db):
        progress = unfinished = ""
        if job["state"] in ("DOWNLOADING", "COMMIT", "COMMITTING", "FINISHED"):
            progress, unfinished = progress_text(job)
        rows.append((
            job["id"], job["label"], job["timestamp"], job["db"], job["state"], str(job["allow_load"]).lower(),
            job["replication_num"], job.get("objects_text", ""), fmt_ns(job["create_time_ns"]),
            fmt_ns(job["meta_prepared_ns"]), fmt_ns(job["snapshot_finished_ns"]), fmt_ns(job["download_finished_ns"]),
            fmt_ns(job["finished_ns"]), unfinished, progress, task_err_msg(fe, job), job["status"], job["timeout_s"],
        ))
    return q.Shown(RESTORE_COLUMNS, rows)
