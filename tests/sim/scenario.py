"""One seeded simulation run with every fault on: the unit `explore` repeats over many seeds.

A seed fixes everything: the fault rates (each kind drawn from its range, some off for some seeds), the
planned crashes (at a step, inside a job state, right after a storage call such as the info file's put),
the data, the interleaving of a load with the backup, which kind of restore follows, and every delivery
order. The run ends with `SimCluster.check_end_invariants`; any broken promise raises InvariantError.
"""

from __future__ import annotations

import random
import shutil
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from events.commands import CancelBackup, CancelRestore, DropDatabase
from events.errors import CatalogError
from events.job_common import DONE_STATES
from tests.sim.harness import BACKUP_STATES, RESTORE_STATES, Crash, SimCluster
from tests.support.faults import StorageFaults, TransportFaults

FAULT_KINDS = ("transient", "permanent", "slow", "disk_full", "delete", "lose", "duplicate", "crash")
STORAGE_CRASH_POINTS = (r"^put_\w+ .*/__info_", r"^put_\w+ .*/__meta", r"^put_\w+ .*/__ss_content/", r"^open_read ")


def parse_faults(spec: str) -> frozenset[str]:
    if spec in ("all", ""):
        return frozenset(FAULT_KINDS)
    if spec == "none":
        return frozenset()
    kinds = frozenset(k.strip() for k in spec.split(",") if k.strip())
    unknown = kinds - set(FAULT_KINDS)
    if unknown:
        raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {', '.join(FAULT_KINDS)}, all, none")
    return kinds


@dataclass
class Plan:
    storage: StorageFaults
    transport: TransportFaults
    crashes: list[Crash]
    rows: int
    load_during_backup: int | None  # deliveries into the backup before a load, or None
    restore: str  # "overwrite" | "dropped" | "alias"
    second_backup: bool  # a backup of the source while the alias restore runs
    cancel_backup: int | None = None  # CANCEL BACKUP after this many deliveries (if still running)
    cancel_restore: int | None = None  # CANCEL RESTORE after this many deliveries (if still cancellable)


def make_plan(seed: int, kinds: frozenset[str]) -> Plan:
    rng = random.Random(seed * 2654435761 % 2**32)

    def rate(kind: str, hi: float, p_off: float = 0.0) -> float:
        if kind not in kinds or rng.random() < p_off:
            rng.random()  # keep the draws aligned whatever is on
            return 0.0
        return rng.uniform(0.0, hi)

    storage = StorageFaults(transient=rate("transient", 0.08), permanent=rate("permanent", 0.01, p_off=0.5),
                            slow=rate("slow", 0.05), slow_s=rng.uniform(0.5, 90.0),
                            disk_full=rate("disk_full", 0.02, p_off=0.3), delete=rate("delete", 0.05, p_off=0.4))
    transport = TransportFaults(lose=rate("lose", 0.03, p_off=0.3), duplicate=rate("duplicate", 0.05))
    crashes: list[Crash] = []
    n_crashes = rng.choice((0, 1, 1, 2, 2, 3))
    for _ in range(n_crashes):
        how = rng.choice(("step", "state", "state", "storage"))
        if how == "step":
            crashes.append(Crash(step=rng.randint(1, 250)))
        elif how == "state":
            job_type = rng.choice(("BACKUP", "RESTORE"))
            states = BACKUP_STATES if job_type == "BACKUP" else RESTORE_STATES
            crashes.append(Crash(job_type=job_type, state=rng.choice(states), after=rng.choice((0, 0, 1, 3, 10))))
        else:
            crashes.append(Crash(storage=rng.choice(STORAGE_CRASH_POINTS)))
    if "crash" not in kinds:
        crashes = []
    plan = Plan(storage, transport, crashes, rows=rng.randint(4, 24),
                load_during_backup=rng.choice((None, 0, 3, 10, 40)),
                restore=rng.choice(("overwrite", "dropped", "alias")), second_backup=rng.random() < 0.4)
    # (Drawn last, so the draws above mean what they meant for the seeds recorded before.)
    plan.cancel_backup = rng.choice((None,) * 9 + (rng.randint(1, 60),))
    plan.cancel_restore = rng.choice((None,) * 6 + (rng.randint(1, 80),))
    return plan


@dataclass
class Result:
    seed: int
    ok: bool
    error: str = ""
    seconds: float = 0.0
    steps: int = 0
    crashes: list[str] = field(default_factory=list)
    faults: dict[str, int] = field(default_factory=dict)
    outcomes: list[str] = field(default_factory=list)
    states_seen: set[tuple[str, str]] = field(default_factory=set)


def run_seed(seed: int, root: Path, kinds: frozenset[str] = frozenset(FAULT_KINDS), keep: bool = False) -> Result:
    """Run one seed in `root` (emptied first, removed after unless `keep`)."""
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    start = time.perf_counter()
    plan = make_plan(seed, kinds)
    c = SimCluster(seed, root, storage_faults=plan.storage, transport_faults=plan.transport, crashes=plan.crashes)
    result = Result(seed, ok=False)
    try:
        scenario(c, plan)
        result.outcomes = c.check_end_invariants()
        result.ok = True
    except AssertionError as e:
        result.error = str(e) or type(e).__name__
    except Exception as e:  # a bug surfacing as an exception is a failure of the seed too
        result.error = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=-6)}"
    finally:
        result.seconds = time.perf_counter() - start
        result.steps = c.steps
        result.crashes = list(c.crash_log)
        result.faults = c.fault_counts()
        result.states_seen = set(c.states_seen)
        try:
            c.close()
        except Exception:  # noqa: S110  (a failed run may leave the log closed)
            pass
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    return result


def scenario(c: SimCluster, plan: Plan) -> None:
    c.make_sample(rows=plan.rows, buckets=(2, 2))
    c.create_repository()
    b1 = c.submit_backup("snap1")
    if plan.load_during_backup is not None:
        _steps(c, plan.load_during_backup)
        c.load_batch("sr_hub", 10_000, 5, "late")  # rows after the snapshot: not in the backup
    if plan.cancel_backup is not None:
        _steps(c, plan.cancel_backup)
        _cancel(c, CancelBackup, "sr_hub")
    c.run_until_jobs_done()
    if c.state().jobs[b1]["state"] != "FINISHED":
        return  # a cancelled backup (permanent fault) has nothing to restore; the end checks still run
    if plan.restore == "overwrite":
        c.load_batch("sr_hub", 20_000, 3, "later")  # a cancelled overwrite must keep these, a finished one not
        c.submit_restore(b1)
    elif plan.restore == "dropped":
        c.cmd(DropDatabase(name="sr_hub"))
        c.submit_restore(b1)
    else:
        c.submit_restore(b1, database_alias="copy")
        if plan.second_backup and "sr_hub" in c.state().databases:
            c.load_batch("sr_hub", 30_000, 4, "second")
            c.submit_backup("snap2")
    if plan.cancel_restore is not None:
        _steps(c, plan.cancel_restore)
        _cancel(c, CancelRestore, "copy" if plan.restore == "alias" else "sr_hub")
    c.run_until_jobs_done()
    assert all(j["state"] in DONE_STATES for j in c.state().jobs.values())


def _steps(c: SimCluster, n: int) -> None:
    for _ in range(n):
        if c.jobs_done():
            return
        c.step()


def _cancel(c: SimCluster, command: type[CancelBackup | CancelRestore], db: str) -> None:
    """CANCEL BACKUP/RESTORE FROM db, as a user would: refused when nothing is cancellable any more."""
    try:
        c.cmd(command(db=db))
    except CatalogError:
        pass
