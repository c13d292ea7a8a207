"""A deterministic, single-threaded runtime for tests (design §6).

Deliveries wait in a heap ordered by (virtual time, seeded tie-break, sequence). The virtual clock jumps to
the next delivery. Pool tasks run inline when their turn comes, after a seeded latency, so the order in
which uploads finish, reports arrive and timers fire is a function of the seed alone.

Faults come from outside the actors: decorators of the storage and of `tell` (tests/support/faults.py),
and crash points here. A crash point is a predicate over the runtime checked after every delivery; when
one holds, `step` raises `SimulatedCrash` (kill -9 between two deliveries). A storage decorator may raise
it in the middle of a task (kill -9 between two calls). Whoever drives the runtime catches it, drops the
runtime (`crash`) and boots a new one on the same files.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from actors.runtime import Actor


class SimulatedCrash(BaseException):  # noqa: N818  (not an error: the process is gone)
    """kill -9 at this point. A BaseException, so no `except Exception` in an actor or task stops it."""


CrashPoint = Callable[["SimRuntime"], "str | None"]  # after a delivery: a reason to crash now, or None


class VirtualClock:
    def __init__(self, start_ns: int = 1_700_000_000_000_000_000) -> None:
        self.now = start_ns

    def now_ns(self) -> int:
        return self.now


@dataclass(order=True)
class _Item:
    at: int
    tie: float
    seq: int
    to: str = field(compare=False)
    message: Any = field(compare=False)
    fn: Callable[[], None] | None = field(compare=False, default=None)


class _SimExecutor:
    def __init__(self, sim: SimRuntime, name: str) -> None:
        self.sim = sim
        self.name = name

    def submit(self, fn: Callable[[], None]) -> None:
        self.sim._push(self.sim.latency_ns(), "", None, fn)

    def shutdown(self) -> None:
        pass


class SimRuntime:
    def __init__(self, seed: int, max_latency_ms: int = 20) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.clock = VirtualClock()
        self.actors: dict[str, Actor] = {}
        self._heap: list[_Item] = []
        self._seq = 0
        self.max_latency_ms = max_latency_ms
        self.delivered = 0
        self.trace: list[str] = []  # what was delivered, in order: two runs with one seed must agree
        self.on_step: Callable[[SimRuntime], None] | None = None
        self.crash_points: list[CrashPoint] = []

    def sleep(self, seconds: float) -> None:
        """A blocking call that takes `seconds` of virtual time (a slow storage call in a pool task)."""
        self.clock.now += int(seconds * 1e9)

    def latency_ns(self) -> int:
        return self.rng.randint(0, self.max_latency_ms) * 1_000_000

    def _push(self, delay_ns: int, to: str, message: Any, fn: Callable[[], None] | None = None) -> None:
        self._seq += 1
        heapq.heappush(self._heap, _Item(self.clock.now + delay_ns, self.rng.random(), self._seq, to, message, fn))

    def spawn(self, name: str, actor: Actor) -> None:
        actor.runtime = self  # type: ignore[assignment]
        actor.name = name
        self.actors[name] = actor
        actor.started()

    def tell(self, to: str, message: Any) -> None:
        self._push(self.latency_ns(), to, message)

    def ask(self, to: str, message: Any, timeout: float | None = None) -> Any:
        return self.actors[to].receive(message)

    def schedule(self, delay_s: float, to: str, message: Any) -> None:
        self._push(int(delay_s * 1e9), to, message)

    def executor(self, name: str, workers: int) -> _SimExecutor:
        return _SimExecutor(self, name)

    def stop_all(self) -> None:
        for actor in self.actors.values():
            actor.stopped()
        self.actors.clear()
        self._heap.clear()

    def crash(self) -> None:
        """Lose every pending delivery and actor, as kill -9 would; durable files stay."""
        self.actors.clear()
        self._heap.clear()

    def step(self) -> bool:
        if not self._heap:
            return False
        item = heapq.heappop(self._heap)
        self.clock.now = max(self.clock.now, item.at)
        self.delivered += 1
        if item.fn is not None:
            self.trace.append("task")
            item.fn()
        else:
            actor = self.actors.get(item.to)
            self.trace.append(f"{item.to}:{type(item.message).__name__}")
            if actor is not None:
                actor.receive(item.message)
        if self.on_step is not None:
            self.on_step(self)
        for point in self.crash_points:
            reason = point(self)
            if reason is not None:
                raise SimulatedCrash(reason)
        return True

    def run(self, until: Callable[[], bool] | None = None, max_steps: int = 1_000_000) -> int:
        steps = 0
        while steps < max_steps and (until is None or not until()):
            if not self.step():
                break
            steps += 1
        return steps
