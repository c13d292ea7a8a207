"""The demo (`bash dev/demo.sh`, or `python dev/demo.py [--data-dir D] [--port P]` with the repository on
PYTHONPATH; development equipment, not part of the product packages): start a daemon, build the reference's `sr_hub` database, load it, query it, check it.

The demo talks to a real daemon subprocess over the MySQL protocol (PyMySQL), exactly as a user would,
and prints every statement it runs and what came back. Every result is checked against values computed
here in Python; the exit code is 0 only when every check held and the daemon stopped cleanly.

Steps (run in order by `run_demo`):
  1. start      a daemon on 127.0.0.1 in the data directory
  2. create     sr_hub with sr_member (RANGE on a date, as in the reference), sr_pmc (PRIMARY KEY) and
                sr_city_stats (AGGREGATE KEY)
  3. load       INSERT VALUES, INSERT FROM FILES() over Parquet files, INSERT SELECT, an upsert
  4. query      partitions, tablets, joins and aggregates, each checked
  5. backup     CREATE REPOSITORY (file://), BACKUP DATABASE, SHOW BACKUP until FINISHED, SHOW SNAPSHOT
  6. drop       DROP DATABASE sr_hub
  7. restore    RESTORE SNAPSHOT ... PROPERTIES(backup_timestamp), SHOW RESTORE until FINISHED
  8. verify     every table's rows equal the fingerprints taken before the backup
  9. stop       SIGTERM, exit code 0; then `starbackup audit` verifies the event log
"""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

DB = "sr_hub"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
PARTITION_DAYS = ["2022-03-13", "2022-03-14", "2022-03-15", "2022-03-16", "2022-03-17"]
CITY_CODES = [100, 200, 300, 400]
FILE_MEMBERS = 3000  # members loaded from Parquet files through FILES()
FILES = 3
VALUE_MEMBERS = 5  # members loaded with INSERT VALUES

CREATE_MEMBER = f"""CREATE TABLE {DB}.sr_member (
    sr_id INT,
    name STRING,
    city_code INT,
    reg_date DATE,
    verified BOOLEAN
)
PARTITION BY RANGE(reg_date) (
    PARTITION p1 VALUES [('2022-03-13'), ('2022-03-14')),
    PARTITION p2 VALUES [('2022-03-14'), ('2022-03-15')),
    PARTITION p3 VALUES [('2022-03-15'), ('2022-03-16')),
    PARTITION p4 VALUES [('2022-03-16'), ('2022-03-17')),
    PARTITION p5 VALUES [('2022-03-17'), ('2022-03-18'))
)
DISTRIBUTED BY HASH(city_code)"""

CREATE_PMC = f"""CREATE TABLE {DB}.sr_pmc (
    pmc_id INT NOT NULL,
    member_id INT,
    amount DECIMAL(12, 2),
    status VARCHAR(16)
)
PRIMARY KEY (pmc_id)
DISTRIBUTED BY HASH(pmc_id) BUCKETS 4
PROPERTIES ("replication_num" = "2")"""

CREATE_STATS = f"""CREATE TABLE {DB}.sr_city_stats (
    city_code INT,
    reg_date DATE,
    members BIGINT SUM,
    verified BIGINT SUM,
    max_id INT MAX
)
AGGREGATE KEY (city_code, reg_date)
DISTRIBUTED BY HASH(city_code) BUCKETS 2"""


class DemoFailed(Exception):
    pass


@dataclass
class Member:
    sr_id: int
    name: str
    city_code: int
    reg_date: date
    verified: bool


def members() -> list[Member]:
    """The demo's members, deterministic: spread over the five daily partitions and four cities."""
    out = []
    first = date.fromisoformat(PARTITION_DAYS[0])
    for i in range(1, VALUE_MEMBERS + FILE_MEMBERS + 1):
        out.append(Member(i, f"member_{i:05d}", CITY_CODES[i % len(CITY_CODES)],
                          first + timedelta(days=(i * 7) % len(PARTITION_DAYS)), i % 3 != 0))
    return out


