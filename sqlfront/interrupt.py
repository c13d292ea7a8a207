"""Statements run on a thread and can always be stopped: by KILL, by the client going away, by shutdown.

A session's statement runs on a thread of its own (a daemon thread, so that a statement that cannot be
stopped never keeps the process from exiting) while the connection's task waits for it. Three things stop
it, all through DuckDB's `interrupt()` on the session's connection, which is where every long statement
spends its time (SELECT, and the source scan of INSERT ... SELECT / FILES()):

- the connection's task is cancelled: `KILL QUERY <id>`, `KILL <id>` (mysql-mimic cancels the target
  connection's task), or the daemon stopping;
- the client goes away while the statement runs: a watcher polls the connection's reader for EOF every
  `CLIENT_POLL_S` (the transport keeps reading while nobody awaits the reader, so a closed socket shows
  up there) and interrupts the statement;
- shutdown interrupts every live session (`interrupt_session`).

A statement between two DuckDB calls (waiting for the frontend) is interrupted again on the next poll,
until its thread ends.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

log = logging.getLogger("starbackup.sql")

T = TypeVar("T")

CLIENT_POLL_S = 0.2  # how often a running statement checks that its client is still there
STOP_WAIT_S = 5.0  # after an interrupt, how long a cancelled statement's task waits for its thread


def interrupt_session(session: Any) -> None:
    """Interrupt what the session's DuckDB connection is running (a no-op when it runs nothing)."""
    engine = getattr(session, "_engine", None)  # created on first use: a session that never queried has none
    if engine is not None:
        try:
            engine.con.interrupt()
        except Exception:  # a closed connection has nothing to interrupt
            log.debug("interrupt failed", exc_info=True)


def client_gone(session: Any) -> bool:
    """True when the session's client has closed its socket (EOF or a reset) or the transport is closed."""
    connection = getattr(session, "_connection", None)
    stream = getattr(connection, "stream", None)
    if stream is None:
        return False
    reader = stream.reader
    transport = stream.writer.transport
    return bool(getattr(reader, "_eof", False) or reader.exception() is not None or transport.is_closing())


def on_daemon_thread(fn: Callable[..., T], *args: Any, name: str) -> asyncio.Future[tuple[bool, Any]]:
    """Start fn(*args) on a daemon thread; the future gets (True, result) or (False, exception).

    A daemon thread, not asyncio.to_thread: asyncio.run waits for the default executor's threads at exit,
    so a statement stuck in DuckDB would hold the daemon's shutdown."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[tuple[bool, Any]] = loop.create_future()

    def settle(outcome: tuple[bool, Any]) -> None:
        if not done.done():
            done.set_result(outcome)

    def work() -> None:
        try:
            outcome: tuple[bool, Any] = (True, fn(*args))
        except BaseException as e:  # handed to the waiting task, which raises it
            outcome = (False, e)
        try:
            loop.call_soon_threadsafe(settle, outcome)
        except RuntimeError:  # the loop is closed: the daemon is exiting and nobody waits
            pass

    threading.Thread(target=work, name=name, daemon=True).start()
    return done


def outcome_value(outcome: tuple[bool, Any]) -> Any:
    ok, value = outcome
    if ok:
        return value
    raise value


async def run_interruptible(session: Any, fn: Callable[..., T], *args: Any) -> T:
    """Run fn(*args) on a thread; interrupt it if the task is cancelled or the client goes away."""
    connection_id = getattr(getattr(session, "_connection", None), "connection_id", "?")
    done = on_daemon_thread(fn, *args, name=f"statement-{connection_id}")
    watcher = asyncio.get_running_loop().create_task(_watch_client(session, done))
    try:
        outcome = await asyncio.shield(done)
    except asyncio.CancelledError:
        await _stop(session, done)
        raise
    finally:
        watcher.cancel()
    return outcome_value(outcome)  # type: ignore[no-any-return]


async def _stop(session: Any, done: asyncio.Future[tuple[bool, Any]], timeout: float = STOP_WAIT_S) -> None:
    """Interrupt until the statement's thread has let go of the session (bounded: it is a daemon thread)."""
    deadline = loop_time() + timeout
    while not done.done() and loop_time() < deadline:
        interrupt_session(session)
        try:
            await asyncio.wait({done}, timeout=CLIENT_POLL_S)
        except asyncio.CancelledError:  # cancelled again (shutdown after a KILL): stop waiting
            return


async def _watch_client(session: Any, done: asyncio.Future[tuple[bool, Any]]) -> None:
    while not done.done():
        await asyncio.sleep(CLIENT_POLL_S)
        if not done.done() and client_gone(session):
            connection_id = getattr(getattr(session, "_connection", None), "connection_id", "?")
            log.info("connection %s: the client went away during a statement; interrupting it", connection_id)
            gone = loop_time()
            await _stop(session, done, timeout=float("inf"))
            log.info("connection %s: its statement ended %.2f s after its client went away", connection_id,
                     loop_time() - gone)
            return


def loop_time() -> float:
    return asyncio.get_running_loop().time()
