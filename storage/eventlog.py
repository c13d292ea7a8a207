"""The durable, tamper-evident, append-only event log (design §4) on one SQLite file.

Durability: WAL + synchronous=FULL, so a COMMIT has reached the disk when `append` returns.
Tamper evidence: every row carries a CRC and a hash chained to the previous row over its canonical
bytes; triggers refuse UPDATE and DELETE; `verify` recomputes both while streaming. Rows are chained with
HMAC-SHA256 under a key kept beside the log (`eventlog.key`, 32 random bytes, mode 0600) from the seq that the
`chain` record names (1 for a log created by this code; the head + 1 for an older log adopted once), and
with plain SHA-256 before it, so rewriting a row and re-chaining after it needs the key. The head is
anchored outside the rows (`<log>.head`: head seq, its hash, an HMAC of both), rewritten (in place, two
slots; fdatasynced at most once a second) after every committed append, so deleting the newest rows is
found too. Opening a log checks the key, the chain
record and the anchor (`LogIntegrityError` if any fails); `read_verified` checks every row it yields.
Throughput: concurrent `append` calls are group-committed (leader/follower): one fsync covers every
caller that queued while the previous transaction was committing.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import hmac
import logging
import os
import secrets
import sqlite3
import struct
import threading
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from events import codec
from storage.fsutil import link_new_private_file, replace_private_file

log = logging.getLogger("starbackup.eventlog")

GENESIS_HASH = bytes(32)
SCHEMA_VERSION = 2  # 2: snapshots.mac and the chain record (keyed hash chain)
ANCHOR_SYNC_INTERVAL_S = 1.0  # the anchor is made durable at most this often (see AnchorFile)
KEY_SUFFIX = ".key"  # eventlog.sqlite3 -> eventlog.key: the HMAC key of the chain, the snapshots and the anchor
KEY_SIZE = 32
ANCHOR_SUFFIX = ".head"  # eventlog.sqlite3 -> eventlog.head
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
CREATE TABLE IF NOT EXISTS chain(
    id INTEGER PRIMARY KEY CHECK (id = 1), keyed_from INTEGER NOT NULL, mac BLOB NOT NULL);
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
    keyed_from: int = _MAX_SEQ  # no key: every row is plain (a log from before keyed chains, not adopted)

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


# --- the key, the chain record and the anchor: what lets a reader trust the rows and the head -------------


def key_path(log_path: str | os.PathLike[str]) -> str:
    # One key per log (not per directory): a new log next to another one's key is not mistaken for a log
    # whose chain record was deleted.
    return os.path.splitext(os.path.abspath(os.fspath(log_path)))[0] + KEY_SUFFIX


def anchor_path(log_path: str | os.PathLike[str]) -> str:
    return os.path.splitext(os.path.abspath(os.fspath(log_path)))[0] + ANCHOR_SUFFIX


def read_key(log_path: str) -> bytes | None:
    """The chain key beside log_path, None if there is none; LogIntegrityError if it is unusable."""
    path = key_path(log_path)
    try:
        with open(path, "rb") as f:
            key = f.read(KEY_SIZE + 1)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise LogIntegrityError(log_path, f"cannot read the chain key {path}: {e.strerror}", kind="unreadable") from None
    if len(key) != KEY_SIZE:
        raise LogIntegrityError(log_path, f"the chain key {path} is damaged (expected {KEY_SIZE} bytes)", kind="damaged")
    return key


def new_key() -> bytes:
    """A new log's key. Tests that need two runs to write byte-identical logs replace it (monkeypatch)."""
    return secrets.token_bytes(KEY_SIZE)


def _create_key(log_path: str, key: bytes) -> None:
    # Linked last, after the chain record and the anchor exist, so a key file next to a log always means
    # both were written. A key file already there is an error (the log had none when this started).
    path = key_path(log_path)
    if not link_new_private_file(path, key):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), path)


def read_chain(conn: sqlite3.Connection, log_path: str, key: bytes) -> Trust:
    """The verified chain record; LogIntegrityError if it is missing or was altered."""
    try:
        got = conn.execute("SELECT keyed_from, mac FROM chain WHERE id = 1").fetchone()
    except sqlite3.OperationalError:
        got = None  # table dropped
    if got is None:
        raise LogIntegrityError(log_path, f"the chain record is missing but the key {key_path(log_path)} exists "
                                          "(deleted, or the file is damaged)")
    keyed_from, mac = got
    if type(keyed_from) is not int or keyed_from < 1 or not isinstance(mac, bytes) \
            or not hmac.compare_digest(chain_mac(key, keyed_from), mac):
        raise LogIntegrityError(log_path, "the chain record was altered or damaged (its MAC does not verify)")
    return Trust(key, keyed_from)


