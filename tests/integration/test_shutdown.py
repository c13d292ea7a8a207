"""SIGTERM always stops the real daemon within 10 s, whatever the clients do; KILL and a client that goes
away interrupt a running statement; a handshake that does not complete is closed; a backup in flight at
SIGTERM resumes at the next start.

The heavy statement is a cross join of two `range()`s that DuckDB would run for hours. Shutdown times are
printed (`pytest -s`) as `shutdown: <case>: <seconds>`.
"""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pymysql
import pytest
from mysql_mimic import Session

from sqlfront.auth import RootIdentity
from sqlfront.server import HANDSHAKE_TIMEOUT_S, StarServer
from tests.support import br
from tests.support.daemon import DaemonProcess, query

HEAVY = "SELECT sum(a.range * b.range) FROM range(1000000000) a, range(100000) b"
STOP_WITHIN_S = 10.0


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[DaemonProcess]:
    with DaemonProcess(tmp_path / "data", backends=1) as d:
        yield d


def sigterm_and_time(d: DaemonProcess, case: str) -> float:
    """SIGTERM; the daemon must exit 0 within STOP_WITHIN_S. Returns the seconds it took."""
    assert d.proc is not None and d.proc.poll() is None
    started = time.monotonic()
    d.proc.send_signal(signal.SIGTERM)
    try:
        rc = d.proc.wait(STOP_WITHIN_S)
    except subprocess.TimeoutExpired:
        d.kill()
        pytest.fail(f"{case}: the daemon was still running {STOP_WITHIN_S} s after SIGTERM\n{d.output()[-3000:]}")
    took = time.monotonic() - started
    print(f"shutdown: {case}: {took:.2f} s")
    assert rc == 0, d.output()[-3000:]
    return took


def cpu_share(d: DaemonProcess, interval: float) -> float:
    """CPU seconds the daemon used per second over `interval` (1.0 = one core busy)."""
    assert d.proc is not None
    proc = psutil.Process(d.proc.pid)
    before = sum(proc.cpu_times()[:2])
    time.sleep(interval)
    return (sum(proc.cpu_times()[:2]) - before) / interval


def wait_busy(d: DaemonProcess, timeout: float = 60.0) -> None:
    """Until the daemon burns CPU: the heavy statement runs. An idle daemon uses about 1 % of a core; the
    threshold is low because the machines we test on are shared."""
    deadline = time.monotonic() + timeout
    while cpu_share(d, 0.5) < 0.2:
        assert time.monotonic() < deadline, "the heavy statement never got going"


def wait_idle(d: DaemonProcess, timeout: float = 30.0) -> None:
    """Until the daemon is idle again: the statement was interrupted, not left running."""
    deadline = time.monotonic() + timeout
    while cpu_share(d, 1.0) > 0.1:
        assert time.monotonic() < deadline, "the daemon still burns CPU: the statement was not interrupted"


def wait_output(d: DaemonProcess, text: str, timeout: float = 15.0) -> None:
    br.wait_for(lambda: text in d.output(), timeout=timeout, what=repr(text))


class Running:
    """A statement running on a thread of the test, and the error it ended with."""

    def __init__(self, conn: pymysql.connections.Connection, sql: str = HEAVY) -> None:
        self.conn = conn
        self.error: BaseException | None = None
        self.ended_at: float | None = None
        self.thread = threading.Thread(target=self._run, args=(sql,), daemon=True)
        self.thread.start()

    def _run(self, sql: str) -> None:
        try:
            query(self.conn, sql)
        except BaseException as e:
            self.error = e
        self.ended_at = time.monotonic()

    def join(self, timeout: float) -> None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the statement is still running"


def test_sigterm_during_a_heavy_query_stops_within_10s(daemon: DaemonProcess) -> None:
    running = Running(daemon.connect())
    wait_busy(daemon)
    assert running.thread.is_alive()
    idle = daemon.connect()  # an idle connection does not hold the stop either
    sigterm_and_time(daemon, "heavy query running")
    running.join(5)
    assert isinstance(running.error, pymysql.err.OperationalError)
    idle.close()
    out = daemon.output()
    assert "closed 2 client connection(s)" in out, out[-2000:]
    assert "Traceback" not in out, out[-3000:]


CLIENT = """
import sys, pymysql
c = pymysql.connect(host="127.0.0.1", port=int(sys.argv[1]), user="root", password="")
print("connected", flush=True)
c.cursor().execute(sys.argv[2])
"""


def test_client_killed_mid_query_then_sigterm(daemon: DaemonProcess) -> None:
    client = subprocess.Popen([sys.executable, "-c", CLIENT, str(daemon.port), HEAVY], stdout=subprocess.PIPE)
    try:
        assert client.stdout is not None and client.stdout.readline().strip() == b"connected"
        wait_busy(daemon)
        client.kill()  # kill -9: the kernel closes its socket
        client.wait()
        dropped = time.monotonic()
        wait_output(daemon, "s after its client went away")
        print(f"shutdown: statement of a killed client interrupted {time.monotonic() - dropped:.2f} s after the kill; "
              + " ".join(re.findall(r"ended [0-9.]+ s after its client went away", daemon.output())))
        assert "the client went away during a statement; interrupting it" in daemon.output()
        wait_idle(daemon)
        other = daemon.connect()  # the daemon serves on
        assert query(other, "SELECT 3") == [(3,)]
        other.close()
        sigterm_and_time(daemon, "after a client was killed mid-query")
    finally:
        client.kill()
        client.wait()


