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

The rows' format and chain are storage/log_rows.py, the key, chain record and anchor storage/log_trust.py,
the snapshots storage/log_snapshots.py; this module is the open log: its schema, group commit and reads.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from events import codec
from storage.log_rows import (
    GENESIS_HASH,
    ROW_COLUMNS,
    ChainVerifier,
    LogIntegrityError,
    NewEvent,
    Row,
    StoredEvent,
    Trust,
    VerifyReport,
    chain_hash,
    chain_mac,
    check_new_event,
    iter_rows,
    row_at,
    row_bytes,
    row_reason,
    stored_event,
    verify_rows,
)
from storage.log_schema import configure_writer
from storage.log_snapshots import mac_adopted_snapshots, newest_verified_snapshot, store_snapshot
from storage.log_trust import (
    AnchorFile,
    check_anchor,
    create_key,
    has_chain_record,
    key_path,
    new_key,
    read_anchor,
    read_chain,
    read_key,
    write_anchor,
)

# The log's public face: the log, what goes in and comes out, and its one error.
__all__ = ["EventLog", "LogIntegrityError", "NewEvent", "StoredEvent", "VerifyReport"]

log = logging.getLogger("starbackup.eventlog")

MAX_GROUP_EVENTS = 50_000  # a leader stops taking queued calls beyond this (one call is never split)
KEY_LOOKUP_CHUNK = 500  # below SQLite's default host-parameter limit
SNAPSHOTS_KEPT = 3

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
            configure_writer(self._wconn, self.path)
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
            mac_adopted_snapshots(c, key)
            c.execute("COMMIT")
        except BaseException:
            if c.in_transaction:
                c.execute("ROLLBACK")
            raise
        write_anchor(self.path, key, head_seq, head_hash)
        create_key(self.path, key)
        return trust

    def _reader(self) -> sqlite3.Connection:
        assert self._rconn is not None
        return self._rconn

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
        req = _Request([(ev, *codec.encode(check_new_event(ev).data)) for ev in events])
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
        with self._write_lock:
            store_snapshot(self._wconn, self.key, seq, data, time_ns, SNAPSHOTS_KEPT)

    def latest_snapshot(self) -> tuple[int, dict[str, Any]] | None:
        """The newest snapshot that verifies (see log_snapshots.snapshot_reason); None if none does.

        Snapshots are a cache: one that does not verify is skipped with a warning (an older one, or a full
        replay, gives the same state from verified rows).
        """
        return newest_verified_snapshot(self._reader(), self.path, self.trust, self._read_lock)

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