def has_chain_record(conn: sqlite3.Connection) -> int | None:
    """keyed_from of the chain record, unverified (None if there is none): for a log whose key is missing."""
    try:
        got = conn.execute("SELECT keyed_from FROM chain WHERE id = 1").fetchone()
    except sqlite3.OperationalError:
        return None
    if got is None:
        return None
    return got[0] if type(got[0]) is int else 1  # unreadable: assume every row is keyed (the cautious side)


@dataclass(frozen=True)
class Anchor:
    seq: int
    hash: bytes


# The anchor file holds two fixed slots, 4 KiB apart (never one disk sector or file system block), each
# magic + head seq + head hash + HMAC. An update overwrites the hot slot in place (see AnchorFile): no
# rename, no size change, so no metadata to journal, and a write torn by a power loss leaves the other,
# last synced slot valid.
ANCHOR_SLOT = 4096
_ANCHOR = struct.Struct(">4sq32s32s")
ANCHOR_MAGIC = b"SBA1"


def _anchor_slot(key: bytes, log_name: str, seq: int, hash_: bytes) -> bytes:
    return _ANCHOR.pack(ANCHOR_MAGIC, seq, hash_, anchor_mac(key, log_name, seq, hash_))


def _valid_slots(raw: bytes, key: bytes, log_name: str) -> list[tuple[int, Anchor]]:
    """(slot index, anchor) of every slot whose MAC verifies."""
    out = []
    for i in (0, 1):
        part = raw[i * ANCHOR_SLOT: i * ANCHOR_SLOT + _ANCHOR.size]
        if len(part) != _ANCHOR.size:
            continue
        magic, seq, hash_, mac = _ANCHOR.unpack(part)
        if magic == ANCHOR_MAGIC and seq >= 0 and hmac.compare_digest(anchor_mac(key, log_name, seq, hash_), mac):
            out.append((i, Anchor(seq, hash_)))
    return out


def _read_anchor_file(log_path: str) -> bytes:
    path = anchor_path(log_path)
    try:
        with open(path, "rb") as f:
            return f.read(ANCHOR_SLOT + _ANCHOR.size)
    except FileNotFoundError:
        raise LogIntegrityError(log_path, f"the head anchor {path} is missing (it is written after every append: "
                                          "removed, or the log was replaced)") from None
    except OSError as e:
        raise LogIntegrityError(log_path, f"cannot read the head anchor {path}: {e.strerror}",
                                kind="unreadable") from None


def read_anchor(log_path: str, key: bytes) -> Anchor:
    """The head recorded outside the rows (the newer valid slot); LogIntegrityError if it is missing or no
    slot verifies."""
    valid = _valid_slots(_read_anchor_file(log_path), key, os.path.basename(log_path))
    if not valid:
        raise LogIntegrityError(log_path, f"the head anchor {anchor_path(log_path)} does not verify (altered or "
                                          "damaged)")
    return max(valid, key=lambda v: v[1].seq)[1]


def write_anchor(log_path: str, key: bytes, seq: int, hash_: bytes) -> None:
    """Create (or replace) the anchor with both slots at seq: temp file, fsync, rename, fsync the directory."""
    path = anchor_path(log_path)
    slot = _anchor_slot(key, os.path.basename(log_path), seq, hash_)
    replace_private_file(path, slot + bytes(ANCHOR_SLOT - len(slot)) + slot)


