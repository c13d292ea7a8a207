"""Helpers for BACKUP / RESTORE integration tests against the real daemon (through PyMySQL).

Jobs are watched the way a user watches them, through SHOW BACKUP / SHOW RESTORE; snapshot timestamps come
from SHOW SNAPSHOT; table contents are compared by digest (every row, sorted, hashed).
"""

from __future__ import annotations

import collections
import hashlib
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pymysql

from tests.support.daemon import DaemonProcess, query

DONE = ("FINISHED", "CANCELLED")
BACKUP_COLUMNS = ["JobId", "SnapshotName", "DbName", "State", "BackupObjs", "CreateTime", "SnapshotFinishedTime",
                  "UploadFinishedTime", "FinishedTime", "UnfinishedTasks", "Progress", "TaskErrMsg", "Status", "Timeout"]
RESTORE_COLUMNS = ["JobId", "Label", "Timestamp", "DbName", "State", "AllowLoad", "ReplicationNum", "RestoreObjs",
                   "CreateTime", "MetaPreparedTime", "SnapshotFinishedTime", "DownloadFinishedTime", "FinishedTime",
                   "UnfinishedTasks", "Progress", "TaskErrMsg", "Status", "Timeout"]
# Never let a daemon look for instance credentials on a link-local address.
CLEAN_ENV = {k: "" for k in ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                             "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ROLE_ARN")}

Conn = pymysql.connections.Connection

# ------------------------------------------------------------------------------------------ daemons


def start_daemon(data_dir: Path, backends: int = 3, env: dict[str, str] | None = None,
                 config: dict[str, str] | None = None, faults: list[str] | None = None) -> DaemonProcess:
    """A daemon with clean AWS environment; `config` becomes a `key = value` config file; `faults` are
    options of tests/support/faulty_serve.py (slow storage, transfer log)."""
    cfg_path = None
    if config:
        cfg_path = Path(data_dir).parent / f"{Path(data_dir).name}.conf"
        cfg_path.parent.mkdir(parents=True, exist_ok=True)
        cfg_path.write_text("".join(f"{k} = {v}\n" for k, v in config.items()))
    return DaemonProcess(Path(data_dir), backends=backends, config=cfg_path,
                         extra_env={**CLEAN_ENV, **(env or {})}, faults=faults).start()


def stop_daemon(d: DaemonProcess) -> None:
    if d.proc is not None and d.proc.poll() is None:
        try:
            d.stop()
        except RuntimeError:
            d.kill()


# ------------------------------------------------------------------------------------------ statements


def run(conn: Conn, sql: str) -> list[tuple[Any, ...]]:
    return query(conn, sql)


def refused(conn: Conn, sql: str) -> str:
    """The error message of a statement that must fail (AssertionError if it succeeds)."""
    try:
        query(conn, sql)
    except pymysql.err.MySQLError as e:
        return str(e.args[1]) if len(e.args) > 1 else str(e)
    raise AssertionError(f"statement was accepted but should have been refused: {sql}")


def refused_code(conn: Conn, sql: str) -> tuple[int, str]:
    try:
        query(conn, sql)
    except pymysql.err.MySQLError as e:
        return int(e.args[0]), str(e.args[1]) if len(e.args) > 1 else ""
    raise AssertionError(f"statement was accepted but should have been refused: {sql}")


