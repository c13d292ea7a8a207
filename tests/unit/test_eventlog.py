"""The event log: append/read, idempotency, stream sequences, group commit, tamper evidence, snapshots."""

from __future__ import annotations

import io
import sqlite3
import threading
import time
import zlib
from pathlib import Path

import pytest

from events import codec
from storage import eventlog as el
from storage import log_rows, log_trust
from storage.audit import redact, run_audit
from storage.eventlog import EventLog
from storage.log_rows import GENESIS_HASH, NewEvent


def ev(stream: str = "job/1", type_: str = "JobCreated", key: str | None = None, t: int = 1_700_000_000_000_000_000,
       **data: object) -> NewEvent:
    return NewEvent(stream=stream, type=type_, version=1, data=dict(data), time_ns=t, key=key)


@pytest.fixture
def log(tmp_path: Path):
    lg = EventLog(tmp_path / "eventlog.sqlite3")
    yield lg
    lg.close()


def raw(path: str) -> sqlite3.Connection:
    """A connection behind the log's back, with the append-only triggers dropped (a tamperer's view)."""
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("DROP TRIGGER events_no_update")
    c.execute("DROP TRIGGER events_no_delete")
    return c


def test_empty_log(log: EventLog) -> None:
    assert log.head() == (0, GENESIS_HASH)
    assert list(log.read()) == []
    assert log.latest_snapshot() is None
    report = log.verify()
    assert report.ok and report.count == 0 and report.head_hash == GENESIS_HASH
    assert log.append([]) == []
    assert log.transactions == 0


def test_pragmas(log: EventLog) -> None:
    c = sqlite3.connect(log.path)
    assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert log._wconn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_append_then_read(log: EventLog) -> None:
    stored = log.append([ev(n=1), ev("job/2", "JobCreated", n=2), ev(n=3, type_="JobStateChanged", state="PENDING")])
    assert [s.seq for s in stored] == [1, 2, 3]
    assert [(s.stream, s.stream_seq) for s in stored] == [("job/1", 1), ("job/2", 1), ("job/1", 2)]
    assert stored[2].data == {"n": 3, "state": "PENDING"} and stored[2].type == "JobStateChanged"
    read = list(log.read())
    assert read == stored
    assert log.head() == (3, stored[-1].hash)
    assert [s.seq for s in log.read(after_seq=1, until_seq=2)] == [2]
    assert log.transactions == 1


def test_stream_seq_continues_across_calls_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite3"
    with EventLog(path) as lg:
        lg.append([ev(n=1), ev(n=2)])
    with EventLog(path) as lg:
        out = lg.append([ev(n=3), ev("job/9", n=4)])
        assert [(s.seq, s.stream_seq) for s in out] == [(3, 3), (4, 1)]
        assert lg.verify().ok


