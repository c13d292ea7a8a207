"""The long-lived daemon: one frontend actor, N backend worker actors, and the MySQL-protocol server."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import re
import signal
import sys
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mysql_mimic import packets
from mysql_mimic.connection import Connection
from mysql_mimic.constants import DEFAULT_SERVER_CAPABILITIES
from mysql_mimic.types import Capabilities, ServerStatus

from actors.backend import BackendWorker, StorageFactory, TabletStoreFactory
from actors.fe_table import FRONTEND_TABLE
from actors.frontend import Frontend
from actors.mv_refresher import MvRefresher, spawn_mv_refresher
from actors.repo_checker import spawn_repo_checker
from actors.runtime import PykkaRuntime
from events.commands import StartJobs
from events.password import native_password_hash
from events.queries import Backends, Config
from events.state import DEFAULT_CONFIG, ENGINE_DEFAULTS
from sqlfront.auth import RootIdentity
from sqlfront.interrupt import interrupt_session
from sqlfront.refusal import invalid_text, quiet_mimic_refusals
from sqlfront.server import HANDSHAKE_TIMEOUT_S, StarServer
from sqlfront.session import ClusterClient, StarSession, off_loop
from sqlfront.sqltext import split_statements

log = logging.getLogger("starbackup.daemon")

DAEMON_KEYS = {"root_password"}
PASSWORD_ENV = "STARBACKUP_ROOT_PASSWORD"
SHUTDOWN_DEADLINE_S = 9.0  # after SIGTERM the process is gone by then, whatever clients and threads do
CONNECTIONS_CLOSE_S = 3.0  # of which closing client connections (their statements interrupted) may take this


class ConfigError(Exception):
    pass


def read_config_file(path: str) -> dict[str, str]:
    """`key = value` lines; '#' starts a comment, except inside a value in double or single quotes
    (`root_password = "a#b"`). Unknown keys are refused, naming the line; no error echoes a value."""
    values: dict[str, str] = {}
    for lineno, raw in enumerate(Path(path).read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line.split("#", 1)[0]:
            word = re.match(r"[A-Za-z0-9_.]*", line).group(0)[:60]  # type: ignore[union-attr]
            raise ConfigError(f"{path}:{lineno}: expected 'key = value', got a line starting {word!r}")
        key, rest = (part.strip() for part in line.split("=", 1))
        settings = {**DEFAULT_CONFIG, **ENGINE_DEFAULTS}
        if key not in settings and key not in DAEMON_KEYS:
            known = ", ".join(sorted([*settings, *DAEMON_KEYS]))
            raise ConfigError(f"{path}:{lineno}: unknown configuration key '{key[:60]}' (known keys: {known})")
        value = _config_value(path, lineno, key, rest)
        if key in settings:
            try:
                int(value)
            except ValueError:
                raise ConfigError(f"{path}:{lineno}: '{key}' needs an integer, got {value!r}") from None
        values[key] = value
    return values


def _config_value(path: str, lineno: int, key: str, rest: str) -> str:
    if rest[:1] in ('"', "'"):
        close = rest.find(rest[0], 1)
        after = rest[close + 1 :].strip() if close > 0 else ""
        if close < 0 or (after and not after.startswith("#")):
            raise ConfigError(f"{path}:{lineno}: the value of '{key}' has an unterminated quote or text after "
                              "its closing quote")
        return rest[1:close]
    value = rest.split("#", 1)[0].strip()
    if key == "root_password" and not value and "#" in rest:
        # `root_password = #secret` would silently mean no password at all
        raise ConfigError(f"{path}:{lineno}: root_password is empty because '#' starts a comment; quote a "
                          "password that holds '#' (root_password = \"...\")")
    return value


def root_password_hash(cli_password: str | None, password_file: str | None, config: dict[str, str],
                       config_path: str | None = None) -> tuple[str, list[str]]:
    """root's password hash from, in order of precedence, --root-password or --root-password-file, the
    environment variable STARBACKUP_ROOT_PASSWORD, the config file's root_password; '' for none. The clear
    password is dropped at once (also from the environment children would inherit). Returns warnings."""
    warnings: list[str] = []
    from_config = config.pop("root_password", None)
    from_env = os.environ.pop(PASSWORD_ENV, None)
    if from_env is not None:
        scrub_process_block("env", lambda entry: entry.startswith(PASSWORD_ENV.encode() + b"="),
                            keep=len(PASSWORD_ENV) + 1)
    if cli_password is not None:
        warnings.append("--root-password on the command line is visible to every local user (ps, "
                        f"/proc/<pid>/cmdline); use --root-password-file or ${PASSWORD_ENV} instead")
        password = cli_password
    elif password_file is not None:
        path = Path(password_file)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ConfigError(f"{password_file}: the root password file is not UTF-8 text") from None
        lines = text.splitlines()
        password = lines[0] if lines else ""  # the first line, without its line ending
        if not password:
            warnings.append(f"{password_file} holds no password (its first line is empty): root has no password")
        if _readable_by_others(path):
            warnings.append(f"{password_file} can be read by other users (chmod 600 it)")
    elif from_env is not None:
        password = from_env
        if not password:
            warnings.append(f"${PASSWORD_ENV} is set but empty: root has no password"
                            + (" (the config file's root_password is not used)" if from_config else ""))
    else:
        password = from_config or ""
        if password and config_path is not None and _readable_by_others(Path(config_path)):
            warnings.append(f"{config_path} holds root_password and can be read by other users (chmod 600 it)")
    return native_password_hash(password), warnings


def scrub_process_block(block: str, matches: Callable[[bytes], bool], keep: int = 0) -> int:
    """Overwrite with 'x' (after its first `keep` bytes) every entry of the process's initial argument or
    environment block ("arg" or "env") that `matches`: that block is what /proc/<pid>/cmdline (ps) and
    /proc/<pid>/environ show, and neither unsetenv nor a new sys.argv changes it (MySQL's own programs
    overwrite a password given as an argument the same way). Best effort, Linux only; returns how many
    entries were overwritten."""
    try:
        stat = Path("/proc/self/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()  # from field 3 (state) on
        first = {"arg": 48, "env": 50}[block] - 3
        start, end = int(fields[first]), int(fields[first + 1])
        done = 0
        with open("/proc/self/mem", "r+b", buffering=0) as mem:
            mem.seek(start)
            data = mem.read(end - start)
            offset = 0
            for entry in data.split(b"\0"):
                if entry and matches(entry) and len(entry) > keep:
                    mem.seek(start + offset + keep)
                    mem.write(b"x" * (len(entry) - keep))
                    done += 1
                offset += len(entry) + 1
        return done
    except (OSError, ValueError, IndexError):
        log.debug("could not scrub the process's %s block", block, exc_info=True)
        return 0


def _readable_by_others(path: Path) -> bool:
    return bool(path.stat().st_mode & 0o077)


async def _handle_query_each_answered(self: Connection, data: bytes) -> None:
    """COM_QUERY, answering every statement of a multi-statement string (mysql-mimic answers only the last
    one): each result but the last carries SERVER_MORE_RESULTS_EXISTS, as MySQL does; the first error ends
    the string. OK packets also report the rows an INSERT loaded, which mysql-mimic leaves at 0."""
    try:
        com_query = packets.parse_com_query(capabilities=self.capabilities, client_charset=self.client_charset, data=data)
    except UnicodeDecodeError as e:
        raise invalid_text(data, e) from None
    statements = await off_loop(split_statements, com_query.sql) or [com_query.sql]
    if len(statements) > 1 and Capabilities.CLIENT_MULTI_STATEMENTS not in self.capabilities:
        statements = [com_query.sql]  # the session splits and runs them, and answers with the last result
    base_flags = self.status_flags
    try:
        for i, stmt in enumerate(statements):
            more = i < len(statements) - 1
            result_set = await self.query(stmt, com_query.query_attrs)
            self.status_flags = base_flags | (ServerStatus.SERVER_MORE_RESULTS_EXISTS if more else 0)
            if not result_set:
                affected = getattr(self.session, "last_affected_rows", 0)
                self.session.last_affected_rows = 0
                await self.stream.write(self.ok(affected_rows=affected))
            else:
                await self.write_text_resultset(result_set)
            self.status_flags = base_flags
    finally:
        self.status_flags = base_flags


Connection.handle_query = _handle_query_each_answered


class DataDirLock:
    """One daemon per data directory: two writers on one event log would break the hash chain."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "daemon.lock"
        self.fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ConfigError(
                f"data directory {self.path.parent} is in use by another starbackup daemon (pid {holder}); "
                "stop it first or choose another --data-dir"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        os.fsync(fd)
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class Daemon:
    def __init__(self, data_dir: str, host: str = "127.0.0.1", port: int = 9030, backends: int = 3,
                 root_password_hash: str = "", config: dict[str, str] | None = None,
                 handshake_timeout_s: float = HANDSHAKE_TIMEOUT_S,
                 storage_factory: StorageFactory | None = None,
                 tablet_store_factory: TabletStoreFactory | None = None,
                 runtime_factory: Callable[[], PykkaRuntime] | None = None) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.host = host
        self.port = port
        self.backends = backends
        self.root_password_hash = root_password_hash  # mysql_native_password's form: the password is not kept
        self.config = config or {}
        self.handshake_timeout_s = handshake_timeout_s
        # Seams for test equipment (tests/support/faulty_serve.py): the backends' repository storage, their
        # tablet stores and the actor runtime; None means the real ones.
        self.storage_factory = storage_factory
        self.tablet_store_factory = tablet_store_factory
        self.runtime_factory = runtime_factory
        self.runtime: PykkaRuntime | None = None
        self.server: StarServer | None = None
        self.mv_refresher: MvRefresher | None = None
        self.sessions: weakref.WeakSet[StarSession] = weakref.WeakSet()  # to interrupt them all at shutdown
        self.lock = DataDirLock(self.data_dir)

    def start_cluster(self) -> ClusterClient:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.lock.acquire()
        quiet_mimic_refusals()

        runtime = (self.runtime_factory or PykkaRuntime)()
        self.runtime = runtime
        fe = Frontend(self.data_dir, self.backends, root_password_hash=self.root_password_hash, config=self.config,
                      handlers=FRONTEND_TABLE)
        runtime.spawn("fe", fe)
        client = ClusterClient(runtime, str(self.data_dir))
        backends: list[dict[str, Any]] = client.read(Backends())  # also proves the frontend recovered
        for b in backends:
            runtime.spawn(f"be{b['id']}", BackendWorker(b["id"], self.data_dir, client.read(Config()),
                                                        self.storage_factory, self.tablet_store_factory))
        client.cmd(StartJobs())
        spawn_repo_checker(runtime, client)
        self.mv_refresher = spawn_mv_refresher(runtime, client)
        return client

    async def serve(self) -> None:
        client = self.start_cluster()
        server = StarServer(
            session_factory=lambda: self._track(StarSession(client)),
            identity_provider=RootIdentity(self.root_password_hash),
            capabilities=DEFAULT_SERVER_CAPABILITIES | Capabilities.CLIENT_MULTI_STATEMENTS
            | Capabilities.CLIENT_MULTI_RESULTS,
            handshake_timeout_s=self.handshake_timeout_s,
        )
        self.server = server
        await server.start_server(host=self.host, port=self.port)
        log.info("starbackup listening on %s:%d, data in %s, %d backends", self.host, self.port, self.data_dir,
                 self.backends)
        print(f"starbackup ready on {self.host}:{self.port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(_quiet_disconnects)

        def on_signal(sig: signal.Signals) -> None:
            if not stop.is_set():
                log.info("%s received: stopping", sig.name)
                _start_watchdog(SHUTDOWN_DEADLINE_S)  # the last resort, should anything below hang
                stop.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal, sig)
        await stop.wait()
        await self.stop_serving()

    def _track(self, session: StarSession) -> StarSession:
        self.sessions.add(session)
        return session

    async def stop_serving(self) -> None:
        """Stop accepting, interrupt running statements, close client connections, stop the actors. Jobs in
        flight stop where they are; their progress is in the log, and the next start resumes them."""
        started = time.monotonic()
        stopped = threading.Event()
        # Until the actors are stopped, keep interrupting every DuckDB statement: a session's statement that
        # outlived its connection, and a timed MV refresh (its pool is joined by stop_all).
        threading.Thread(target=self._keep_interrupting, args=(stopped,), name="stop-interrupter",
                         daemon=True).start()
        try:
            if self.server is not None:
                self.server.close()
                closed = await self.server.close_connections(timeout=CONNECTIONS_CLOSE_S)
                log.info("closed %d client connection(s) in %.2f s", closed, time.monotonic() - started)
            self.shutdown()
        finally:
            stopped.set()
        log.info("stopped in %.2f s", time.monotonic() - started)

    def _keep_interrupting(self, stopped: threading.Event) -> None:
        while True:
            for session in list(self.sessions):
                interrupt_session(session)
            refresher_engine = getattr(self.mv_refresher, "engine", None)
            if refresher_engine is not None:
                try:
                    refresher_engine.con.interrupt()
                except Exception:  # closed already
                    pass
            if stopped.wait(0.2):
                return

    def shutdown(self) -> None:
        if self.runtime is not None:
            self.runtime.stop_all()
            self.runtime = None
        self.lock.release()


def _start_watchdog(deadline_s: float) -> threading.Timer:
    """Exit the process (code 1, naming what still runs) if a clean stop has not ended within deadline_s.
    Everything acknowledged is already durable in the event log (synchronous=FULL), so this loses nothing
    but the snapshot a clean stop would have saved."""

    def expire() -> None:
        running = sorted(t.name for t in threading.enumerate() if t is not threading.current_thread() and t.is_alive())
        log.error("shutdown did not end within %g s; exiting anyway (threads still running: %s)", deadline_s,
                  ", ".join(running) or "none")
        for handler in logging.getLogger().handlers:
            handler.flush()
        os._exit(1)

    timer = threading.Timer(deadline_s, expire)
    timer.name = "shutdown-watchdog"
    timer.daemon = True
    timer.start()
    return timer


def _quiet_disconnects(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """A client that connects and leaves during the handshake (a port probe) is not worth a traceback."""
    exc = context.get("exception")
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, asyncio.CancelledError)):
        log.debug("client went away: %r", exc)
        return
    loop.default_exception_handler(context)


def setup_logging(data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    handlers: list[logging.Handler] = [logging.FileHandler(data_dir / "daemon.log"), logging.StreamHandler(sys.stderr)]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", handlers=handlers)
    for noisy in ("mysql_mimic", "pykka"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
