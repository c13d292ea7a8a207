"""The actor runtime protocol, and its threaded implementation on pykka.

Actors are plain objects with `receive(message) -> reply`. They talk through a `Runtime`: `tell` (fire
and forget), `schedule` (a message after a delay on the runtime's clock) and `executor` (a bounded pool
for blocking work such as file I/O, whose results come back as messages). Only code outside the actors
(SQL sessions, the CLI, tests) may `ask` and wait; actors never wait on each other (pykka's deadlock
guide). The deterministic simulator (actors/sim.py) implements the same protocol on one thread.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import pykka

log = logging.getLogger("starbackup.runtime")


class Clock(Protocol):
    def now_ns(self) -> int: ...


class WallClock:
    def now_ns(self) -> int:
        return time.time_ns()


class Executor(Protocol):
    def submit(self, fn: Callable[[], None]) -> None: ...

    def shutdown(self) -> None: ...


class Actor:
    """Base class: override `receive`. `started` runs in the actor's own thread before any message."""

    runtime: Runtime
    name: str

    def started(self) -> None:
        pass

    def receive(self, message: Any) -> Any:
        raise NotImplementedError

    def stopped(self) -> None:
        pass


class Runtime(Protocol):
    clock: Clock

    def spawn(self, name: str, actor: Actor) -> None: ...

    def tell(self, to: str, message: Any) -> None: ...

    def ask(self, to: str, message: Any, timeout: float | None = None) -> Any: ...

    def schedule(self, delay_s: float, to: str, message: Any) -> None: ...

    def executor(self, name: str, workers: int) -> Executor: ...

    def stop_all(self) -> None: ...


class _PykkaShell(pykka.ThreadingActor):
    """Hosts one of our actors in a pykka thread and reports crashes to the supervisor."""

    def __init__(self, actor: Actor, on_crash: Callable[[str, BaseException], None]) -> None:
        super().__init__()
        self.actor = actor
        self._on_crash = on_crash

    def on_start(self) -> None:
        self.actor.started()

    def on_stop(self) -> None:
        self.actor.stopped()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, _Told):
            try:
                self.actor.receive(message.message)
            except Exception as exc:  # a tell has nobody to report to: the supervisor decides
                log.exception("actor %s failed on %r", self.actor.name, type(message.message).__name__)
                self._on_crash(self.actor.name, exc)
            return None
        return self.actor.receive(message)


class _Told:
    __slots__ = ("message",)

    def __init__(self, message: Any) -> None:
        self.message = message


class _ThreadExecutor:
    def __init__(self, name: str, workers: int) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix=name)

    def submit(self, fn: Callable[[], None]) -> None:
        def guarded() -> None:
            try:
                fn()
            except Exception:  # tasks report their own failures; this is a bug in a task
                log.exception("task failed")

        self._pool.submit(guarded)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class PykkaRuntime:
    """Threaded runtime for the daemon: one pykka thread per actor, bounded pools for blocking work."""

    def __init__(self, clock: Clock | None = None, max_restarts: int = 3) -> None:
        self.clock: Clock = clock or WallClock()
        self._refs: dict[str, pykka.ActorRef[Any]] = {}
        self._factories: dict[str, Actor] = {}
        self._timers: list[threading.Timer] = []
        self._executors: list[_ThreadExecutor] = []
        self._lock = threading.Lock()
        self._restarts: dict[str, int] = {}
        self._max_restarts = max_restarts
        self._stopping = False
        self.fatal: Callable[[str], None] = self._default_fatal

    def spawn(self, name: str, actor: Actor) -> None:
        if name in self._refs and self._refs[name].is_alive():
            # A second actor under one name would orphan the first one's thread (and hang shutdown).
            raise ValueError(f"an actor named {name!r} is already running")
        actor.runtime = self
        actor.name = name
        self._refs[name] = _PykkaShell.start(actor, self._crashed)

    def stop(self, name: str) -> None:
        ref = self._refs.pop(name, None)
        if ref is not None:
            ref.stop(timeout=30)

    def tell(self, to: str, message: Any) -> None:
        ref = self._refs.get(to)
        if ref is None or self._stopping:
            return
        try:
            ref.tell(_Told(message))
        except pykka.ActorDeadError:
            log.warning("message to stopped actor %s dropped", to)

    def ask(self, to: str, message: Any, timeout: float | None = None) -> Any:
        return self._refs[to].ask(message, timeout=timeout)

    def schedule(self, delay_s: float, to: str, message: Any) -> None:
        timer = threading.Timer(max(0.0, delay_s), self.tell, args=(to, message))
        timer.daemon = True
        with self._lock:
            self._timers = [t for t in self._timers if t.is_alive()]
            self._timers.append(timer)
        timer.start()

    def executor(self, name: str, workers: int) -> Executor:
        ex = _ThreadExecutor(name, workers)
        self._executors.append(ex)
        return ex

    def _crashed(self, name: str, exc: BaseException) -> None:
        """Supervisor: a crash inside a told message is a bug; let the actor recover, a few times."""
        if self._stopping:
            return
        count = self._restarts.get(name, 0) + 1
        self._restarts[name] = count
        if count > self._max_restarts:
            self.fatal(f"actor {name} crashed {count} times, last error: {exc!r}")
            return
        actor = self._refs[name]
        try:
            actor.tell(_Told(Restart(reason=repr(exc))))
        except pykka.ActorDeadError:
            self.fatal(f"actor {name} is dead: {exc!r}")

    @staticmethod
    def _default_fatal(message: str) -> None:
        log.critical("%s; stopping the daemon", message)
        import os
        import signal

        os.kill(os.getpid(), signal.SIGTERM)

    def stop_all(self) -> None:
        self._stopping = True
        for t in self._timers:
            t.cancel()
        for ex in self._executors:
            ex.shutdown()
        # Stop in reverse spawn order: workers before the frontend that owns the log.
        for name in reversed(list(self._refs)):
            try:
                self._refs[name].stop(timeout=30)
            except pykka.Timeout:
                log.error("actor %s did not stop in time", name)


class Restart:
    """Sent by the supervisor to an actor whose handler raised: rebuild state from durable facts."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
