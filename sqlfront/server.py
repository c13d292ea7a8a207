"""The MySQL-protocol server: mysql-mimic's, with a bounded handshake and connections that can all be closed.

- A connection that does not complete its handshake (and authentication) within `HANDSHAKE_TIMEOUT_S`
  is closed: a half-open connection or a client that never answers holds nothing for long.
- The server knows its connections, so that shutdown can interrupt their statements and close them
  (`close_connections`) instead of waiting for their clients.
"""

from __future__ import annotations

import asyncio
import inspect
import io
import logging
import struct
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

from mysql_mimic import MysqlServer, packets
from mysql_mimic.charset import CharacterSet
from mysql_mimic.connection import Connection
from mysql_mimic.constants import KillKind
from mysql_mimic.control import TooManyConnections
from mysql_mimic.errors import ErrorCode, MysqlError
from mysql_mimic.prepared import PreparedStatement
from mysql_mimic.results import ResultColumn, ResultSet
from mysql_mimic.stream import ConnectionClosed, MysqlStream
from mysql_mimic.types import Capabilities, read_uint_4, read_uint_len

from sqlfront import sqltext
from sqlfront.auth import peer_host
from sqlfront.interrupt import interrupt_session
from sqlfront.refusal import invalid_text

log = logging.getLogger("starbackup.server")

HANDSHAKE_TIMEOUT_S = 10.0  # as MySQL's connect_timeout (10 s)


MAX_PAYLOAD = 0xFFFFFF  # a MySQL packet carries at most 16 MB - 1; a longer payload is split over several


class StarStream:
    """mysql-mimic's stream, framing payloads of 16 MB and more as MySQL does (several packets, the last one
    shorter than 16 MB - 1, possibly empty). mysql-mimic's batched writers (`write_many` for result headers,
    `write_text_rows` for rows) put the length into the 24-bit field unchecked: a longer payload ran into
    the sequence number, the client saw a protocol error and the connection was lost. (mysql-mimic's
    stream is compiled and cannot be subclassed: this wraps one and hands everything else to it.)"""

    drain_every = 4 * 1024 * 1024  # StarConnection drains a result's rows at least this often

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.inner = MysqlStream(reader, writer)
        self.reader, self.writer = reader, writer

    def __getattr__(self, name: str) -> Any:  # read, write, drain, reset_seq, start_tls, seq
        return getattr(self.inner, name)

    async def read(self) -> bytes:
        # An empty packet where a command is due: mysql-mimic indexed its first byte (IndexError, a 1105 with
        # Python text and a traceback); as COM_SLEEP (0x00) it is the "Unsupported command" clients expect.
        data: bytes = await self.inner.read()
        return data or b"\x00"

    @property
    def buffered(self) -> int:
        return len(self.inner._buffer)

    def write_many(self, packets: Sequence[bytes]) -> None:
        for data in packets:
            self._frame(data)

    def _frame(self, data: bytes) -> None:
        header = bytearray(4)
        view = memoryview(data)
        buffer = self.inner._buffer
        while True:
            chunk = view[:MAX_PAYLOAD]
            view = view[MAX_PAYLOAD:]
            struct.pack_into("<I", header, 0, len(chunk) | (next(self.inner.seq) << 24))
            buffer.extend(header)
            buffer.extend(chunk)
            if len(chunk) < MAX_PAYLOAD:
                return

    def write_text_rows(self, rows: Sequence[Sequence[Any]], columns: Sequence[ResultColumn]) -> int:
        buffer = self.inner._buffer
        start, seq_value = len(buffer), self.inner.seq.value
        count: int = self.inner.write_text_rows(rows, columns)
        if len(buffer) - start >= MAX_PAYLOAD:  # some row may be too long for one packet: frame them again
            del buffer[start:]
            self.inner.seq.value = seq_value
            for row in rows:
                self._frame(packets.make_text_resultset_row(row, columns))
        return count


class BadHandshake(Exception):
    """The client's handshake was late or malformed: the client's mistake, logged in one line."""


class HandshakeTimeout(BadHandshake):
    pass


