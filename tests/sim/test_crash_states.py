"""kill -9 inside every job state, in the simulator (issue 10 item 8).

A planned `Crash` fires right after the delivery that entered a state (after=0) or a few deliveries
later, or right after a chosen storage call (the info file's put: the bug where a retried info effect wrote
a second `__info_*` file and every RESTORE of the FINISHED backup failed). Each run must then resume, end
FINISHED, upload nothing twice, and pass the end invariants: the backup restores to its source's data at
the snapshot, a restore leaves its target equal to the backup's source.

States that the job engine enters and leaves within one delivery (backup UPLOAD_SNAPSHOT, restore
SNAPSHOTING, DOWNLOAD, COMMIT) can only be crashed in once each is its own delivery; until then their tests
fail saying the state was never seen at a delivery boundary.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from events.commands import DropDatabase
from tests.sim.harness import BACKUP_STATES, RESTORE_STATES, Crash, SimCluster

SEEDS = (3, 8)
ONE_DELIVERY = {("BACKUP", "UPLOAD_SNAPSHOT"), ("RESTORE", "SNAPSHOTING"), ("RESTORE", "DOWNLOAD"), ("RESTORE", "COMMIT")}


def _cases(job_type: str, states: tuple[str, ...]) -> list[tuple[str, int]]:
    """Right after the state is entered, and (for states with work of their own) a few deliveries later."""
    return [(s, a) for s in states for a in ((0,) if (job_type, s) in ONE_DELIVERY else (0, 2))]


def _fired(c: SimCluster, crash: Crash) -> None:
    seen = sorted(s for t, s in c.states_seen if t == crash.job_type) if crash.state else []
    assert crash.fired not in (None, "cancelled"), (
        f"crash {crash} never fired (states seen at a delivery boundary: {seen})")


def _backup(c: SimCluster) -> int:
    c.make_sample(rows=12, buckets=(2, 2))
    c.create_repository()
    return c.submit_backup("snap1")


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("state", "after"), _cases("BACKUP", BACKUP_STATES))
def test_crash_in_backup_state(state: str, after: int, seed: int, tmp_path: Path) -> None:
    crash = Crash(job_type="BACKUP", state=state, after=after)
    c = SimCluster(seed, tmp_path, crashes=[crash])
    try:
        job_id = _backup(c)
        c.run_until_jobs_done()
        _fired(c, crash)
        job = c.state().jobs[job_id]
        assert job["state"] == "FINISHED", f"{job['state']} {job['status']}"
        assert c.repeated_uploads() == {}, "a resumed backup uploaded a file twice"
        c.check_end_invariants()
    finally:
        c.close()


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("state", "after"), _cases("RESTORE", RESTORE_STATES))
def test_crash_in_restore_state(state: str, after: int, seed: int, tmp_path: Path) -> None:
    crash = Crash(job_type="RESTORE", state=state, after=after)
    c = SimCluster(seed, tmp_path, crashes=[crash])
    try:
        backup = _backup(c)
        c.run_until_jobs_done()
        c.load_batch("sr_hub", 500, 4, "late")  # the restore overwrites these
        restore = c.submit_restore(backup)
        c.run_until_jobs_done()
        _fired(c, crash)
        job = c.state().jobs[restore]
        assert job["state"] == "FINISHED", f"{job['state']} {job['status']}"
        c.check_end_invariants()
    finally:
        c.close()


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("point", [r"^put_\w+ .*/__info_", r"^put_\w+ .*/__meta", r"^put_\w+ .*/__ss_content/"])
def test_crash_right_after_a_backup_file_is_written(point: str, seed: int, tmp_path: Path) -> None:
    """The file is in the repository, the report never reached the frontend: the retry must not write a
    second info file (RESTORE would fail `Expected one file ... get: 2`) nor anything else twice."""
    crash = Crash(storage=point)
    c = SimCluster(seed, tmp_path, crashes=[crash])
    try:
        job_id = _backup(c)
        c.run_until_jobs_done()
        _fired(c, crash)
        assert c.state().jobs[job_id]["state"] == "FINISHED"
        infos = sorted(p.name for p in c.repo_dir.rglob("__info_*"))
        assert len(infos) == 1, f"info files: {infos}"
        assert c.repeated_uploads() == {}
        c.check_end_invariants()
    finally:
        c.close()


@pytest.mark.parametrize("seed", SEEDS)
def test_crash_right_after_a_download(seed: int, tmp_path: Path) -> None:
    crash = Crash(storage=r"^open_read ")
    c = SimCluster(seed, tmp_path)
    try:
        backup = _backup(c)
        c.run_until_jobs_done()
        c.crashes.append(crash)
        c.cmd(DropDatabase(name="sr_hub"))
        restore = c.submit_restore(backup)
        c.run_until_jobs_done()
        _fired(c, crash)
        assert c.state().jobs[restore]["state"] == "FINISHED"
        c.check_end_invariants()
    finally:
        c.close()
