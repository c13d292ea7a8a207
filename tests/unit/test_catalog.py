"""The catalog's pure core: decide functions (events/catalog.py) and the fold (events/state.py, appliers).

No daemon, no actors, no disk: a state, a command, the events it yields, and the state they fold into.
Events go through the log's codec on their way into the fold, as they would in the daemon.
"""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events import catalog
from events.catalog import PartitionSpec, TableSpec
from events.codec import decode, encode
from events.errors import CatalogError
from events.event import EVENT_TYPES, Event
from events.fold import apply, digest, fold, restore_snapshot, snapshot
from events.model import Backend, Column
from events.plain import to_plain
from events.state import ClusterState


def new_state(backends: int = 3) -> ClusterState:
    bes = [to_plain(Backend(id=10001 + i, host="127.0.0.1", port=9050 + i)) for i in range(backends)]
    return fold([("cluster.initialized", {"backends": bes, "root_password": ""}, 1)])


def commit(state: ClusterState, evs: list[Event]) -> list[Event]:
    """Fold events the way the frontend does: encode for the log, decode, apply in order."""
    for ev in evs:
        assert ev.type in EVENT_TYPES and ev.version == EVENT_TYPES[ev.type]
        payload, flags = encode(ev.data)
        data = decode(payload, flags)
        assert data == ev.data  # plain data only: what the fold sees is exactly what was decided
        apply(state, ev.type, data, state.last_seq + 1)
    return evs


def cols(*spec: str) -> list[Column]:
    out = []
    for s in spec:
        name, typ = s.split()
        out.append(Column(name=name, type=typ))
    return out


def range_table(name: str = "t", parts: list[PartitionSpec] | None = None, **kw: object) -> TableSpec:
    if parts is None:
        parts = [PartitionSpec("p1", upper=["2022-01-01"]), PartitionSpec("p2", upper=["2023-01-01"])]
    return TableSpec(name=name, columns=cols("d DATE", "k INT", "v INT"), key_columns=["d"], partition_type="RANGE",
                     partition_columns=["d"], partitions=parts, distribution_columns=["k"], **kw)  # type: ignore[arg-type]


def with_db(state: ClusterState, name: str = "db") -> ClusterState:
    commit(state, catalog.create_database(state, name, False))
    return state


def code_of(fn, *args, **kwargs) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(CatalogError) as e:
        fn(*args, **kwargs)
    return e.value.code, e.value.message


# ------------------------------------------------------------------------------------------ databases


def test_create_and_drop_database() -> None:
    s = new_state()
    evs = commit(s, catalog.create_database(s, "sr_hub", False))
    assert [e.type for e in evs] == ["database.created"]
    db = s.databases["sr_hub"]
    assert db.id == evs[0].data["id"] and s.next_id == evs[0].data["next_id"] == db.id + 1
    assert catalog.create_database(s, "sr_hub", True) == []
    assert code_of(catalog.create_database, s, "sr_hub", False)[0] == 1007
    assert catalog.drop_database(s, "nope", True) == []
    assert code_of(catalog.drop_database, s, "nope", False)[0] == 1008
    commit(s, catalog.drop_database(s, "sr_hub", False))
    assert "sr_hub" not in s.databases
    # Ids are never reused, even after a drop.
    commit(s, catalog.create_database(s, "sr_hub", False))
    assert s.databases["sr_hub"].id > db.id


def test_drop_database_retires_its_tablets() -> None:
    s = with_db(new_state())
    commit(s, catalog.create_table(s, "db", range_table(buckets=2), False))
    tablet_ids = {t for p in s.databases["db"].tables["t"].partitions.values() for ids in p.tablets.values() for t in ids}
    assert len(tablet_ids) == 4
    commit(s, catalog.drop_database(s, "db", False))
    assert set(s.garbage_tablets) == tablet_ids


# ------------------------------------------------------------------------------------------ tables