def parse_com_stmt_execute(capabilities: Capabilities, client_charset: CharacterSet, data: bytes,
                           get_stmt: Callable[[int], PreparedStatement]) -> packets.ComStmtExecute:
    """mysql-mimic's COM_STMT_EXECUTE parser, binding the parameters as escaped literals at the markers
    `sqltext.placeholders` finds. mysql-mimic's put a string parameter between quotes as it was (so
    `x'; DROP DATABASE d; --` ran the DROP) and substituted with re.sub (a backslash in a value was read as
    a group reference)."""
    reader = io.BytesIO(data)
    stmt = get_stmt(read_uint_4(reader))
    use_cursor, param_count_available = packets._read_cursor_flags(reader)
    read_uint_4(reader)  # iteration count, always 1
    count = stmt.num_params
    if Capabilities.CLIENT_QUERY_ATTRIBUTES in capabilities and (stmt.num_params > 0 or param_count_available):
        count = read_uint_len(reader)
    params = packets._read_params(capabilities, client_charset, reader, count, stmt.param_buffers) if count else []
    try:
        sql = sqltext.bind_parameters(stmt.sql, [value for _, value in params[: stmt.num_params]])
    except sqltext.SqlTextError as e:
        raise MysqlError(e.message, code=e.code) from None
    attrs = {k: v for k, v in params[stmt.num_params :] if k is not None}
    return packets.ComStmtExecute(sql=sql, query_attrs=attrs, stmt=stmt, use_cursor=use_cursor)


packets.parse_com_stmt_execute = parse_com_stmt_execute  # mysql-mimic's Connection looks it up at each call


def _read_str_null(reader: io.BytesIO) -> bytes:
    data = bytearray()
    while True:
        byte = reader.read(1)
        if not byte:
            raise ValueError("a NUL-terminated string runs past the end of the packet")
        if byte == b"\x00":
            return bytes(data)
        data += byte


