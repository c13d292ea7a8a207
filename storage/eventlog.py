"""The durable, tamper-evident, append-only event log (design §4) on one SQLite file.

Durability: WAL + synchronous=FULL, so a COMMIT has reached the disk when `append` returns.
Tamper evidence: every row carries a CRC and a SHA-256 chain over its canonical bytes; triggers refuse
UPDATE and DELETE; `verify` recomputes both while streaming. Throughput: concurrent `append` calls are
group-committed (leader/follower): one fsync covers every caller that queued while the previous
transaction was committing.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import struct
import threading
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from events import codec

GENESIS_HASH = bytes(32)
SCHEMA_VERSION = 1
READ_CHUNK = 1000  # rows per query while streaming: bounds memory and lock hold time
MAX_GROUP_EVENTS = 50_000  # a leader stops taking queued calls beyond this (one call is never split)
KEY_LOOKUP_CHUNK = 500  # below SQLite's default host-parameter limit
SNAPSHOTS_KEPT = 3
_MAX_SEQ = 2**63 - 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events(
    seq INTEGER PRIMARY KEY, stream TEXT NOT NULL, stream_seq INTEGER NOT NULL, type TEXT NOT NULL,
    version INTEGER NOT NULL, time_ns INTEGER NOT NULL, payload BLOB NOT NULL, flags INTEGER NOT NULL,
    idem_key TEXT UNIQUE NULL, crc INTEGER NOT NULL, prev_hash BLOB NOT NULL, hash BLOB NOT NULL,
    UNIQUE(stream, stream_seq));
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'event log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'event log is append-only'); END;
CREATE TABLE IF NOT EXISTS snapshots(
    seq INTEGER PRIMARY KEY, time_ns INTEGER NOT NULL, payload BLOB NOT NULL, flags INTEGER NOT NULL,
    head_hash BLOB NOT NULL, crc INTEGER NOT NULL);
"""
# Column order shared by INSERT, streaming reads and ChainVerifier.check.
ROW_COLUMNS = "seq, stream, stream_seq, type, version, time_ns, payload, flags, idem_key, crc, prev_hash, hash"
Row = tuple[int, str, int, str, int, int, bytes, int, str | None, int, bytes, bytes]


@dataclass(frozen=True)
class NewEvent:
    stream: str
    type: str
    version: int
    data: dict[str, Any]
    time_ns: int
    key: str | None = None


@dataclass(frozen=True)
class StoredEvent:
    seq: int
    stream: str
    stream_seq: int
    type: str
    version: int
    time_ns: int
    data: dict[str, Any]
    key: str | None
    hash: bytes


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    count: int  # rows that verified before the first bad one (all rows when ok)
    head_seq: int  # last good row (0 if none)
    head_hash: bytes  # hash of the last good row: compare with a head recorded elsewhere to catch truncation
    bad_seq: int | None = None
    reason: str | None = None  # 'crc mismatch' | 'hash chain broken' | 'stream sequence gap'


# --- canonical bytes: the single definition that CRC, hash chain and audit all use -----------------------


def _blob(b: bytes) -> bytes:
    return struct.pack(">I", len(b)) + b


def row_bytes(
    seq: int, stream: str, stream_seq: int, type_: str, version: int, time_ns: int, flags: int,
    payload: bytes, key: str | None,
) -> bytes:
    """Length-prefixed, fixed-order encoding of a row's stored fields.

    seq is included so that renumbering a row is caught by its own CRC, not only by the chain.
    """
    key_part = b"\x00" if key is None else b"\x01" + _blob(key.encode())
    return b"".join((
        b"SBEV\x01", struct.pack(">qq", seq, stream_seq), _blob(stream.encode()), _blob(type_.encode()),
        struct.pack(">qqq", version, time_ns, flags), key_part, _blob(payload),
    ))


def snapshot_bytes(seq: int, time_ns: int, flags: int, head_hash: bytes, payload: bytes) -> bytes:
    return b"".join((b"SBSN\x01", struct.pack(">qqq", seq, time_ns, flags), _blob(head_hash), _blob(payload)))


def chain_hash(prev_hash: bytes, rb: bytes) -> bytes:
    return hashlib.sha256(prev_hash + rb).digest()