def test_create_table_builds_partitions_tablets_and_replicas() -> None:
    s = with_db(new_state())
    evs = commit(s, catalog.create_table(s, "db", range_table(buckets=4), False))
    assert [e.type for e in evs] == ["table.created"]
    t = s.databases["db"].tables["t"]
    assert list(t.partitions) == ["p1", "p2"]
    assert t.properties["replication_num"] == "3"
    p1, p2 = t.partitions["p1"], t.partitions["p2"]
    assert p1.lower is None and p1.upper == ["2022-01-01"]
    assert p2.lower == ["2022-01-01"] and p2.upper == ["2023-01-01"]  # LESS THAN: starts at the previous upper
    assert p1.visible_version == 1 and p1.buckets == 4
    all_ids = [tid for p in t.partitions.values() for ids in p.tablets.values() for tid in ids]
    assert len(all_ids) == len(set(all_ids)) == 8
    assert set(t.indexes) == {t.base_index_id}
    for tid in all_ids:
        replicas = s.tablets[tid].backends
        assert len(replicas) == 3 == len(set(replicas))
        assert set(replicas) <= set(s.backends)
    # Replicas are spread: every backend leads some tablet.
    assert {s.tablets[tid].backends[0] for tid in all_ids} == set(s.backends)
    ids = [t.id, t.base_index_id, p1.id, p2.id, *all_ids]
    assert len(set(ids)) == len(ids) and s.next_id > max(ids)


def test_create_table_defaults_and_replication() -> None:
    s = with_db(new_state(backends=2))
    commit(s, catalog.create_table(s, "db", TableSpec(name="plain", columns=cols("k INT")), False))
    plain = s.databases["db"].tables["plain"]
    assert list(plain.partitions) == ["plain"]  # one partition named after the table
    assert plain.buckets == 3
    assert plain.properties["replication_num"] == "2"  # min(3, backends)
    commit(s, catalog.create_table(s, "db", TableSpec(name="rnd", columns=cols("k INT"), distribution="RANDOM"), False))
    assert s.databases["db"].tables["rnd"].buckets == 1
    spec = TableSpec(name="r1", columns=cols("k INT"), properties={"replication_num": "1"})
    commit(s, catalog.create_table(s, "db", spec, False))
    r1 = s.databases["db"].tables["r1"]
    assert all(len(s.tablets[tid].backends) == 1 for ids in r1.partitions["r1"].tablets.values() for tid in ids)
    code, message = code_of(catalog.create_table, s, "db",
                            TableSpec(name="r3", columns=cols("k INT"), properties={"replication_num": "3"}), False)
    assert "replication num" in message.lower()
    for bad in ("0", "-1", "x"):
        code_of(catalog.create_table, s, "db",
                TableSpec(name="bad", columns=cols("k INT"), properties={"replication_num": bad}), False)
    assert "r3" not in s.databases["db"].tables and "bad" not in s.databases["db"].tables


def test_create_table_refusals() -> None:
    s = with_db(new_state())
    assert code_of(catalog.create_table, s, "nope", range_table(), False)[0] == 5501
    assert code_of(catalog.create_table, s, None, range_table(), False)[0] == 1046
    commit(s, catalog.create_table(s, "db", range_table(), False))
    assert code_of(catalog.create_table, s, "db", range_table(), False)[0] == 1050
    assert catalog.create_table(s, "db", range_table(), True) == []
    dup = TableSpec(name="dup", columns=cols("k INT", "K BIGINT"))
    assert code_of(catalog.create_table, s, "db", dup, False)[0] == 1060
    missing = TableSpec(name="m", columns=cols("k INT"), key_columns=["nope"])
    assert "nope" in code_of(catalog.create_table, s, "db", missing, False)[1]
    missing = TableSpec(name="m", columns=cols("k INT"), distribution_columns=["nope"])
    assert "nope" in code_of(catalog.create_table, s, "db", missing, False)[1]
    assert code_of(catalog.create_table, s, "db", TableSpec(name="e", columns=[]), False)[0] != 0