def _pure_packets() -> Any:
    """mysql-mimic's packet parsers as plain Python (its packets.py, which ships next to the compiled
    module), reading NUL-terminated strings with `_read_str_null`."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("sqlfront._mimic_packets", Path(mimic_packets_path()))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.read_str_null = _read_str_null  # type: ignore[attr-defined]  # replaced on our private copy
    return module


def mimic_packets_path() -> str:
    import mysql_mimic

    return str(Path(mysql_mimic.__file__).parent / "packets.py")


def _checked_parser(name: str, pure: Any) -> Callable[..., Any]:
    """mysql-mimic's compiled read_str_null loops forever at the end of a packet without a NUL: a handshake
    response whose user name lacks its NUL (sent before any login), a COM_FIELD_LIST or COM_CHANGE_USER
    packet of one byte froze the event loop, every client with it, and SIGTERM (its handler runs in the
    loop). The plain-Python parser reads the packet first and raises ValueError where the compiled one
    would spin (a malformed handshake, or 1835); the compiled one then parses what is known to end."""
    compiled = getattr(packets, name)
    checking = getattr(pure, name)

    def parse(*args: Any, **kwargs: Any) -> Any:
        checking(*args, **kwargs)
        return compiled(*args, **kwargs)

    return parse


def _guard_nul_terminated_strings() -> None:
    import mysql_mimic.connection as mimic_connection

    pure = _pure_packets()
    for name in ("parse_handshake_response", "parse_handshake_response_41", "parse_com_change_user",
                 "parse_com_field_list"):
        setattr(packets, name, _checked_parser(name, pure))
    mimic_connection.parse_com_field_list = packets.parse_com_field_list  # bound by name there


_guard_nul_terminated_strings()


class StarConnection(Connection):
    handshake_timeout_s: float = HANDSHAKE_TIMEOUT_S

    def ok(self, **kwargs: Any) -> bytes:
        """An OK packet; without an explicit count it reports the rows the last statement loaded (mysql-mimic's
        COM_STMT_EXECUTE answered a prepared INSERT with 0 affected rows)."""
        if "affected_rows" not in kwargs:
            kwargs["affected_rows"] = getattr(self.session, "last_affected_rows", 0)
            if kwargs["affected_rows"]:
                self.session.last_affected_rows = 0
        return cast(bytes, super().ok(**kwargs))

    # COM_INIT_DB, COM_STMT_PREPARE, COM_STMT_EXECUTE (its string parameters) and COM_FIELD_LIST decode their
    # text too: invalid UTF-8 there is the same 1064 as in a COM_QUERY, not an internal error with Python's
    # codec message.

    async def handle_init_db(self, data: bytes) -> None:
        try:
            await super().handle_init_db(data)
        except UnicodeDecodeError as e:
            raise invalid_text(data, e) from None

    async def handle_stmt_execute(self, data: bytes) -> None:
        try:
            await super().handle_stmt_execute(data)
        except UnicodeDecodeError as e:
            raise invalid_text(data, e) from None

    async def handle_field_list(self, data: bytes) -> None:
        try:
            await super().handle_field_list(data)
        except UnicodeDecodeError as e:
            raise invalid_text(data, e) from None

    async def handle_stmt_prepare(self, data: bytes) -> None:
        """mysql-mimic's, counting the `?` markers outside strings and comments (sqltext.placeholders)."""
        try:
            sql = self.client_charset.decode(data)
        except UnicodeDecodeError as e:
            raise invalid_text(data, e) from None
        stmt = PreparedStatement(stmt_id=next(self.prepared_stmt_seq), sql=sql,
                                 num_params=len(sqltext.placeholders(sql)))
        self.prepared_stmts[stmt.stmt_id] = stmt
        for packet in self.com_stmt_prepare_response(stmt):
            await self.stream.write(packet, drain=False)
        await self.stream.drain()

    async def write_text_resultset(self, result_set: ResultSet) -> None:
        """mysql-mimic's, draining every few MB: it buffered a whole result before its first write, so a
        result of millions of rows was held twice in memory (rows and bytes) before the client saw any."""
        if not isinstance(result_set.rows, (list, tuple)):
            await super().write_text_resultset(result_set)
            return
        header = [packets.make_column_count(capabilities=self.capabilities, column_count=len(result_set.columns))]
        for column in result_set.columns:
            header.append(packets.make_column_definition_41(server_charset=self.server_charset, name=column.name,
                                                            column_type=column.type,
                                                            character_set=column.character_set))
        if not self.deprecate_eof():
            header.append(self.eof())
        self.stream.write_many(header)
        rows, batch = result_set.rows, 1000
        for i in range(0, len(rows), batch):
            self.stream.write_text_rows(rows[i : i + batch], result_set.columns)
            if isinstance(self.stream, StarStream) and self.stream.buffered >= StarStream.drain_every:
                await self.stream.drain()
        await self.stream.write(self.ok_or_eof(affected_rows=len(rows)), drain=False)
        await self.stream.drain()

    async def connection_phase(self) -> None:
        # mysql-mimic answers a failed handshake with a "Bad handshake" (1043) error packet, and the server
        # closes the socket.
        try:
            async with asyncio.timeout(self.handshake_timeout_s):
                await super().connection_phase()
        except TimeoutError:
            raise HandshakeTimeout(f"handshake not completed within {self.handshake_timeout_s:g} s") from None
        except (ConnectionClosed, ConnectionError, asyncio.IncompleteReadError):
            raise
        except Exception as e:  # a packet we cannot parse
            raise BadHandshake(f"malformed handshake ({type(e).__name__})") from None


_COMMAND_HANDLERS = ("handle_query", "handle_stmt_prepare", "handle_stmt_send_long_data", "handle_stmt_execute",
                     "handle_stmt_fetch", "handle_stmt_reset", "handle_stmt_close", "handle_ping", "handle_change_user",
                     "handle_reset_connection", "handle_debug", "handle_init_db", "handle_field_list")


