"""The long-lived daemon: one frontend actor, N backend worker actors, and the MySQL-protocol server."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mysql_mimic import MysqlServer, packets
from mysql_mimic.auth import IdentityProvider, NativePasswordAuthPlugin, User
from mysql_mimic.connection import Connection
from mysql_mimic.constants import DEFAULT_SERVER_CAPABILITIES
from mysql_mimic.types import Capabilities, ServerStatus

from actors.backend import BackendWorker, StorageFactory, TabletStoreFactory
from actors.frontend import Frontend
from actors.messages import Read
from actors.mv_refresher import spawn_mv_refresher
from actors.repo_checker import spawn_repo_checker
from actors.runtime import PykkaRuntime
from events.state import DEFAULT_CONFIG, ENGINE_DEFAULTS
from sqlfront.cluster import ClusterClient
from sqlfront.session import StarSession, load_modules
from sqlfront.split import split_statements

log = logging.getLogger("starbackup.daemon")

DAEMON_KEYS = {"root_password"}


class ConfigError(Exception):
    pass


def read_config_file(path: str) -> dict[str, str]:
    """`key = value` lines; '#' starts a comment. Unknown keys are refused, naming the line."""
    values: dict[str, str] = {}
    for lineno, raw in enumerate(Path(path).read_text().splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if "=" not in line:
            raise ConfigError(f"{path}:{lineno}: expected 'key = value', got {raw.strip()!r}")
        key, value = (part.strip() for part in line.split("=", 1))
        settings = {**DEFAULT_CONFIG, **ENGINE_DEFAULTS}
        if key not in settings and key not in DAEMON_KEYS:
            known = ", ".join(sorted([*settings, *DAEMON_KEYS]))
            raise ConfigError(f"{path}:{lineno}: unknown configuration key '{key}' (known keys: {known})")
        if key in settings:
            try:
                int(value)
            except ValueError:
                raise ConfigError(f"{path}:{lineno}: '{key}' needs an integer, got {value!r}") from None
        values[key] = value.strip('"')
    return values


class RootIdentity(IdentityProvider):
    """Only `root`, with the configured password (empty by default)."""

    def __init__(self, password: str) -> None:
        self.auth_string = NativePasswordAuthPlugin.create_auth_string(password) if password else None

    async def get_user(self, username: str) -> User | None:
        if username != "root":
            return None
        return User(name="root", auth_string=self.auth_string, auth_plugin=NativePasswordAuthPlugin.name)


async def _handle_query_each_answered(self: Connection, data: bytes) -> None:
    """COM_QUERY, answering every statement of a multi-statement string (mysql-mimic answers only the last
    one): each result but the last carries SERVER_MORE_RESULTS_EXISTS, as MySQL does; the first error ends
    the string. OK packets also report the rows an INSERT loaded, which mysql-mimic leaves at 0."""
    com_query = packets.parse_com_query(capabilities=self.capabilities, client_charset=self.client_charset, data=data)
    statements = split_statements(com_query.sql) or [com_query.sql]
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
                self.session.last_affected_rows = 0  # type: ignore[attr-defined]
                await self.stream.write(self.ok(affected_rows=affected))
            else:
                await self.write_text_resultset(result_set)
            self.status_flags = base_flags
    finally:
        self.status_flags = base_flags


Connection.handle_query = _handle_query_each_answered  # type: ignore[method-assign]


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


def load_frontend_modules() -> None:
    """Import the modules that register the frontend's commands and reads."""
    import actors.fe_commands  # noqa: F401

    for optional in ("actors.fe_objects", "actors.fe_repo", "actors.fe_jobs"):
        try:
            __import__(optional)
        except ModuleNotFoundError as e:
            if e.name != optional:
                raise


class Daemon:
    def __init__(self, data_dir: str, host: str = "127.0.0.1", port: int = 9030, backends: int = 3,
                 root_password: str = "", config: dict[str, str] | None = None,
                 storage_factory: StorageFactory | None = None,
                 tablet_store_factory: TabletStoreFactory | None = None,
                 runtime_factory: Callable[[], PykkaRuntime] | None = None) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.host = host
        self.port = port
        self.backends = backends
        self.root_password = root_password
        self.config = config or {}
        # Seams for test equipment (tests/support/faulty_serve.py): the backends' repository storage, their
        # tablet stores and the actor runtime; None means the real ones.
        self.storage_factory = storage_factory
        self.tablet_store_factory = tablet_store_factory
        self.runtime_factory = runtime_factory
        self.runtime: PykkaRuntime | None = None
        self.lock = DataDirLock(self.data_dir)

    def start_cluster(self) -> ClusterClient:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.lock.acquire()
        load_modules()
        load_frontend_modules()

        runtime = (self.runtime_factory or PykkaRuntime)()
        self.runtime = runtime
        fe = Frontend(self.data_dir, self.backends, config=self.config)
        runtime.spawn("fe", fe)
        client = ClusterClient(runtime, str(self.data_dir))
        backends: list[dict[str, Any]] = client.ask(Read("backends"))  # also proves the frontend recovered
        for b in backends:
            runtime.spawn(f"be{b['id']}", BackendWorker(b["id"], self.data_dir, client.read("config"),
                                                        self.storage_factory, self.tablet_store_factory))
        client.ask(Read("start_jobs"))
        spawn_repo_checker(runtime, client)
        spawn_mv_refresher(runtime, client)
        return client

    async def serve(self) -> None:
        client = self.start_cluster()
        server = MysqlServer(
            session_factory=lambda: StarSession(client),
            identity_provider=RootIdentity(self.root_password),
            capabilities=DEFAULT_SERVER_CAPABILITIES | Capabilities.CLIENT_MULTI_STATEMENTS
            | Capabilities.CLIENT_MULTI_RESULTS,
        )
        await server.start_server(host=self.host, port=self.port)
        log.info("starbackup listening on %s:%d, data in %s, %d backends", self.host, self.port, self.data_dir,
                 self.backends)
        print(f"starbackup ready on {self.host}:{self.port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(_quiet_disconnects)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("stopping")
        server.close()
        self.shutdown()

    def shutdown(self) -> None:
        if self.runtime is not None:
            self.runtime.stop_all()
            self.runtime = None
        self.lock.release()


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
