"""The deterministic simulator (actors/sim.py): seeded, replayable interleavings that keep the invariants.

A small workload of actors that talk only through the runtime protocol (tell, schedule, executor) runs
under SimRuntime: one seed always gives the same trace, different seeds give different interleavings,
and the invariants hold after every step and at the end whatever the seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from actors.frontend import TICK_SECONDS, Frontend
from actors.runtime import Actor
from actors.sim import SimRuntime
from events.commands import CreateDatabase, CreateTable
from events.fold import digest, fold
from events.queries import Tables
from storage.eventlog import EventLog

WORKERS = 3
JOBS = 12


@dataclass(frozen=True)
class Work:
    job: int
    reply_to: str


@dataclass(frozen=True)
class Done:
    job: int
    worker: str
    finished_ns: int


@dataclass(frozen=True)
class Deadline:
    due_ns: int


@dataclass(frozen=True)
class Start:
    pass


class Coordinator(Actor):
    """Hands out jobs round-robin, counts completions, and sets a deadline timer on the virtual clock."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.done: dict[int, str] = {}
        self.deadline_seen_ns: int | None = None
        self.deadline_due_ns = 0

    def receive(self, message: Any) -> Any:
        now = self.runtime.clock.now_ns()
        if isinstance(message, Start):
            for job in range(JOBS):
                self.runtime.tell(f"w{job % WORKERS}", Work(job, self.name))
            self.deadline_due_ns = now + 5_000_000_000
            self.runtime.schedule(5.0, self.name, Deadline(self.deadline_due_ns))
        elif isinstance(message, Done):
            assert message.job not in self.done, f"job {message.job} finished twice"
            self.done[message.job] = message.worker
            self.log.append(f"{now} done {message.job} by {message.worker}")
        elif isinstance(message, Deadline):
            self.deadline_seen_ns = now
            self.log.append(f"{now} deadline")
        return None


class Worker(Actor):
    """Runs each job on its bounded pool (as a backend runs uploads) and reports back by message."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.running = 0
        self.max_running = 0

    def started(self) -> None:
        self.pool = self.runtime.executor(f"{self.name}-pool", workers=2)

    def receive(self, message: Any) -> Any:
        if isinstance(message, Work):
            self.running += 1
            self.max_running = max(self.max_running, self.running)
            self.log.append(f"{self.runtime.clock.now_ns()} {self.name} got {message.job}")

            def task(job: int = message.job, reply_to: str = message.reply_to) -> None:
                self.running -= 1
                self.runtime.tell(reply_to, Done(job, self.name, self.runtime.clock.now_ns()))

            self.pool.submit(task)
        return None


def run_workload(seed: int) -> tuple[SimRuntime, Coordinator, list[Worker], list[str]]:
    log: list[str] = []
    sim = SimRuntime(seed)
    coordinator = Coordinator(log)
    workers = [Worker(log) for _ in range(WORKERS)]
    sim.spawn("coord", coordinator)
    for i, w in enumerate(workers):
        sim.spawn(f"w{i}", w)
    clock_seen = [sim.clock.now_ns()]

    def invariants(s: SimRuntime) -> None:
        now = s.clock.now_ns()
        assert now >= clock_seen[-1], "the virtual clock went backwards"
        clock_seen.append(now)
        assert len(coordinator.done) <= JOBS
        assert all(w.running >= 0 for w in workers)

    sim.on_step = invariants
    sim.tell("coord", Start())
    sim.run(max_steps=100_000)
    return sim, coordinator, workers, log


def test_same_seed_same_trace() -> None:
    a = run_workload(seed=42)
    b = run_workload(seed=42)
    assert a[0].trace == b[0].trace
    assert a[3] == b[3]  # the same events at the same virtual times
    assert a[0].clock.now_ns() == b[0].clock.now_ns()


def test_different_seeds_different_interleavings() -> None:
    orders = {tuple(line.split(" ", 1)[1] for line in run_workload(seed)[3]) for seed in range(8)}
    assert len(orders) > 1, "every seed produced the same interleaving"
    completion_orders = {tuple(sorted(run_workload(seed)[1].done.items(), key=lambda kv: kv[0])) for seed in range(3)}
    assert len(completion_orders) == 1  # ...but the same outcome: each job done once, by its worker


@pytest.mark.parametrize("seed", range(20))
def test_invariants_hold_for_every_seed(seed: int) -> None:
    sim, coordinator, workers, _ = run_workload(seed)
    assert not sim.step(), "the run ended with deliveries still pending"
    assert sorted(coordinator.done) == list(range(JOBS))
    assert all(coordinator.done[j] == f"w{j % WORKERS}" for j in range(JOBS))
    assert all(w.running == 0 for w in workers)
    # The timer fired at its virtual deadline (not before), without any real waiting.
    assert coordinator.deadline_seen_ns == coordinator.deadline_due_ns
    assert sim.clock.now_ns() >= coordinator.deadline_due_ns


def test_crash_loses_pending_deliveries_only() -> None:
    log: list[str] = []
    sim = SimRuntime(3)
    coordinator = Coordinator(log)
    sim.spawn("coord", coordinator)
    for i in range(WORKERS):
        sim.spawn(f"w{i}", Worker(log))
    sim.tell("coord", Start())
    sim.run(max_steps=5)
    sim.crash()
    assert not sim.step() and sim.actors == {}
    assert len(coordinator.done) < JOBS


# ------------------------------------------------------------------------------------------ the frontend


def test_frontend_ticks_on_virtual_time(tmp_path: Path) -> None:
    import time

    sim = SimRuntime(7)
    fe = Frontend(tmp_path, backends=3, tick=True)
    sim.spawn("fe", fe)
    start = sim.clock.now_ns()
    t0 = time.monotonic()
    steps = sim.run(until=lambda: sim.clock.now_ns() - start >= 3600 * 1_000_000_000, max_steps=100_000)
    assert time.monotonic() - t0 < 10  # an hour of ticks in (much) less than real time
    assert steps >= 3600 / TICK_SECONDS - 1
    assert sim.trace.count("fe:Tick") == steps
    sim.stop_all()


def test_frontend_crash_and_restart_through_replay(tmp_path: Path) -> None:
    """Crash the simulated daemon between commands; a new frontend folds the log back to the same state."""
    sim = SimRuntime(11)
    fe = Frontend(tmp_path, backends=3, tick=False)
    sim.spawn("fe", fe)
    sim.ask("fe", CreateDatabase(name="a"))
    spec = {"name": "t", "columns": [{"name": "k", "type": "INT"}], "distribution_columns": ["k"], "buckets": 2}
    sim.ask("fe", CreateTable(db="a", spec=spec))
    before = digest(fe.state)
    sim.crash()  # no stopped(): the log is simply abandoned, as with kill -9
    fe.log.close()

    sim2 = SimRuntime(12)
    fe2 = Frontend(tmp_path, backends=3, tick=False)
    sim2.spawn("fe", fe2)
    assert digest(fe2.state) == before
    assert sim2.ask("fe", Tables(db="a")) == [{"name": "t", "kind": "OLAP"}]
    sim2.stop_all()
    with EventLog(tmp_path / "eventlog.sqlite3") as log:
        assert log.verify().ok
        assert digest(fold(log.read())) == before