class ChainVerifier:
    """Checks rows in seq order, one at a time, so verification streams in constant memory.

    Memory grows only with the number of distinct streams (their last stream_seq).
    """

    def __init__(self) -> None:
        self.count = 0
        self.head_seq = 0
        self.head_hash = GENESIS_HASH
        self._stream_seqs: dict[str, int] = {}

    def check(self, row: Row) -> str | None:
        """None and advance if row is good; otherwise the reason, without advancing."""
        seq, stream, stream_seq, type_, version, time_ns, payload, flags, key, crc, prev_hash, hash_ = row
        try:
            rb = row_bytes(seq, stream, stream_seq, type_, version, time_ns, flags, bytes(payload), key)
        except (AttributeError, TypeError, struct.error):
            return "crc mismatch"  # a column holds a value of the wrong type: not the bytes we stored
        if zlib.crc32(rb) != crc:
            return "crc mismatch"
        if seq != self.head_seq + 1 or prev_hash != self.head_hash or chain_hash(prev_hash, rb) != hash_:
            return "hash chain broken"
        if stream_seq != self._stream_seqs.get(stream, 0) + 1:
            return "stream sequence gap"
        self._stream_seqs[stream] = stream_seq
        self.count += 1
        self.head_seq, self.head_hash = seq, hash_
        return None


def verify_rows(rows: Iterable[Row]) -> VerifyReport:
    v = ChainVerifier()
    for row in rows:
        reason = v.check(row)
        if reason is not None:
            return VerifyReport(False, v.count, v.head_seq, v.head_hash, bad_seq=row[0], reason=reason)
    return VerifyReport(True, v.count, v.head_seq, v.head_hash)


def iter_rows(
    conn: sqlite3.Connection, after_seq: int = 0, until_seq: int | None = None,
    lock: AbstractContextManager[Any] | None = None,
) -> Iterator[Row]:
    """Raw rows in seq order, READ_CHUNK at a time (keyset pagination: no cursor held between chunks)."""
    guard = lock if lock is not None else nullcontext()
    until = _MAX_SEQ if until_seq is None else until_seq
    last = after_seq
    while True:
        with guard:
            chunk = conn.execute(
                f"SELECT {ROW_COLUMNS} FROM events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
                (last, until, READ_CHUNK),
            ).fetchall()
        yield from chunk
        if len(chunk) < READ_CHUNK:
            return
        last = chunk[-1][0]


def stored_event(row: Row) -> StoredEvent:
    seq, stream, stream_seq, type_, version, time_ns, payload, flags, key, _crc, _prev, hash_ = row
    return StoredEvent(seq, stream, stream_seq, type_, version, time_ns, codec.decode(payload, flags), key, hash_)


# --- the log -----------------------------------------------------------------------------------------------


@dataclass(eq=False)
class _Request:
    """One append() call waiting in the group-commit queue."""

    events: list[tuple[NewEvent, bytes, int]]  # (event, stored payload, flags), encoded by the caller
    done: bool = False  # set by the leader whose group held this request, under _cond
    committed: bool = False
    placed: list[tuple[int, int, bytes, int]] = field(default_factory=list)  # (seq, stream_seq, hash, index)
    error: BaseException | None = None


