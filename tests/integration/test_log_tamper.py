"""An altered, damaged or shortened event log is refused by `starbackup audit` and by daemon start-up alike.

One real daemon writes a small cluster's log (and is killed, so no snapshot hides the rows from start-up);
each case copies that data directory, alters it as an attacker with write access to the files would
(dropping the append-only triggers first), then runs `starbackup audit` and `starbackup serve` as
subprocesses: both must exit non-zero with one line naming the first bad row, and never a traceback.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from events import codec
from storage import log_rows as el
from storage import log_trust
from tests.support.daemon import ROOT, DaemonProcess, query

INSERTS = 30


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("tamper") / "data"
    d = DaemonProcess(data, backends=1).start()
    try:
        c = d.connect()
        query(c, "CREATE DATABASE d")
        query(c, "CREATE TABLE d.t (k INT, v STRING) DISTRIBUTED BY HASH(k) BUCKETS 1 "
                 "PROPERTIES('replication_num' = '1')")
        for i in range(INSERTS):
            query(c, f"INSERT INTO d.t VALUES ({i}, '{'v' * 200}{i}')")
        c.close()
    finally:
        d.kill()  # kill -9: no snapshot on stop, so start-up folds (and verifies) every row
    db = sqlite3.connect(data / "eventlog.sqlite3")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every row in the main file, for the truncation cases
    assert db.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0] == 0
    db.close()
    return data


@pytest.fixture
def data(written: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(written, copy, ignore=shutil.ignore_patterns("daemon.lock", "*.out"))
    return copy


def head_seq(data: Path) -> int:
    db = sqlite3.connect(data / "eventlog.sqlite3")
    try:
        return int(db.execute("SELECT MAX(seq) FROM events").fetchone()[0])
    finally:
        db.close()


def tamper(data: Path, *statements: tuple[str, tuple[object, ...]]) -> None:
    db = sqlite3.connect(data / "eventlog.sqlite3", isolation_level=None)
    db.execute("DROP TRIGGER IF EXISTS events_no_update")
    db.execute("DROP TRIGGER IF EXISTS events_no_delete")
    for sql, params in statements:
        db.execute(sql, params)
    db.close()


def flip_byte(blob: bytes, at: int = 5) -> bytes:
    return blob[:at] + bytes([blob[at] ^ 0x01]) + blob[at + 1:]


def column(data: Path, name: str, seq: int) -> object:
    db = sqlite3.connect(data / "eventlog.sqlite3")
    try:
        return db.execute(f"SELECT {name} FROM events WHERE seq = ?", (seq,)).fetchone()[0]
    finally:
        db.close()


def audit(data: Path) -> tuple[int, str]:
    p = subprocess.run([sys.executable, "-m", "sqlfront.cli", "audit", "--data-dir", str(data)], cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout + p.stderr


def serve_refuses(data: Path) -> str:
    """The real daemon must exit 1 by itself, without a traceback; returns its output."""
    d = DaemonProcess(data, backends=1)
    with pytest.raises(RuntimeError, match="daemon exited with 1"):
        d.start(timeout=60)
    out = d.output()
    assert "Traceback" not in out, out
    refusals = [line for line in out.splitlines() if "refusing to start" in line]
    assert len(refusals) == 1, out
    assert f"starbackup audit --data-dir {data}" in refusals[0]
    return refusals[0]


def assert_both_refuse(data: Path, expected: str) -> None:
    rc, out = audit(data)
    assert rc == 1, out
    assert "Traceback" not in out, out
    last = out.strip().splitlines()[-1]
    assert expected in last, out[-2000:]
    line = serve_refuses(data)
    assert expected in line, line


# ------------------------------------------------------------------------------------------ the cases


def test_the_unaltered_log_verifies_and_serves(data: Path) -> None:
    rc, out = audit(data)
    assert rc == 0, out
    assert f"anchor: head seq {head_seq(data)} verified" in out
    with DaemonProcess(data, backends=1) as d:
        assert query(d.connect(), "SELECT COUNT(*) FROM d.t") == [(INSERTS,)]


def test_flipped_byte_in_a_payload(data: Path) -> None:
    seq = head_seq(data) - 5
    tamper(data, ("UPDATE events SET payload = ? WHERE seq = ?", (flip_byte(column(data, "payload", seq)), seq)))
    assert_both_refuse(data, f"first bad row seq={seq}: crc mismatch")


def test_flipped_byte_in_a_hash(data: Path) -> None:
    seq = head_seq(data) - 7
    tamper(data, ("UPDATE events SET hash = ? WHERE seq = ?", (flip_byte(column(data, "hash", seq)), seq)))
    assert_both_refuse(data, f"first bad row seq={seq}: hash chain broken")


def test_flipped_bit_in_a_crc(data: Path) -> None:
    seq = 3
    tamper(data, ("UPDATE events SET crc = (crc | 16) - (crc & 16) WHERE seq = ?", (seq,)))
    assert_both_refuse(data, f"first bad row seq={seq}: crc mismatch")


def test_deleted_newest_rows(data: Path) -> None:
    top = head_seq(data)
    tamper(data, ("DELETE FROM events WHERE seq > ?", (top - 3,)))
    assert_both_refuse(data, f"first bad row seq={top - 2}: the log ends at seq {top - 3} but its head anchor "
                             f"records seq {top}")


def test_deleted_newest_rows_and_anchor(data: Path) -> None:
    tamper(data, ("DELETE FROM events WHERE seq > ?", (head_seq(data) - 3,)))
    (data / "eventlog.head").unlink()
    assert_both_refuse(data, "the head anchor")
    assert "is missing" in serve_refuses(data)


def test_rows_edited_and_rechained_with_plain_sha256(data: Path) -> None:
    """What a forger without eventlog.key can do: rewrite a row, recompute its CRC and re-chain every later row."""
    top = head_seq(data)
    edit = top - 10
    db = sqlite3.connect(data / "eventlog.sqlite3", isolation_level=None)
    db.execute("DROP TRIGGER events_no_update")
    prev = db.execute("SELECT hash FROM events WHERE seq = ?", (edit - 1,)).fetchone()[0]
    rows = db.execute("SELECT seq, stream, stream_seq, type, version, time_ns, payload, flags, idem_key FROM events "
                      "WHERE seq >= ? ORDER BY seq", (edit,)).fetchall()
    for seq, stream, sseq, type_, version, time_ns, payload, flags, key in rows:
        if seq == edit:
            payload, flags = codec.encode({**codec.decode(payload, flags), "txn": "forged"})
        rb = el.row_bytes(seq, stream, sseq, type_, version, time_ns, flags, payload, key)
        h = el.chain_hash(prev, rb)
        db.execute("UPDATE events SET payload = ?, flags = ?, crc = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                   (payload, flags, zlib.crc32(rb), prev, h, seq))
        prev = h
    db.close()
    rc, out = audit(data)
    assert rc == 1 and out.strip().splitlines()[-1] == f"TAMPERED: first bad row seq={edit}: hash chain broken", out
    # Start-up checks the anchored row first: the head no longer carries its keyed hash.
    assert f"first bad row seq={top}: hash chain broken" in serve_refuses(data)


def test_forged_with_the_key_but_not_applicable(data: Path) -> None:
    """Even a row that verifies (our own bug, or a forger holding the key) must not crash start-up."""
    top = head_seq(data)
    key = (data / "eventlog.key").read_bytes()
    db = sqlite3.connect(data / "eventlog.sqlite3", isolation_level=None)
    prev = db.execute("SELECT hash FROM events WHERE seq = ?", (top,)).fetchone()[0]
    payload, flags = codec.encode({"db_id": 1})  # a load.committed without the fields its applier reads
    rb = el.row_bytes(top + 1, "catalog", top + 1, "load.committed", 2, 1, flags, payload, None)
    h = el.chain_hash(prev, rb, key)
    db.execute(f"INSERT INTO events ({el.ROW_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
               (top + 1, "catalog", top + 1, "load.committed", 2, 1, payload, flags, None, zlib.crc32(rb), prev, h))
    db.close()
    line = serve_refuses(data)
    assert f"first bad row seq={top + 1}: event load.committed v2 does not apply (KeyError" in line, line


def test_forged_with_the_key_but_undecodable(data: Path) -> None:
    top = head_seq(data)
    key = (data / "eventlog.key").read_bytes()
    db = sqlite3.connect(data / "eventlog.sqlite3", isolation_level=None)
    prev = db.execute("SELECT hash FROM events WHERE seq = ?", (top,)).fetchone()[0]
    payload, flags = b"\x28\xb5\x2f\xfd garbage", codec.FLAG_ZSTD  # a zstd magic and nothing after it
    rb = el.row_bytes(top + 1, "catalog", top + 1, "load.committed", 2, 1, flags, payload, None)
    h = el.chain_hash(prev, rb, key)
    db.execute(f"INSERT INTO events ({el.ROW_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
               (top + 1, "catalog", top + 1, "load.committed", 2, 1, payload, flags, None, zlib.crc32(rb), prev, h))
    db.close()
    log_trust.write_anchor(str(data / "eventlog.sqlite3"), key, top + 1, h)  # the key holder anchors the forged row too
    assert_both_refuse(data, f"first bad row seq={top + 1}: payload does not decode")


def test_missing_key(data: Path) -> None:
    (data / "eventlog.key").unlink()
    assert_both_refuse(data, "the chain key")


def test_dropped_chain_record(data: Path) -> None:
    tamper(data, ("DELETE FROM chain", ()))
    assert_both_refuse(data, "the chain record is missing")


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.35, 0.6, 0.85, 0.999])
def test_truncated_file(data: Path, fraction: float) -> None:
    path = data / "eventlog.sqlite3"
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(int(size * fraction))
    rc, out = audit(data)
    assert rc == 1, out
    assert "Traceback" not in out, out
    assert out.strip().splitlines()[-1].split(":")[0] in ("DAMAGED", "TAMPERED"), out[-2000:]
    serve_refuses(data)


@pytest.mark.parametrize("writer", [
    lambda p: p.write_bytes(os.urandom(64 * 1024)),
    lambda p: p.write_bytes(b"SQLite format 3\x00" + os.urandom(8192)),
])
def test_garbage_file(data: Path, writer: Callable[[Path], object]) -> None:
    writer(data / "eventlog.sqlite3")
    rc, out = audit(data)
    assert rc == 1 and len(out.strip().splitlines()) == 1 and "DAMAGED" in out, out
    serve_refuses(data)


def test_audit_of_a_missing_log(tmp_path: Path) -> None:
    rc, out = audit(tmp_path / "nothing")
    assert rc == 2 and out.strip() == f"ERROR: no event log at {tmp_path / 'nothing' / 'eventlog.sqlite3'}"


def test_start_up_verifies_the_snapshot_and_the_tail_it_folds(tmp_path: Path) -> None:
    """With a snapshot, start-up folds (and verifies) only the snapshot and the rows after it."""
    base = tmp_path / "base"
    with DaemonProcess(base, backends=1) as d:
        c = d.connect()
        query(c, "CREATE DATABASE d")
        query(c, "CREATE TABLE d.t (k INT) DISTRIBUTED BY HASH(k) BUCKETS 1 PROPERTIES('replication_num' = '1')")
        query(c, "INSERT INTO d.t VALUES (1)")
        c.close()
    snap_seq = head_seq(base)  # a clean stop snapshots the head
    d = DaemonProcess(base, backends=1).start()
    c = d.connect()
    for i in range(3):
        query(c, f"INSERT INTO d.t VALUES ({i + 2})")
    c.close()
    d.kill()
    db = sqlite3.connect(base / "eventlog.sqlite3")
    assert [s for (s,) in db.execute("SELECT seq FROM snapshots")] == [snap_seq]
    db.close()
    top = head_seq(base)
    assert top > snap_seq + 2

    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(base, target, ignore=shutil.ignore_patterns("daemon.lock", "*.out"))
        return target

    tail = copy("tail")  # a row in the tail: start-up folds it, so start-up refuses
    tamper(tail, ("UPDATE events SET crc = (crc | 1) - (crc & 1) WHERE seq = ?", (snap_seq + 2,)))
    assert_both_refuse(tail, f"first bad row seq={snap_seq + 2}: crc mismatch")

    head_row = copy("head_row")  # the row the snapshot was taken at
    tamper(head_row, ("UPDATE events SET crc = (crc | 1) - (crc & 1) WHERE seq = ?", (snap_seq,)))
    assert f"first bad row seq={snap_seq}" in serve_refuses(head_row)

    old = copy("old")  # a row before the snapshot: not folded at start-up (the snapshot is MAC'd); audit finds it
    tamper(old, ("UPDATE events SET crc = (crc | 1) - (crc & 1) WHERE seq = ?", (2,)))
    rc, out = audit(old)
    assert rc == 1 and out.strip().splitlines()[-1] == "TAMPERED: first bad row seq=2: crc mismatch", out
    with DaemonProcess(old, backends=1) as d:
        assert query(d.connect(), "SELECT COUNT(*) FROM d.t") == [(4,)]

    forged = copy("forged")  # a snapshot rewritten with a fresh CRC but no key: skipped, the rows are folded
    db = sqlite3.connect(forged / "eventlog.sqlite3", isolation_level=None)
    seq, time_ns, payload, flags, head_hash = db.execute(
        "SELECT seq, time_ns, payload, flags, head_hash FROM snapshots").fetchone()
    state = codec.decode(payload, flags)
    state["databases"] = {}
    payload, flags = codec.encode(state)
    crc = zlib.crc32(el.snapshot_bytes(seq, time_ns, flags, head_hash, payload))
    db.execute("UPDATE snapshots SET payload = ?, flags = ?, crc = ?", (payload, flags, crc))
    db.close()
    rc, out = audit(forged)
    assert rc == 0 and f"snapshot at seq {snap_seq}: NOT USED: MAC mismatch (altered)" in out, out
    with DaemonProcess(forged, backends=1) as d:
        assert query(d.connect(), "SELECT COUNT(*) FROM d.t") == [(4,)]
    assert f"snapshot at seq {snap_seq} skipped: MAC mismatch" in d.output()