def test_range_overlaps_and_empty_ranges_are_refused() -> None:
    s = with_db(new_state())
    overlap = range_table(parts=[PartitionSpec("a", lower=["2022-01-01"], upper=["2022-03-01"]),
                                 PartitionSpec("b", lower=["2022-02-01"], upper=["2022-04-01"])])
    assert "intersect" in code_of(catalog.create_table, s, "db", overlap, False)[1]
    empty = range_table(parts=[PartitionSpec("a", lower=["2022-03-01"], upper=["2022-03-01"])])
    assert "empty" in code_of(catalog.create_table, s, "db", empty, False)[1].lower()
    dup_name = range_table(parts=[PartitionSpec("a", upper=["2022-01-01"]), PartitionSpec("a", upper=["2023-01-01"])])
    assert code_of(catalog.create_table, s, "db", dup_name, False)[0] == 1517
    # Integer ranges compare as numbers, not text: [9, 10) and [10, 100) do not overlap.
    ints = TableSpec(name="ints", columns=cols("k INT"), partition_type="RANGE", partition_columns=["k"],
                     partitions=[PartitionSpec("a", lower=["9"], upper=["10"]),
                                 PartitionSpec("b", lower=["10"], upper=["100"])])
    commit(s, catalog.create_table(s, "db", ints, False))


def test_list_partitions() -> None:
    s = with_db(new_state())
    spec = TableSpec(name="l", columns=cols("city VARCHAR(10)", "v INT"), partition_type="LIST",
                     partition_columns=["city"],
                     partitions=[PartitionSpec("n", values=[["oslo"], ["bergen"]]), PartitionSpec("s", values=[["rome"]])])
    commit(s, catalog.create_table(s, "db", spec, False))
    assert s.databases["db"].tables["l"].partitions["n"].values == [["oslo"], ["bergen"]]
    clash = [PartitionSpec("x", values=[["rome"]])]
    assert "Duplicate values" in code_of(catalog.add_partitions, s, "db", "l", clash)[1]


def test_add_and_drop_partitions() -> None:
    s = with_db(new_state())
    commit(s, catalog.create_table(s, "db", range_table(buckets=2), False))
    evs = commit(s, catalog.add_partitions(s, "db", "t", [PartitionSpec("p3", upper=["2024-01-01"])]))
    assert [e.type for e in evs] == ["partition.added"]
    t = s.databases["db"].tables["t"]
    assert t.partitions["p3"].lower == ["2023-01-01"] and len(evs[0].data["tablets"]) == 2
    assert code_of(catalog.add_partitions, s, "db", "t", [PartitionSpec("p3", upper=["2025-01-01"])])[0] == 1517
    assert catalog.add_partitions(s, "db", "t", [PartitionSpec("p3", upper=["2025-01-01"])], if_not_exists=True) == []
    assert "intersect" in code_of(catalog.add_partitions, s, "db", "t",
                                  [PartitionSpec("px", lower=["2021-06-01"], upper=["2022-06-01"])])[1]
    commit(s, catalog.create_table(s, "db", TableSpec(name="u", columns=cols("k INT")), False))
    assert "not a partitioned table" in code_of(catalog.add_partitions, s, "db", "u", [PartitionSpec("x")])[1]
    assert code_of(catalog.add_partitions, s, "db", "nope", [PartitionSpec("x")])[0] == 5502

    p2_tablets = [tid for ids in t.partitions["p2"].tablets.values() for tid in ids]
    commit(s, catalog.drop_partition(s, "db", "t", "p2", False))
    assert list(t.partitions) == ["p1", "p3"] and set(p2_tablets) <= set(s.garbage_tablets)
    assert catalog.drop_partition(s, "db", "t", "p2", True) == []
    code_of(catalog.drop_partition, s, "db", "t", "p2", False)
    code_of(catalog.drop_partition, s, "db", "u", "u", False)  # the only partition of an unpartitioned table
    # The dropped range is free again.
    commit(s, catalog.add_partitions(s, "db", "t", [PartitionSpec("p2b", lower=["2022-01-01"], upper=["2023-01-01"])]))


