"""Golden event logs: logs written by an earlier version of the code, kept byte for byte.

Each `<name>.sqlite3` here is a frozen event log; `<name>.json` holds what it must fold to: the event
count and head hash (the file is intact), a readable summary of the catalog (what the events mean), and
the digest of the whole folded state (events.state.digest).

    python -m tests.golden.golden --write NAME      write a new golden log with the current code
    python -m tests.golden.golden --update-digest   re-fold the existing logs, refresh only their digests

Never rewrite an existing log: it stands for the logs users already have. If the summary of an old log
changes, a stored event changed meaning (add a new type or an upcaster instead). If only the digest
changes, the state gained or lost a field; when that is deliberate, run --update-digest.
"""

from __future__ import annotations

import argparse
import functools
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def summary(state: Any) -> dict[str, Any]:
    """What the catalog means, in a form that does not change when the state gains a field."""
    dbs: dict[str, Any] = {}
    for db_name in sorted(state.databases):
        db = state.databases[db_name]
        tables: dict[str, Any] = {}
        for t_name in sorted(db.tables):
            t = db.tables[t_name]
            parts = {}
            for p in t.partitions.values():
                tablets = [tid for ids in p.tablets.values() for tid in ids]
                parts[p.name] = {
                    "id": p.id, "lower": p.lower, "upper": p.upper, "values": p.values,
                    "visible_version": p.visible_version, "buckets": p.buckets, "replication_num": p.replication_num,
                    "tablets": [[tid, state.tablets[tid].backends,
                                 [[r.version, r.file, r.rows] for r in state.tablets[tid].rowsets]] for tid in tablets],
                }
            tables[t_name] = {
                "id": t.id, "kind": t.kind, "keys_type": t.keys_type, "key_columns": t.key_columns,
                "columns": [[c.name, c.type, c.aggregation] for c in t.columns],
                "partition_type": t.partition_type, "partition_columns": t.partition_columns,
                "distribution": t.distribution, "distribution_columns": t.distribution_columns,
                "properties": dict(sorted(t.properties.items())), "partitions": parts,
            }
        dbs[db_name] = {"id": db.id, "tables": tables}
    return {
        "backends": sorted(state.backends),
        "databases": dbs,
        "config": dict(sorted(state.config.items())),
        "next_id": state.next_id,
        "garbage_tablets": sorted(state.garbage_tablets),
    }


def fold_log(path: Path) -> tuple[Any, Any]:
    """(verify report, folded state) of a golden log, read from a copy (opening a log may touch it)."""
    from events.fold import fold
    from storage.eventlog import EventLog

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / path.name
        shutil.copyfile(path, copy)
        with EventLog(copy) as log:
            report = log.verify()
            state = fold(log.read())
    return report, state


def expected(name: str) -> dict[str, Any]:
    return json.loads((HERE / f"{name}.json").read_text())


def names() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.sqlite3"))


# ------------------------------------------------------------------------------------------ writing


def _member_spec(name: str) -> dict[str, Any]:
    days = ["2022-03-13", "2022-03-14", "2022-03-15", "2022-03-16"]
    return {
        "name": name,
        "columns": [{"name": "sr_id", "type": "INT", "is_key": True}, {"name": "name", "type": "VARCHAR(65533)"},
                    {"name": "city_code", "type": "INT"}, {"name": "reg_date", "type": "DATE"}],
        "keys_type": "DUP_KEYS", "key_columns": ["sr_id"], "partition_type": "RANGE", "partition_columns": ["reg_date"],
        "partitions": [{"name": f"p{i}", "lower": [lo], "upper": [hi]}
                       for i, (lo, hi) in enumerate(zip(days, days[1:], strict=False), start=1)],
        "distribution": "HASH", "distribution_columns": ["city_code"], "buckets": 2, "properties": {},
    }


