"""The pure decisions of a backup that make FINISHED mean restorable and keep no job waiting forever:
verification and repair, damaged replicas, transient versus permanent failures, the no-progress timeout,
and the info file's log head fixed before the file is written."""

from __future__ import annotations

from typing import Any

from events import backup_evolve
from events.backup_job import react
from events.backup_reports import MAX_REPAIRS, manifest, on_report, on_verified, task_failed
from events.event import Event
from events.fold import apply
from events.job_common import SendTask, stall_event, stalled
from events.model import Backend
from events.state import ClusterState

MD5 = "0123456789abcdef0123456789abcdef"


def _state_and_job(state_name: str = "UPLOAD_INFO") -> tuple[ClusterState, dict[str, Any]]:
    s = ClusterState()
    s.backends = {b: Backend(id=b, host="127.0.0.1", port=9050 + b) for b in (1, 2, 3)}
    job: dict[str, Any] = {
        "id": 7, "type": "BACKUP", "label": "l", "db": "d", "repo": "repo", "state": state_name,
        "timestamp": "2026-01-01-00-00-00-000", "create_time_ns": 0, "timeout_s": 86400, "status": "[OK]",
        "task_errors": [], "attempts": {}, "finished_ns": 0, "released": False, "files_total": 2, "uploaded": 2,
        "tablets": {
            "5": {"be": 1, "replicas": [1, 2, 3], "db_id": 2, "table_id": 3, "part_id": 4, "index_id": 6,
                  "files": ["a.parquet", "b.parquet"], "known": {}, "snap": True,
                  "up": {"a.parquet": MD5, "b.parquet": MD5}},
        },
        "meta": {"database": {"id": 2, "name": "d"}, "views": [], "functions": [], "catalogs": [],
                 "tables": [{"tablet_files": {"5": [{"name": "a.parquet", "size": 10},
                                                    {"name": "b.parquet", "size": 20}]}}]},
        "meta_file": "root/__ss_l/__meta." + MD5, "meta_size": 5,
        "info_file": "root/__ss_l/__info_2026-01-01-00-00-00-000." + MD5, "info_size": 6,
        "head_hash": "ab" * 32,
    }
    s.jobs[7] = job
    return s, job


def _fold(s: ClusterState, events: list[Event]) -> None:
    for i, e in enumerate(events):
        apply(s, e.type, e.data, s.last_seq + i + 1)


def test_manifest_names_every_planned_file_with_its_size_and_both_metadata_files() -> None:
    _, job = _state_and_job()
    got = manifest(job, "root")
    base = "root/__ss_l/__ss_content/__db_2/__tbl_3/__part_4/__idx_6/__5"
    assert got == [
        {"what": "data", "tablet_id": 5, "file": "a.parquet", "key": f"{base}/a.parquet.{MD5}", "size": 10},
        {"what": "data", "tablet_id": 5, "file": "b.parquet", "key": f"{base}/b.parquet.{MD5}", "size": 20},
        {"what": "meta", "key": job["meta_file"], "size": 5},
        {"what": "info", "key": job["info_file"], "size": 6},
    ]


def test_upload_info_verifies_once_meta_and_info_are_written() -> None:
    s, job = _state_and_job()
    assert [(e.kind, e.key) for e in react(s, job)] == [("verify", "verify")]
    del job["info_file"]
    assert [(e.kind, e.key) for e in react(s, job)] == [("verify", "verify-data")]
    job["data_verified"] = True
    assert [(e.kind, e.key) for e in react(s, job)] == [("info", "info")]


def test_the_info_file_is_written_only_after_data_and_meta_verify() -> None:
    """The info file is what SHOW SNAPSHOT and RESTORE look for: it used to be written before the
    verification, so a backup CANCELLED after failed repairs left a snapshot SHOW SNAPSHOT called OK."""
    s, job = _state_and_job()
    del job["info_file"]
    assert [e["what"] for e in manifest(job, "root", with_info=False)] == ["data", "data", "meta"]
    lost = manifest(job, "root", with_info=False)[1]
    bad = on_report(job, "verify", [{"problems": [{**lost, "found": None}], "problem_count": 1, "with_info": False}],
                    None, None, 5)
    assert [e.type for e in bad] == ["backup.task_error", "backup.repair", "backup.state"]
    ok = on_report(job, "verify", [{"problems": [], "problem_count": 0, "with_info": False}], None, None, 5)
    assert [(e.type, e.data) for e in ok] == [("backup.state", {"job_id": job["id"], "state": "UPLOAD_INFO",
                                                                "data_verified": True})]
    _fold(s, ok)
    assert [(e.kind, e.key) for e in react(s, job)] == [("info", "info")]
    # A late data-only verification does not finish a job whose info file is written but not yet verified.
    job["info_file"], job["info_size"] = "root/__ss_l/__info_x.ab", 6
    assert on_report(job, "verify", [{"problems": [], "problem_count": 0, "with_info": False}], None, None, 6) == []


def test_a_complete_snapshot_finishes() -> None:
    _, job = _state_and_job()
    (event,) = on_verified(job, {"problems": [], "problem_count": 0}, 99)
    assert (event.type, event.data["state"], event.data["finished_ns"]) == ("backup.state", "FINISHED", 99)


