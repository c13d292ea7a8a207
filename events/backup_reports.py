"""BACKUP jobs' decisions on reports, pure: milestones from a backend's report, the verification's verdict
(FINISHED, repair, or CANCELLED naming what is missing), and failures (damaged replicas among them).
"""

from __future__ import annotations

from typing import Any

from events.event import Event
from events.job_common import cancel_event, is_running, status_error, stream
from events.job_common import task_failed as common_task_failed
from events.job_record import Job
from events.layout import tablet_remote_dir

MAX_REPAIRS = 3  # verification rounds that may re-upload lost files before the job is cancelled
MAX_NAMED = 5  # files named in a status


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
        uploaded = {(str(d["tablet_id"]), d["file"]): d for d in done
                    if d["file"] not in job["tablets"][str(d["tablet_id"])]["up"]}
        events += [
            Event("backup.file_uploaded", {"job_id": jid, "tablet_id": d["tablet_id"], "file": d["file"], "md5": d["md5"],
                                           "size": d["size"]}, stream=s)
            for d in uploaded.values()
        ]
        if (uploaded and job.get("uploaded", 0) + len(uploaded) >= _total_files(job)
                and not missing_uploads(job, set(uploaded))):
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
          and not missing_uploads(job, set())  # (a late verification from before a repair is ignored)
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
    """A failed item (see job_common.task_failed); besides, a damaged replica hands the tablet to the next
    untried replica, and ends the job when none is left."""
    item = error_item or {}
    damaged = item.get("damaged")
    if damaged and kind == "backup" and str(damaged["tablet_id"]) in job["tablets"]:
        error_event = Event(f"{kind}.task_error", {"job_id": job["id"], "message": error,
                                                   "item_key": item.get("key", "")}, stream=stream(job["id"]))
        return _replica_damaged_events(job, error, damaged, error_event, now_ns)
    return common_task_failed(job, kind, error, error_item, now_ns, record)


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


def _total_files(job: Job) -> int:
    if "files_total" in job:
        return int(job["files_total"])
    return sum(len(t["files"]) for t in job["tablets"].values())  # jobs submitted before the counter


def missing_uploads(job: Job, just_done: set[tuple[str, str]]) -> list[tuple[str, str]]:
    return [
        (tid, f)
        for tid, t in job["tablets"].items()
        for f in t["files"]
        if f not in t["up"] and (tid, f) not in just_done
    ]