def write_catalog_log(data_dir: Path, md5: bool = False) -> None:
    """The catalog scenario: databases, all partition kinds, loads, truncate, drops and a setting.
    `md5`: rowsets carry the md5 recorded at load (load.committed v2, catalog_v2)."""
    import actors.frontend as fe_mod
    from actors.frontend import Frontend
    from actors.sim import SimRuntime
    from events.commands import (
        AddPartitions,
        Command,
        CommitLoad,
        CreateDatabase,
        CreateTable,
        DropPartition,
        DropTable,
        SetConfig,
        Truncate,
    )
    from events.queries import LoadLayout

    fe_mod.SNAPSHOT_EVERY = 10**9  # a golden log holds events only: snapshots are a cache
    sim = SimRuntime(seed=2024)  # virtual clock: the log is the same on every run
    sim.spawn("fe", Frontend(data_dir, backends=3, tick=False))
    txn = [0]

    def cmd(command: Command) -> Any:
        return sim.ask("fe", command)

    def load(db: str, table: str, rows: int) -> None:
        layout = sim.ask("fe", LoadLayout(db=db, table=table))
        txn[0] += 1
        parts = [{"partition_id": p["id"],
                  "rowsets": [{"tablet_id": t["id"], "file": f"golden-{txn[0]}.parquet", "rows": rows, "size": 512,
                               **({"md5": f"{t['id']:032x}"} if md5 else {})}
                              for ts in p["tablets"].values() for t in ts]} for p in layout["partitions"]]
        cmd(CommitLoad(db=db, table=table, table_id=layout["table"]["id"], txn=f"golden-{txn[0]}", partitions=parts))

    cmd(CreateDatabase(name="sr_hub"))
    cmd(CreateTable(db="sr_hub", spec=_member_spec("sr_member")))
    cmd(CreateTable(db="sr_hub", spec={
        "name": "sr_pmc", "columns": [{"name": "pmc_id", "type": "INT", "is_key": True, "nullable": False},
                                      {"name": "amount", "type": "DECIMAL(12,2)"}],
        "keys_type": "PRIMARY_KEYS", "key_columns": ["pmc_id"], "distribution_columns": ["pmc_id"], "buckets": 3,
        "properties": {"replication_num": "2"}}))
    cmd(CreateTable(db="sr_hub", spec={
        "name": "sr_city", "columns": [{"name": "city", "type": "VARCHAR(16)", "is_key": True},
                                       {"name": "n", "type": "BIGINT", "aggregation": "SUM"}],
        "keys_type": "AGG_KEYS", "key_columns": ["city"], "partition_type": "LIST", "partition_columns": ["city"],
        "partitions": [{"name": "p_north", "values": [["oslo"], ["bergen"]]}, {"name": "p_south", "values": [["rome"]]}],
        "distribution": "RANDOM", "buckets": 1}))
    load("sr_hub", "sr_member", 10)
    load("sr_hub", "sr_pmc", 5)
    load("sr_hub", "sr_city", 2)
    cmd(AddPartitions(db="sr_hub", table="sr_member",
                      partitions=[{"name": "p4", "lower": ["2022-03-16"], "upper": ["2022-03-17"]}]))
    load("sr_hub", "sr_member", 7)
    cmd(Truncate(db="sr_hub", table="sr_member", partitions=["p1"]))
    cmd(DropPartition(db="sr_hub", table="sr_member", partition="p2"))
    cmd(CreateDatabase(name="scratch"))
    cmd(CreateTable(db="scratch", spec=_member_spec("tmp")))
    cmd(DropTable(db="scratch", name="tmp"))
    cmd(SetConfig(key="max_upload_task_per_be", value="4"))
    load("sr_hub", "sr_pmc", 3)
    sim.stop_all()


WRITERS = {"catalog_v1": write_catalog_log, "catalog_v2": functools.partial(write_catalog_log, md5=True)}


def write(name: str) -> None:
    from events.fold import digest

    target = HERE / f"{name}.sqlite3"
    if target.exists():
        sys.exit(f"{target} exists: golden logs are never rewritten (choose a new name)")
    with tempfile.TemporaryDirectory() as tmp:
        WRITERS[name](Path(tmp))
        import sqlite3

        src = sqlite3.connect(Path(tmp) / "eventlog.sqlite3")
        dst = sqlite3.connect(target)
        src.backup(dst)  # one self-contained file, WAL folded in
        dst.execute("PRAGMA journal_mode=DELETE")
        dst.close()
        src.close()
    report, state = fold_log(target)
    assert report.ok
    (HERE / f"{name}.json").write_text(json.dumps({
        "events": report.count, "head_hash": report.head_hash.hex(), "digest": digest(state),
        "summary": summary(state)}, indent=1, sort_keys=True) + "\n")
    print(f"wrote {target} ({report.count} events)")


def update_digests() -> None:
    from events.fold import digest

    for name in names():
        exp = expected(name)
        report, state = fold_log(HERE / f"{name}.sqlite3")
        if summary(state) != exp["summary"]:
            sys.exit(f"{name}: the summary changed too: a stored event changed meaning; not updating")
        exp["digest"] = digest(state)
        (HERE / f"{name}.json").write_text(json.dumps(exp, indent=1, sort_keys=True) + "\n")
        print(f"{name}: digest {exp['digest']}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--write", choices=sorted(WRITERS))
    parser.add_argument("--update-digest", action="store_true")
    args = parser.parse_args()
    if args.write:
        write(args.write)
    elif args.update_digest:
        update_digests()
    else:
        parser.print_help()