def test_client_closing_its_socket_mid_query_then_sigterm(daemon: DaemonProcess) -> None:
    conn = daemon.connect()
    running = Running(conn)
    wait_busy(daemon)
    conn._sock.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]  # the client's socket goes
    running.join(10)
    wait_output(daemon, "s after its client went away")
    assert "the client went away during a statement; interrupting it" in daemon.output()
    wait_idle(daemon)
    sigterm_and_time(daemon, "after a client closed its socket mid-query")


def test_kill_query_and_kill_connection_interrupt_the_statement(daemon: DaemonProcess) -> None:
    target = daemon.connect()
    target_id = query(target, "SELECT connection_id()")[0][0]
    assert target_id == target.thread_id()  # the id of the handshake is the one KILL takes
    admin = daemon.connect()

    running = Running(target)
    wait_busy(daemon)
    killed_at = time.monotonic()
    query(admin, f"KILL QUERY {target_id}")
    running.join(5)
    assert running.ended_at is not None and running.ended_at - killed_at < 3
    assert isinstance(running.error, pymysql.err.OperationalError)
    assert running.error.args == (3169, "Query was killed")
    wait_idle(daemon)
    assert query(target, "SELECT 1") == [(1,)]  # KILL QUERY keeps the connection

    running = Running(target)
    wait_busy(daemon)
    query(admin, f"KILL {target_id}")
    running.join(5)
    assert isinstance(running.error, pymysql.err.OperationalError)
    wait_idle(daemon)
    with pytest.raises(pymysql.err.Error):
        query(target, "SELECT 1")  # KILL ends the connection
    assert query(admin, "SELECT 2") == [(2,)]
    admin.close()
    sigterm_and_time(daemon, "after KILL QUERY and KILL")


def test_sigterm_with_idle_half_open_and_busy_connections(daemon: DaemonProcess) -> None:
    idle = daemon.connect()
    half_open = socket.create_connection(("127.0.0.1", daemon.port))  # never answers the handshake
    runs = [Running(daemon.connect()) for _ in range(3)]
    wait_busy(daemon)
    sigterm_and_time(daemon, "3 heavy queries, an idle and a half-open connection")
    for r in runs:
        r.join(5)
        assert isinstance(r.error, pymysql.err.OperationalError)
    half_open.settimeout(5)
    data = b""
    while chunk := half_open.recv(4096):
        data += chunk
    half_open.close()
    idle.close()


def test_sigterm_during_a_heavy_timed_mv_refresh(daemon: DaemonProcess) -> None:
    """The refresher's statement runs on the runtime's pool, not in a session: shutdown interrupts it too."""
    c = daemon.connect()
    query(c, "CREATE DATABASE m")
    query(c, "CREATE TABLE m.t (k BIGINT) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1 "
             "PROPERTIES ('replication_num' = '1')")
    # Cheap while t is empty; once t has a row every refresh is the heavy cross join.
    query(c, "CREATE MATERIALIZED VIEW m.mv REFRESH ASYNC EVERY (INTERVAL 1 SECOND) AS "
             "SELECT sum(a.range * b.range) AS s FROM m.t, range(1000000000) a, range(100000) b")
    query(c, "INSERT INTO m.t VALUES (1)")
    c.close()
    wait_busy(daemon)
    sigterm_and_time(daemon, "heavy timed MV refresh running")
    assert "timed refresh of m.mv failed" in daemon.output()


# ------------------------------------------------------------------------------------------ handshake


def read_packet(sock: socket.socket) -> bytes:
    header = b""
    while len(header) < 4:
        chunk = sock.recv(4 - len(header))
        if not chunk:
            return b""
        header += chunk
    length = struct.unpack("<I", header[:3] + b"\0")[0]
    body = b""
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        assert chunk, "closed in the middle of a packet"
        body += chunk
    return body