class EventLog:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        # The writer is used only by the group-commit leader or under _write_lock, whichever thread that is.
        self._wconn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._configure_writer()
        # A second connection for reads: in WAL mode readers never wait for a commit's fsync.
        self._rconn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._rconn.execute("PRAGMA busy_timeout=10000")
        self._rconn.execute("PRAGMA query_only=1")
        self._read_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._cond = threading.Condition()  # guards _queue, _leader_active, _closed
        self._queue: list[_Request] = []
        self._leader_active = False
        self._closed = False
        self._transactions = 0

    def _configure_writer(self) -> None:
        c = self._wconn
        c.execute("PRAGMA busy_timeout=10000")
        mode = c.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise RuntimeError(f"could not put {self.path} in WAL mode (got {mode})")
        c.execute("PRAGMA synchronous=FULL")  # fsync the WAL on every commit: durable on return
        c.execute("BEGIN IMMEDIATE")
        try:
            found = c.execute("PRAGMA user_version").fetchone()[0]
            if found > SCHEMA_VERSION:
                raise RuntimeError(f"{self.path} has schema {found}, newer than this code ({SCHEMA_VERSION})")
            for stmt in _SCHEMA.split(";\n"):
                if stmt.strip():
                    c.execute(stmt)
            c.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise

    @property
    def transactions(self) -> int:
        """Committed append transactions since open: fewer than append() calls proves group commit."""
        return self._transactions

    # --- append with group commit ---

    def append(self, events: Sequence[NewEvent]) -> list[StoredEvent]:
        """Store events all-or-nothing, durably; skip (and do not return) events whose key exists."""
        if not events:
            return []
        # Validate and encode in the caller's thread: parallel with other callers, off the leader's path,
        # and a bad payload fails only its own call.
        req = _Request([(ev, *codec.encode(_checked(ev).data)) for ev in events])
        with self._cond:
            if self._closed:
                raise RuntimeError("event log is closed")
            self._queue.append(req)
            while not req.done and self._leader_active:
                self._cond.wait()  # a leader is committing: our events go into the next group
            if req.done:
                return _result(req)
            # Become leader: commit our call plus whatever else is queued, up to the group bound.
            self._leader_active = True
            group = self._take_group(req)
        try:
            with self._write_lock:
                self._commit_isolating_failures(group)
        finally:
            with self._cond:
                for r in group:
                    if not r.committed and r.error is None:  # the leader was interrupted (BaseException)
                        r.error = RuntimeError("group commit interrupted; events not stored")
                    r.done = True
                self._leader_active = False
                self._cond.notify_all()
        if not req.done:  # pragma: no cover - defensive: our request was always in the group
            raise AssertionError("leader did not commit its own request")
        return _result(req)

    def _take_group(self, own: _Request) -> list[_Request]:
        # The leader's own call always goes in (so it never waits for itself); calls left over by the bound
        # stay queued and one of their waiting owners leads the next group.
        self._queue.remove(own)
        group, n = [own], len(own.events)
        while self._queue and n + len(self._queue[0].events) <= MAX_GROUP_EVENTS:
            r = self._queue.pop(0)
            group.append(r)
            n += len(r.events)
        return group

    def _commit_isolating_failures(self, group: list[_Request]) -> None:
        try:
            self._commit(group)
        except Exception as exc:
            if len(group) == 1:
                group[0].error = exc
                return
            # One caller's events must not fail the others: retry each call in its own transaction.
            for r in group:
                r.placed = []
                try:
                    self._commit([r])
                except Exception as one_exc:
                    r.error = one_exc

    def _commit(self, group: list[_Request]) -> None:
        c = self._wconn
        c.execute("BEGIN IMMEDIATE")  # take the write lock now: head and stream maxima cannot move under us
        try:
            rows = self._place(group)
            c.executemany(f"INSERT INTO events ({ROW_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
            c.execute("COMMIT")
        except BaseException:
            if c.in_transaction:
                c.execute("ROLLBACK")
            for r in group:
                r.placed = []
            raise
        self._transactions += 1
        for r in group:
            r.committed = True

    def _place(self, group: list[_Request]) -> list[Row]:
        """Assign seq, stream_seq, CRC and hash to every new event of the group, in queue order."""
        c = self._wconn
        top = c.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = top if top is not None else (0, GENESIS_HASH)
        seen = self._existing_keys([ev.key for r in group for ev, _, _ in r.events if ev.key is not None])
        next_sseq: dict[str, int] = {}
        rows: list[Row] = []
        for r in group:
            for i, (ev, payload, flags) in enumerate(r.events):
                if ev.key is not None:
                    if ev.key in seen:
                        continue  # idempotent: this event is already in the log (or earlier in this group)
                    seen.add(ev.key)
                if ev.stream not in next_sseq:
                    got = c.execute("SELECT MAX(stream_seq) FROM events WHERE stream = ?", (ev.stream,)).fetchone()
                    next_sseq[ev.stream] = (got[0] or 0) + 1
                sseq = next_sseq[ev.stream]
                next_sseq[ev.stream] = sseq + 1
                seq += 1
                rb = row_bytes(seq, ev.stream, sseq, ev.type, ev.version, ev.time_ns, flags, payload, ev.key)
                h = chain_hash(prev, rb)
                rows.append((seq, ev.stream, sseq, ev.type, ev.version, ev.time_ns, payload, flags, ev.key,
                             zlib.crc32(rb), prev, h))
                r.placed.append((seq, sseq, h, i))
                prev = h
        return rows

    def _existing_keys(self, keys: list[str]) -> set[str]:
        found: set[str] = set()
        for i in range(0, len(keys), KEY_LOOKUP_CHUNK):
            part = keys[i:i + KEY_LOOKUP_CHUNK]
            marks = ",".join("?" * len(part))
            sql = f"SELECT idem_key FROM events WHERE idem_key IN ({marks})"
            found.update(k for (k,) in self._wconn.execute(sql, part))
        return found

    # --- reads ---

    def read(self, after_seq: int = 0, until_seq: int | None = None) -> Iterator[StoredEvent]:
        """Events with after_seq < seq <= until_seq, streamed in chunks (constant memory)."""
        for row in iter_rows(self._rconn, after_seq, until_seq, self._read_lock):
            yield stored_event(row)

    def head(self) -> tuple[int, bytes]:
        with self._read_lock:
            top = self._rconn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        return (top[0], top[1]) if top is not None else (0, GENESIS_HASH)

    def verify(self, until_seq: int | None = None) -> VerifyReport:
        return verify_rows(iter_rows(self._rconn, 0, until_seq, self._read_lock))

    # --- snapshots (a cache of folded state: may be pruned, never trusted without its CRC and head) ---

    def save_snapshot(self, seq: int, data: dict[str, Any], time_ns: int) -> None:
        payload, flags = codec.encode(data)
        with self._write_lock:
            c = self._wconn
            c.execute("BEGIN IMMEDIATE")
            try:
                head_hash = self._hash_at(c, seq)
                crc = zlib.crc32(snapshot_bytes(seq, time_ns, flags, head_hash, payload))
                c.execute("INSERT OR REPLACE INTO snapshots VALUES (?,?,?,?,?,?)",
                          (seq, time_ns, payload, flags, head_hash, crc))
                c.execute("DELETE FROM snapshots WHERE seq NOT IN "
                          "(SELECT seq FROM snapshots ORDER BY seq DESC LIMIT ?)", (SNAPSHOTS_KEPT,))
                c.execute("COMMIT")
            except BaseException:
                if c.in_transaction:
                    c.execute("ROLLBACK")
                raise

    @staticmethod
    def _hash_at(c: sqlite3.Connection, seq: int) -> bytes:
        if seq == 0:
            return GENESIS_HASH
        got = c.execute("SELECT hash FROM events WHERE seq = ?", (seq,)).fetchone()
        if got is None:
            raise ValueError(f"cannot snapshot at seq {seq}: no such event")
        return bytes(got[0])

    def latest_snapshot(self) -> tuple[int, dict[str, Any]] | None:
        """The newest snapshot whose CRC holds and whose head hash matches this log; None if none does."""
        with self._read_lock:
            snaps = self._rconn.execute(
                "SELECT seq, time_ns, payload, flags, head_hash, crc FROM snapshots ORDER BY seq DESC"
            ).fetchall()
            for seq, time_ns, payload, flags, head_hash, crc in snaps:
                if zlib.crc32(snapshot_bytes(seq, time_ns, flags, head_hash, payload)) != crc:
                    continue  # damaged: fall back to an older one (or a full replay)
                try:
                    if self._hash_at(self._rconn, seq) != head_hash:
                        continue  # taken from another history: not a fold of this log
                except ValueError:
                    continue
                return seq, codec.decode(payload, flags)
        return None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            while self._leader_active or self._queue:  # let queued callers commit before we close
                self._cond.wait()
        with self._write_lock, self._read_lock:
            self._wconn.close()
            self._rconn.close()

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _checked(ev: NewEvent) -> NewEvent:
    # Assert at the boundary (TigerStyle): a bad event must never reach the chain.
    if not isinstance(ev, NewEvent):
        raise TypeError(f"expected NewEvent, got {type(ev).__name__}")
    if not (isinstance(ev.stream, str) and ev.stream and isinstance(ev.type, str) and ev.type):
        raise ValueError(f"event needs a non-empty stream and type: {ev!r}")
    if not (type(ev.version) is int and ev.version >= 1):
        raise ValueError(f"event version must be an int >= 1: {ev!r}")
    if not (type(ev.time_ns) is int and 0 <= ev.time_ns < _MAX_SEQ):
        raise ValueError(f"event time_ns must be a non-negative int64: {ev!r}")
    if ev.key is not None and not isinstance(ev.key, str):
        raise ValueError(f"event key must be a str or None: {ev!r}")
    return ev


def _result(req: _Request) -> list[StoredEvent]:
    if req.error is not None:
        raise req.error
    # Return the decoded stored form (not the caller's dict): exactly what read() will give back later.
    out = []
    for seq, sseq, h, i in req.placed:
        ev, payload, flags = req.events[i]
        out.append(StoredEvent(seq, ev.stream, sseq, ev.type, ev.version, ev.time_ns,
                               codec.decode(payload, flags), ev.key, h))
    return out
