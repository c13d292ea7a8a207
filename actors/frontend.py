"""The frontend actor: the single writer of the event log and the owner of the folded cluster state.

Every change follows one path (design §1, Akka Persistence style): decide -> append to the log (durable)
-> apply to the state -> react (tasks to backends, timers, replies). After a restart the state is folded
back from the latest snapshot plus the log's tail, and `resume` re-derives the effects of every unfinished
job; effects are idempotent, so re-doing one is harmless.
"""

from __future__ import annotations

import logging
from collections import deque
from pathlib import Path
from typing import Any

from actors import jobs
from actors.fe_shell import Handler, HandlerTable
from actors.fe_table import FRONTEND_TABLE
from actors.messages import AdvanceJob, Report, RetryJob, Tick
from actors.runtime import Actor, Restart
from events.commands import Command
from events.errors import CatalogError
from events.event import Event
from events.fold import apply, restore_snapshot, snapshot
from events.model import Backend
from events.plain import to_plain
from events.queries import Query
from events.state import ClusterState
from storage.eventlog import EventLog, LogIntegrityError, NewEvent

log = logging.getLogger("starbackup.fe")

SNAPSHOT_EVERY = 5000  # events between state snapshots: bounds start-up replay time...
SNAPSHOT_MIN_INTERVAL_NS = 30 * 1_000_000_000  # ...but at most one per 30 s: a big state costs seconds to save
TICK_SECONDS = 1.0

class FrontendHost:
    """The frontend as the job engine sees it (actors/jobs.JobHost): nothing more of the actor."""

    def __init__(self, fe: Frontend) -> None:
        self._fe = fe

    @property
    def name(self) -> str:
        return self._fe.name

    @property
    def state(self) -> ClusterState:
        return self._fe.state

    def now_ns(self) -> int:
        return self._fe.runtime.clock.now_ns()

    def append(self, events: list[Event]) -> None:
        self._fe.commit(events)

    def tell(self, actor: str, message: object) -> None:
        self._fe.runtime.tell(actor, message)

    def schedule(self, delay_s: float, actor: str, message: object) -> None:
        self._fe.runtime.schedule(delay_s, actor, message)

    def log_head(self) -> str:
        assert self._fe.log is not None
        return self._fe.log.head()[1].hex()