def wait_for(pred: Callable[[], Any], timeout: float = 30.0, what: str = "condition", every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met in {timeout} s")
        time.sleep(every)


# ------------------------------------------------------------------------------------------ jobs


def show_jobs(conn: Conn, kind: str, db: str | None = None) -> list[dict[str, Any]]:
    """SHOW BACKUP / SHOW RESTORE [FROM db] as dicts keyed by column name."""
    cols = BACKUP_COLUMNS if kind == "BACKUP" else RESTORE_COLUMNS
    sql = f"SHOW {kind}" + (f" FROM `{db}`" if db is not None else "")
    with conn.cursor() as cur:
        cur.execute(sql)
        names = [d[0] for d in cur.description or []]
        rows = list(cur.fetchall())
    assert names == cols, f"{sql}: columns {names}"
    return [dict(zip(cols, r, strict=True)) for r in rows]


def label_key(kind: str) -> str:
    return "SnapshotName" if kind == "BACKUP" else "Label"


def job_row(conn: Conn, kind: str, label: str, db: str | None = None) -> dict[str, Any] | None:
    rows = [r for r in show_jobs(conn, kind, db) if r[label_key(kind)] == label]
    return max(rows, key=lambda r: int(r["JobId"])) if rows else None


def wait_state(conn: Conn, kind: str, label: str, states: Iterable[str] = DONE, db: str | None = None,
               timeout: float = 60.0) -> dict[str, Any]:
    """Poll SHOW BACKUP/RESTORE until the job with this label is in one of `states`; its row."""
    wanted = tuple(states)
    last: list[dict[str, Any] | None] = [None]

    def check() -> dict[str, Any] | None:
        row = job_row(conn, kind, label, db)
        last[0] = row
        return row if row is not None and row["State"] in wanted else None

    try:
        return wait_for(check, timeout, f"{kind} {label} in {wanted}")
    except AssertionError:
        raise AssertionError(f"{kind} {label} not in {wanted} within {timeout} s; last row: {last[0]}") from None


def wait_finished(conn: Conn, kind: str, label: str, db: str | None = None, timeout: float = 60.0) -> dict[str, Any]:
    row = wait_state(conn, kind, label, DONE, db, timeout)
    assert row["State"] == "FINISHED", f"{kind} {label} ended {row['State']}: Status {row['Status']}, TaskErrMsg {row['TaskErrMsg']}"
    assert row["Status"] == "[OK]", row
    return row


def backup(conn: Conn, sql: str, label: str, db: str | None = None, timeout: float = 60.0) -> dict[str, Any]:
    run(conn, sql)
    return wait_finished(conn, "BACKUP", label, db, timeout)


def restore(conn: Conn, sql: str, label: str, db: str | None = None, timeout: float = 60.0) -> dict[str, Any]:
    run(conn, sql)
    return wait_finished(conn, "RESTORE", label, db, timeout)


# ------------------------------------------------------------------------------------------ snapshots


def snapshot_timestamps(conn: Conn, repo: str, label: str) -> list[str]:
    rows = run(conn, f"SHOW SNAPSHOT ON `{repo}` WHERE SNAPSHOT = '{label}'")
    assert len(rows) == 1 and rows[0][0] == label, rows
    assert rows[0][2] == "OK", rows
    return [t for t in (rows[0][1] or "").split("\n") if t]


def latest_timestamp(conn: Conn, repo: str, label: str) -> str:
    stamps = snapshot_timestamps(conn, repo, label)
    assert stamps, f"no timestamp for snapshot {label} in {repo}"
    return max(stamps)


# ------------------------------------------------------------------------------------------ digests


def _sort_key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple((v is None, type(v).__name__, str(v)) for v in row)


def rows_of(conn: Conn, db: str, table: str) -> list[tuple[Any, ...]]:
    return sorted(run(conn, f"SELECT * FROM `{db}`.`{table}`"), key=_sort_key)


def table_digest(conn: Conn, db: str, table: str) -> str:
    """sha256 over the column names and every row (sorted): equal digests, equal contents."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT * FROM `{db}`.`{table}`")
        names = [d[0] for d in cur.description or []]
        rows = sorted(cur.fetchall(), key=_sort_key)
    h = hashlib.sha256(repr(names).encode())
    for r in rows:
        h.update(repr(r).encode())
    return f"{len(rows)}:{h.hexdigest()[:16]}"


def digests(conn: Conn, db: str, tables: Iterable[str]) -> dict[str, str]:
    return {t: table_digest(conn, db, t) for t in tables}


# ------------------------------------------------------------------------------------------ repositories


def props_sql(props: dict[str, str]) -> str:
    return "PROPERTIES (" + ", ".join(f'"{k}" = "{v}"' for k, v in props.items()) + ")"


def create_file_repo(conn: Conn, name: str, path: Path, read_only: bool = False) -> str:
    Path(path).mkdir(parents=True, exist_ok=True)
    location = f"file://{path}"
    run(conn, f'CREATE {"READ ONLY " if read_only else ""}REPOSITORY `{name}` WITH BROKER ON LOCATION "{location}"')
    return location


def create_s3_repo(conn: Conn, name: str, moto: Any, bucket: str, read_only: bool = False, prefix: str = "backup") -> str:
    location = f"s3a://{bucket}/{prefix}"
    run(conn, f'CREATE {"READ ONLY " if read_only else ""}REPOSITORY `{name}` WITH BROKER ON LOCATION "{location}" '
              + props_sql({"aws.s3.access_key": moto.access_key, "aws.s3.secret_key": moto.secret_key,
                           "aws.s3.endpoint": moto.endpoint}))
    return location


# ------------------------------------------------------------------------------------------ the reference's sr_hub

MEMBER_DAYS = {"p1": "2022-03-13", "p2": "2022-03-14", "p3": "2022-03-15"}


def create_member_sql(db: str, table: str = "sr_member", partitions: Iterable[str] = ("p1", "p2", "p3"),
                      buckets: int = 2) -> str:
    bounds = {"p1": ("2022-03-13", "2022-03-14"), "p2": ("2022-03-14", "2022-03-15"),
              "p3": ("2022-03-15", "2022-03-16"), "p4": ("2022-03-16", "2022-03-17"),
              "p5": ("2022-03-17", "2022-03-18")}
    parts = ", ".join(f"PARTITION {p} VALUES [('{bounds[p][0]}'), ('{bounds[p][1]}'))" for p in partitions)
    return (f"CREATE TABLE `{db}`.`{table}` (sr_id INT, name STRING, city_code INT, reg_date DATE, verified BOOLEAN) "
            f"PARTITION BY RANGE(reg_date) ({parts}) DISTRIBUTED BY HASH(city_code) BUCKETS {buckets}")


def create_pmc_sql(db: str, table: str = "sr_pmc") -> str:
    return (f"CREATE TABLE `{db}`.`{table}` (pmc_id INT NOT NULL, member_id INT, amount DECIMAL(12, 2), "
            f"status VARCHAR(16)) PRIMARY KEY (pmc_id) DISTRIBUTED BY HASH(pmc_id) BUCKETS 4")


def member_values(first: int, count: int, days: Iterable[str] = tuple(MEMBER_DAYS.values())) -> str:
    days = list(days)
    return ", ".join(
        f"({i}, 'member_{i:05d}', {100 * (1 + i % 4)}, '{days[i % len(days)]}', {'true' if i % 3 else 'false'})"
        for i in range(first, first + count)
    )


def pmc_values(first: int, count: int) -> str:
    return ", ".join(f"({i}, {1 + (i * 13) % 300}, {i * 7 % 1000}.25, '{('open', 'closed')[i % 2]}')"
                     for i in range(first, first + count))


UDF1 = ('CREATE FUNCTION `{db}`.sr_udf1(INT) RETURNS INT PROPERTIES ("symbol"="plus_one", "type"="Python", '
        '"file"="inline") AS $$\ndef plus_one(x):\n    return None if x is None else x + 1\n$$')
UDF2 = ('CREATE FUNCTION `{db}`.sr_udf2(INT, INT) RETURNS INT PROPERTIES ("symbol"="times", "type"="Python", '
        '"file"="inline") AS $$\ndef times(x, y):\n    return None if x is None or y is None else x * y\n$$')
VIEW1 = "CREATE VIEW `{db}`.sr_view1 AS SELECT sr_id, name, city_code FROM `{db}`.sr_member WHERE verified"
VIEW2 = "CREATE VIEW `{db}`.sr_view2 AS SELECT status, count(*) AS n FROM `{db}`.sr_pmc GROUP BY status"
MV1 = ("CREATE MATERIALIZED VIEW `{db}`.sr_mv1 DISTRIBUTED BY HASH(city_code) REFRESH ASYNC AS "
       "SELECT city_code, count(*) AS members FROM `{db}`.sr_member GROUP BY city_code")
MV2 = ("CREATE MATERIALIZED VIEW `{db}`.sr_mv2 DISTRIBUTED BY HASH(status) REFRESH ASYNC AS "
       "SELECT status, sum(amount) AS total FROM `{db}`.sr_pmc GROUP BY status")
CATALOGS = {
    "iceberg": 'CREATE EXTERNAL CATALOG iceberg PROPERTIES ("type"="iceberg", "iceberg.catalog.type"="hive", '
               '"hive.metastore.uris"="thrift://127.0.0.1:9083")',
    "hive": 'CREATE EXTERNAL CATALOG hive PROPERTIES ("type"="hive", "hive.metastore.uris"="thrift://127.0.0.1:9083")',
}
TABLES = ("sr_member", "sr_pmc")
MVS = ("sr_mv1", "sr_mv2")
VIEWS = ("sr_view1", "sr_view2")
UDFS = ("sr_udf1", "sr_udf2")


def build_sr_hub(conn: Conn, db: str = "sr_hub", members: int = 300, pmcs: int = 120, objects: bool = True,
                 catalogs: bool = False) -> None:
    """The reference's database: sr_member (RANGE p1..p3), sr_pmc (PRIMARY KEY), loaded; with `objects`
    also the async MVs sr_mv1/sr_mv2, views sr_view1/sr_view2 and Python UDFs sr_udf1/sr_udf2; with
    `catalogs` the external catalogs iceberg and hive."""
    run(conn, f"CREATE DATABASE `{db}`")
    run(conn, create_member_sql(db))
    run(conn, create_pmc_sql(db))
    run(conn, f"INSERT INTO `{db}`.sr_member VALUES {member_values(1, members)}")
    run(conn, f"INSERT INTO `{db}`.sr_pmc VALUES {pmc_values(1, pmcs)}")
    if objects:
        for stmt in (VIEW1, VIEW2, MV1, MV2, UDF1, UDF2):
            run(conn, stmt.format(db=db))
    if catalogs:
        for stmt in CATALOGS.values():
            run(conn, stmt)


def object_digests(conn: Conn, db: str) -> dict[str, str]:
    """Digest of every table, MV and view of sr_hub, plus the results of both UDFs."""
    out = digests(conn, db, TABLES + MVS + VIEWS)
    out.update(udf_results(conn, db))
    return out


def udf_results(conn: Conn, db: str) -> dict[str, str]:
    r1 = run(conn, f"SELECT `{db}`.sr_udf1(41)")
    r2 = run(conn, f"SELECT `{db}`.sr_udf2(6, 7)")
    return {"sr_udf1": repr(r1), "sr_udf2": repr(r2)}


def mv_state(conn: Conn, db: str, name: str) -> tuple[str, str]:
    """(is_active, inactive_reason) from SHOW MATERIALIZED VIEWS."""
    with conn.cursor() as cur:
        cur.execute(f"SHOW MATERIALIZED VIEWS FROM `{db}` WHERE name = '{name}'")
        names = [d[0] for d in cur.description or []]
        rows = list(cur.fetchall())
    assert len(rows) == 1, rows
    row = dict(zip(names, rows[0], strict=True))
    return str(row["is_active"]).lower(), row["inactive_reason"] or ""


# ------------------------------------------------------------------------------------------ daemon files


def snapshot_job_dirs(data_dir: Path) -> list[Path]:
    """`be*/snapshots/<job>` directories left in a daemon's data directory (held backup snapshots)."""
    out = []
    for be in sorted(Path(data_dir).glob("be*")):
        snaps = be / "snapshots"
        if snaps.is_dir():
            out.extend(p for p in sorted(snaps.iterdir()) if p.is_dir())
    return out


def transfer_lines(path: Path) -> list[str]:
    try:
        return [ln for ln in Path(path).read_text().splitlines() if ln.strip()]
    except FileNotFoundError:
        return []


def repeated_transfers(path: Path) -> dict[str, int]:
    """Transfer-log lines (`upload <key>` / `download <key>`) that occur more than once."""
    counts = collections.Counter(transfer_lines(path))
    return {k: n for k, n in counts.items() if n > 1}


def repo_files(root: Path, pattern: str = "*") -> list[Path]:
    return sorted(p for p in Path(root).rglob(pattern) if p.is_file())


def flip_bytes(path: Path) -> None:
    """Corrupt a file in place, keeping its size (so only the checksum can tell)."""
    data = bytearray(Path(path).read_bytes())
    assert data, f"{path} is empty"
    for i in range(0, len(data), max(1, len(data) // 8)):
        data[i] ^= 0xFF
    Path(path).write_bytes(bytes(data))
    os.utime(path)
