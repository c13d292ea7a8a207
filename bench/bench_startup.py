"""Daemon start-up time with N catalog events in its log.

    python bench/bench_startup.py [--events 100000] [--dir DIR] [--keep]

Builds an event log directly with the EventLog API from catalog events (decided by events/catalog.py and
folded as they are built, so every id and version is what the daemon would have written): one database,
tables of RANGE partitions x 3 buckets x 3 replicas, then loads (`load.committed`, one partition, three
rowsets each) with a truncate and a tablet garbage collection of each partition every 50 of its loads, so
the folded state stays the size of a real catalog while the log grows.

Then it measures, each as a fresh `starbackup serve` subprocess until it answers `SHOW DATABASES`:
  empty       a new data directory (the baseline: interpreter, imports, actors, listener)
  full        N events and no snapshot: the whole log is folded at start-up
  snapshot    N events and a snapshot SNAPSHOT_EVERY/2 events before the head (the daemon's steady state:
              it snapshots every SNAPSHOT_EVERY events, so the tail is half of that on average)
and, in-process, the append rate while building (batches of --batch events per transaction) and the
replay rate of `fold(log.read())`. Ratios are to the empty-directory baseline of the same run.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from any directory

import pymysql  # noqa: E402

from actors.frontend import SNAPSHOT_EVERY  # noqa: E402
from events import catalog  # noqa: E402
from events.catalog import PartitionSpec, TableSpec  # noqa: E402
from events.event import Event  # noqa: E402
from events.fold import apply, digest, fold, snapshot  # noqa: E402
from events.model import Backend, Column  # noqa: E402
from events.plain import to_plain  # noqa: E402
from events.state import ClusterState  # noqa: E402
from storage.eventlog import EventLog, NewEvent  # noqa: E402
from tests.support.daemon import free_port  # noqa: E402

TABLES = 20
PARTITIONS = 8
TRUNCATE_EVERY = 50  # loads of one partition between two truncates
T0_NS = 1_700_000_000_000_000_000


def catalog_events(total: int) -> Iterator[Event]:
    """`total` events of a plausible cluster history, decided against a state folded as they go."""
    state = ClusterState()
    made = 0

    def emit(evs: list[Event]) -> Iterator[Event]:
        nonlocal made
        for ev in evs:
            if made >= total:
                return
            apply(state, ev.type, ev.data, made + 1)
            made += 1
            yield ev

    backends = [to_plain(Backend(id=10001 + i, host="127.0.0.1", port=9050 + i)) for i in range(3)]
    yield from emit([Event("cluster.initialized", {"backends": backends, "root_password": ""})])
    yield from emit(catalog.create_database(state, "sr_hub", False))
    days = [f"2022-{m:02d}-01" for m in range(1, PARTITIONS + 2)]
    for t in range(TABLES):
        spec = TableSpec(
            name=f"sr_member_{t}",
            columns=[Column("sr_id", "INT", is_key=True), Column("name", "VARCHAR(65533)"), Column("city_code", "INT"),
                     Column("reg_date", "DATE")],
            key_columns=["sr_id"], partition_type="RANGE", partition_columns=["reg_date"],
            partitions=[PartitionSpec(f"p{i}", lower=[days[i]], upper=[days[i + 1]]) for i in range(PARTITIONS)],
            distribution_columns=["city_code"], buckets=3)
        yield from emit(catalog.create_table(state, "sr_hub", spec, False))
    db = state.databases["sr_hub"]
    loads = 0
    while made < total:
        table = db.tables[f"sr_member_{loads % TABLES}"]
        partition = list(table.partitions.values())[(loads // TABLES) % PARTITIONS]
        loads += 1
        if partition.visible_version % TRUNCATE_EVERY == 0:
            old = [tid for ids in partition.tablets.values() for tid in ids]
            yield from emit(catalog.truncate(state, "sr_hub", table.name, [partition.name]))
            yield from emit([Event("tablets.garbage_collected", {"tablet_ids": old})])
            continue
        txn = f"bench-{loads}"
        rowsets = [{"tablet_id": tid, "file": f"{txn}.parquet", "rows": 1000, "size": 65536}
                   for ids in partition.tablets.values() for tid in ids]
        yield from emit([Event("load.committed", {
            "db_id": db.id, "table_id": table.id, "txn": txn,
            "partitions": [{"partition_id": partition.id, "version": partition.visible_version + 1,
                            "rowsets": rowsets}]}, key=f"load/{txn}")])


def build_log(path: Path, total: int, batch: int) -> tuple[float, int]:
    """Write the log; returns (seconds spent in EventLog.append, events)."""
    spent = 0.0
    n = 0
    pending: list[NewEvent] = []
    with EventLog(path) as log:
        def flush() -> None:
            nonlocal spent
            t = time.perf_counter()
            log.append(pending)
            spent += time.perf_counter() - t
            pending.clear()

        for ev in catalog_events(total):
            pending.append(NewEvent(ev.stream, ev.type, ev.version, ev.data, T0_NS + n * 1000, ev.key))
            n += 1
            if len(pending) >= batch:
                flush()
        if pending:
            flush()
    return spent, n


def add_snapshot(path: Path, total: int) -> tuple[int, str]:
    """Save a snapshot SNAPSHOT_EVERY/2 events before the head, as a running daemon would have."""
    at = max(0, total - SNAPSHOT_EVERY // 2)
    with EventLog(path) as log:
        state = fold(log.read(until_seq=at))
        log.save_snapshot(at, snapshot(state), T0_NS + at * 1000)
    return at, digest(state)


def start_daemon(data_dir: Path) -> tuple[float, int]:
    """Seconds from spawning `starbackup serve` to its first answer; returns (seconds, databases seen)."""
    port = free_port()
    cmd = [sys.executable, "-m", "sqlfront.cli", "serve", "--data-dir", str(data_dir), "--port", str(port)]
    out = open(data_dir.parent / f"{data_dir.name}-serve.out", "ab")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"daemon exited with {proc.returncode}; see {out.name}")
            try:
                conn = pymysql.connect(host="127.0.0.1", port=port, user="root", password="", connect_timeout=1)
            except pymysql.err.OperationalError:
                time.sleep(0.01)
                continue
            with conn.cursor() as cur:
                cur.execute("SHOW DATABASES")
                dbs = len(cur.fetchall())
            elapsed = time.perf_counter() - t0
            conn.close()
            return elapsed, dbs
    finally:
        proc.terminate()
        proc.wait(60)
        out.close()
        if proc.returncode != 0:
            raise RuntimeError(f"daemon exited with {proc.returncode} on SIGTERM; see {out.name}")


def median_of(runs: int, fn: Any, *args: Any) -> tuple[float, Any]:
    """The median time of `runs` calls (a shared machine: the median resists one slow or lucky run)."""
    results = [fn(*args) for _ in range(runs)]
    return statistics.median(r[0] for r in results), results[0][1]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--batch", type=int, default=1000, help="events per append call while building")
    p.add_argument("--runs", type=int, default=3, help="start-ups per case (the median is reported)")
    p.add_argument("--dir", type=Path, default=None, help="work directory (default: a temporary one)")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    args = p.parse_args()

    work = args.dir or Path(tempfile.mkdtemp(prefix="bench-startup-"))
    work.mkdir(parents=True, exist_ok=True)
    data = work / "data"
    empty = work / "empty"
    for d in (data, empty):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir()
    log_path = data / "eventlog.sqlite3"
    try:
        t = time.perf_counter()
        append_s, n = build_log(log_path, args.events, args.batch)
        build_s = time.perf_counter() - t
        size = log_path.stat().st_size + (log_path.with_name(log_path.name + "-wal").stat().st_size
                                          if log_path.with_name(log_path.name + "-wal").exists() else 0)
        print(f"built {n:,} events in {build_s:.1f} s ({size / 2**20:.0f} MiB): EventLog.append "
              f"{n / append_s:,.0f} events/s in batches of {args.batch}")

        with EventLog(log_path) as log:
            t = time.perf_counter()
            state = fold(log.read())
            replay_s = time.perf_counter() - t
            t = time.perf_counter()
            verified = fold(log.read_verified())  # what start-up folds: every row checked first
            verified_s = time.perf_counter() - t
        assert digest(verified) == digest(state)
        print(f"replay fold(log.read()) in-process: {replay_s:.2f} s, {n / replay_s:,.0f} events/s "
              f"({len(state.tablets):,} tablets in the state)")
        print(f"replay fold(log.read_verified()) in-process (CRC + keyed chain + stream sequence per row): "
              f"{verified_s:.2f} s, {n / verified_s:,.0f} events/s, x{verified_s / replay_s:.2f} of unverified")

        base_s, _ = median_of(args.runs, start_daemon, empty)
        full_s, dbs = median_of(args.runs, start_daemon, data)
        assert dbs == 2, f"the daemon should see sr_hub and information_schema, saw {dbs} databases"
        snap_at, _ = add_snapshot(log_path, n)
        snap_s, _ = median_of(args.runs, start_daemon, data)
        print()
        print(f"{'daemon start-up (spawn -> first answer)':<44}{'seconds':>10}{'x empty':>10}")
        print(f"{'empty data directory (baseline)':<44}{base_s:>10.2f}{1:>10.2f}")
        print(f"{f'{n:,} events, no snapshot (full replay)':<44}{full_s:>10.2f}{full_s / base_s:>10.2f}")
        print(f"{f'{n:,} events, snapshot at {snap_at:,} (+tail)':<44}{snap_s:>10.2f}{snap_s / base_s:>10.2f}")
    finally:
        if args.keep or args.dir:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