class AnchorFile:
    """The open log's anchor, updated after every committed append (under the log's write lock).

    Each update overwrites the hot slot in place. It reaches the page cache at once, which a `kill -9`
    does not lose, so after a process crash the anchor is the newest committed head. It is made durable
    (fdatasync) at most every `sync_interval_s` and at close, and only then do the slots swap roles: the
    cold slot was synced when it was last hot and is not written until the next sync, so a power loss
    can tear at most the hot slot, and the cold one then holds a head at most one interval old, which the
    check accepts (the log must be at least as long as its anchor). An fdatasync per commit cost half the
    append rate (two flushes per commit instead of one) to narrow only that power-loss window.
    """

    def __init__(self, log_path: str, key: bytes, sync_interval_s: float | None = None) -> None:
        self._key, self._name = key, os.path.basename(log_path)
        self._fd = os.open(anchor_path(log_path), os.O_RDWR)
        os.fdatasync(self._fd)  # whatever a killed process left in the page cache is durable from here on
        valid = _valid_slots(os.pread(self._fd, ANCHOR_SLOT + _ANCHOR.size, 0), key, self._name)
        newest = max(valid, key=lambda v: v[1].seq)[0] if valid else 1
        self._hot = 1 - newest  # the newest valid slot stays cold (intact) until the next sync
        self._sync_interval_s = ANCHOR_SYNC_INTERVAL_S if sync_interval_s is None else sync_interval_s
        self._synced_at = time.monotonic()
        self._dirty = False

    def update(self, seq: int, hash_: bytes) -> None:
        os.pwrite(self._fd, _anchor_slot(self._key, self._name, seq, hash_), self._hot * ANCHOR_SLOT)
        self._dirty = True
        if time.monotonic() - self._synced_at >= self._sync_interval_s:
            self.sync()

    def sync(self) -> None:
        if self._dirty and self._fd >= 0:
            os.fdatasync(self._fd)
            self._dirty = False
            self._hot ^= 1  # the slot just synced becomes the intact one
        self._synced_at = time.monotonic()

    def close(self) -> None:
        if self._fd >= 0:
            self.sync()
            os.close(self._fd)
            self._fd = -1


def row_at(conn: sqlite3.Connection, seq: int) -> Row | None:
    return conn.execute(f"SELECT {ROW_COLUMNS} FROM events WHERE seq = ?", (seq,)).fetchone()


