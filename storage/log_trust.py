"""What lets a reader trust the log's rows and its head: the chain key beside the log (`eventlog.key`), the
chain record (from which seq rows are keyed) and the head anchor (`eventlog.head`)."""

from __future__ import annotations

import errno
import hmac
import os
import secrets
import sqlite3
import struct
import time
from dataclasses import dataclass

from storage.fsutil import link_new_private_file, replace_private_file
from storage.log_rows import LogIntegrityError, Trust, anchor_mac, chain_mac, row_at, row_reason

ANCHOR_SYNC_INTERVAL_S = 1.0  # the anchor is made durable at most this often (see AnchorFile)
KEY_SUFFIX = ".key"  # eventlog.sqlite3 -> eventlog.key: the HMAC key of the chain, the snapshots and the anchor
KEY_SIZE = 32
ANCHOR_SUFFIX = ".head"  # eventlog.sqlite3 -> eventlog.head


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


def create_key(log_path: str, key: bytes) -> None:
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
