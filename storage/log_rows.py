"""The event log's rows: their fields, their canonical bytes (the one definition that the CRC, the hash chain
and the audit all use), the keyed chain over them, their verification and their streaming read.

Pure of files: everything here reads a SQLite connection it is given or bytes; the log itself is
storage/eventlog.py, its key, chain record and head anchor storage/log_trust.py.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import sqlite3
import struct
import zlib
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from events import codec

GENESIS_HASH = bytes(32)
READ_CHUNK = 1000  # rows per query while streaming: bounds memory and lock hold time
MAX_SEQ = 2**63 - 1

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


class LogIntegrityError(Exception):
    """The log, its key, its chain record or its anchor is damaged or was altered: nothing in it is trusted.

    seq names the first bad row when there is one (for a removed tail: the first missing row).
    """

    def __init__(self, path: str, reason: str, seq: int | None = None, kind: str = "tampered") -> None:
        self.path, self.reason, self.seq = path, reason, seq
        self.kind = kind  # 'tampered' (altered or removed), 'damaged' (unreadable bytes), 'unreadable' (I/O)
        where = f"first bad row seq={seq}: " if seq is not None else ""
        super().__init__(f"event log {path}: {where}{reason}")

    def refusal(self, data_dir: str | os.PathLike[str]) -> str:
        """The one line a refusing daemon prints."""
        return f"refusing to start: {self}; run `starbackup audit --data-dir {os.fspath(data_dir)}` for details"


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


def chain_hash(prev_hash: bytes, rb: bytes, key: bytes | None = None) -> bytes:
    """SHA-256 of prev_hash + row bytes; HMAC-SHA256 under the log's key for keyed rows."""
    if key is None:
        return hashlib.sha256(prev_hash + rb).digest()
    return _hmac_sha256(key).digest(prev_hash, rb)