def test_read_streams_in_chunks(log: EventLog, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(log_rows, "READ_CHUNK", 7)
    log.append([ev(n=i) for i in range(50)])
    got = list(log.read(after_seq=3, until_seq=45))
    assert [s.seq for s in got] == list(range(4, 46))
    assert [s.data["n"] for s in got] == list(range(3, 45))
    assert log.verify().count == 50 and log.verify(until_seq=20).count == 20


def test_idempotent_keys(log: EventLog) -> None:
    first = log.append([ev(key="k1", n=1), ev(key="k2", n=2)])
    assert [s.key for s in first] == ["k1", "k2"]
    again = log.append([ev(key="k1", n=99), ev(key="k3", n=3), ev(key="k3", n=4), ev(n=5)])
    assert [(s.key, s.data["n"]) for s in again] == [("k3", 3), (None, 5)]
    assert [s.stream_seq for s in again] == [3, 4]  # skipped events consume no sequence number
    assert [s.data["n"] for s in log.read()] == [1, 2, 3, 5]
    assert log.append([ev(key="k1")]) == []
    assert log.verify().ok


def test_large_payload_round_trips_compressed(log: EventLog) -> None:
    files = [{"name": f"f{i}", "md5": "0" * 32} for i in range(200)]
    log.append([ev(files=files)])
    (row,) = sqlite3.connect(log.path).execute("SELECT flags FROM events").fetchall()
    assert row[0] & codec.FLAG_ZSTD
    assert next(log.read()).data == {"files": files}


def test_one_call_of_10000_events_is_one_transaction(log: EventLog) -> None:
    out = log.append([ev(f"job/{i % 10}", key=f"t{i}", i=i) for i in range(10_000)])
    assert len(out) == 10_000 and log.transactions == 1
    assert log.head()[0] == 10_000
    assert log.verify().ok


def test_bad_event_is_refused_before_anything_is_stored(log: EventLog) -> None:
    with pytest.raises(ValueError):
        log.append([ev(n=1), NewEvent("", "T", 1, {}, 1)])
    with pytest.raises(TypeError):
        log.append([ev(n=1), ev(s={1, 2})])
    assert log.head()[0] == 0


def test_triggers_refuse_update_and_delete(log: EventLog) -> None:
    log.append([ev(n=1)])
    c = sqlite3.connect(log.path, isolation_level=None)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        c.execute("UPDATE events SET type = 'X'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        c.execute("DELETE FROM events")
    assert log.verify().ok


def _concurrent_appends(log: EventLog, threads: int, calls: int, per_call: int) -> None:
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def worker(w: int) -> None:
        try:
            start.wait()
            for c in range(calls):
                out = log.append([ev(f"job/{w}", key=f"{w}-{c}-{i}", w=w, c=c, i=i) for i in range(per_call)])
                assert [(s.data["c"], s.data["i"]) for s in out] == [(c, i) for i in range(per_call)]
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)

    ts = [threading.Thread(target=worker, args=(w,)) for w in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors


@pytest.mark.timeout(60)
def test_concurrent_appends_group_commit(log: EventLog, monkeypatch: pytest.MonkeyPatch) -> None:
    # A slow disk makes grouping observable on any machine: each commit holds the leader for 2 ms.
    real = EventLog._commit

    def slow_commit(self: EventLog, group: list) -> None:
        time.sleep(0.002)
        real(self, group)

    monkeypatch.setattr(EventLog, "_commit", slow_commit)
    threads, calls, per_call = 8, 25, 3
    _concurrent_appends(log, threads, calls, per_call)
    events = list(log.read())
    assert len(events) == threads * calls * per_call
    assert len({e.key for e in events}) == len(events)  # exactly once
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    for w in range(threads):  # each stream's events in call order, stream_seq dense
        mine = [e for e in events if e.stream == f"job/{w}"]
        assert [e.stream_seq for e in mine] == list(range(1, calls * per_call + 1))
        assert [(e.data["c"], e.data["i"]) for e in mine] == [(c, i) for c in range(calls) for i in range(per_call)]
    assert log.verify().ok
    assert log.transactions < threads * calls / 2, log.transactions


@pytest.mark.timeout(60)
def test_group_bound_leaves_the_rest_queued_for_the_next_leader(log: EventLog, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(el, "MAX_GROUP_EVENTS", 4)  # at most one 3-event call joins the leader's own
    real = EventLog._commit

    def slow_commit(self: EventLog, group: list) -> None:
        assert sum(len(r.events) for r in group) <= 6
        time.sleep(0.001)
        real(self, group)

    monkeypatch.setattr(EventLog, "_commit", slow_commit)
    _concurrent_appends(log, threads=6, calls=10, per_call=3)
    assert log.head()[0] == 180 and log.verify().ok


def test_concurrent_appends_real_disk(log: EventLog) -> None:
    _concurrent_appends(log, threads=6, calls=30, per_call=1)
    assert log.head()[0] == 180
    assert log.verify().ok and log.verify().count == 180
    assert log.transactions <= 180


def test_failed_group_member_does_not_fail_the_others(log: EventLog, monkeypatch: pytest.MonkeyPatch) -> None:
    real_place = EventLog._place

    def place(self: EventLog, group: list) -> list:
        if any(e.stream == "poison" for r in group for e, _, _ in r.events):
            raise sqlite3.OperationalError("simulated disk error")
        return real_place(self, group)

    monkeypatch.setattr(EventLog, "_place", place)
    good, bad = el._Request([(ev(n=1), *codec.encode({"n": 1}))]), el._Request([(ev("poison"), *codec.encode({}))])
    log._commit_isolating_failures([good, bad])
    assert good.committed and good.error is None and len(good.placed) == 1
    assert not bad.committed and isinstance(bad.error, sqlite3.OperationalError)
    with pytest.raises(sqlite3.OperationalError):
        log.append([ev("poison")])
    assert log.head()[0] == 1 and log.verify().ok


def test_tampered_payload_is_found(log: EventLog, tmp_path: Path) -> None:
    log.append([ev(n=i, password="hunter2") for i in range(10)])
    c = raw(log.path)
    (payload,) = c.execute("SELECT payload FROM events WHERE seq = 6").fetchone()
    c.execute("UPDATE events SET payload = ? WHERE seq = 6", (payload[:-1] + bytes([payload[-1] ^ 1]),))
    report = log.verify()
    assert not report.ok and report.bad_seq == 6 and report.reason == "crc mismatch" and report.count == 5
    assert log.verify(until_seq=5).ok
    out = io.StringIO()
    assert run_audit(str(tmp_path), out=out) == 1
    assert "TAMPERED: first bad row seq=6: crc mismatch" in out.getvalue()
    assert "hunter2" not in out.getvalue()


def test_tampered_type_name_is_found(log: EventLog, tmp_path: Path) -> None:
    log.append([ev(n=i) for i in range(5)])
    raw(log.path).execute("UPDATE events SET type = 'JobFinished' WHERE seq = 3")
    report = log.verify()
    assert (report.bad_seq, report.reason) == (3, "crc mismatch")
    out = io.StringIO()
    assert run_audit(str(tmp_path), out=out) == 1
    assert "seq=3" in out.getvalue()


def test_row_rewritten_with_fresh_crc_breaks_the_chain(log: EventLog) -> None:
    log.append([ev(n=i) for i in range(5)])
    c = raw(log.path)
    seq, stream, sseq, type_, version, time_ns, _, flags, key = c.execute(
        "SELECT seq, stream, stream_seq, type, version, time_ns, payload, flags, idem_key FROM events WHERE seq = 2"
    ).fetchone()
    payload, flags = codec.encode({"n": 42})
    crc = zlib.crc32(log_rows.row_bytes(seq, stream, sseq, type_, version, time_ns, flags, payload, key))
    c.execute("UPDATE events SET payload = ?, flags = ?, crc = ? WHERE seq = 2", (payload, flags, crc))
    assert (log.verify().bad_seq, log.verify().reason) == (2, "hash chain broken")


def test_deleted_row_breaks_the_chain(log: EventLog) -> None:
    log.append([ev(n=i) for i in range(5)])
    raw(log.path).execute("DELETE FROM events WHERE seq = 3")
    assert (log.verify().bad_seq, log.verify().reason) == (4, "hash chain broken")


def test_forged_row_with_stream_gap_is_found(log: EventLog) -> None:
    """Even with the key (a bug in our own writer, not a forger), a stream sequence gap is found."""
    log.append([ev(n=1)])
    seq, prev = log.head()
    payload, flags = codec.encode({"n": 2})
    rb = log_rows.row_bytes(seq + 1, "job/1", 5, "JobCreated", 1, 1, flags, payload, None)  # stream_seq 5, not 2
    raw(log.path).execute(
        f"INSERT INTO events ({log_rows.ROW_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        (seq + 1, "job/1", 5, "JobCreated", 1, 1, payload, flags, None, zlib.crc32(rb), prev,
         log_rows.chain_hash(prev, rb, log.key)),
    )
    assert (log.verify().bad_seq, log.verify().reason) == (2, "stream sequence gap")


def test_snapshots_round_trip_and_prune(log: EventLog) -> None:
    log.append([ev(n=i) for i in range(10)])
    for seq in (2, 4, 6, 8):
        log.save_snapshot(seq, {"folded": seq, "nested": {"b": 1, "a": [1, 2]}}, time_ns=seq)
    assert log.latest_snapshot() == (8, {"folded": 8, "nested": {"a": [1, 2], "b": 1}})
    seqs = [s for (s,) in sqlite3.connect(log.path).execute("SELECT seq FROM snapshots ORDER BY seq")]
    assert seqs == [4, 6, 8]
    with pytest.raises(ValueError):
        log.save_snapshot(99, {}, time_ns=0)


def test_damaged_snapshot_falls_back_to_an_older_one(log: EventLog) -> None:
    log.append([ev(n=i) for i in range(4)])
    log.save_snapshot(2, {"s": 2}, time_ns=0)
    log.save_snapshot(4, {"s": 4}, time_ns=0)
    sqlite3.connect(log.path, isolation_level=None).execute("UPDATE snapshots SET payload = x'80' WHERE seq = 4")
    assert log.latest_snapshot() == (2, {"s": 2})


def test_snapshot_plus_tail_equals_full_replay(log: EventLog) -> None:
    log.append([ev(n=i) for i in range(20)])

    def fold(total: int, events) -> int:
        for e in events:
            total += e.data["n"]
        return total

    log.save_snapshot(12, {"total": fold(0, log.read(until_seq=12))}, time_ns=0)
    seq, snap = log.latest_snapshot()
    assert fold(snap["total"], log.read(after_seq=seq)) == fold(0, log.read())


def test_audit_prints_history_timelines_and_head(tmp_path: Path) -> None:
    with EventLog(tmp_path / "eventlog.sqlite3") as lg:
        lg.append([
            ev("job/7", "BackupJobCreated", t=1_700_000_000_000_000_000, label="snap1", state="PENDING",
               repo={"name": "r", "secret_key": "s3cr3t", "AccessToken": "tok"}),
            ev("job/7", "BackupStateChanged", t=1_700_000_001_500_000_000, state="SNAPSHOTING"),
            ev("table/3", "TableCreated", t=1_700_000_002_000_000_000, name="t"),
            ev("job/7", "BackupStateChanged", t=1_700_000_003_000_000_000, state="FINISHED"),
        ])
        head = lg.head()[1]
    out = io.StringIO()
    assert run_audit(str(tmp_path), out=out) == 0
    text = out.getvalue()
    assert "2023-11-14T22:13:20.000000Z job/7 BackupJobCreated v1" in text
    assert "s3cr3t" not in text and "tok" not in text and "secret_key=******" in text
    assert "table/3 TableCreated v1 name=t" in text
    assert "job/7: 2023-11-14T22:13:20.000000Z .. 2023-11-14T22:13:23.000000Z, 3 events, " \
           "states: PENDING -> SNAPSHOTING -> FINISHED" in text
    assert "table/3:" not in text
    assert text.rstrip().endswith(f"OK: 4 events, chain verified, head {head.hex()}")
    out = io.StringIO()
    assert run_audit(str(tmp_path), until_seq=2, out=out) == 0
    assert "OK: 2 events" in out.getvalue() and "FINISHED" not in out.getvalue()


def test_audit_is_read_only_and_runs_beside_a_live_log(log: EventLog, tmp_path: Path) -> None:
    log.append([ev(n=1)])
    before = (tmp_path / "eventlog.sqlite3").read_bytes()
    assert run_audit(str(tmp_path), out=io.StringIO()) == 0
    assert (tmp_path / "eventlog.sqlite3").read_bytes() == before
    log.append([ev(n=2)])  # the writer was not blocked by the audit
    assert run_audit(str(tmp_path / "missing"), out=io.StringIO()) == 2


def test_redact_recurses() -> None:
    data = {"Password": "p", "a": {"api_KEY": 1, "b": [{"token": "t", "ok": 2}]}, "keep": 3, "monkey": {"x": 1}}
    assert redact(data) == {"Password": "******", "a": {"api_KEY": "******", "b": [{"token": "******", "ok": 2}]},
                            "keep": 3, "monkey": "******"}


# --- the keyed chain, the chain record and the head anchor ------------------------------------------------


def reopen_error(path: str) -> log_rows.LogIntegrityError:
    with pytest.raises(log_rows.LogIntegrityError) as info:
        EventLog(path)
    return info.value


def test_new_log_is_keyed_from_its_first_row_and_anchored(tmp_path: Path) -> None:
    with EventLog(tmp_path / "eventlog.sqlite3") as lg:
        assert lg.trust.keyed_from == 1
        stored = lg.append([ev(n=i) for i in range(3)])
        assert log_trust.read_anchor(lg.path, lg.key) == log_trust.Anchor(3, stored[-1].hash)
    key = tmp_path / "eventlog.key"
    assert key.stat().st_mode & 0o777 == 0o600 and len(key.read_bytes()) == 32
    with EventLog(tmp_path / "eventlog.sqlite3") as lg:  # reopens: key, chain record and anchor agree
        assert lg.verify().ok and lg.head()[0] == 3


def test_an_append_that_stores_nothing_leaves_the_anchor(log: EventLog) -> None:
    log.append([ev(key="k", n=1)])
    before = Path(log_trust.anchor_path(log.path)).read_bytes()
    assert log.append([ev(key="k", n=1)]) == []
    assert Path(log_trust.anchor_path(log.path)).read_bytes() == before


def test_deleted_newest_rows_are_refused_naming_the_first_missing_row(log: EventLog) -> None:
    log.append([ev(n=i) for i in range(6)])
    log.close()
    raw(log.path).execute("DELETE FROM events WHERE seq > 4")
    e = reopen_error(log.path)
    assert e.seq == 5 and "newest rows were removed" in e.reason


def test_rows_rewritten_and_rechained_without_the_key_are_found(log: EventLog) -> None:
    log.append([ev(n=i) for i in range(5)])
    log.close()
    c = raw(log.path)
    prev = c.execute("SELECT hash FROM events WHERE seq = 1").fetchone()[0]
    for seq, stream, sseq, type_, version, time_ns, payload, flags, key in c.execute(
            "SELECT seq, stream, stream_seq, type, version, time_ns, payload, flags, idem_key FROM events "
            "WHERE seq >= 2 ORDER BY seq").fetchall():
        if seq == 2:
            payload, flags = codec.encode({"n": 42})
        rb = log_rows.row_bytes(seq, stream, sseq, type_, version, time_ns, flags, payload, key)
        h = log_rows.chain_hash(prev, rb)  # plain SHA-256: what a forger without the key can compute
        c.execute("UPDATE events SET payload = ?, flags = ?, crc = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                  (payload, flags, zlib.crc32(rb), prev, h, seq))
        prev = h
    e = reopen_error(log.path)  # the anchored row (5) no longer carries its keyed hash
    assert (e.seq, e.reason) == (5, "hash chain broken")
    report = log_rows.verify_rows(log_rows.iter_rows(sqlite3.connect(log.path)), log_rows.Trust(Path(log_trust.key_path(log.path)).read_bytes(), 1))
    assert (report.bad_seq, report.reason) == (2, "hash chain broken")


def test_missing_or_forged_anchor_is_refused(log: EventLog) -> None:
    log.append([ev(n=1)])
    log.close()
    anchor = Path(log_trust.anchor_path(log.path))
    good = anchor.read_bytes()
    assert len(good) == log_trust.ANCHOR_SLOT + 76
    forged = bytearray(good)
    for slot in (0, log_trust.ANCHOR_SLOT):
        forged[slot + 11] ^= 1  # seq 1 -> seq 0 in both slots, MACs untouched
    anchor.write_bytes(bytes(forged))
    assert "does not verify" in reopen_error(log.path).reason
    anchor.write_bytes(b"")
    assert "does not verify" in reopen_error(log.path).reason
    anchor.unlink()
    assert "is missing" in reopen_error(log.path).reason
    anchor.write_bytes(good)
    EventLog(log.path).close()


def test_anchor_alternates_slots_and_survives_a_torn_write(log: EventLog, monkeypatch: pytest.MonkeyPatch) -> None:
    """A power loss can tear the slot being written: the other one still holds the previous head."""
    log.close()
    monkeypatch.setattr(log_trust, "ANCHOR_SYNC_INTERVAL_S", 0.0)  # every append syncs and swaps the slots
    log = EventLog(log.path)
    first = log.append([ev(n=1)])[-1]
    second = log.append([ev(n=2)])[-1]
    log.close()
    anchor = Path(log_trust.anchor_path(log.path))
    raw_slots = anchor.read_bytes()
    slots = [raw_slots[:76], raw_slots[log_trust.ANCHOR_SLOT:log_trust.ANCHOR_SLOT + 76]]
    seqs = sorted(int.from_bytes(s[4:12], "big") for s in slots)
    assert seqs == [first.seq, second.seq]
    newest = max((0, 1), key=lambda i: int.from_bytes(slots[i][4:12], "big"))
    torn = bytearray(raw_slots)
    torn[newest * log_trust.ANCHOR_SLOT + 40] ^= 0xFF
    anchor.write_bytes(bytes(torn))
    with EventLog(log.path) as lg:  # accepted: the log is at least as long as the older anchor
        assert log_trust.read_anchor(lg.path, lg.key).seq == first.seq
        third = lg.append([ev(n=3)])[-1]  # overwrites the torn slot, keeps the valid one
        assert log_trust.read_anchor(lg.path, lg.key) == log_trust.Anchor(third.seq, third.hash)


def test_anchor_between_syncs_keeps_the_synced_slot_intact(log: EventLog) -> None:
    """Between two syncs only the hot slot is written: tearing it falls back to the last synced head,
    which the log still reaches (a power-loss window of at most ANCHOR_SYNC_INTERVAL_S)."""
    synced = log.head()[0]
    for n in range(5):
        log.append([ev(n=n)])  # well within one sync interval
    anchor = Path(log_trust.anchor_path(log.path))
    raw_slots = anchor.read_bytes()
    seqs = [int.from_bytes(raw_slots[i * log_trust.ANCHOR_SLOT + 4:i * log_trust.ANCHOR_SLOT + 12], "big") for i in (0, 1)]
    assert sorted(seqs) == [synced, synced + 5]
    hot = seqs.index(synced + 5)
    torn = bytearray(raw_slots)
    torn[hot * log_trust.ANCHOR_SLOT + 40] ^= 0xFF
    log.close()  # (close syncs; the torn bytes are written after it, as a power loss would leave them)
    anchor.write_bytes(bytes(torn))
    with EventLog(log.path) as lg:
        assert log_trust.read_anchor(lg.path, lg.key).seq == synced


def test_missing_key_or_chain_record_is_refused(log: EventLog) -> None:
    log.append([ev(n=1)])
    log.close()
    key = Path(log_trust.key_path(log.path))
    saved = key.read_bytes()
    key.unlink()
    assert "chain key" in reopen_error(log.path).reason and "is missing" in reopen_error(log.path).reason
    key.write_bytes(saved[:10])
    assert "is damaged" in reopen_error(log.path).reason
    key.write_bytes(saved)
    c = sqlite3.connect(log.path, isolation_level=None)
    c.execute("UPDATE chain SET keyed_from = 99")  # a downgrade: every row would be checked as plain SHA-256
    assert "chain record was altered" in reopen_error(log.path).reason
    c.execute("DELETE FROM chain")
    assert "chain record is missing" in reopen_error(log.path).reason


def test_log_from_before_keyed_chains_is_verified_and_adopted_once(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    path = str(tmp_path / "eventlog.sqlite3")
    with EventLog(path) as lg:
        lg.append([ev(n=i) for i in range(4)])
    # Rewrite it as the previous version wrote it: plain SHA-256 rows, no chain record, key or anchor.
    c = raw(path)
    prev = log_rows.GENESIS_HASH
    for row in c.execute(f"SELECT {log_rows.ROW_COLUMNS} FROM events ORDER BY seq").fetchall():
        rb = log_rows.row_bytes(row[0], row[1], row[2], row[3], row[4], row[5], row[7], row[6], row[8])
        h = log_rows.chain_hash(prev, rb)
        c.execute("UPDATE events SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, h, row[0]))
        prev = h
    c.execute("DROP TABLE chain")
    c.close()
    Path(log_trust.key_path(path)).unlink()
    Path(log_trust.anchor_path(path)).unlink()
    with caplog.at_level("WARNING"), EventLog(path) as lg:
        assert lg.trust.keyed_from == 5 and "adopted" in caplog.text
        lg.append([ev(n=9)])
        assert lg.verify().ok and lg.verify().count == 5
    with EventLog(path) as lg:  # adopted once: now an ordinary keyed log
        assert lg.trust.keyed_from == 5 and lg.head()[0] == 5


def test_an_old_log_with_a_snapshot_beyond_its_rows_is_adopted_without_it(tmp_path: Path) -> None:
    """Adoption MACs only the snapshots start-up would trust: one whose head row is missing stays unMAC'd
    (it used to raise out of the adoption)."""
    path = str(tmp_path / "eventlog.sqlite3")
    with EventLog(path) as lg:
        lg.append([ev(n=i) for i in range(3)])
    c = raw(path)
    prev = log_rows.GENESIS_HASH
    for row in c.execute(f"SELECT {log_rows.ROW_COLUMNS} FROM events ORDER BY seq").fetchall():
        rb = log_rows.row_bytes(row[0], row[1], row[2], row[3], row[4], row[5], row[7], row[6], row[8])
        h = log_rows.chain_hash(prev, rb)
        c.execute("UPDATE events SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, h, row[0]))
        prev = h
    stale = (99, 1, b"state", 0, b"\x01" * 32)
    crc = zlib.crc32(log_rows.snapshot_bytes(stale[0], stale[1], stale[3], stale[4], stale[2]))
    c.execute("INSERT INTO snapshots (seq, time_ns, payload, flags, head_hash, crc, mac) VALUES (?, ?, ?, ?, ?, ?, NULL)",
              (*stale, crc))
    c.execute("DROP TABLE chain")
    c.close()
    Path(log_trust.key_path(path)).unlink()
    Path(log_trust.anchor_path(path)).unlink()
    with EventLog(path) as lg:
        assert lg.trust.keyed_from == 4 and lg.latest_snapshot() is None


def test_a_tampered_old_log_is_not_adopted(tmp_path: Path) -> None:
    path = str(tmp_path / "eventlog.sqlite3")
    with EventLog(path) as lg:
        lg.append([ev(n=i) for i in range(3)])
    Path(log_trust.key_path(path)).unlink()
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("DROP TABLE chain")
    e = reopen_error(path)  # the rows are keyed: without the key they are not a valid plain chain either
    assert e.seq == 1 and "adopting" in e.reason


def test_read_verified_names_the_first_bad_row_of_the_tail(log: EventLog) -> None:
    log.append([ev(n=i) for i in range(10)])
    log.save_snapshot(5, {"s": 5}, time_ns=0)
    c = raw(log.path)
    c.execute("UPDATE events SET crc = crc + 1 WHERE seq = 3")  # before the snapshot: not folded at start-up
    assert [e.seq for e in log.read_verified(after_seq=5)] == [6, 7, 8, 9, 10]
    c.execute("UPDATE events SET crc = crc + 1 WHERE seq = 8")
    with pytest.raises(log_rows.LogIntegrityError) as info:
        list(log.read_verified(after_seq=5))
    assert (info.value.seq, info.value.reason) == (8, "crc mismatch")
    c.execute("UPDATE events SET crc = crc + 1 WHERE seq = 5")  # the row the snapshot starts from
    with pytest.raises(log_rows.LogIntegrityError) as info:
        list(log.read_verified(after_seq=5))
    assert info.value.seq == 5
    assert log.latest_snapshot() is None  # and the snapshot bound to it is not used


def test_keyed_row_that_does_not_decode_is_refused(log: EventLog) -> None:
    log.append([ev(n=1)])
    seq, prev = log.head()
    payload, flags = b"\xc1", 0  # 0xc1 is never valid msgpack
    rb = log_rows.row_bytes(seq + 1, "job/1", 2, "JobCreated", 1, 1, flags, payload, None)
    raw(log.path).execute(f"INSERT INTO events ({log_rows.ROW_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                          (seq + 1, "job/1", 2, "JobCreated", 1, 1, payload, flags, None, zlib.crc32(rb), prev,
                           log_rows.chain_hash(prev, rb, log.key)))
    with pytest.raises(log_rows.LogIntegrityError) as info:
        list(log.read_verified())
    assert info.value.seq == 2 and "does not decode" in info.value.reason


def test_snapshot_altered_with_a_fresh_crc_is_not_used(log: EventLog) -> None:
    log.append([ev(n=i) for i in range(4)])
    log.save_snapshot(2, {"s": 2}, time_ns=0)
    log.save_snapshot(4, {"s": 4}, time_ns=0)
    payload, flags = codec.encode({"s": 400})
    head = log.head()[1]
    crc = zlib.crc32(log_rows.snapshot_bytes(4, 0, flags, head, payload))
    sqlite3.connect(log.path, isolation_level=None).execute(
        "UPDATE snapshots SET payload = ?, flags = ?, crc = ? WHERE seq = 4", (payload, flags, crc))
    assert log.latest_snapshot() == (2, {"s": 2})  # a forger without the key cannot MAC it


def test_audit_reports_the_anchor_and_a_removed_tail(log: EventLog, tmp_path: Path) -> None:
    log.append([ev(n=i) for i in range(5)])
    out = io.StringIO()
    assert run_audit(str(tmp_path), out=out) == 0
    assert "anchor: head seq 5 verified" in out.getvalue()
    raw(log.path).execute("DELETE FROM events WHERE seq >= 4")
    out = io.StringIO()
    assert run_audit(str(tmp_path), out=out) == 1
    assert out.getvalue().splitlines()[-1].startswith("TAMPERED: first bad row seq=4: the log ends at seq 3")


@pytest.mark.parametrize("content, message", [
    (b"", "not a starbackup event log"),
    (b"garbage " * 1000, "DAMAGED: cannot read the event log"),
    (None, "not a starbackup event log"),  # a SQLite file of something else
])
def test_audit_of_a_file_that_is_not_an_event_log(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "eventlog.sqlite3"
    if content is None:
        sqlite3.connect(path).execute("CREATE TABLE other(x)").connection.close()
    else:
        path.write_bytes(content)
    out = io.StringIO()
    assert run_audit(str(tmp_path), out=out) == 1
    assert len(out.getvalue().splitlines()) == 1 and message in out.getvalue()


def test_two_logs_in_one_directory_have_their_own_key_and_anchor(tmp_path: Path) -> None:
    with EventLog(tmp_path / "a.sqlite3") as a, EventLog(tmp_path / "b.sqlite3") as b:
        a.append([ev(n=1)])
        b.append([ev(n=2)])
        assert a.key != b.key
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(("-wal", "-shm"))) == [
        "a.head", "a.key", "a.sqlite3", "b.head", "b.key", "b.sqlite3"]
    EventLog(tmp_path / "a.sqlite3").close()


@pytest.mark.parametrize("column, value", [
    ("hash", "text"), ("hash", 7), ("prev_hash", 1.5), ("payload", "text"), ("crc", "x"), ("stream", 5),
    ("idem_key", 3), ("time_ns", "late"), ("flags", 2**70 // 2**10),
])
def test_a_column_of_the_wrong_type_is_a_bad_row_not_a_crash(log: EventLog, tmp_path: Path, column: str,
                                                          value: object) -> None:
    log.append([ev(n=i) for i in range(3)])
    log.close()
    c = raw(log.path)
    c.execute(f"UPDATE events SET {column} = ? WHERE seq = 3", (value,))
    c.close()
    e = reopen_error(log.path)
    assert e.seq == 3, e
    out = io.StringIO()
    assert run_audit(str(tmp_path), out=out) == 1
    assert "first bad row seq=3" in out.getvalue().splitlines()[-1]


def test_a_deleted_log_next_to_its_key_is_not_a_new_log(log: EventLog) -> None:
    log.append([ev(n=1)])
    log.close()
    for suffix in ("", "-wal", "-shm"):
        Path(log.path + suffix).unlink(missing_ok=True)
    assert "chain record is missing" in reopen_error(log.path).reason


def test_keyed_chain_hash_is_hmac_sha256() -> None:
    import hmac as std_hmac
    key, prev, rb = bytes(range(32)), bytes(32), b"row bytes" * 50
    assert log_rows.chain_hash(prev, rb, key) == std_hmac.digest(key, prev + rb, "sha256")
    assert log_rows.chain_hash(prev, rb) == __import__("hashlib").sha256(prev + rb).digest()
