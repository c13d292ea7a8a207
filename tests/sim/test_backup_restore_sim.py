"""Seeded simulations of BACKUP and RESTORE with failing uploads/downloads, crashes and corrupt files.

Each seed fixes the delivery order, the faults and the crash point; a failure prints the seed, and
STARBACKUP_SIM_SEED=<n> replays just that one. STARBACKUP_SIM_SEEDS=<n> runs more seeds.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import pytest

from events.commands import DropDatabase, SubmitBackup, SubmitRestore
from storage import eventlog, log_trust
from tests.sim.harness import SimCluster

N_SEEDS = int(os.environ.get("STARBACKUP_SIM_SEEDS", "6"))
ONE_SEED = os.environ.get("STARBACKUP_SIM_SEED")
SEEDS = [int(ONE_SEED)] if ONE_SEED else list(range(1, N_SEEDS + 1))


def _backup(c: SimCluster, label: str, db: str = "sr_hub") -> dict:
    job_id = c.cmd(SubmitBackup(db=db, label=label, repo="repo", objects=[], external_catalogs=None,
                                timeout_s=None, type="FULL"))
    return c.state().jobs[job_id]


@pytest.mark.parametrize("seed", SEEDS)
def test_backup_survives_faults_and_a_crash(seed: int, tmp_path: Path) -> None:
    c = SimCluster(seed, tmp_path, fault_rate=0.15)
    try:
        c.make_sample()
        c.create_repository()
        before = {t: c.table_digest("sr_hub", t) for t in ("sr_member", "sr_pmc")}
        _backup(c, "snap1")
        crash_at = random.Random(seed).randint(1, 80)
        c.run_until_jobs_done(crash_at=crash_at)
        job = next(iter(c.state().jobs.values()))
        assert job["state"] == "FINISHED", f"seed {seed}: {job['state']} {job['status']}"
        assert job["released"], f"seed {seed}: snapshots not released"
        assert not any((c.data / f"be{b}" / "snapshots" / str(job["id"])).exists() for b in c.state().backends)
        c.check_full_invariants()
        # The snapshot restores to the same data (under another name, so both can be compared).
        c.fault_rate = 0.0
        c.cmd(SubmitRestore(**c.restore_args("snap1", database_alias="copy")))
        c.run_until_jobs_done()
        for table, d in before.items():
            assert c.table_digest("copy", table) == d, f"seed {seed}: {table} differs after restore"
    finally:
        c.close()


@pytest.mark.parametrize("seed", SEEDS)
def test_restore_survives_faults_and_a_crash(seed: int, tmp_path: Path) -> None:
    c = SimCluster(seed, tmp_path)
    try:
        c.make_sample()
        c.create_repository()
        before = {t: c.table_digest("sr_hub", t) for t in ("sr_member", "sr_pmc")}
        _backup(c, "snap1")
        c.run_until_jobs_done()
        c.cmd(DropDatabase(name="sr_hub"))
        c.fault_rate = 0.15
        c.cmd(SubmitRestore(**c.restore_args("snap1")))
        crash_at = random.Random(seed * 31).randint(1, 100)
        c.run_until_jobs_done(crash_at=crash_at)
        job = max(c.state().jobs.values(), key=lambda j: j["id"])
        assert job["state"] == "FINISHED", f"seed {seed}: {job['state']} {job['status']}"
        c.check_full_invariants()
        for table, d in before.items():
            assert c.table_digest("sr_hub", table) == d, f"seed {seed}: {table} differs after restore"
    finally:
        c.close()


@pytest.mark.parametrize("seed", SEEDS[:4])
def test_corrupt_file_fails_restore_and_leaves_target_untouched(seed: int, tmp_path: Path) -> None:
    c = SimCluster(seed, tmp_path)
    try:
        c.make_sample()
        c.create_repository()
        _backup(c, "snap1")
        c.run_until_jobs_done()
        # New rows after the backup: the overwrite would remove them, the failed restore must not.
        c.insert("sr_hub", "sr_member", "SELECT 9999, DATE '2024-01-05', 'late'", 3)
        before = {t: c.table_digest("sr_hub", t) for t in ("sr_member", "sr_pmc")}
        data_files = sorted(p for p in c.repo_dir.rglob("*.parquet.*") if p.is_file())
        victim = random.Random(seed).choice(data_files)
        raw = bytearray(victim.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        victim.write_bytes(bytes(raw))
        c.cmd(SubmitRestore(**c.restore_args("snap1")))
        c.run_until_jobs_done(crash_at=random.Random(seed).randint(1, 60))
        job = max(c.state().jobs.values(), key=lambda j: j["id"])
        assert job["state"] == "CANCELLED", f"seed {seed}: {job['state']}"
        assert victim.name in job["status"], f"seed {seed}: status does not name the file: {job['status']}"
        for table, d in before.items():
            assert c.table_digest("sr_hub", table) == d, f"seed {seed}: {table} changed by a failed restore"
        assert all(t.state == "NORMAL" for t in c.state().databases["sr_hub"].tables.values())
        c.check_full_invariants()
    finally:
        c.close()


def _run_once(seed: int, root: Path) -> tuple[str, list[str]]:
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    c = SimCluster(seed, root, fault_rate=0.1)
    try:
        c.make_sample(rows=20)
        c.create_repository()
        _backup(c, "snap1")
        c.run_until_jobs_done(crash_at=40)
        assert c.fe.log is not None
        return c.fe.log.head()[1].hex(), list(c.sim.trace)
    finally:
        c.close()


def test_same_seed_same_log_different_seed_different_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(eventlog, "new_key", lambda: b"k" * log_trust.KEY_SIZE)  # the chain is keyed per log
    head1, trace1 = _run_once(11, tmp_path / "run")
    head2, trace2 = _run_once(11, tmp_path / "run")
    assert head1 == head2, "one seed must reproduce the event log byte for byte"
    assert trace1 == trace2
    _, trace3 = _run_once(12, tmp_path / "run")
    assert trace3 != trace1, "another seed should interleave deliveries differently"


def test_timed_out_backup_is_cancelled_with_timeout_status(tmp_path: Path) -> None:
    c = SimCluster(5, tmp_path, fault_rate=1.0)  # every upload fails: only the timeout can end the job
    try:
        c.make_sample(rows=5)
        c.create_repository()
        job_id = c.cmd(SubmitBackup(db="sr_hub", label="slow", repo="repo", objects=[], external_catalogs=None,
                                    timeout_s=3, type="FULL"))
        c.state().config["max_upload_task_per_be"] = "1"
        c.run_until_jobs_done()
        job = c.state().jobs[job_id]
        assert job["state"] == "CANCELLED"
        assert job["status"].startswith("[TIMEOUT, msg:") or "injected" in job["status"], job["status"]
        assert job["released"]
    finally:
        c.close()


def test_overwritten_tablets_are_garbage_collected(tmp_path: Path) -> None:
    c = SimCluster(6, tmp_path)
    try:
        c.make_sample(rows=10)
        c.create_repository()
        _backup(c, "snap1")
        c.run_until_jobs_done()
        old = [tid for p in c.state().databases["sr_hub"].tables["sr_pmc"].partitions.values()
               for ids in p.tablets.values() for tid in ids]
        c.cmd(SubmitRestore(**c.restore_args("snap1", objects=[
            {"kind": "TABLE", "name": "sr_pmc", "partitions": (), "temporary": False, "alias": None}])))
        c.run_until_jobs_done()
        assert set(old) <= set(c.state().garbage_tablets)
        c.sim.run(until=lambda: not c.state().garbage_tablets, max_steps=5000)
        assert not c.state().garbage_tablets
        for tid in old:
            assert not any((c.data / f"be{b}" / "tablets" / str(tid)).exists() for b in c.state().backends)
        c.check_full_invariants()
    finally:
        c.close()