def check_anchor(conn: sqlite3.Connection, log_path: str, trust: Trust, anchor: Anchor) -> None:
    """The anchored row exists, is what was stored, and has the anchored hash (the log may be longer)."""
    if anchor.seq == 0:
        return
    row = row_at(conn, anchor.seq)
    if row is None:
        top = conn.execute("SELECT MAX(seq) FROM events").fetchone()[0] or 0
        raise LogIntegrityError(
            log_path, f"the log ends at seq {top} but its head anchor records seq {anchor.seq}: "
                      "the newest rows were removed", seq=top + 1 if top < anchor.seq else anchor.seq)
    reason = row_reason(row, trust)
    if reason is not None:
        raise LogIntegrityError(log_path, reason, seq=anchor.seq)
    if row[11] != anchor.hash:
        raise LogIntegrityError(log_path, "the row's hash is not the one its head anchor records "
                                          "(rows were rewritten)", seq=anchor.seq)


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
    """The log. Opening it establishes trust or raises LogIntegrityError (and opens nothing):

    - a key beside the log: the chain record must verify under it, the anchor must exist and verify, and
      the anchored row must exist, be what was stored and carry the anchored hash;
    - no key and no rows: a new log; a key, the chain record (keyed from seq 1) and the anchor are made;
    - no key and rows that were never keyed: a log from before keyed chains; it is verified in full once
      and adopted (keyed from its head + 1), with a warning in the daemon's log;
    - no key but keyed rows: refused (the key was removed).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        # The writer is used only by the group-commit leader or under _write_lock, whichever thread that is.
        self._wconn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._rconn: sqlite3.Connection | None = None
        try:
            self._configure_writer()
            # A second connection for reads: in WAL mode readers never wait for a commit's fsync.
            self._rconn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._rconn.execute("PRAGMA busy_timeout=10000")
            self._rconn.execute("PRAGMA query_only=1")
            self.trust = self._establish_trust()
            self._anchor = AnchorFile(self.path, self.key)
        except BaseException as e:
            self._wconn.close()
            if self._rconn is not None:
                self._rconn.close()
            if isinstance(e, sqlite3.DatabaseError):  # truncated, garbage, not SQLite: damaged
                raise LogIntegrityError(self.path, f"the file cannot be read as an event log (SQLite: {e})",
                                        kind="damaged") from None
            raise
        self._read_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._cond = threading.Condition()  # guards _queue, _leader_active, _closed
        self._queue: list[_Request] = []
        self._leader_active = False
        self._closed = False
        self._transactions = 0

    @property
    def key(self) -> bytes:
        assert self.trust.key is not None  # an open log always has its key
        return self.trust.key

    def _establish_trust(self) -> Trust:
        c = self._reader()
        key = read_key(self.path)
        top = c.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        head_seq, head_hash = (int(top[0]), top[1]) if top is not None else (0, GENESIS_HASH)
        if not isinstance(head_hash, bytes):
            head_hash = b""  # not a hash we wrote: the full verification below names the row
        if key is not None:
            trust = read_chain(c, self.path, key)
            check_anchor(c, self.path, trust, read_anchor(self.path, key))
            return trust
        keyed_from = has_chain_record(c)
        if keyed_from is not None and head_seq >= keyed_from:
            raise LogIntegrityError(self.path, f"the chain key {key_path(self.path)} is missing: rows from seq "
                                               f"{keyed_from} are chained with it (restore the key file)")
        if head_seq > 0:
            # Written before keyed chains (or an adoption interrupted before its key was linked): verify every
            # row once, then key the chain from the next row on.
            report = verify_rows(iter_rows(c))
            if not report.ok:
                raise LogIntegrityError(self.path, f"{report.reason} (while adopting a log from before keyed "
                                                   "chains)", seq=report.bad_seq)
            if report.head_seq != head_seq:  # pragma: no cover - verify_rows reads to the head
                raise LogIntegrityError(self.path, "log changed while it was adopted")
            log.warning("event log %s has no chain key: a log from before keyed chains; verified its %d rows and "
                        "adopted it (rows from seq %d on are chained with %s)", self.path, head_seq, head_seq + 1,
                        key_path(self.path))
        return self._make_key(head_seq, head_hash)

    def _make_key(self, head_seq: int, head_hash: bytes) -> Trust:
        key = new_key()
        trust = Trust(key, head_seq + 1)
        c = self._wconn
        c.execute("BEGIN IMMEDIATE")
        try:
            c.execute("INSERT OR REPLACE INTO chain VALUES (1, ?, ?)", (trust.keyed_from, chain_mac(key, trust.keyed_from)))
            # Snapshots of the adopted history are trusted as they were before (CRC and head hash): MAC them.
            snaps = c.execute("SELECT seq, time_ns, payload, flags, head_hash, crc FROM snapshots").fetchall()
            for snap in snaps:
                seq, time_ns, payload, flags, shash, _crc = snap
                # the check start-up makes, under the plain chain (a stale or damaged snapshot stays unMAC'd)
                trusted = snapshot_reason(c, (*snap, None), PLAIN) is None
                mac = snapshot_mac(key, snapshot_bytes(seq, time_ns, flags, shash, payload)) if trusted else None
                c.execute("UPDATE snapshots SET mac = ? WHERE seq = ?", (mac, seq))
            c.execute("COMMIT")
        except BaseException:
            if c.in_transaction:
                c.execute("ROLLBACK")
            raise
        write_anchor(self.path, key, head_seq, head_hash)
        _create_key(self.path, key)
        return trust

    def _reader(self) -> sqlite3.Connection:
        assert self._rconn is not None
        return self._rconn

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
            columns = {row[1] for row in c.execute("PRAGMA table_info(snapshots)")}
            if "mac" not in columns:  # schema 1 -> 2: snapshots carry an HMAC under the log's key
                c.execute("ALTER TABLE snapshots ADD COLUMN mac BLOB NULL")
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
        if rows:
            try:
                self._anchor.update(rows[-1][0], rows[-1][11])
            except OSError as e:  # the events are committed: say so loudly, but do not fail their callers
                log.error("could not rewrite the head anchor of %s after seq %d: %s (the anchor lags the log "
                          "until the next append)", self.path, rows[-1][0], e)

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
                h = chain_hash(prev, rb, self.trust.key_for(seq))
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
        """Events with after_seq < seq <= until_seq, streamed in chunks (constant memory). Not verified:
        for what is folded into trusted state use read_verified."""
        for row in iter_rows(self._reader(), after_seq, until_seq, self._read_lock):
            yield stored_event(row)

    def read_verified(self, after_seq: int = 0) -> Iterator[StoredEvent]:
        """Events after after_seq to the head, each checked (CRC, keyed chain, stream sequence) before it is
        decoded and yielded; LogIntegrityError names the first bad row.

        after_seq > 0 (a snapshot's seq): the row there is checked on its own and the chain goes on from
        its hash, so the cost is that of the tail.
        """
        c = self._reader()
        start_hash = GENESIS_HASH
        if after_seq > 0:
            with self._read_lock:
                row = row_at(c, after_seq)
            reason = "missing" if row is None else row_reason(row, self.trust)
            if row is None or reason is not None:
                raise LogIntegrityError(self.path, f"the row a snapshot starts from is {reason}", seq=after_seq)
            start_hash = row[11]
        v = ChainVerifier(self.trust, after_seq, start_hash)
        for row in _damage_as_integrity(self.path, iter_rows(c, after_seq, None, self._read_lock), v):
            reason = v.check(row)
            if reason is not None:
                raise LogIntegrityError(self.path, reason, seq=row[0])
            try:
                ev = stored_event(row)
            except Exception as e:  # verified bytes that do not decode: written by a broken encoder or forged
                raise LogIntegrityError(self.path, f"payload does not decode ({type(e).__name__})", seq=row[0]) from None
            yield ev

    def head(self) -> tuple[int, bytes]:
        with self._read_lock:
            top = self._reader().execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        return (top[0], top[1]) if top is not None else (0, GENESIS_HASH)

    def verify(self, until_seq: int | None = None) -> VerifyReport:
        return verify_rows(iter_rows(self._reader(), 0, until_seq, self._read_lock), self.trust)

    # --- snapshots (a cache of folded state: may be pruned, never trusted without its CRC and head) ---

    def save_snapshot(self, seq: int, data: dict[str, Any], time_ns: int) -> None:
        payload, flags = codec.encode(data)
        with self._write_lock:
            c = self._wconn
            c.execute("BEGIN IMMEDIATE")
            try:
                head_hash = self._hash_at(c, seq)
                sb = snapshot_bytes(seq, time_ns, flags, head_hash, payload)
                c.execute("INSERT OR REPLACE INTO snapshots (seq, time_ns, payload, flags, head_hash, crc, mac) "
                          "VALUES (?,?,?,?,?,?,?)",
                          (seq, time_ns, payload, flags, head_hash, zlib.crc32(sb), snapshot_mac(self.key, sb)))
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
        """The newest snapshot that verifies (see snapshot_reason); None if none does.

        Snapshots are a cache: one that does not verify is skipped with a warning (an older one, or a full
        replay, gives the same state from verified rows).
        """
        try:
            with self._read_lock:
                snaps = self._reader().execute(
                    "SELECT seq, time_ns, payload, flags, head_hash, crc, mac FROM snapshots ORDER BY seq DESC"
                ).fetchall()
        except sqlite3.DatabaseError as e:
            raise LogIntegrityError(self.path, f"the snapshots cannot be read (SQLite: {e})", kind="damaged") from None
        for snap in snaps:
            try:
                with self._read_lock:
                    reason = snapshot_reason(self._reader(), snap, self.trust)
            except sqlite3.DatabaseError as e:
                reason = f"its head row cannot be read (SQLite: {e})"
            if reason is not None:
                log.warning("event log %s: snapshot at seq %s skipped: %s", self.path, snap[0], reason)
                continue
            seq, _, payload, flags = snap[:4]
            try:
                return seq, codec.decode(payload, flags)
            except Exception as e:  # MAC'd by us yet undecodable: a codec change; the rows still hold
                log.warning("event log %s: snapshot at seq %s skipped: does not decode (%s)", self.path, seq,
                            type(e).__name__)
        return None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            while self._leader_active or self._queue:  # let queued callers commit before we close
                self._cond.wait()
        with self._write_lock, self._read_lock:
            self._wconn.close()
            self._reader().close()
            self._anchor.close()

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _damage_as_integrity(path: str, rows: Iterator[Row], v: ChainVerifier) -> Iterator[Row]:
    """rows, with a SQLite read error (a damaged page) turned into LogIntegrityError at the next row."""
    try:
        yield from rows
    except sqlite3.DatabaseError as e:
        raise LogIntegrityError(path, f"the file cannot be read here (SQLite: {e})", seq=v.head_seq + 1,
                                kind="damaged") from None


def snapshot_reason(conn: sqlite3.Connection, snap: tuple[Any, ...], trust: Trust) -> str | None:
    """Why a snapshot row (seq, time_ns, payload, flags, head_hash, crc, mac) cannot be trusted, or None.

    Its CRC, its MAC under the key (a snapshot without one predates the key and is not used), and its head
    hash: the hash of the row at its seq, which must itself be what was stored.
    """
    seq, time_ns, payload, flags, head_hash, crc, mac = snap
    try:
        sb = snapshot_bytes(seq, time_ns, flags, bytes(head_hash), bytes(payload))
    except (TypeError, struct.error, OverflowError):
        return "crc mismatch"
    if zlib.crc32(sb) != crc:
        return "crc mismatch"
    if trust.key is not None:
        if mac is None:
            return "no MAC (taken before the log was keyed)"
        if not isinstance(mac, bytes) or not hmac.compare_digest(snapshot_mac(trust.key, sb), mac):
            return "MAC mismatch (altered)"
    if seq == 0:
        return None if head_hash == GENESIS_HASH else "head hash does not match the log"
    row = row_at(conn, seq)
    if row is None:
        return "its head row is missing"
    if row[11] != head_hash:
        return "head hash does not match the log (taken from another history)"
    reason = row_reason(row, trust)
    return None if reason is None else f"its head row: {reason}"


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