def test_truncate_swaps_in_new_tablets() -> None:
    s = with_db(new_state())
    commit(s, catalog.create_table(s, "db", range_table(buckets=2), False))
    t = s.databases["db"].tables["t"]
    old = {name: [tid for ids in p.tablets.values() for tid in ids] for name, p in t.partitions.items()}
    evs = commit(s, catalog.truncate(s, "db", "t", ["p1"]))
    assert [e.type for e in evs] == ["partition.truncated"]
    new_p1 = [tid for ids in t.partitions["p1"].tablets.values() for tid in ids]
    assert len(new_p1) == 2 and not set(new_p1) & set(old["p1"])
    assert t.partitions["p1"].visible_version == 2 and t.partitions["p2"].visible_version == 1
    assert set(old["p1"]) <= set(s.garbage_tablets) and not set(old["p2"]) & set(s.garbage_tablets)
    assert all(len(s.tablets[tid].backends) == 3 for tid in new_p1)
    assert len(commit(s, catalog.truncate(s, "db", "t", None))) == 2
    assert "p9" in code_of(catalog.truncate, s, "db", "t", ["p9"])[1]


def test_drop_table_and_writable_guard() -> None:
    s = with_db(new_state())
    commit(s, catalog.create_table(s, "db", range_table(), False))
    assert catalog.drop_table(s, "db", "nope", True) == []
    assert code_of(catalog.drop_table, s, "db", "nope", False)[0] == 5502
    s.databases["db"].tables["t"].state = "RESTORE"  # as a running restore job would leave it
    s.databases["db"].tables["t"].restore_job = 77
    for fn, args in ((catalog.drop_table, ("db", "t", False)), (catalog.truncate, ("db", "t", None)),
                     (catalog.drop_database, ("db", False)),
                     (catalog.add_partitions, ("db", "t", [PartitionSpec("p9", upper=["2030-01-01"])]))):
        assert "restore job 77" in code_of(fn, s, *args)[1]
    s.databases["db"].tables["t"].state = "NORMAL"
    commit(s, catalog.drop_table(s, "db", "t", False))
    assert "t" not in s.databases["db"].tables


def test_set_config() -> None:
    s = new_state()
    commit(s, catalog.set_config(s, "max_upload_task_per_be", "4"))
    assert s.config["max_upload_task_per_be"] == "4" and s.config_int("max_upload_task_per_be") == 4
    assert "does not exist" in code_of(catalog.set_config, s, "no_such_key", "1")[1]
    assert "integer" in code_of(catalog.set_config, s, "max_upload_task_per_be", "many")[1]


# ------------------------------------------------------------------------------------------ fold


def build_catalog() -> tuple[ClusterState, list[tuple[str, dict, int]]]:
    """A state built command by command, and the log of (type, data, seq) that built it."""
    s = new_state()
    log: list[tuple[str, dict, int]] = []

    def run(evs: list[Event]) -> None:
        for ev in evs:
            seq = s.last_seq + 1
            payload, flags = encode(ev.data)
            data = decode(payload, flags)
            apply(s, ev.type, data, seq)
            log.append((ev.type, data, seq))

    run(catalog.create_database(s, "a", False))
    run(catalog.create_database(s, "b", False))
    run(catalog.create_table(s, "a", range_table(buckets=3), False))
    run(catalog.create_table(s, "b", TableSpec(name="u", columns=cols("k INT", "v BIGINT"), keys_type="AGG_KEYS",
                                               key_columns=["k"], distribution_columns=["k"]), False))
    run(catalog.add_partitions(s, "a", "t", [PartitionSpec("p3", upper=["2024-01-01"])]))
    run(catalog.truncate(s, "a", "t", ["p1"]))
    run(catalog.drop_partition(s, "a", "t", "p2", False))
    run(catalog.set_config(s, "max_download_task_per_be", "2"))
    run(catalog.drop_database(s, "b", False))
    return s, log


def test_fold_of_the_log_equals_the_live_state() -> None:
    live, log = build_catalog()
    init = [("cluster.initialized", {"backends": [to_plain(b) for b in live.backends.values()], "root_password": ""}, 1)]
    replayed = fold(init + [(t, d, seq) for t, d, seq in log])
    assert digest(replayed) == digest(live)
    assert to_plain(replayed) == to_plain(live)
    # Fold twice: byte-identical.
    assert digest(fold(init + log)) == digest(replayed)
    # A snapshot restores to the same state, and folding the rest on top of a mid-way snapshot agrees too.
    assert digest(restore_snapshot(snapshot(live))) == digest(live)
    half = len(log) // 2
    mid = restore_snapshot(snapshot(fold(init + log[:half])))
    assert digest(fold(log[half:], mid)) == digest(live)