class Frontend(Actor):
    def __init__(self, data_dir: Path, backends: int, root_password_hash: str = "",
                 config: dict[str, str] | None = None, tick: bool = True,
                 handlers: HandlerTable = FRONTEND_TABLE) -> None:
        self.data_dir = Path(data_dir)
        self.backend_count = backends
        self.root_password_hash = root_password_hash  # mysql_native_password's form, never the password
        self.initial_config = config or {}
        self.tick = tick
        self.handlers = handlers  # command and query type -> handler (actors/fe_table.py)
        self.state = ClusterState()
        self.log: EventLog | None = None
        self.events_since_snapshot = 0
        self.last_snapshot_ns = 0
        self.jobs = jobs.JobEngine(FrontendHost(self))
        # Appended events whose reactions have not run yet, drained by `commit`'s loop (see there).
        self._reactions: deque[Any] = deque()
        self._draining = False
        self.refused: LogIntegrityError | None = None  # set when start-up found the log untrustworthy

    # ------------------------------------------------------------ life cycle

    def started(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.log = EventLog(self.data_dir / "eventlog.sqlite3")
            self.state = self._recover()
        except LogIntegrityError as e:
            # Refuse: no state is folded from an untrusted log and nothing is appended to it. Every message
            # is answered with this error, so the daemon's first ask fails with it and the daemon exits.
            self.refused = e
            if self.log is not None:
                self.log.close()
                self.log = None
            return
        if not self.state.backends:
            backends = [to_plain(Backend(id=10001 + i, host="127.0.0.1", port=9050 + i)) for i in range(self.backend_count)]
            self.commit([Event("cluster.initialized", {"backends": backends,
                                                       "root_password_hash": self.root_password_hash})])
        elif self.state.root_password_hash != self.root_password_hash:  # this start gave root another password
            self.commit([Event("root_password.set", {"root_password_hash": self.root_password_hash})])
        for key, value in self.initial_config.items():
            if self.state.config.get(key) != value:
                self.commit([Event("config.set", {"key": key, "value": value})])
        if self.tick:
            self.runtime.schedule(TICK_SECONDS, self.name, Tick())

    def _recover(self) -> ClusterState:
        """Fold the newest verified snapshot and the tail after it, verifying every row folded.

        LogIntegrityError (naming the row) if a row is damaged or altered, or does not apply.
        """
        assert self.log is not None
        snap = self.log.latest_snapshot()
        state, after = ClusterState(), 0
        if snap is not None:
            try:
                state, after = restore_snapshot(snap[1]), snap[0]
            except Exception as e:  # MAC'd by us, so written by an older shape of the state: replay instead
                log.warning("snapshot at seq %d does not restore (%s: %s); folding the whole log", snap[0],
                            type(e).__name__, e)
                state, after = ClusterState(), 0
        folded = 0
        for ev in self.log.read_verified(after_seq=after):
            try:
                apply(state, ev.type, ev.data, ev.seq)
            except Exception as e:
                raise LogIntegrityError(self.log.path, f"event {ev.type} v{ev.version} does not apply "
                                                       f"({type(e).__name__}: {e})", seq=ev.seq) from None
            folded += 1
        log.info("event log verified and folded: snapshot at seq %d + %d rows (head seq %d)", after, folded,
                 after + folded)
        return state

    def save_snapshot(self, now_ns: int) -> None:
        assert self.log is not None
        self.log.save_snapshot(self.state.last_seq, snapshot(self.state), now_ns)
        self.events_since_snapshot = 0
        self.last_snapshot_ns = now_ns

    def stopped(self) -> None:
        if self.log is not None and self.events_since_snapshot:
            self.save_snapshot(self.runtime.clock.now_ns())  # a clean stop makes the next start quick
        if self.log is not None:
            self.log.close()
            self.log = None

    # ------------------------------------------------------------ the one path for changes

    def commit(self, evs: list[Event]) -> list[Any]:
        """Append events durably, fold them, and run their reactions. Returns the stored events.

        Never re-entered: reactions are queued and drained by one loop here; events a reaction decides are
        appended by the loop (their reactions join the queue). A commit asked for while the loop runs (by a
        reaction, through the job engine's host) appends and queues, and the running loop drains it."""
        stored = self._append(evs)
        if self._draining:
            return stored
        self._draining = True
        try:
            while self._reactions:
                ev = self._reactions.popleft()
                self._append(self.jobs.react(ev.type, ev.data))
        finally:
            self._draining = False
        return stored

    def _append(self, evs: list[Event]) -> list[Any]:
        """Append to the log, apply to the state, queue the reactions."""
        if not evs:
            return []
        assert self.log is not None
        now = self.runtime.clock.now_ns()
        stored = self.log.append(
            [NewEvent(stream=e.stream, type=e.type, version=e.version, data=e.data, time_ns=now, key=e.key) for e in evs]
        )
        for ev in stored:
            apply(self.state, ev.type, ev.data, ev.seq)
        self.events_since_snapshot += len(stored)
        if self.events_since_snapshot >= SNAPSHOT_EVERY and now - self.last_snapshot_ns >= SNAPSHOT_MIN_INTERVAL_NS:
            self.save_snapshot(now)
        self._reactions.extend(stored)
        return stored

    # ------------------------------------------------------------ messages

    def receive(self, message: Any) -> Any:
        if self.refused is not None:
            raise self.refused
        if isinstance(message, Command):
            evs, reply = self._handler(message)(self, self.state, message)
            self.commit(evs)
            return reply() if callable(reply) else reply
        if isinstance(message, Query):
            return self._handler(message)(self, self.state, message)
        if isinstance(message, Report):
            self.jobs.on_report(message)
            return None
        if isinstance(message, RetryJob):
            self.jobs.on_retry(message)
            return None
        if isinstance(message, AdvanceJob):
            self.jobs.on_advance(message)
            return None
        if isinstance(message, Tick):
            try:
                self.jobs.on_tick()
            finally:
                if self.tick:
                    self.runtime.schedule(TICK_SECONDS, self.name, Tick())
            return None
        if isinstance(message, Restart):
            log.error("frontend restarting after a failure: %s", message.reason)
            self.state = self._recover()
            self.jobs = jobs.JobEngine(FrontendHost(self))
            self._reactions.clear()
            self._draining = False
            self.jobs.resume()
            return None
        raise TypeError(f"frontend got unexpected message {message!r}")

    def _handler(self, message: Command[Any] | Query[Any]) -> Handler:
        handler = self.handlers.get(type(message))
        if handler is None:
            kind = "command" if isinstance(message, Command) else "query"
            raise CatalogError(f"unknown {kind} {type(message).__name__}: not in the frontend's table")
        return handler
