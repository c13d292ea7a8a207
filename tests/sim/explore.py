"""Explore many seeds of the simulation with faults on (design §6, issue 10 item 8):

    .venv/bin/python -m tests.sim.explore --seeds 5000 --faults all [--start 1] [--workers 1]
    .venv/bin/python -m tests.sim.explore --seed 1234 --faults all -v     # replay one seed

Each seed is one `tests.sim.scenario.run_seed`: a backup under faults and crashes, then a restore of it
(overwrite, into a dropped database, or under an alias next to a second backup), then the end invariants
(every FINISHED backup restores to its source's data at the snapshot, every CANCELLED restore left its
targets as they were, log chain, fresh fold == live state, no double commit, no job running). It prints
seeds/s and, for every failing seed, the command that replays it. Exit status 1 if any seed failed.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from tests.sim.scenario import Result, parse_faults, run_seed


def _scratch() -> Path:
    shm = Path("/dev/shm")
    base = shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())
    return Path(tempfile.mkdtemp(prefix="starbackup-sim-", dir=base))


_ROOT: Path | None = None
_KINDS: frozenset[str] = frozenset()


def _init(kinds: frozenset[str]) -> None:
    global _ROOT, _KINDS
    _ROOT = _scratch()
    _KINDS = kinds


def _one(seed: int) -> Result:
    assert _ROOT is not None
    return run_seed(seed, _ROOT / str(seed), _KINDS)


def replay_command(seed: int, faults: str) -> str:
    return f".venv/bin/python -m tests.sim.explore --seed {seed} --faults {faults}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.sim.explore", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=100, help="how many seeds")
    parser.add_argument("--start", type=int, default=1, help="first seed")
    parser.add_argument("--seed", type=int, default=None, help="replay this one seed only")
    parser.add_argument("--faults", default="all", help="all, none, or a comma list of: transient, permanent, "
                                                        "slow, disk_full, delete, lose, duplicate, crash")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per seed")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)  # injected faults make the job engine warn on every retry
    kinds = parse_faults(args.faults)
    seeds = [args.seed] if args.seed is not None else list(range(args.start, args.start + args.seeds))
    verbose = args.verbose or args.seed is not None
    failures: list[Result] = []
    faults: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    crashes = 0
    states: set[tuple[str, str]] = set()
    started = time.perf_counter()
    done = 0
    if args.workers > 1:
        pool = multiprocessing.Pool(args.workers, initializer=_init, initargs=(kinds,))
        results = pool.imap_unordered(_one, seeds)
    else:
        _init(kinds)
        pool = None
        results = map(_one, seeds)
    try:
        for r in results:
            done += 1
            faults.update(r.faults)
            crashes += len(r.crashes)
            states |= r.states_seen
            for o in r.outcomes:
                outcomes[" ".join(w for w in o.split() if not w.isdigit())] += 1
            if not r.ok:
                failures.append(r)
                print(f"FAIL seed {r.seed}: {r.error.splitlines()[0] if r.error else '?'}\n"
                      f"     replay: {replay_command(r.seed, args.faults)}", flush=True)
                if verbose:
                    print(r.error)
            if verbose:
                print(f"seed {r.seed}: {'ok' if r.ok else 'FAIL'} {r.seconds:.2f}s {r.steps} steps, "
                      f"crashes {r.crashes}, faults {dict(sorted(r.faults.items()))}, {r.outcomes}", flush=True)
            elif done % 100 == 0:
                elapsed = time.perf_counter() - started
                print(f"... {done}/{len(seeds)} seeds, {len(failures)} failed, {done / elapsed:.2f} seeds/s", flush=True)
    finally:
        if pool is not None:
            pool.terminate()
    elapsed = time.perf_counter() - started
    print(f"{done} seeds ({seeds[0]}..{seeds[-1]}), faults {args.faults}: {len(failures)} failed, "
          f"{elapsed:.1f} s, {done / elapsed:.2f} seeds/s")
    print(f"faults injected: {dict(sorted(faults.items()))}; crashes: {crashes}")
    print(f"outcomes: {dict(sorted(outcomes.items()))}")
    print(f"job states seen at a delivery boundary: {sorted(states)}")
    if failures:
        print("failing seeds: " + " ".join(str(r.seed) for r in sorted(failures, key=lambda r: r.seed)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