class ServerThread:
    """The daemon's MySQL server class on its own loop in a thread, with a short handshake timeout."""

    def __init__(self, handshake_timeout_s: float) -> None:
        self.loop = asyncio.new_event_loop()
        self.server = StarServer(session_factory=Session, identity_provider=RootIdentity(""),
                                 handshake_timeout_s=handshake_timeout_s)
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self.server.start_server(host="127.0.0.1", port=0))
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert ready.wait(10)
        self.port = int(self.server.sockets()[0].getsockname()[1])

    def close(self) -> None:
        async def stop() -> None:
            self.server.close()
            await self.server.close_connections(timeout=2)

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def test_a_connection_that_sends_nothing_is_closed_after_the_handshake_timeout() -> None:
    server = ServerThread(handshake_timeout_s=0.5)
    try:
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.settimeout(5)
        started = time.monotonic()
        greeting = read_packet(sock)
        assert greeting[0] == 10  # protocol version 10: the server's handshake
        error = read_packet(sock)  # ...then nothing from us, until the server gives up
        took = time.monotonic() - started
        assert error[0] == 0xFF and struct.unpack("<H", error[1:3])[0] == 1043, error
        assert b"handshake not completed within 0.5 s" in error
        assert read_packet(sock) == b""  # and closes the socket
        assert 0.4 < took < 3, took
        sock.close()
        # A client that completes its handshake is not bound by it.
        conn = pymysql.connect(host="127.0.0.1", port=server.port, user="root", password="")
        time.sleep(1.0)
        assert query(conn, "SELECT 1") == [(1,)]
        conn.close()
        br.wait_for(lambda: not server.server.connections, timeout=5, what="the closed connection forgotten")
    finally:
        server.close()


def test_a_malformed_handshake_is_refused_in_one_log_line(daemon: DaemonProcess) -> None:
    sock = socket.create_connection(("127.0.0.1", daemon.port))
    sock.settimeout(10)
    assert read_packet(sock)[0] == 10
    sock.sendall(struct.pack("<I", 3 | (1 << 24)) + b"\x01\x02\x03")  # seq 1, three bytes of nonsense
    error = read_packet(sock)
    assert error[0] == 0xFF and struct.unpack("<H", error[1:3])[0] == 1043, error
    assert read_packet(sock) == b""
    sock.close()
    wait_output(daemon, "malformed handshake")
    assert "Traceback" not in daemon.output()
    daemon.connect().close()


@pytest.mark.slow
def test_the_real_daemon_closes_a_silent_connection_after_10s(daemon: DaemonProcess) -> None:
    assert HANDSHAKE_TIMEOUT_S == 10.0
    sock = socket.create_connection(("127.0.0.1", daemon.port))
    sock.settimeout(30)
    started = time.monotonic()
    assert read_packet(sock)[0] == 10
    error = read_packet(sock)
    assert error[0] == 0xFF, error
    assert read_packet(sock) == b""
    took = time.monotonic() - started
    print(f"handshake: a silent connection was closed after {took:.2f} s")
    assert 9.5 < took < 13, took
    sock.close()
    assert "handshake not completed within 10 s" in daemon.output()


# ------------------------------------------------------------------------------------------ jobs


@pytest.mark.slow
def test_a_backup_in_flight_at_sigterm_resumes_at_the_next_start(tmp_path: Path) -> None:
    d = br.start_daemon(tmp_path / "data", backends=3, faults=["--item-delay-s", "0.4"])
    try:
        c = d.connect()
        br.create_file_repo(c, "repo", tmp_path / "repo")
        br.run(c, "CREATE DATABASE sd")
        br.run(c, br.create_member_sql("sd"))
        br.run(c, f"INSERT INTO sd.sr_member VALUES {br.member_values(1, 60)}")
        source = br.digests(c, "sd", ["sr_member"])
        br.run(c, "BACKUP DATABASE sd SNAPSHOT sd_l TO repo")
        row = br.wait_state(c, "BACKUP", "sd_l", ("UPLOADING",) + br.DONE, db="sd", timeout=30)
        assert row["State"] == "UPLOADING", row
        sigterm_and_time(d, "backup in UPLOADING")
        d.start()
        c = d.connect()
        br.wait_finished(c, "BACKUP", "sd_l", db="sd", timeout=60)
        ts = br.latest_timestamp(c, "repo", "sd_l")
        br.restore(c, f'RESTORE SNAPSHOT sd_l FROM repo DATABASE sd AS sd_copy PROPERTIES ("backup_timestamp" = "{ts}")',
                   "sd_l", db="sd_copy")
        assert br.digests(c, "sd_copy", ["sr_member"]) == source
    finally:
        br.stop_daemon(d)


# ------------------------------------------------------------------------------------------ watchdog

HANGING_STOP = """
import sys, threading, time
from pathlib import Path
from sqlfront.daemon import _start_watchdog, setup_logging
setup_logging(Path(sys.argv[1]))
threading.Thread(target=time.sleep, args=(120,), name="stuck-thread").start()  # not a daemon thread
_start_watchdog(0.5)
"""


def test_the_watchdog_ends_a_stop_that_hangs(tmp_path: Path) -> None:
    """The last resort: if a clean stop has not ended in time, the process exits 1 naming what still runs."""
    started = time.monotonic()
    r = subprocess.run([sys.executable, "-c", HANGING_STOP, str(tmp_path)], cwd=Path(__file__).resolve().parents[2],
                       capture_output=True, text=True, timeout=30)
    took = time.monotonic() - started
    assert r.returncode == 1, r.stderr
    assert took < 10, took
    assert "shutdown did not end within 0.5 s; exiting anyway (threads still running: " in r.stderr, r.stderr
    assert "stuck-thread" in r.stderr
    assert "stuck-thread" in (tmp_path / "daemon.log").read_text()
