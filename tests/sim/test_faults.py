"""The fault equipment itself: each storage fault, the transport decorator, crash points, and that the end
invariants do catch what they promise to catch (a check that never fails proves nothing)."""

from __future__ import annotations

import errno
import random
from pathlib import Path

import pytest

from actors.messages import Report, Task
from actors.runtime import Actor
from actors.sim import SimRuntime, SimulatedCrash
from storage.repo import StorageError, TransientStorageError
from storage.repo.local import LocalRepoStorage
from tests.sim.harness import Crash, InvariantError, SimCluster
from tests.support.faults import FaultyStorage, FaultyTransport, StorageFaults, TransferLog, TransportFaults


def _storage(tmp_path: Path, faults: StorageFaults, **kw: object) -> FaultyStorage:
    return FaultyStorage(LocalRepoStorage(f"file://{tmp_path}/repo"), random.Random(1), faults, **kw)  # type: ignore[arg-type]


def test_transient_permanent_and_disk_full(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x")
    with pytest.raises(TransientStorageError):
        _storage(tmp_path, StorageFaults(transient=1.0)).put_file("a/b", str(tmp_path / "f"))
    with pytest.raises(StorageError) as e:
        _storage(tmp_path, StorageFaults(permanent=1.0)).stat("a/b")
    assert not isinstance(e.value, TransientStorageError)
    with pytest.raises(OSError) as full:
        _storage(tmp_path, StorageFaults(disk_full=1.0)).get_bytes("a/b")
    assert full.value.errno == errno.ENOSPC


def test_slow_calls_take_the_given_time_and_can_target_keys(tmp_path: Path) -> None:
    slept: list[float] = []
    s = _storage(tmp_path, StorageFaults(slow=1.0, slow_s=7.0, slow_keys="__info_"), sleep=slept.append)
    s.put_bytes("x/__meta", b"m")
    assert slept == []
    s.put_bytes("x/__info_1", b"i")
    assert slept == [7.0]


def test_files_deleted_behind_the_jobs_back_and_the_transfer_log(tmp_path: Path) -> None:
    log = TransferLog(tmp_path / "transfers.log")
    s = _storage(tmp_path, StorageFaults(delete=1.0), transfers=log)
    s.put_bytes("__ss_x/__ss_content/a", b"1")
    s.put_bytes("__ss_x/__ss_content/b", b"2")  # deletes a
    assert s.log.deleted == ["__ss_x/__ss_content/a"]
    assert s.stat("__ss_x/__ss_content/a") is None and s.stat("__ss_x/__ss_content/b") is not None
    s.get_bytes("__ss_x/__ss_content/b")
    assert (tmp_path / "transfers.log").read_text().splitlines() == [
        "upload __ss_x/__ss_content/a", "upload __ss_x/__ss_content/b"]
    s.open_read("__ss_x/__ss_content/b").close()
    assert log.lines[-1] == "download __ss_x/__ss_content/b"


def test_crash_after_a_call_happens_after_it_took_effect(tmp_path: Path) -> None:
    s = _storage(tmp_path, StorageFaults(), crash_after=lambda op, key: "__info_" in key)
    with pytest.raises(SimulatedCrash):
        s.put_bytes("x/__info_1", b"i")
    assert s.stat("x/__info_1") is not None


class _Sink(Actor):
    def __init__(self) -> None:
        self.got: list[object] = []

    def receive(self, message: object) -> None:
        self.got.append(message)


def test_transport_loses_and_duplicates_only_messages_between_actors() -> None:
    sim = SimRuntime(1)
    sink = _Sink()
    sim.spawn("a", sink)
    lossy = FaultyTransport(sim.tell, random.Random(2), TransportFaults(lose=1.0))
    sim.tell = lossy  # type: ignore[method-assign]
    sim.tell("a", Report(kind="upload", job_id=1, backend_id=1))
    sim.tell("a", "a local note")  # not a Task or Report: delivered
    sim.schedule(0.1, "a", Task(kind="x", job_id=1, key="k", args={}))  # a timer is not on a wire
    sim.run()
    assert sink.got == ["a local note", Task(kind="x", job_id=1, key="k", args={})]
    assert lossy.log.counts == {"lost": 1}
    sim.tell = FaultyTransport(lossy.inner, random.Random(2), TransportFaults(duplicate=1.0))  # type: ignore[method-assign]
    sim.tell("a", Report(kind="upload", job_id=1, backend_id=1))
    sim.run()
    assert sink.got[2:] == [Report(kind="upload", job_id=1, backend_id=1)] * 2


def test_crash_point_fires_between_deliveries() -> None:
    sim = SimRuntime(1)
    sink = _Sink()
    sim.spawn("a", sink)
    for i in range(5):
        sim.tell("a", i)
    sim.crash_points.append(lambda s: "third" if s.delivered == 3 else None)
    with pytest.raises(SimulatedCrash, match="third"):
        sim.run()
    assert len(sink.got) == 3


def test_cancelled_restore_that_changed_its_target_is_caught(tmp_path: Path) -> None:
    """The end invariant compares the target before and after: tamper with it and it must fail."""
    c = SimCluster(4, tmp_path)
    try:
        c.make_sample(rows=6, buckets=(1, 1))
        c.create_repository()
        b = c.submit_backup("snap1")
        c.run_until_jobs_done()
        victim = sorted(p for p in c.repo_dir.rglob("*.parquet.*") if p.is_file())[0]
        victim.write_bytes(b"garbage")
        r = c.submit_restore(b)
        c.run_until_jobs_done()
        assert c.state().jobs[r]["state"] == "CANCELLED"
        c.check_full_invariants()
        c.load_batch("sr_hub", 900, 2, "x")  # as if the cancelled restore had left rows behind
        with pytest.raises(InvariantError, match="cancelled restore"):
            c.check_end_invariants()
    finally:
        c.close()


def test_finished_backup_with_a_hole_is_caught(tmp_path: Path) -> None:
    """A data file removed after FINISHED (no job can see that): the restore check must fail."""
    c = SimCluster(4, tmp_path)
    try:
        c.make_sample(rows=6, buckets=(1, 1))
        c.create_repository()
        c.submit_backup("snap1")
        c.run_until_jobs_done()
        sorted(p for p in c.repo_dir.rglob("*.parquet.*") if p.is_file())[0].unlink()
        with pytest.raises(InvariantError, match="does not restore"):
            c.check_end_invariants()
    finally:
        c.close()


def test_stuck_job_is_reported(tmp_path: Path) -> None:
    """Every upload fails for good (transiently): the job makes no progress, the harness says so (or the
    engine cancels it for lack of progress first, which the end checks accept)."""
    c = SimCluster(4, tmp_path, storage_faults=StorageFaults(transient=1.0), stuck_s=200)
    try:
        c.make_sample(rows=4, buckets=(1, 1))
        c.create_repository()
        c.state().config["backup_job_no_progress_timeout_s"] = "100000"
        c.submit_backup("snap1")
        with pytest.raises(InvariantError, match="stuck in UPLOADING"):
            c.run_until_jobs_done()
    finally:
        c.close()


def test_crash_plan_in_state_fires_once(tmp_path: Path) -> None:
    crash = Crash(job_type="BACKUP", state="UPLOADING", after=1)
    c = SimCluster(4, tmp_path, crashes=[crash])
    try:
        c.make_sample(rows=4, buckets=(1, 1))
        c.create_repository()
        c.submit_backup("snap1")
        c.run_until_jobs_done()
        assert crash.fired and len(c.crash_log) == 1 and c.boots == 2
        c.check_end_invariants()
    finally:
        c.close()
