"""The seams of the effect loop: the job engine talks to a narrow host, the job modules decide every
transition, the frontend's commit never re-enters itself, and backends get the settings once per change
and the meta/info files' facts (never their bytes) in a task."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from actors.backend import BackendWorker
from actors.frontend import Frontend
from actors.jobs import JobEngine
from actors.messages import AdvanceJob, ConfigChanged, Task
from events import backup_job, restore_job
from events.event import Event
from events.model import Backend, Repository
from events.state import ClusterState
from storage.snapshot_files import build_info, build_meta

MD5 = "0123456789abcdef0123456789abcdef"


class FakeHost:
    """A JobHost that records what the engine asks for."""

    def __init__(self, state: ClusterState) -> None:
        self._state = state
        self.appended: list[list[Event]] = []
        self.told: list[tuple[str, object]] = []
        self.scheduled: list[tuple[float, str, object]] = []

    @property
    def name(self) -> str:
        return "fe"

    @property
    def state(self) -> ClusterState:
        return self._state

    def now_ns(self) -> int:
        return 123

    def append(self, events: list[Event]) -> None:
        self.appended.append(events)

    def tell(self, actor: str, message: object) -> None:
        self.told.append((actor, message))

    def schedule(self, delay_s: float, actor: str, message: object) -> None:
        self.scheduled.append((delay_s, actor, message))

    def log_head(self) -> str:
        return "cd" * 32


def _state() -> ClusterState:
    s = ClusterState()
    s.backends = {b: Backend(id=b, host="127.0.0.1", port=9050 + b) for b in (1, 2)}
    s.repositories["repo"] = Repository(id=1, name="repo", location="file:///r", read_only=False, broker=None,
                                        properties={}, create_time_ns=0, root="root")
    return s


def _backup(s: ClusterState, state_name: str) -> dict[str, Any]:
    job: dict[str, Any] = {
        "id": 7, "type": "BACKUP", "label": "l", "db": "d", "repo": "repo", "state": state_name,
        "timestamp": "2026-01-01-00-00-00-000", "create_time_ns": 5_000_000, "timeout_s": 86400, "status": "[OK]",
        "task_errors": [], "attempts": {}, "finished_ns": 0, "released": False, "files_total": 1, "uploaded": 1,
        "tablets": {"5": {"be": 1, "replicas": [1, 2], "db_id": 2, "table_id": 3, "part_id": 4, "index_id": 6,
                          "files": ["a.parquet"], "known": {}, "snap": True, "up": {"a.parquet": MD5}}},
        "meta": {"database": {"id": 2, "name": "d"}, "views": [], "functions": [], "catalogs": [],
                 "tables": [{"id": 3, "name": "t", "indexes": {"6": {"name": "t"}},
                             "partitions": {"p": {"id": 4, "visible_version": 2, "tablets": {"6": [5]}}},
                             "tablet_files": {"5": [{"name": "a.parquet", "size": 10}]}}]},
    }
    s.jobs[7] = job
    return job


def test_a_state_without_work_is_left_by_a_self_message_decided_by_the_job_module() -> None:
    s = _state()
    job = _backup(s, "UPLOAD_SNAPSHOT")
    host = FakeHost(s)
    engine = JobEngine(host)
    engine.drive(7)
    assert host.told == [("fe", AdvanceJob(7, "backup", "UPLOAD_SNAPSHOT", "UPLOADING"))]
    assert host.appended == []  # not within the delivery that entered the state
    engine.on_advance(AdvanceJob(7, "backup", "UPLOAD_SNAPSHOT", "UPLOADING"))
    assert host.appended == [backup_job.advance(s, job, "UPLOADING", 123)]


def test_an_advance_from_a_state_the_job_has_left_is_ignored() -> None:
    s = _state()
    _backup(s, "CANCELLED")
    host = FakeHost(s)
    JobEngine(host).on_advance(AdvanceJob(7, "backup", "UPLOAD_SNAPSHOT", "UPLOADING"))
    assert host.appended == []


def test_restore_download_and_committing_are_decided_by_the_restore_module() -> None:
    s = _state()
    job = {"id": 9, "type": "RESTORE", "label": "l", "db": "", "repo": "repo", "state": "COMMIT",
           "plan": {"catalogs": []}, "tablets": {}}
    (entered,) = restore_job.advance(s, job, "DOWNLOAD", 42)
    assert entered.data == {"job_id": 9, "state": "DOWNLOAD", "snapshot_finished_ns": 42}
    assert [e.type for e in restore_job.advance(s, job, "COMMITTING", 42)] == [
        "restore.state", "restore.committed", "restore.state"]
    s.jobs[9] = job
    host = FakeHost(s)
    JobEngine(host).on_advance(AdvanceJob(9, "restore", "COMMIT", "COMMITTING"))
    assert [[e.type for e in evs] for evs in host.appended] == [["restore.state", "restore.committed", "restore.state"]]


def test_tasks_carry_no_settings_and_metadata_files_travel_as_facts() -> None:
    s = _state()
    job = _backup(s, "SAVE_META")
    host = FakeHost(s)
    JobEngine(host).drive(7)
    ((to, task),) = host.told
    assert to == "be1" and isinstance(task, Task) and task.kind == "meta"
    assert "config" not in task.args and "content" not in task.args
    assert task.args["name"] == "__meta" and task.args["remote_dir"] == "root/__ss_l"
    # The backend's bytes are the ones the frontend used to build from the whole job.
    assert build_meta(task.args["facts"]) == build_meta(copy.deepcopy(job))
    job["state"], job["meta_file"], job["data_verified"] = "UPLOAD_INFO", "root/__ss_l/__meta." + MD5, True
    job["head_hash"] = "ab" * 32
    JobEngine(host).drive(7)
    info = host.told[-1][1]
    assert isinstance(info, Task) and info.kind == "info"
    assert info.args["name"] == "__info_2026-01-01-00-00-00-000" and info.args["head_hash"] == "ab" * 32
    assert build_info(info.args["facts"], info.args["head_hash"]) == build_info(copy.deepcopy(job), "ab" * 32)


def test_an_info_file_of_a_job_from_before_fixed_heads_names_the_head_now() -> None:
    s = _state()
    job = _backup(s, "UPLOAD_INFO")
    job["meta_file"], job["data_verified"] = "root/__ss_l/__meta." + MD5, True
    host = FakeHost(s)
    JobEngine(host).drive(7)
    info = host.told[-1][1]
    assert isinstance(info, Task) and info.args["head_hash"] == "cd" * 32


def test_settings_reach_every_backend_at_start_up_and_on_each_change() -> None:
    s = _state()
    host = FakeHost(s)
    engine = JobEngine(host)
    engine.resume()
    assert host.told == [("be1", ConfigChanged(dict(s.config))), ("be2", ConfigChanged(dict(s.config)))]
    host.told.clear()
    s.config["upload_worker_count"] = "3"
    assert engine.react("config.set", {"key": "upload_worker_count", "value": "3"}) == []
    assert [m for _, m in host.told] == [ConfigChanged(dict(s.config))] * 2


def test_a_backend_keeps_the_settings_it_is_sent(tmp_path: Path) -> None:
    worker = BackendWorker(1, tmp_path, {"upload_worker_count": "1"})
    worker.receive(ConfigChanged({"upload_worker_count": "4", "download_worker_count": "2"}))
    assert worker.config == {"upload_worker_count": "4", "download_worker_count": "2"}


class _Clock:
    def now_ns(self) -> int:
        return 1


class _Runtime:
    clock = _Clock()

    def tell(self, to: str, message: object) -> None:
        pass

    def schedule(self, delay_s: float, to: str, message: object) -> None:
        pass


class _RecordingEngine:
    """Reacts to events; the first reaction also asks for a commit (as a host.append would)."""

    def __init__(self, fe: Frontend) -> None:
        self.fe = fe
        self.depth = 0
        self.max_depth = 0
        self.seen: list[str] = []

    def react(self, event_type: str, data: dict[str, Any]) -> list[Event]:
        self.depth += 1
        self.max_depth = max(self.max_depth, self.depth)
        self.seen.append(data["key"])
        out: list[Event] = []
        if data["key"] == "a":
            self.fe.commit([Event("config.set", {"key": "nested", "value": "1"})])
            out = [Event("config.set", {"key": "decided", "value": "1"})]
        self.depth -= 1
        return out


def test_commit_never_re_enters_itself(tmp_path: Path) -> None:
    fe = Frontend(tmp_path, 1, tick=False)
    fe.runtime = _Runtime()  # type: ignore[assignment]
    fe.name = "fe"
    fe.started()
    engine = _RecordingEngine(fe)
    fe.jobs = engine  # type: ignore[assignment]
    fe.commit([Event("config.set", {"key": "a", "value": "1"}), Event("config.set", {"key": "b", "value": "1"})])
    assert engine.max_depth == 1  # no reaction ran inside another
    # Reactions run in log order: the nested commit's and the decided event's after those already queued.
    assert engine.seen == ["a", "b", "nested", "decided"]
    assert fe.state.config["nested"] == "1" and fe.state.config["decided"] == "1"
    fe.stopped()
