"""Timed refresh of asynchronous materialized views (REFRESH ASYNC [START(...)] EVERY(INTERVAL n unit)).

A small actor wakes itself every WAKE_SECONDS with `runtime.schedule`. On each wake it hands one pass to
its own pool thread (never more than one pass at a time); the pass asks the frontend which MVs are due on
the runtime's injected clock and refreshes them one after the other through a ClusterClient, exactly as
REFRESH MATERIALIZED VIEW does from a session. The actor thread itself never waits on the frontend.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from actors.runtime import Actor, Runtime
from engine.functions import register_functions
from engine.mv_refresh import parse_start, refresh_mv
from engine.query import QueryEngine
from events.queries import MvDue, MvSchedules

log = logging.getLogger("starbackup.mv_refresher")

WAKE_SECONDS = 0.5
NAME = "mv_refresher"


@dataclass(frozen=True)
class Wake:
    """The refresher's own timer message."""


class MvRefresher(Actor):
    def __init__(self, client: Any, wake_s: float = WAKE_SECONDS) -> None:
        self.client = client
        self.wake_s = wake_s
        self.busy = threading.Event()
        self.pool: Any = None
        self.engine: QueryEngine | None = None
        self.passes = 0

    def started(self) -> None:
        self.pool = self.runtime.executor("mv-refresh", 1)
        self.runtime.schedule(self.wake_s, self.name, Wake())

    def receive(self, message: Any) -> Any:
        if isinstance(message, Wake):
            try:
                if not self.busy.is_set():
                    self.busy.set()
                    self.pool.submit(self._pass)
            finally:
                self.runtime.schedule(self.wake_s, self.name, Wake())
            return None
        raise TypeError(f"mv refresher got unexpected message {message!r}")

    def _pass(self) -> None:
        try:
            self.run_due()
        except Exception:  # noqa: BLE001  (a failing pass must not stop the timer; the next wake retries)
            log.exception("timed materialized view refresh pass failed")
        finally:
            self.passes += 1
            self.busy.clear()

    def run_due(self) -> list[tuple[str, str, str]]:
        """Refresh every MV that is due now; returns (db, mv, state) for each attempt."""
        if self.engine is None:
            self.engine = QueryEngine(self.client.resolve, register_functions)
        start_times = {}
        for sched in self.client.read(MvSchedules()):
            if sched["start"]:
                try:
                    start_times[f"{sched['db']}.{sched['name']}"] = parse_start(sched["start"])
                except Exception:  # noqa: BLE001  (validated at CREATE; never block other MVs)
                    continue
        now = self.runtime.clock.now_ns()
        done = []
        for db, name in self.client.read(MvDue(now_ns=now, start_times=start_times)):
            try:
                state = refresh_mv(self.client, self.engine, db, name)
            except Exception as e:  # noqa: BLE001  (recorded as FAILED in the MV's refresh state)
                log.warning("timed refresh of %s.%s failed: %s", db, name, e)
                state = "FAILED"
            done.append((db, name, state))
        return done


def spawn_mv_refresher(runtime: Runtime, client: Any, wake_s: float = WAKE_SECONDS) -> MvRefresher:
    """Start the refresher; the daemon calls this once the frontend and backends are up."""
    refresher = MvRefresher(client, wake_s)
    runtime.spawn(NAME, refresher)
    return refresher
