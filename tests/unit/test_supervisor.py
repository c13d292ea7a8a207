"""The pykka runtime's supervisor: a crash in a told message restarts the actor, too many stop the daemon."""

from __future__ import annotations

import threading
import time
from typing import Any

from actors.runtime import Actor, PykkaRuntime, Restart


class Fragile(Actor):
    def __init__(self) -> None:
        self.restarts = 0
        self.seen: list[str] = []
        self.event = threading.Event()

    def receive(self, message: Any) -> Any:
        if isinstance(message, Restart):
            self.restarts += 1
            self.event.set()
            return None
        if message == "boom":
            raise RuntimeError("boom")
        self.seen.append(message)
        return len(self.seen)


def _wait(pred: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_a_crash_restarts_the_actor_and_it_keeps_serving() -> None:
    runtime = PykkaRuntime(max_restarts=3)
    fatal: list[str] = []
    runtime.fatal = fatal.append
    actor = Fragile()
    runtime.spawn("fragile", actor)
    try:
        runtime.tell("fragile", "boom")
        _wait(lambda: actor.restarts == 1)
        assert runtime.ask("fragile", "after", timeout=5) == 1  # still alive, still answering
        assert fatal == []
    finally:
        runtime.stop_all()


def test_too_many_crashes_fail_loudly() -> None:
    runtime = PykkaRuntime(max_restarts=2)
    fatal: list[str] = []
    runtime.fatal = fatal.append
    actor = Fragile()
    runtime.spawn("fragile", actor)
    try:
        for _ in range(3):
            runtime.tell("fragile", "boom")
        _wait(lambda: bool(fatal))
        assert "fragile crashed 3 times" in fatal[0]
    finally:
        runtime.stop_all()


def test_a_second_actor_under_a_taken_name_is_refused() -> None:
    runtime = PykkaRuntime()
    runtime.spawn("one", Fragile())
    try:
        try:
            runtime.spawn("one", Fragile())
        except ValueError as e:
            assert "already running" in str(e)
        else:
            raise AssertionError("a duplicate name was accepted")
    finally:
        runtime.stop_all()
