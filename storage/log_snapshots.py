"""Snapshots of the folded state in the log's `snapshots` table: a cache, kept to the newest few, each
trusted only when its CRC, its MAC under the log's key and its head row verify."""

from __future__ import annotations

import hmac
import logging
import sqlite3
import struct
import zlib
from contextlib import AbstractContextManager
from typing import Any

from events import codec
from storage.log_rows import (
    GENESIS_HASH,
    PLAIN,
    LogIntegrityError,
    Trust,
    row_at,
    row_reason,
    snapshot_bytes,
    snapshot_mac,
)

log = logging.getLogger("starbackup.eventlog")


def store_snapshot(c: sqlite3.Connection, key: bytes, seq: int, data: dict[str, Any], time_ns: int,
                   kept: int) -> None:
    """Store a snapshot at seq (MAC'd under key) and prune all but the newest `kept`, in one transaction
    on the writer connection `c` (the caller holds the log's write lock)."""
    payload, flags = codec.encode(data)
    c.execute("BEGIN IMMEDIATE")
    try:
        head_hash = _hash_at(c, seq)
        sb = snapshot_bytes(seq, time_ns, flags, head_hash, payload)
        c.execute("INSERT OR REPLACE INTO snapshots (seq, time_ns, payload, flags, head_hash, crc, mac) "
                  "VALUES (?,?,?,?,?,?,?)",
                  (seq, time_ns, payload, flags, head_hash, zlib.crc32(sb), snapshot_mac(key, sb)))
        c.execute("DELETE FROM snapshots WHERE seq NOT IN "
                  "(SELECT seq FROM snapshots ORDER BY seq DESC LIMIT ?)", (kept,))
        c.execute("COMMIT")
    except BaseException:
        if c.in_transaction:
            c.execute("ROLLBACK")
        raise


def _hash_at(c: sqlite3.Connection, seq: int) -> bytes:
    if seq == 0:
        return GENESIS_HASH
    got = c.execute("SELECT hash FROM events WHERE seq = ?", (seq,)).fetchone()
    if got is None:
        raise ValueError(f"cannot snapshot at seq {seq}: no such event")
    return bytes(got[0])


def newest_verified_snapshot(conn: sqlite3.Connection, path: str, trust: Trust,
                             lock: AbstractContextManager[Any]) -> tuple[int, dict[str, Any]] | None:
    """The newest snapshot that verifies, decoded; one that does not is skipped with a warning."""
    try:
        with lock:
            snaps = conn.execute(
                "SELECT seq, time_ns, payload, flags, head_hash, crc, mac FROM snapshots ORDER BY seq DESC"
            ).fetchall()
    except sqlite3.DatabaseError as e:
        raise LogIntegrityError(path, f"the snapshots cannot be read (SQLite: {e})", kind="damaged") from None
    for snap in snaps:
        try:
            with lock:
                reason = snapshot_reason(conn, snap, trust)
        except sqlite3.DatabaseError as e:
            reason = f"its head row cannot be read (SQLite: {e})"
        if reason is not None:
            log.warning("event log %s: snapshot at seq %s skipped: %s", path, snap[0], reason)
            continue
        seq, _, payload, flags = snap[:4]
        try:
            return int(seq), codec.decode(payload, flags)
        except Exception as e:  # MAC'd by us yet undecodable: a codec change; the rows still hold
            log.warning("event log %s: snapshot at seq %s skipped: does not decode (%s)", path, seq,
                        type(e).__name__)
    return None


def mac_adopted_snapshots(c: sqlite3.Connection, key: bytes) -> None:
    """Snapshots of an adopted history are trusted as they were before (CRC and head hash): MAC them, in
    the caller's transaction. The check is the one start-up makes, under the plain chain (a stale or
    damaged snapshot stays unMAC'd)."""
    snaps = c.execute("SELECT seq, time_ns, payload, flags, head_hash, crc FROM snapshots").fetchall()
    for snap in snaps:
        seq, time_ns, payload, flags, shash, _crc = snap
        trusted = snapshot_reason(c, (*snap, None), PLAIN) is None
        mac = snapshot_mac(key, snapshot_bytes(seq, time_ns, flags, shash, payload)) if trusted else None
        c.execute("UPDATE snapshots SET mac = ? WHERE seq = ?", (mac, seq))


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