def test_a_lost_file_is_uploaded_again_from_the_held_snapshot_then_verified_again() -> None:
    s, job = _state_and_job()
    lost = manifest(job, "root")[1]
    events = on_verified(job, {"problems": [{**lost, "found": None}], "problem_count": 1}, 5)
    assert [e.type for e in events] == ["backup.task_error", "backup.repair", "backup.state"]
    assert "b.parquet" in events[0].data["message"]
    _fold(s, events)
    assert job["state"] == "UPLOAD_INFO" and "b.parquet" not in job["tablets"]["5"]["up"] and job["uploaded"] == 1
    (task,) = react(s, job)
    assert isinstance(task, SendTask) and task.kind == "upload"
    assert [i["files"] for i in task.args["items"]] == [["b.parquet"]]
    # The upload report brings the file back and asks for another verification (not SAVE_META again).
    done = [{"tablet_id": 5, "file": "b.parquet", "md5": MD5, "size": 20}]
    after = on_report(job, "upload", done, None, None, 6)
    assert [(e.type, e.data.get("state")) for e in after] == [("backup.file_uploaded", None),
                                                              ("backup.state", "UPLOAD_INFO")]
    _fold(s, after)
    assert [t.kind for t in react(s, job)] == ["verify"]


def test_lost_meta_and_info_are_written_again() -> None:
    s, job = _state_and_job()
    entries = manifest(job, "root")
    problems = [{**entries[2], "found": None}, {**entries[3], "found": 3}]
    _fold(s, on_verified(job, {"problems": problems, "problem_count": 2}, 5))
    assert "meta_file" not in job and "info_file" not in job
    assert [t.kind for t in react(s, job)] == ["meta"]


def test_after_max_repairs_the_job_is_cancelled_naming_the_file() -> None:
    _, job = _state_and_job()
    job["repairs"] = MAX_REPAIRS
    lost = manifest(job, "root")[0]
    (event,) = on_verified(job, {"problems": [{**lost, "found": None}], "problem_count": 1}, 5)
    assert event.data["state"] == "CANCELLED"
    assert f"a.parquet.{MD5}" in event.data["status"] and "snapshot incomplete" in event.data["status"]


def test_the_info_files_log_head_is_fixed_when_meta_is_saved_not_when_info_is_written() -> None:
    _, job = _state_and_job("SAVE_META")
    (event,) = on_report(job, "meta", [{"key": job["meta_file"], "size": 5}], None, None, 1, head_hash="cd" * 32)
    assert event.data["state"] == "UPLOAD_INFO" and event.data["head_hash"] == "cd" * 32
    job["state"] = "UPLOAD_INFO"
    (again,) = on_report(job, "meta", [{"key": job["meta_file"], "size": 5}], None, None, 2, head_hash="ef" * 32)
    assert "head_hash" not in again.data  # a re-written meta file does not move the head the info names


def test_transient_failures_never_cancel_permanent_ones_do_at_once() -> None:
    _, job = _state_and_job("UPLOADING")
    for _ in range(20):
        events = task_failed(job, "backup", "S3 error: 503", {"key": "5/a.parquet"}, 1)
        assert [e.type for e in events] == ["backup.task_error"]
    assert task_failed(job, "backup", "S3 error: 503", {"key": "5/a.parquet"}, 1, record=False) == []
    events = task_failed(job, "backup", "Access Denied", {"key": "5/a.parquet", "fatal": True}, 1)
    assert [e.type for e in events] == ["backup.task_error", "backup.state"]
    assert events[1].data["state"] == "CANCELLED" and "Access Denied" in events[1].data["status"]


def test_a_damaged_replica_hands_the_tablet_to_the_next_then_cancels_when_none_is_left() -> None:
    s, job = _state_and_job("UPLOADING")
    for be, nxt in ((1, 2), (2, 3)):
        damaged = {"tablet_id": 5, "file": "a.parquet", "backend": be}
        events = task_failed(job, "backup", f"xxh3 differs on {be}", {"key": "5/a.parquet", "damaged": damaged}, 1)
        assert [e.type for e in events] == ["backup.task_error", "backup.replica_damaged"]
        _fold(s, events)
        assert job["tablets"]["5"]["be"] == nxt and job["tablets"]["5"]["resnap"]
    job["tablets"]["5"]["up"] = {}
    tasks = [t for t in react(s, job) if t.kind == "upload"]
    assert tasks[0].backend_id == 3 and tasks[0].args["items"][0]["snapshot"] == ["a.parquet", "b.parquet"]
    assert backup_evolve.snapshot_backends(job) == {1, 2, 3}  # every replica that took a snapshot is released
    damaged = {"tablet_id": 5, "file": "a.parquet", "backend": 3}
    events = task_failed(job, "backup", "xxh3 differs on 3", {"key": "5/a.parquet", "damaged": damaged}, 1)
    assert events[-1].data["state"] == "CANCELLED"
    assert "a.parquet of tablet 5 is damaged on every replica (backends 1, 2, 3)" in events[-1].data["status"]


def test_no_progress_timeout() -> None:
    _, job = _state_and_job("UPLOADING")
    assert not stalled(0, 300 * 10**9, 300)
    assert stalled(0, 300 * 10**9 + 1, 300)
    assert not stalled(0, 10**15, 0)  # 0: never
    event = stall_event(job, 300, "cannot reach S3 endpoint", 5)
    assert event.data["state"] == "CANCELLED"
    assert event.data["status"] == ("[COMMON_ERROR, msg: no progress for 300 s in state UPLOADING; "
                                    "last error: cannot reach S3 endpoint]")
