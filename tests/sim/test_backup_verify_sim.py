"""Seeded simulations of the two ways a backup said FINISHED without being restorable: a crash after the
info file was written but before that was recorded (the retry must write the same file, not a second
one), and repository files deleted behind the job's back (the verification must bring them back)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from events.commands import SubmitRestore
from events.event import Event
from tests.sim.harness import SimCluster
from tests.sim.test_backup_restore_sim import SEEDS, _backup


def _step_until(c: SimCluster, pred, what: str, max_steps: int = 100_000) -> None:  # type: ignore[no-untyped-def]
    for _ in range(max_steps):
        if pred():
            return
        assert c.sim.step(), f"seed {c.seed}: idle before {what}"
    raise AssertionError(f"seed {c.seed}: {what} not reached")


def _restores_equal(c: SimCluster, before: dict[str, str], label: str, alias: str) -> None:
    c.cmd(SubmitRestore(**c.restore_args(label, database_alias=alias)))
    c.run_until_jobs_done()
    job = max(c.state().jobs.values(), key=lambda j: j["id"])
    assert job["state"] == "FINISHED", f"seed {c.seed}: restore {job['state']} {job['status']}"
    for table, d in before.items():
        assert c.table_digest(alias, table) == d, f"seed {c.seed}: {table} differs after restore"


@pytest.mark.parametrize("seed", SEEDS)
def test_crash_after_the_info_file_is_written_leaves_exactly_one(seed: int, tmp_path: Path) -> None:
    c = SimCluster(seed, tmp_path)
    try:
        c.make_sample(rows=20)
        c.create_repository()
        before = {t: c.table_digest("sr_hub", t) for t in ("sr_member", "sr_pmc")}
        job_id = _backup(c, "snap1")["id"]
        _step_until(c, lambda: c.state().jobs[job_id]["state"] == "UPLOAD_INFO"
                    and any(c.repo_dir.rglob("__info_*")), "an info file written in UPLOAD_INFO")
        # Another statement lands before the crash: a head taken at the retry would differ from the first.
        c.fe.commit([Event("config.set", {"key": "max_upload_task_per_be", "value": "0"})])
        c.crash()
        c.run_until_jobs_done()
        job = c.state().jobs[job_id]
        assert job["state"] == "FINISHED", f"seed {seed}: {job['state']} {job['status']}"
        infos = sorted(p.name for p in c.repo_dir.rglob("__info_*"))
        assert len(infos) == 1, f"seed {seed}: {infos}"
        c.check_full_invariants()
        _restores_equal(c, before, "snap1", "copy")
    finally:
        c.close()


@pytest.mark.parametrize("seed", SEEDS)
def test_files_deleted_during_the_upload_are_uploaded_again(seed: int, tmp_path: Path) -> None:
    c = SimCluster(seed, tmp_path)
    try:
        c.make_sample(rows=20)
        c.create_repository()
        before = {t: c.table_digest("sr_hub", t) for t in ("sr_member", "sr_pmc")}
        job_id = _backup(c, "snap1")["id"]
        _step_until(c, lambda: c.state().jobs[job_id].get("uploaded", 0) >= 3, "three uploads recorded")
        snap = next(c.repo_dir.rglob("__ss_snap1"))
        shutil.rmtree(snap)
        c.run_until_jobs_done()
        job = c.state().jobs[job_id]
        assert job["state"] == "FINISHED", f"seed {seed}: {job['state']} {job['status']}"
        assert job.get("repairs", 0) >= 1, f"seed {seed}: the loss went unnoticed"
        _restores_equal(c, before, "snap1", "copy")
    finally:
        c.close()


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_lost_tasks_and_reports_are_issued_again(seed: int, tmp_path: Path) -> None:
    """The simulated network loses a snapshot task, a download task and some upload and download reports:
    the engine's in-flight tasks expire (backup_task_reissue_s without a report) and are issued again."""
    from actors.messages import Report, Task

    c = SimCluster(seed, tmp_path)
    try:
        c.make_sample(rows=20)
        c.create_repository()
        before = {t: c.table_digest("sr_hub", t) for t in ("sr_member", "sr_pmc")}
        lose = {"snapshot-task": 1, "upload-report": 3, "download-task": 1, "download-report": 2}
        lost: list[str] = []
        real_tell = c.sim.tell

        def lossy_tell(to: str, message: object) -> None:
            if isinstance(message, Task):
                what = f"{message.kind}-task"
            elif isinstance(message, Report) and message.done:
                what = f"{message.kind}-report"
            else:
                what = ""
            if lose.get(what, 0) > 0:
                lose[what] -= 1
                lost.append(what)
                return
            real_tell(to, message)

        c.sim.tell = lossy_tell  # type: ignore[method-assign]
        job_id = _backup(c, "snap1")["id"]
        c.run_until_jobs_done()
        job = c.state().jobs[job_id]
        assert job["state"] == "FINISHED", f"seed {seed}: {job['state']} {job['status']}"
        _restores_equal(c, before, "snap1", "copy")
        assert sorted(lost) == sorted(["snapshot-task", "upload-report", "upload-report", "upload-report",
                                       "download-task", "download-report", "download-report"]), lost
    finally:
        c.close()