class _HmacSha256:
    """HMAC-SHA256 (RFC 2104) with the key's inner and outer pad states hashed once: each row then costs a
    copy of each instead of a new HMAC context (1.4 us instead of 3.2 us a row here; start-up does one per
    folded row)."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        block = key.ljust(64, b"\x00")  # keys are 32 bytes: never longer than SHA-256's block
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def digest(self, *parts: bytes) -> bytes:
        inner = self._inner.copy()
        for part in parts:
            inner.update(part)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


@functools.lru_cache(maxsize=16)
def _hmac_sha256(key: bytes) -> _HmacSha256:
    if len(key) > 64:  # pragma: no cover - our keys are KEY_SIZE bytes
        raise ValueError("HMAC key longer than a SHA-256 block")
    return _HmacSha256(key)


def chain_mac(key: bytes, keyed_from: int) -> bytes:
    return hmac.digest(key, b"SBCH\x01" + struct.pack(">q", keyed_from), "sha256")


def snapshot_mac(key: bytes, sb: bytes) -> bytes:
    return hmac.digest(key, b"SBSM\x01" + sb, "sha256")


def anchor_mac(key: bytes, log_name: str, seq: int, hash_: bytes) -> bytes:
    return hmac.digest(key, b"SBHD\x01" + _blob(log_name.encode()) + struct.pack(">q", seq) + _blob(hash_), "sha256")


@dataclass(frozen=True)
class Trust:
    """How rows are chained: plain SHA-256 below keyed_from, HMAC-SHA256 under key from it on."""

    key: bytes | None = None
    keyed_from: int = MAX_SEQ  # no key: every row is plain (a log from before keyed chains, not adopted)

    def key_for(self, seq: int) -> bytes | None:
        return self.key if seq >= self.keyed_from else None


PLAIN = Trust()


def row_reason(row: Row, trust: Trust) -> str | None:
    """Whether one row is what was stored: its CRC, and its hash recomputed from its own prev_hash."""
    seq, stream, stream_seq, type_, version, time_ns, payload, flags, key, crc, prev_hash, hash_ = row
    try:
        rb = row_bytes(seq, stream, stream_seq, type_, version, time_ns, flags, bytes(payload), key)
    except (AttributeError, TypeError, struct.error, OverflowError):
        return "crc mismatch"  # a column holds a value of the wrong type: not the bytes we stored
    if zlib.crc32(rb) != crc:
        return "crc mismatch"
    if not isinstance(prev_hash, bytes) or chain_hash(prev_hash, rb, trust.key_for(seq)) != hash_:
        return "hash chain broken"
    return None


class ChainVerifier:
    """Checks rows in seq order, one at a time, so verification streams in constant memory.

    Memory grows only with the number of distinct streams (their last stream_seq). Started after a
    snapshot (start_seq > 0, start_hash the hash of row start_seq), a stream's first row in the tail may
    have any stream_seq: the rows before it are not read.
    """

    def __init__(self, trust: Trust = PLAIN, start_seq: int = 0, start_hash: bytes = GENESIS_HASH) -> None:
        self.trust = trust
        self.count = 0
        self.head_seq = start_seq
        self.head_hash = start_hash
        self._from_genesis = start_seq == 0
        self._stream_seqs: dict[str, int] = {}

    def check(self, row: Row) -> str | None:
        """None and advance if row is good; otherwise the reason, without advancing."""
        reason = row_reason(row, self.trust)
        if reason is not None:
            return reason
        seq, stream, stream_seq, _, _, _, _, _, _, _, prev_hash, hash_ = row
        if seq != self.head_seq + 1 or prev_hash != self.head_hash:
            return "hash chain broken"
        last = self._stream_seqs.get(stream)
        if last is None and not self._from_genesis:
            last = stream_seq - 1
        if stream_seq != (last or 0) + 1:
            return "stream sequence gap"
        self._stream_seqs[stream] = stream_seq
        self.count += 1
        self.head_seq, self.head_hash = seq, hash_
        return None


def verify_rows(rows: Iterable[Row], trust: Trust = PLAIN) -> VerifyReport:
    v = ChainVerifier(trust)
    for row in rows:
        reason = v.check(row)
        if reason is not None:
            return VerifyReport(False, v.count, v.head_seq, v.head_hash, bad_seq=row[0], reason=reason)
    return VerifyReport(True, v.count, v.head_seq, v.head_hash)


def row_at(conn: sqlite3.Connection, seq: int) -> Row | None:
    row: Row | None = conn.execute(f"SELECT {ROW_COLUMNS} FROM events WHERE seq = ?", (seq,)).fetchone()
    return row


def iter_rows(
    conn: sqlite3.Connection, after_seq: int = 0, until_seq: int | None = None,
    lock: AbstractContextManager[Any] | None = None,
) -> Iterator[Row]:
    """Raw rows in seq order, READ_CHUNK at a time (keyset pagination: no cursor held between chunks)."""
    guard = lock if lock is not None else nullcontext()
    until = MAX_SEQ if until_seq is None else until_seq
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


def check_new_event(ev: NewEvent) -> NewEvent:
    # Assert at the boundary (TigerStyle): a bad event must never reach the chain.
    if not isinstance(ev, NewEvent):
        raise TypeError(f"expected NewEvent, got {type(ev).__name__}")
    if not (isinstance(ev.stream, str) and ev.stream and isinstance(ev.type, str) and ev.type):
        raise ValueError(f"event needs a non-empty stream and type: {ev!r}")
    if not (type(ev.version) is int and ev.version >= 1):
        raise ValueError(f"event version must be an int >= 1: {ev!r}")
    if not (type(ev.time_ns) is int and 0 <= ev.time_ns < MAX_SEQ):
        raise ValueError(f"event time_ns must be a non-negative int64: {ev!r}")
    if ev.key is not None and not isinstance(ev.key, str):
        raise ValueError(f"event key must be a str or None: {ev!r}")
    return ev
