"""Seeded exploration with every fault on (issue 10 item 8): a few dozen seeds in the default suite, a few
hundred as a slow test, and every seed that ever failed, replayed as a regression test.

Replay one seed: `.venv/bin/python -m tests.sim.explore --seed N --faults all -v`; explore thousands:
`.venv/bin/python -m tests.sim.explore --seeds 5000 --faults all`.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sim.explore import replay_command
from tests.sim.harness import BACKUP_STATES, RESTORE_STATES
from tests.sim.scenario import Result, parse_faults, run_seed

NOLOSE = "transient,permanent,slow,disk_full,delete,duplicate,crash"

# (seed, faults, what it found). Each failed once; each must pass from then on.
REGRESSIONS: list[tuple[int, str, str]] = [
    (1, "all", "a snapshot task's report lost after a crash in SNAPSHOTING: the job waited forever (tasks "
               "are now issued again when no reply comes)"),
    (4, "all", "a lost upload report after a crash right after a data file's put: stuck in UPLOADING"),
    (19, "all", "a lost download task after a crash: restore stuck in DOWNLOADING"),
    (5, "all", "a lost release task: the FINISHED backup's snapshot was never released"),
    (6, "all", "a lost info task: stuck in UPLOAD_INFO"),
    (9, "all", "a lost upload task of a second backup running next to a restore: stuck in UPLOADING"),
    (7, NOLOSE, "crash right after the info file's put: the retried info effect wrote a second __info_ file "
                "(new log head) and RESTORE failed `Expected one file ... get: 2`"),
    (10, NOLOSE, "the same second __info_ file, after a crash in UPLOAD_INFO"),
    (36, NOLOSE, "the same second __info_ file"),
    (60, NOLOSE, "the same second __info_ file"),
    (8, NOLOSE, "repository data files deleted during UPLOADING: the backup ended FINISHED with holes and "
                "its restore failed `not found` (nothing checked the snapshot before FINISHED)"),
    (16, NOLOSE, "deleted files: FINISHED with a hole"),
    (23, NOLOSE, "deleted files: FINISHED with a hole"),
    (45, NOLOSE, "deleted files: FINISHED with a hole"),
    (42, "all", "equipment bug: a later snapshot's puts deleted a file of an earlier FINISHED one (deletes now "
                "stay inside the snapshot being written)"),
    (167, "all", "the same equipment bug"),
    (233, "all", "the same equipment bug"),
    (243, "all", "the same equipment bug"),
]

DEFAULT_SEEDS = range(1, 1 + int(os.environ.get("STARBACKUP_SIM_EXPLORE", "30")))
CI_SEEDS = range(1000, 1250)


@pytest.fixture(autouse=True)
def _quiet() -> Iterator[None]:
    logging.disable(logging.WARNING)  # injected faults make the job engine warn on every retry
    yield
    logging.disable(logging.NOTSET)


def _run(seeds: range | list[int], faults: str, root: Path) -> list[Result]:
    kinds = parse_faults(faults)
    failures = []
    results = []
    for seed in seeds:
        r = run_seed(seed, root / str(seed), kinds)
        results.append(r)
        if not r.ok:
            failures.append(f"seed {r.seed}: {r.error.splitlines()[0]}\n    replay: {replay_command(seed, faults)}")
    assert not failures, f"{len(failures)} of {len(seeds)} seeds failed:\n" + "\n".join(failures)
    return results


def _assert_reaches_every_state_and_fault(results: list[Result]) -> None:
    states = set().union(*(r.states_seen for r in results))
    wanted = {("BACKUP", s) for s in (*BACKUP_STATES, "FINISHED", "CANCELLED")}
    wanted |= {("RESTORE", s) for s in (*RESTORE_STATES, "FINISHED", "CANCELLED")}
    assert wanted <= states, f"never seen at a delivery boundary: {sorted(wanted - states)}"
    faults = Counter[str]()
    for r in results:
        faults.update(r.faults)
    kinds = {"transient", "permanent", "slow", "disk_full", "delete", "lost", "duplicated"}
    assert kinds <= set(faults), f"never injected: {sorted(kinds - set(faults))}"
    crashes = [c for r in results for c in r.crashes]
    for how in ("planned crash at step", "planned crash in BACKUP", "planned crash in RESTORE", "crash after put",
                "crash after open_read"):
        assert any(how in c for c in crashes), f"no crash of the kind {how!r}"


@pytest.mark.parametrize(("seed", "faults", "found"), REGRESSIONS, ids=[f"{s}-{f[:3]}" for s, f, _ in REGRESSIONS])
def test_regression_seed(seed: int, faults: str, found: str, tmp_path: Path) -> None:
    r = run_seed(seed, tmp_path / "run", parse_faults(faults))
    assert r.ok, f"seed {seed} ({found}) fails again: {r.error}\nreplay: {replay_command(seed, faults)}"


def test_explore_a_few_dozen_seeds_with_every_fault(tmp_path: Path) -> None:
    """...and together they reach every job state and inject every kind of fault and crash."""
    _assert_reaches_every_state_and_fault(_run(DEFAULT_SEEDS, "all", tmp_path))


@pytest.mark.slow
def test_explore_a_few_hundred_seeds_with_every_fault(tmp_path: Path) -> None:
    _assert_reaches_every_state_and_fault(_run(CI_SEEDS, "all", tmp_path))


def test_same_seed_same_run(tmp_path: Path) -> None:
    a = run_seed(77, tmp_path / "a", parse_faults("all"))
    b = run_seed(77, tmp_path / "b", parse_faults("all"))
    assert (a.ok, a.steps, a.crashes, a.faults, a.outcomes) == (b.ok, b.steps, b.crashes, b.faults, b.outcomes)