def _guard_malformed(cls: type) -> None:
    """A command packet too short or inconsistent to parse (a truncated COM_STMT_EXECUTE) is the client's
    mistake: 1835 `Malformed communication packet.` and one log line, not mysql-mimic's 1105 with Python's
    text (`index out of range`) and a traceback. COM_STMT_SEND_LONG_DATA and COM_STMT_CLOSE have no reply
    in MySQL: an error there is logged, not sent (mysql-mimic sent one, and the client read it as the
    answer to its next statement, every later answer one statement late)."""
    for name in _COMMAND_HANDLERS:
        own = cls.__dict__.get(name)

        async def guarded(self: Any, data: bytes, _own: Any = own, _name: str = name) -> None:
            # the base class's handler is looked up at each call: daemon.py replaces Connection.handle_query
            handler = _own if _own is not None else getattr(Connection, _name)
            try:
                await handler(self, data)
            except (IndexError, KeyError, ValueError, TypeError, struct.error, EOFError, MysqlError) as e:
                if isinstance(e, UnicodeDecodeError):
                    raise
                silent = _name in ("handle_stmt_send_long_data", "handle_stmt_close")
                if isinstance(e, MysqlError) and not silent:
                    raise
                log.info("connection %s: %s for %s (%s)", getattr(self, "connection_id", "?"),
                         "refused, without reply," if silent else "malformed packet", _name[len("handle_"):],
                         e.msg if isinstance(e, MysqlError) else type(e).__name__)
                if not silent:
                    raise MysqlError("Malformed communication packet.", code=ErrorCode.MALFORMED_PACKET) from None

        setattr(cls, name, guarded)


_guard_malformed(StarConnection)


class StarServer(MysqlServer):
    def __init__(self, *, handshake_timeout_s: float = HANDSHAKE_TIMEOUT_S, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.handshake_timeout_s = handshake_timeout_s
        self.connections: set[Connection] = set()
        self._tasks: set[asyncio.Task[Any]] = set()

    async def _client_connected_cb(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """mysql-mimic's, with our connection class, its peer address for refusals, and bookkeeping."""
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        peer = writer.get_extra_info("peername")
        peer_host.set(str(peer[0]) if isinstance(peer, tuple) and peer else "localhost")
        stream = StarStream(reader, writer)
        connection_id: int | None = None
        try:
            if inspect.iscoroutinefunction(self.session_factory):
                session = await self.session_factory()
            else:
                session = self.session_factory()
            connection = StarConnection(stream=stream, session=session, control=self.control,
                                        server_capabilities=self.capabilities,
                                        identity_provider=self.identity_provider, ssl=self.ssl)
            connection.handshake_timeout_s = self.handshake_timeout_s
            try:
                connection_id = await self.control.add(connection)
            except TooManyConnections:
                await stream.write(connection.error(msg="Too many connections", code=ErrorCode.CON_COUNT_ERROR))
                return
            connection.connection_id = connection_id
            self.connections.add(connection)
            try:
                await connection.start()
            finally:
                self.connections.discard(connection)
        except BadHandshake as e:
            log.info("connection %s from %s closed: %s", connection_id, peer_host.get(), e)
        except (ConnectionClosed, ConnectionError, asyncio.IncompleteReadError) as e:
            log.debug("connection %s from %s went away: %r", connection_id, peer_host.get(), e)
        except Exception:
            log.exception("connection %s failed", connection_id)
            try:
                await stream.write(packets.make_error(capabilities=self.capabilities))
            except Exception:
                pass
        finally:
            writer.close()
            if connection_id is not None:
                await self.control.remove(connection_id)
            if task is not None:
                self._tasks.discard(task)

    async def close_connections(self, timeout: float) -> int:
        """Interrupt every connection's statement, close every connection and wait (bounded) for their tasks
        to end. Returns how many connections were open."""
        connections = list(self.connections)
        for connection in connections:
            interrupt_session(connection.session)
            connection.kill(KillKind.CONNECTION)  # cancels its task; the client gets "Session was killed"
        pending = {t for t in self._tasks if not t.done()}
        if pending:
            _, still = await asyncio.wait(pending, timeout=timeout)
            for task in still:  # e.g. a task in a write to a client that reads nothing
                task.cancel()
            if still:
                await asyncio.wait(still, timeout=1.0)
        return len(connections)