def test_digest_sees_every_change_and_decide_never_mutates() -> None:
    s, _ = build_catalog()
    before = digest(s)
    frozen = copy.deepcopy(s)
    for fn, args in ((catalog.create_database, ("c", False)), (catalog.create_table, ("a", range_table("t2"), False)),
                     (catalog.truncate, ("a", "t", None)), (catalog.drop_database, ("a", False)),
                     (catalog.add_partitions, ("a", "t", [PartitionSpec("p9", upper=["2030-01-01"])]))):
        evs = fn(s, *args)
        assert evs and digest(s) == before, f"{fn.__name__} changed the state while deciding"
    assert to_plain(s) == to_plain(frozen)
    commit(s, catalog.set_config(s, "max_download_task_per_be", "3"))
    assert digest(s) != before


def test_unknown_event_type_is_refused() -> None:
    with pytest.raises(ValueError):
        Event("no.such.type", {})
    with pytest.raises(KeyError):
        apply(ClusterState(), "no.such.type", {})


COMMANDS = st.lists(
    st.one_of(
        st.tuples(st.just("create_db"), st.sampled_from(["a", "b", "c"])),
        st.tuples(st.just("drop_db"), st.sampled_from(["a", "b", "c"])),
        st.tuples(st.just("create_table"), st.sampled_from(["a", "b", "c"]), st.sampled_from(["t", "u"]),
                  st.integers(1, 3), st.integers(1, 3)),
        st.tuples(st.just("drop_table"), st.sampled_from(["a", "b", "c"]), st.sampled_from(["t", "u"])),
        st.tuples(st.just("add_partition"), st.sampled_from(["a", "b", "c"]), st.sampled_from(["t", "u"]),
                  st.integers(2023, 2030)),
        st.tuples(st.just("truncate"), st.sampled_from(["a", "b", "c"]), st.sampled_from(["t", "u"])),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(COMMANDS)
def test_any_command_sequence_replays_to_the_same_state(commands: list[tuple]) -> None:
    """Whatever commands ran (refused ones included), folding their events gives the live state."""
    s = new_state()
    log = [("cluster.initialized", {"backends": [to_plain(b) for b in s.backends.values()], "root_password": ""}, 1)]
    for cmd in commands:
        before = digest(s)
        try:
            if cmd[0] == "create_db":
                evs = catalog.create_database(s, cmd[1], False)
            elif cmd[0] == "drop_db":
                evs = catalog.drop_database(s, cmd[1], False)
            elif cmd[0] == "create_table":
                evs = catalog.create_table(s, cmd[1], range_table(cmd[2], buckets=cmd[3],
                                                                  properties={"replication_num": str(cmd[4])}), False)
            elif cmd[0] == "drop_table":
                evs = catalog.drop_table(s, cmd[1], cmd[2], False)
            elif cmd[0] == "add_partition":
                evs = catalog.add_partitions(s, cmd[1], cmd[2], [PartitionSpec(f"p{cmd[3]}", upper=[f"{cmd[3]}-01-01"])])
            else:
                evs = catalog.truncate(s, cmd[1], cmd[2], None)
        except CatalogError:
            assert digest(s) == before  # a refusal leaves no trace
            continue
        assert digest(s) == before
        for ev in evs:
            seq = s.last_seq + 1
            apply(s, ev.type, decode(*encode(ev.data)), seq)
            log.append((ev.type, decode(*encode(ev.data)), seq))
        # Invariants of the catalog after every command.
        for db in s.databases.values():
            for t in db.tables.values():
                for p in t.partitions.values():
                    for ids in p.tablets.values():
                        assert len(ids) == p.buckets
                        for tid in ids:
                            assert len(set(s.tablets[tid].backends)) == p.replication_num
    assert digest(fold(log)) == digest(s)
