"""Frontend commands and reads for BACKUP / RESTORE jobs: submit, cancel, SHOW rows."""

from __future__ import annotations

from typing import Any

from actors.frontend import Frontend, command, read
from events import backup_job, restore_job
from events.errors import CatalogError
from events.event import Event
from events.job_common import MAX_LISTED_TASKS, is_running, last_jobs, progress_text
from events.job_record import Job
from events.plain import to_plain
from events.state import ClusterState
from events.timefmt import display_time

Args = dict[str, Any]


@command("submit_backup")
def _submit_backup(fe: Frontend, s: ClusterState, a: Args) -> tuple[list[Event], Any]:
    events = backup_job.submit(s, a, fe.runtime.clock.now_ns())
    return events, events[0].data["job"]["id"]


@command("submit_restore")
def _submit_restore(fe: Frontend, s: ClusterState, a: Args) -> tuple[list[Event], Any]:
    # Catalog credentials travel in the snapshot in the clear (as in StarRocks); in our log they are sealed.
    from actors.fe_objects import seal_catalog_properties
    from storage.secrets import SecretBox

    box = SecretBox(str(fe.data_dir))
    for catalog in a["meta"].get("catalogs", []):
        catalog["properties"] = seal_catalog_properties(box, catalog["properties"])
    events = restore_job.submit(s, a, fe.runtime.clock.now_ns())
    return events, events[0].data["job"]["id"]


@command("cancel_backup")
def _cancel_backup(fe: Frontend, s: ClusterState, a: Args) -> tuple[list[Event], Any]:
    return backup_job.cancel(s, a.get("db"), a.get("catalog", False), fe.runtime.clock.now_ns()), None


@command("cancel_restore")
def _cancel_restore(fe: Frontend, s: ClusterState, a: Args) -> tuple[list[Event], Any]:
    return restore_job.cancel(s, a.get("db"), a.get("catalog", False), fe.runtime.clock.now_ns()), None


@read("repository_for_job")
def _repository(fe: Frontend, s: ClusterState, a: Args) -> dict[str, Any]:
    repo = s.repositories.get(a["name"])
    if repo is None:
        raise CatalogError(f"Repository {a['name']} does not exist")
    return to_plain(repo)


@read("job")
def _job(fe: Frontend, s: ClusterState, a: Args) -> dict[str, Any] | None:
    job = s.jobs.get(a["id"])
    return None if job is None else {k: v for k, v in job.items() if k not in ("meta", "tablets", "plan")}


def task_err_msg(fe: Frontend, job: Job) -> str:
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


def _visible_jobs(fe: Frontend, s: ClusterState, kind: str, db: str | None) -> list[Job]:
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


@read("show_backup")
def _show_backup(fe: Frontend, s: ClusterState, a: Args) -> list[tuple[Any, ...]]:
    rows = []
    for job in _visible_jobs(fe, s, "BACKUP", a.get("db")):
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
    return rows


@read("show_restore")
def _show_restore(fe: Frontend, s: ClusterState, a: Args) -> list[tuple[Any, ...]]:
    rows = []
    for job in _visible_jobs(fe, s, "RESTORE", a.get("db")):
        progress = unfinished = ""
        if job["state"] in ("DOWNLOADING", "COMMIT", "COMMITTING", "FINISHED"):
            progress, unfinished = progress_text(job)
        rows.append((
            job["id"], job["label"], job["timestamp"], job["db"], job["state"], str(job["allow_load"]).lower(),
            job["replication_num"], job.get("objects_text", ""), fmt_ns(job["create_time_ns"]),
            fmt_ns(job["meta_prepared_ns"]), fmt_ns(job["snapshot_finished_ns"]), fmt_ns(job["download_finished_ns"]),
            fmt_ns(job["finished_ns"]), unfinished, progress, task_err_msg(fe, job), job["status"], job["timeout_s"],
        ))
    return rows


@read("running_labels")
def _running_labels(fe: Frontend, s: ClusterState, a: Args) -> list[str]:
    """Labels of running backups into a repository (SHOW SNAPSHOT and DROP use it)."""
    return [j["label"] for j in s.jobs.values() if j["repo"] == a["repo"] and is_running(j) and j["type"] == "BACKUP"]

