"""Replay: the frontend's log, folded from scratch or from a snapshot plus its tail, gives the same state.

The log comes from a real run of the frontend actor (catalog commands and load commits sent as messages)
in the deterministic simulator, with snapshots taken every few events.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import actors.frontend as frontend_mod
from actors.frontend import Frontend
from actors.sim import SimRuntime
from events.commands import (
    AddPartitions,
    Command,
    CommitLoad,
    CreateDatabase,
    CreateTable,
    DropDatabase,
    DropPartition,
    SetConfig,
    Truncate,
)
from events.fold import apply, digest, fold, restore_snapshot
from events.queries import LoadLayout, Query
from events.state import ClusterState
from storage import eventlog, log_trust
from storage.eventlog import EventLog

SNAPSHOT_EVERY = 7


def member_spec(name: str, buckets: int) -> dict[str, Any]:
    days = ["2022-03-13", "2022-03-14", "2022-03-15", "2022-03-16"]
    return {
        "name": name,
        "columns": [{"name": "sr_id", "type": "INT"}, {"name": "city_code", "type": "INT"},
                    {"name": "reg_date", "type": "DATE"}],
        "keys_type": "DUP_KEYS", "key_columns": ["sr_id"], "partition_type": "RANGE", "partition_columns": ["reg_date"],
        "partitions": [{"name": f"p{i}", "lower": [lo], "upper": [hi]}
                       for i, (lo, hi) in enumerate(zip(days, days[1:], strict=False), start=1)],
        "distribution": "HASH", "distribution_columns": ["city_code"], "buckets": buckets, "properties": {},
    }


class Driver:
    """Sends commands to a frontend hosted by a SimRuntime, as SQL sessions would."""

    def __init__(self, data_dir: Path, seed: int = 1) -> None:
        self.sim = SimRuntime(seed)
        self.fe = Frontend(data_dir, backends=3, tick=False)
        self.sim.spawn("fe", self.fe)
        self.txn = 0

    def cmd(self, command: Command) -> Any:
        reply = self.sim.ask("fe", command)
        self.sim.run(max_steps=10_000)  # deliver whatever the command set in motion
        return reply

    def read(self, query: Query) -> Any:
        return self.sim.ask("fe", query)

    def load(self, db: str, table: str, rows_per_tablet: int = 10) -> int:
        """Commit a load touching every tablet of every partition, as engine.load would after writing files."""
        layout = self.read(LoadLayout(db=db, table=table))
        self.txn += 1
        parts = []
        for p in layout["partitions"]:
            rowsets = [{"tablet_id": t["id"], "file": f"txn{self.txn}.parquet", "rows": rows_per_tablet, "size": 100}
                       for ts in p["tablets"].values() for t in ts]
            parts.append({"partition_id": p["id"], "rowsets": rowsets})
        return self.cmd(CommitLoad(db=db, table=table, table_id=layout["table"]["id"], txn=f"txn{self.txn}",
                                   partitions=parts))

    def stop(self) -> None:
        self.sim.stop_all()


def scenario(d: Driver) -> None:
    """A run with every kind of catalog change and loads in between."""
    d.cmd(CreateDatabase(name="sr_hub"))
    d.cmd(CreateDatabase(name="scratch"))
    d.cmd(CreateTable(db="sr_hub", spec=member_spec("sr_member", 3)))
    d.cmd(CreateTable(db="scratch", spec=member_spec("tmp", 1)))
    for _ in range(4):
        d.load("sr_hub", "sr_member")
    d.cmd(AddPartitions(db="sr_hub", table="sr_member",
                        partitions=[{"name": "p4", "lower": ["2022-03-16"], "upper": ["2022-03-17"]}]))
    d.load("sr_hub", "sr_member")
    d.cmd(Truncate(db="sr_hub", table="sr_member", partitions=["p1"]))
    d.load("sr_hub", "sr_member")
    d.cmd(DropPartition(db="sr_hub", table="sr_member", partition="p2"))
    d.cmd(SetConfig(key="max_upload_task_per_be", value="4"))
    d.load("scratch", "tmp")
    d.cmd(DropDatabase(name="scratch"))
    for _ in range(3):
        d.load("sr_hub", "sr_member")


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str, int]:
    """Run the scenario once; returns (data dir, digest of the live state, number of events)."""
    monkeypatch.setattr(frontend_mod, "SNAPSHOT_EVERY", SNAPSHOT_EVERY)
    monkeypatch.setattr(frontend_mod, "SNAPSHOT_MIN_INTERVAL_NS", 0)
    d = Driver(tmp_path)
    scenario(d)
    live = digest(d.fe.state)
    seq = d.fe.state.last_seq
    d.fe.events_since_snapshot = 0  # no clean-stop snapshot at the head: these tests want a tail to fold
    d.stop()
    return tmp_path, live, seq


def full_replay(log: EventLog) -> ClusterState:
    return fold(log.read())


def snapshots(path: Path) -> list[int]:
    import sqlite3

    with sqlite3.connect(path) as db:
        return [r[0] for r in db.execute("SELECT seq FROM snapshots ORDER BY seq")]


def test_full_replay_equals_the_live_state(run: tuple[Path, str, int]) -> None:
    data, live, count = run
    with EventLog(data / "eventlog.sqlite3") as log:
        assert log.verify().ok and log.verify().count == count
        state = full_replay(log)
    assert state.last_seq == count
    assert digest(state) == live
    assert set(state.databases) == {"sr_hub"}
    member = state.databases["sr_hub"].tables["sr_member"]
    assert list(member.partitions) == ["p1", "p3", "p4"]
    assert member.partitions["p3"].visible_version == 1 + 4 + 1 + 1 + 3
    assert state.config["max_upload_task_per_be"] == "4"


def test_snapshot_plus_tail_equals_full_replay(run: tuple[Path, str, int]) -> None:
    data, live, count = run
    with EventLog(data / "eventlog.sqlite3") as log:
        full = digest(full_replay(log))
        seqs = snapshots(data / "eventlog.sqlite3")
        assert len(seqs) >= 2, "the run should have taken several snapshots"
        latest = log.latest_snapshot()
        assert latest is not None and latest[0] == seqs[-1] < count  # there is a tail to fold
        state = restore_snapshot(latest[1])
        for ev in log.read(after_seq=latest[0]):
            apply(state, ev.type, ev.data, ev.seq)
        assert digest(state) == full == live
        # Every prefix of the log, snapshot or not, continues to the same end state.
        for cut in range(0, count + 1, 5):
            head = fold(log.read(until_seq=cut))
            assert digest(fold(log.read(after_seq=cut), restore_snapshot(_roundtrip(head)))) == full


def _roundtrip(state: ClusterState) -> dict[str, Any]:
    from events.codec import decode, encode
    from events.fold import snapshot

    return decode(*encode(snapshot(state)))  # what a stored snapshot gives back


def test_frontend_restart_recovers_from_snapshot_and_tail(run: tuple[Path, str, int],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    data, live, count = run
    d = Driver(data, seed=99)  # a new frontend on the same directory: _recover() uses the latest snapshot
    try:
        assert digest(d.fe.state) == live and d.fe.state.last_seq == count
        # ...and carries on appending to the same chain.
        d.load("sr_hub", "sr_member")
        after = digest(d.fe.state)
    finally:
        d.stop()
    with EventLog(data / "eventlog.sqlite3") as log:
        assert log.verify().ok
        assert digest(full_replay(log)) == after


def test_damaged_snapshot_falls_back_to_an_older_one_or_full_replay(run: tuple[Path, str, int]) -> None:
    import sqlite3

    data, live, _ = run
    db = sqlite3.connect(data / "eventlog.sqlite3")
    db.execute("UPDATE snapshots SET payload = zeroblob(length(payload))")  # snapshots are a cache, not guarded
    db.commit()
    db.close()
    with EventLog(data / "eventlog.sqlite3") as log:
        assert log.latest_snapshot() is None
    d = Driver(data)
    try:
        assert digest(d.fe.state) == live
    finally:
        d.stop()


def test_replay_is_deterministic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two runs of one scenario on one seed write byte-identical logs; two folds are byte-identical."""
    monkeypatch.setattr(frontend_mod, "SNAPSHOT_EVERY", SNAPSHOT_EVERY)
    monkeypatch.setattr(eventlog, "new_key", lambda: b"k" * log_trust.KEY_SIZE)  # the chain is keyed per log
    heads, digests = [], []
    for name in ("one", "two"):
        d = Driver(tmp_path / name, seed=5)
        scenario(d)
        d.stop()
        with EventLog(tmp_path / name / "eventlog.sqlite3") as log:
            heads.append(log.head())
            digests.append((digest(full_replay(log)), digest(full_replay(log))))
    assert heads[0] == heads[1]
    assert digests[0][0] == digests[0][1] == digests[1][0]