def pmc_rows() -> list[tuple[int, int, Decimal, str]]:
    return [(i, 1 + (i * 13) % (VALUE_MEMBERS + FILE_MEMBERS), Decimal(i * 7 % 1000) + Decimal("0.25"), "open")
            for i in range(1, 201)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------------------------- the daemon


class DemoDaemon:
    """`starbackup serve` as a subprocess: the demo sees the daemon a user would run."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir
        self.port = port
        self.out_path = data_dir / "demo-daemon.out"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        root = Path(__file__).resolve().parents[1]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
        cmd = [sys.executable, "-m", "sqlfront.cli", "serve", "--data-dir", str(self.data_dir),
               "--host", "127.0.0.1", "--port", str(self.port)]
        t0 = time.monotonic()
        with open(self.out_path, "ab") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        deadline = t0 + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise DemoFailed(f"the daemon exited with code {self.proc.returncode}:\n{self.tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return time.monotonic() - t0
            except OSError:
                time.sleep(0.05)
        self.kill()
        raise DemoFailed(f"the daemon did not listen within {START_TIMEOUT_S:.0f}s:\n{self.tail()}")

    def tail(self, chars: int = 2000) -> str:
        try:
            return self.out_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.kill()
                raise DemoFailed(f"the daemon did not stop within {STOP_TIMEOUT_S:.0f}s of SIGTERM") from None
        return int(self.proc.returncode)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# ------------------------------------------------------------------------------------------- the session


@dataclass
class Demo:
    console: Console
    conn: Any
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    # Table name -> fingerprint of its sorted rows, taken after the loads: the RESTORE step compares with it.
    fingerprints: dict[str, str] = field(default_factory=dict)

    def sql(self, statement: str, show: bool = False, title: str | None = None) -> list[tuple[Any, ...]]:
        t0 = time.perf_counter()
        with self.conn.cursor() as cur:
            affected = cur.execute(statement)
            rows = list(cur.fetchall() or [])
            names = [d[0] for d in cur.description or []]
        ms = (time.perf_counter() - t0) * 1000
        first = " ".join(statement.split())
        first = first if len(first) <= 100 else first[:97] + "..."
        what = f"{len(rows)} rows" if names else f"OK, {affected} rows affected"
        self.console.print(f"[cyan]sql>[/cyan] {first}  [dim]({what}, {ms:.0f} ms)[/dim]")
        if show and names:
            self.console.print(result_table(title or first, names, rows))
        return rows

    def check(self, what: str, got: Any, expected: Any) -> bool:
        ok = bool(got == expected)
        detail = "" if ok else f"got {got!r}, expected {expected!r}"
        self.checks.append((what, ok, detail))
        mark = "[green]✓[/green]" if ok else "[red]✗[/red]"
        self.console.print(f"  {mark} {what}" + (f": [red]{detail}[/red]" if detail else ""))
        return ok

    def expect_error(self, what: str, statement: str, code: int) -> bool:
        try:
            with self.conn.cursor() as cur:
                cur.execute(statement)
        except Exception as e:  # pymysql raises several error classes; all carry (code, message)
            got = e.args[0] if e.args else None
            self.console.print(f"[cyan]sql>[/cyan] {' '.join(statement.split())[:100]}  [dim](error {got})[/dim]")
            return self.check(f"{what}: refused with error {code}", got, code)
        return self.check(f"{what}: refused with error {code}", "no error", code)

    def fingerprint(self, table: str, order_by: str) -> str:
        rows = self.sql(f"SELECT * FROM {DB}.{table} ORDER BY {order_by}")
        return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]


def result_table(title: str, names: Sequence[str], rows: Sequence[Sequence[Any]], limit: int = 12) -> Table:
    table = Table(title=title, title_justify="left", show_lines=False)
    for n in names:
        table.add_column(str(n))
    for row in rows[:limit]:
        table.add_row(*("NULL" if v is None else str(v) for v in row))
    if len(rows) > limit:
        table.add_row(*(["…"] * len(names)))
    return table


# ------------------------------------------------------------------------------------------- the steps


def step_create(d: Demo) -> None:
    d.console.rule("create the sr_hub database")
    d.sql(f"DROP DATABASE IF EXISTS {DB} FORCE")  # the demo may run again on the same data directory
    d.sql(f"CREATE DATABASE {DB}")
    d.sql(f"USE {DB}")
    for ddl in (CREATE_MEMBER, CREATE_PMC, CREATE_STATS):
        d.sql(ddl)
    tables = [r[0] for r in d.sql("SHOW TABLES", show=True, title="SHOW TABLES")]
    d.check("three tables exist", sorted(tables), ["sr_city_stats", "sr_member", "sr_pmc"])


def write_member_files(data_dir: Path, rows: list[Member]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = data_dir / "demo-files"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.parquet"):
        old.unlink()
    per_file = (len(rows) + FILES - 1) // FILES
    for f in range(FILES):
        part = rows[f * per_file:(f + 1) * per_file]
        table = pa.table({
            "sr_id": pa.array([m.sr_id for m in part], pa.int32()),
            "name": pa.array([m.name for m in part], pa.string()),
            "city_code": pa.array([m.city_code for m in part], pa.int32()),
            "reg_date": pa.array([m.reg_date for m in part], pa.date32()),
            "verified": pa.array([m.verified for m in part], pa.bool_()),
        })
        pq.write_table(table, folder / f"members-{f}.parquet")
    return folder


def step_load(d: Demo, data_dir: Path) -> None:
    d.console.rule("load")
    everyone = members()
    by_values, by_files = everyone[:VALUE_MEMBERS], everyone[VALUE_MEMBERS:]
    values = ", ".join(f"({m.sr_id}, '{m.name}', {m.city_code}, '{m.reg_date}', {str(m.verified).lower()})"
                       for m in by_values)
    d.sql(f"INSERT INTO sr_member VALUES {values}")
    folder = write_member_files(data_dir, by_files)
    d.sql(f'INSERT INTO sr_member SELECT * FROM FILES("path" = "file://{folder}/*.parquet", "format" = "parquet")')
    d.expect_error("a row outside every partition", "INSERT INTO sr_member VALUES (0, 'x', 100, '2021-01-01', true)",
                   5064)

    pmc = pmc_rows()
    d.sql("INSERT INTO sr_pmc VALUES " + ", ".join(f"({a}, {b}, {c}, '{s}')" for a, b, c, s in pmc))
    # An upsert: the primary key model keeps the latest row per key.
    d.sql("INSERT INTO sr_pmc VALUES " + ", ".join(f"({i}, {1 + (i * 13) % len(everyone)}, 0.00, 'closed')"
                                                   for i in range(1, 51)))
    # The aggregate model sums (and takes the max) per key, across two loads.
    d.sql("INSERT INTO sr_city_stats SELECT city_code, reg_date, 1, CASE WHEN verified THEN 1 ELSE 0 END, sr_id "
          "FROM sr_member WHERE sr_id % 2 = 0")
    d.sql("INSERT INTO sr_city_stats SELECT city_code, reg_date, 1, CASE WHEN verified THEN 1 ELSE 0 END, sr_id "
          "FROM sr_member WHERE sr_id % 2 = 1")


def step_query(d: Demo) -> None:
    d.console.rule("query and check")
    everyone = members()
    total = d.sql("SELECT count(*) FROM sr_member")[0][0]
    d.check("sr_member holds every member", total, len(everyone))
    _check_layout(d, everyone)
    _check_answers(d, everyone)
    d.fingerprints = {"sr_member": d.fingerprint("sr_member", "sr_id"), "sr_pmc": d.fingerprint("sr_pmc", "pmc_id"),
                      "sr_city_stats": d.fingerprint("sr_city_stats", "city_code, reg_date")}


def _check_layout(d: Demo, everyone: list[Member]) -> None:
    """Partitions, versions, tablets and replicas."""
    per_part = d.sql("SHOW PARTITIONS FROM sr_member")
    got = {r[1]: (r[2], r[16]) for r in per_part}
    expected_counts = {f"p{i + 1}": sum(1 for m in everyone if str(m.reg_date) == day)
                       for i, day in enumerate(PARTITION_DAYS)}
    d.console.print(result_table("SHOW PARTITIONS FROM sr_member (name, visible version, rows)",
                                 ["PartitionName", "VisibleVersion", "RowCount"],
                                 [(name, v, n) for name, (v, n) in got.items()]))
    d.check("rows routed to their date partitions", {k: v[1] for k, v in got.items()}, expected_counts)
    d.check("two loads advanced every partition to version 3", sorted({v[0] for v in got.values()}), [3])

    tablets = d.sql("SHOW TABLET FROM sr_member")
    by_tablet: dict[int, list[int]] = {}
    for r in tablets:
        by_tablet.setdefault(r[0], []).append(r[2])
    d.check("5 partitions x 3 buckets = 15 tablets", len(by_tablet), 15)
    d.check("each tablet has 3 replicas on distinct backends",
            all(len(set(bes)) == 3 == len(bes) for bes in by_tablet.values()), True)
    pmc_replicas = d.sql("SHOW TABLET FROM sr_pmc")
    d.check("sr_pmc: 4 buckets, replication_num 2", (len({r[0] for r in pmc_replicas}), len(pmc_replicas)), (4, 8))


def _check_answers(d: Demo, everyone: list[Member]) -> None:
    """Aggregates, the primary-key upsert, a join and the aggregate model, against values computed here."""
    rows = d.sql("SELECT city_code, count(*) AS members, sum(CASE WHEN verified THEN 1 ELSE 0 END) AS verified "
                 "FROM sr_member GROUP BY city_code ORDER BY city_code", show=True, title="members per city")
    expected = [(c, sum(1 for m in everyone if m.city_code == c), sum(1 for m in everyone if m.city_code == c and
                m.verified)) for c in CITY_CODES]
    d.check("GROUP BY city_code", [tuple(int(x) for x in r) for r in rows], expected)

    pmc = {p[0]: p for p in pmc_rows()}
    for i in range(1, 51):
        pmc[i] = (i, 1 + (i * 13) % len(everyone), Decimal("0.00"), "closed")
    rows = d.sql("SELECT status, count(*), sum(amount) FROM sr_pmc GROUP BY status ORDER BY status", show=True,
                 title="sr_pmc after the upsert (PRIMARY KEY keeps the latest row)")
    expected_pmc = [(s, sum(1 for p in pmc.values() if p[3] == s), sum(p[2] for p in pmc.values() if p[3] == s))
                    for s in ("closed", "open")]
    d.check("primary key upsert merged on read", [(r[0], int(r[1]), Decimal(r[2])) for r in rows], expected_pmc)

    rows = d.sql("SELECT p.status, m.city_code, count(*) AS n FROM sr_pmc p JOIN sr_member m ON p.member_id = m.sr_id "
                 "GROUP BY p.status, m.city_code ORDER BY n DESC, p.status, m.city_code LIMIT 5", show=True,
                 title="top (status, city) pairs: JOIN + GROUP BY + ORDER BY + LIMIT")
    by_id = {m.sr_id: m for m in everyone}
    counts: dict[tuple[str, int], int] = {}
    for p in pmc.values():
        key = (p[3], by_id[p[1]].city_code)
        counts[key] = counts.get(key, 0) + 1
    expected_join = sorted(((s, c, n) for (s, c), n in counts.items()), key=lambda r: (-r[2], r[0], r[1]))[:5]
    d.check("JOIN sr_pmc with sr_member", [(r[0], int(r[1]), int(r[2])) for r in rows], expected_join)

    rows = d.sql("SELECT city_code, sum(members), sum(verified), max(max_id) FROM sr_city_stats GROUP BY city_code "
                 "ORDER BY city_code", show=True, title="sr_city_stats (AGGREGATE KEY: SUM and MAX merged on read)")
    expected_stats = [(c, e[1], e[2], max(m.sr_id for m in everyone if m.city_code == c)) for c, e in
                      zip(CITY_CODES, expected, strict=True)]
    d.check("aggregate model merged two loads", [tuple(int(x) for x in r) for r in rows], expected_stats)
    keys = d.sql("SELECT count(*) FROM sr_city_stats")[0][0]
    d.check("one aggregate row per (city, day)", keys, len({(m.city_code, m.reg_date) for m in everyone}))


# ============================================================================ BACKUP / DROP / RESTORE / VERIFY

REPO = "demo_repo"
LABEL = "sr_hub_backup"
JOB_TIMEOUT_S = 300.0


def _wait_job(d: Demo, show: str, state_col: int, title: str) -> tuple[Any, ...]:
    """Poll SHOW BACKUP / SHOW RESTORE, printing each new state with its progress, until the job ends."""
    deadline = time.monotonic() + JOB_TIMEOUT_S
    seen: tuple[Any, ...] | None = None
    with d.conn.cursor() as cur:
        while time.monotonic() < deadline:
            cur.execute(show)
            rows = cur.fetchall()
            row = rows[0] if rows else None
            if row is not None:
                progress = row[state_col + 7] if show.upper().startswith("SHOW BACKUP") else row[state_col + 10]
                brief = (row[state_col], progress)
                if brief != seen:
                    d.console.print(f"  {title}: state [bold]{row[state_col]}[/bold]  progress {progress or '-'}")
                    seen = brief
                if row[state_col] in ("FINISHED", "CANCELLED"):
                    return tuple(row)
            time.sleep(0.05)
    raise DemoFailed(f"{title} did not finish in {JOB_TIMEOUT_S:.0f} s")


def step_backup(d: Demo, data_dir: Path) -> None:
    d.console.rule("back up sr_hub to a file:// repository")
    repo_dir = data_dir / "repository"
    repo_dir.mkdir(parents=True, exist_ok=True)
    d.sql(f"DROP REPOSITORY {REPO}") if any(r[1] == REPO for r in d.sql("SHOW REPOSITORIES")) else None
    d.sql(f'CREATE REPOSITORY {REPO} WITH BROKER ON LOCATION "file://{repo_dir}"')
    d.sql("SHOW REPOSITORIES", show=True, title="SHOW REPOSITORIES")
    label = f"{LABEL}_{int(time.time())}"  # a label is unique per repository; the demo may run again
    d.label = label  # type: ignore[attr-defined]
    d.sql(f"BACKUP DATABASE {DB} SNAPSHOT {label} TO {REPO}")
    row = _wait_job(d, f"SHOW BACKUP FROM {DB}", 3, "BACKUP")
    d.console.print(result_table("SHOW BACKUP", ["JobId", "SnapshotName", "DbName", "State", "BackupObjs", "Status"],
                                 [(row[0], row[1], row[2], row[3], row[4], row[12])]))
    d.check("BACKUP finished", (row[3], row[12]), ("FINISHED", "[OK]"))
    snaps = d.sql(f"SHOW SNAPSHOT ON {REPO} WHERE SNAPSHOT = '{label}'", show=True, title="SHOW SNAPSHOT")
    d.check("SHOW SNAPSHOT lists the snapshot", (snaps[0][0], snaps[0][2]), (label, "OK"))
    d.timestamp = snaps[0][1].split("\n")[-1]  # type: ignore[attr-defined]


def step_drop(d: Demo) -> None:
    d.console.rule("drop the database")
    d.sql(f"DROP DATABASE {DB}")
    d.expect_error("the dropped table is gone", f"SELECT count(*) FROM {DB}.sr_member", 5501)


def step_restore(d: Demo) -> None:
    d.console.rule("restore sr_hub from the snapshot")
    label, ts = d.label, d.timestamp  # type: ignore[attr-defined]
    d.sql(f'RESTORE SNAPSHOT {label} FROM {REPO} DATABASE {DB} PROPERTIES ("backup_timestamp" = "{ts}")')
    row = _wait_job(d, f"SHOW RESTORE FROM {DB}", 4, "RESTORE")
    d.console.print(result_table("SHOW RESTORE", ["JobId", "Label", "Timestamp", "DbName", "State", "RestoreObjs",
                                                  "Status"], [(row[0], row[1], row[2], row[3], row[4], row[7], row[16])]))
    d.check("RESTORE finished", (row[4], row[16]), ("FINISHED", "[OK]"))


def step_verify(d: Demo) -> None:
    d.console.rule("verify: every table equals the original")
    for table, order in (("sr_member", "sr_id"), ("sr_pmc", "pmc_id"), ("sr_city_stats", "city_code, reg_date")):
        d.check(f"{table}: restored rows equal the originals", d.fingerprint(table, order), d.fingerprints[table])


# ============================================================================ end of the placeholders


def step_audit(d: Demo, data_dir: Path) -> None:
    d.console.rule("audit the event log")
    from storage.audit import run_audit

    out = StringIO()
    code = run_audit(str(data_dir), out=out)
    last = out.getvalue().strip().splitlines()[-1] if out.getvalue().strip() else ""
    d.console.print(f"[cyan]$[/cyan] starbackup audit --data-dir {data_dir}  [dim]-> {last}[/dim]")
    d.check("starbackup audit verifies the log", code, 0)


def run_steps(demo: Demo, data_dir: Path) -> None:
    step_create(demo)
    step_load(demo, data_dir)
    step_query(demo)
    step_backup(demo, data_dir)
    step_drop(demo)
    step_restore(demo)
    step_verify(demo)
    backends = demo.sql("SHOW BACKENDS", show=True, title="SHOW BACKENDS")
    demo.check("three backends", len(backends), 3)


def run_demo(data_dir: Path, port: int) -> int:
    console = Console(highlight=False)
    data_dir = Path(data_dir).resolve()
    try:
        import pymysql
    except ImportError:
        console.print("[red]the demo needs PyMySQL: run `bash dev/setup.sh` (or pip install pymysql)[/red]")
        return 2
    port = port or free_port()
    daemon = DemoDaemon(data_dir, port)
    demo: Demo | None = None
    failed: str | None = None
    t0 = time.monotonic()
    try:
        console.rule("start")
        started = daemon.start()
        console.print(f"starbackup serve --data-dir {data_dir} --port {port}: listening after {started:.2f} s "
                      f"(connect with: mysql -h127.0.0.1 -P{port} -uroot)")
        conn = pymysql.connect(host="127.0.0.1", port=port, user="root", password="", autocommit=True,
                               read_timeout=600)
        demo = Demo(console, conn)
        try:
            run_steps(demo, data_dir)
        finally:
            conn.close()
    except DemoFailed as e:
        failed = str(e)
    except Exception as e:  # a failed statement: report it and the daemon's last words
        failed = f"{type(e).__name__}: {e}"
    finally:
        console.rule("stop")
        try:
            code = daemon.stop()
            console.print(f"SIGTERM -> the daemon exited with code {code}")
            if demo is not None:
                demo.check("the daemon stopped cleanly", code, 0)
        except DemoFailed as e:
            failed = failed or str(e)
    if demo is not None and failed is None:
        step_audit(demo, data_dir)
    if failed is not None:
        console.print(f"[red]demo failed: {failed}[/red]")
        tail = daemon.tail()
        if tail:
            console.print(f"[dim]daemon output ({daemon.out_path}):\n{tail}[/dim]", markup=False)
        return 1
    assert demo is not None
    bad = [c for c in demo.checks if not c[1]]
    elapsed = time.monotonic() - t0
    if bad:
        console.print(f"[red]{len(bad)} of {len(demo.checks)} checks failed[/red] ({elapsed:.1f} s)")
        for what, _, detail in bad:
            console.print(f"  [red]✗ {what}: {detail}[/red]")
        return 1
    console.print(f"[green]all {len(demo.checks)} checks passed[/green] in {elapsed:.1f} s; "
                  f"data in {data_dir}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dev/demo.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default="demo-data")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)
    return run_demo(Path(args.data_dir), args.port)


if __name__ == "__main__":
    sys.exit(main())
