"""RESTORE through PyMySQL against the real daemon: SHOW RESTORE, the restore rules of semantics §5, errors
of §6, tables locked while restored, corrupted repository files, CANCEL before COMMIT, and async MVs
coming back active or inactive.

`fast` holds sr_hub and a file:// repository with the snapshot `full` (whole database) taken at setup;
`slow` (every item sleeps) reads the same repository READ ONLY to hold restores in DOWNLOADING. kill -9
tests are in tests/crash/.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support import br
from tests.support.daemon import DaemonProcess, columns

TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
DELAY_S = 0.5


@dataclass
class Env:
    daemon: DaemonProcess
    conn: Any
    tmp: Path
    repo_dir: Path
    ts: dict[str, str] = field(default_factory=dict)
    source: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def fast(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("restore-fast")
    d = br.start_daemon(tmp / "data")
    try:
        conn = d.connect()
        br.build_sr_hub(conn)
        br.create_file_repo(conn, "repo", tmp / "repo")
        env = Env(d, conn, tmp, tmp / "repo")
        env.source = br.object_digests(conn, "sr_hub")
        br.backup(conn, "BACKUP DATABASE sr_hub SNAPSHOT full TO repo", "full", db="sr_hub")
        env.ts["full"] = br.latest_timestamp(conn, "repo", "full")
        yield env
    finally:
        br.stop_daemon(d)


def ts_props(env: Env, label: str = "full", extra: str = "") -> str:
    return f'PROPERTIES ("backup_timestamp" = "{env.ts[label]}"{extra})'


def restore_error(conn: Any, sql: str, label: str, db: str | None) -> str:
    """A restore that must fail: refused as a statement, or its job CANCELLED; the message either way."""
    try:
        br.run(conn, sql)
    except Exception as e:  # noqa: BLE001
        return str(e.args[1]) if len(getattr(e, "args", ())) > 1 else str(e)
    row = br.wait_state(conn, "RESTORE", label, br.DONE, db=db)
    assert row["State"] == "CANCELLED", f"restore should have failed: {row}"
    return str(row["Status"])


# ------------------------------------------------------------------------------------------ SHOW RESTORE


def test_show_restore_columns_and_row(fast: Env) -> None:
    c = fast.conn
    assert columns(c, "SHOW RESTORE") == br.RESTORE_COLUMNS
    row = br.restore(c, f"RESTORE SNAPSHOT full FROM repo DATABASE sr_hub AS r_cols ON (TABLE sr_member) {ts_props(fast)}",
                     "full", db="r_cols")
    assert str(row["JobId"]).isdigit()
    assert (row["Label"], row["Timestamp"], row["DbName"], row["State"]) == ("full", fast.ts["full"], "r_cols", "FINISHED")
    assert str(row["AllowLoad"]).lower() == "false" and str(row["ReplicationNum"]) == "3"
    assert row["RestoreObjs"] == "sr_member PARTITIONS [p1, p2, p3]"
    times = [row[k] for k in ("CreateTime", "MetaPreparedTime", "SnapshotFinishedTime", "DownloadFinishedTime",
                              "FinishedTime")]
    assert all(t is not None and TIME_RE.match(str(t)) for t in times), times
    assert times == sorted(times)
    assert row["UnfinishedTasks"] == ""
    pairs = re.findall(r"\[\d+: (\d+)/(\d+)\]", row["Progress"])
    assert pairs and all(d == n for d, n in pairs), row["Progress"]
    assert row["TaskErrMsg"] == "" and row["Status"] == "[OK]" and str(row["Timeout"]) == "86400"
    assert [r["Label"] for r in br.show_jobs(c, "RESTORE", "r_cols")] == ["full"]
    assert br.show_jobs(c, "BACKUP", "r_cols") == []
    assert br.table_digest(c, "r_cols", "sr_member") == fast.source["sr_member"]


# ------------------------------------------------------------------------------------------ rules (§5)


def test_missing_database_and_objects_are_created(fast: Env) -> None:
    c = fast.conn
    br.restore(c, f"RESTORE SNAPSHOT full FROM repo DATABASE sr_hub AS r_new {ts_props(fast)}", "full", db="r_new")
    tables = {r[0] for r in br.run(c, "SHOW TABLES FROM r_new")}
    assert set(br.TABLES + br.MVS + br.VIEWS) <= tables, tables
    assert br.digests(c, "r_new", br.TABLES + br.MVS) == {k: fast.source[k] for k in br.TABLES + br.MVS}
    for v in br.VIEWS:
        br.table_digest(c, "r_new", v)  # the views answer
    assert br.udf_results(c, "r_new") == {k: fast.source[k] for k in br.UDFS}
    # replication_num: the restored tables have the job's replica count.
    create = br.run(c, "SHOW CREATE TABLE r_new.sr_pmc")[0][1]
    assert '"replication_num" = "3"' in create, create


def test_existing_table_with_matching_schema_is_overwritten(fast: Env) -> None:
    c = fast.conn
    br.restore(c, f"RESTORE SNAPSHOT full FROM repo DATABASE sr_hub AS r_over ON (TABLE sr_member, TABLE sr_pmc) "
                  f"{ts_props(fast)}", "full", db="r_over")
    br.run(c, f"INSERT INTO r_over.sr_member VALUES {br.member_values(5000, 20)}")
    br.run(c, "INSERT INTO r_over.sr_pmc VALUES (1, 1, 0.5, 'changed'), (9999, 2, 1.5, 'new')")
    assert br.table_digest(c, "r_over", "sr_member") != fast.source["sr_member"]
    br.restore(c, f"RESTORE SNAPSHOT full FROM repo DATABASE sr_hub AS r_over ON (TABLE sr_member, TABLE sr_pmc) "
                  f"{ts_props(fast)}", "full", db="r_over")
    assert br.digests(c, "r_over", br.TABLES) == {k: fast.source[k] for k in br.TABLES}
    br.run(c, f"INSERT INTO r_over.sr_member VALUES {br.member_values(7000, 1)}")  # writable again


SCHEMA_MISMATCH = [
    ("column", "CREATE TABLE {db}.sr_member (sr_id INT, name VARCHAR(10), city_code INT, reg_date DATE, verified BOOLEAN) "
               "PARTITION BY RANGE(reg_date) (PARTITION p1 VALUES [('2022-03-13'), ('2022-03-14'))) "
               "DISTRIBUTED BY HASH(city_code) BUCKETS 2",
     "Table sr_member already exist but with different schema, column: "),
    ("partition type", "CREATE TABLE {db}.sr_member (sr_id INT, name STRING, city_code INT, reg_date DATE, verified BOOLEAN) "
                       "DISTRIBUTED BY HASH(city_code) BUCKETS 2",
     "Table sr_member already exist but with different schema, errMsg: partition type is inconsistent"),
    ("buckets", "CREATE TABLE {db}.sr_member (sr_id INT, name STRING, city_code INT, reg_date DATE, verified BOOLEAN) "
                "PARTITION BY RANGE(reg_date) (PARTITION p1 VALUES [('2022-03-13'), ('2022-03-14'))) "
                "DISTRIBUTED BY HASH(city_code) BUCKETS 3",
     "Table sr_member already exist but with different schema, errMsg: bucket num is inconsistent"),
    ("distribution", "CREATE TABLE {db}.sr_member (sr_id INT, name STRING, city_code INT, reg_date DATE, verified BOOLEAN) "
                     "PARTITION BY RANGE(reg_date) (PARTITION p1 VALUES [('2022-03-13'), ('2022-03-14'))) "
                     "DISTRIBUTED BY HASH(sr_id) BUCKETS 2",
     "Table sr_member already exist but with different schema, errMsg: partition distribution col hash is inconsistent"),
    ("keys", "CREATE TABLE {db}.sr_pmc (pmc_id INT NOT NULL, member_id INT, amount DECIMAL(12, 2), status VARCHAR(16)) "
             "DUPLICATE KEY (pmc_id) DISTRIBUTED BY HASH(pmc_id) BUCKETS 4",
     "Table sr_pmc already exist but with different key type"),
    ("columns count", "CREATE TABLE {db}.sr_pmc (pmc_id INT NOT NULL, member_id INT, amount DECIMAL(12, 2)) "
                      "PRIMARY KEY (pmc_id) DISTRIBUTED BY HASH(pmc_id) BUCKETS 4",
     "Table sr_pmc already exist but with different schema"),
]


@pytest.mark.parametrize("what,create,expected", SCHEMA_MISMATCH, ids=[m[0] for m in SCHEMA_MISMATCH])
def test_schema_mismatch_is_refused_and_target_unchanged(fast: Env, what: str, create: str, expected: str) -> None:
    c = fast.conn
    db = "mm_" + re.sub(r"\W", "_", what)
    table = "sr_pmc" if "sr_pmc" in create else "sr_member"
    br.run(c, f"CREATE DATABASE {db}")
    br.run(c, create.format(db=db))
    before = br.run(c, f"SHOW CREATE TABLE {db}.{table}")
    msg = restore_error(c, f"RESTORE SNAPSHOT full FROM repo DATABASE sr_hub AS {db} ON (TABLE {table}) {ts_props(fast)}",
                        "full", db)
    assert expected in msg, msg
    assert br.run(c, f"SHOW CREATE TABLE {db}.{table}") == before
    assert br.run(c, f"SHOW TABLES FROM {db}") == [(table,)]


def test_new_range_partitions_are_added(fast: Env) -> None:
    c = fast.conn
    br.run(c, "CREATE DATABASE r_parts")
    br.run(c, br.create_member_sql("r_parts", partitions=("p1", "p2")))
    br.run(c, "INSERT INTO r_parts.sr_member VALUES (1, 'other', 100, '2022-03-13', true)")
    br.restore(c, f"RESTORE SNAPSHOT full FROM repo DATABASE sr_hub AS r_parts ON (TABLE sr_member) {ts_props(fast)}",
               "full", db="r_parts")
    assert br.table_digest(c, "r_parts", "sr_member") == fast.source["sr_member"]
    parts = {r[1] for r in br.run(c, "SHOW PARTITIONS FROM r_parts.sr_member")}
    assert {"p1", "p2", "p3"} <= parts, parts


def test_overlapping_range_is_refused(fast: Env) -> None:
    c = fast.conn
    br.run(c, "CREATE DATABASE r_overlap")
    br.run(c, "CREATE TABLE r_overlap.sr_member (sr_id INT, name STRING, city_code INT, reg_date DATE, verified BOOLEAN) "
              "PARTITION BY RANGE(reg_date) (PARTITION p1 VALUES [('2022-03-13'), ('2022-03-14')), "
              "PARTITION p2 VALUES [('2022-03-14'), ('2022-03-15')), PARTITION p9 VALUES [('2022-03-15'), ('2022-03-20'))) "
              "DISTRIBUTED BY HASH(city_code) BUCKETS 2")
    br.run(c, "INSERT INTO r_overlap.sr_member VALUES (1, 'mine', 100, '2022-03-16', true)")
    before = br.table_digest(c, "r_overlap", "sr_member")
    msg = restore_error(c, f"RESTORE SNAPSHOT full FROM repo DATABASE sr_hub AS r_overlap ON (TABLE sr_member) "
                           f"{ts_props(fast)}", "full", "r_overlap")
    assert "Partition p3 in table sr_member has conflict range with existing ranges" in msg, msg
    assert br.table_digest(c, "r_overlap", "sr_member") == before


def test_as_renames_database_table_view_and_function(fast: Env) -> None:
    c = fast.conn
    br.restore(c, "RESTORE SNAPSHOT full FROM repo DATABASE sr_hub AS r_alias ON (TABLE sr_member AS m2, "
                  f"TABLE sr_pmc, VIEW sr_view2 AS v2, FUNCTION sr_udf1 AS plus1) {ts_props(fast)}", "full", db="r_alias")
    tables = {r[0] for r in br.run(c, "SHOW TABLES FROM r_alias")}
    assert {"m2", "sr_pmc", "v2"} <= tables and "sr_member" not in tables, tables
    assert br.table_digest(c, "r_alias", "m2") == fast.source["sr_member"]
    br.table_digest(c, "r_alias", "v2")
    assert br.run(c, "SELECT r_alias.plus1(41)") == [(42,)]
    # Legacy form: db prefix on the label, AS on the table.
    br.restore(c, f"RESTORE SNAPSHOT r_alias.full FROM repo ON (sr_pmc AS p3) {ts_props(fast)}", "full", db="r_alias")
    assert br.table_digest(c, "r_alias", "p3") == fast.source["sr_pmc"]


def test_restore_statement_errors(fast: Env) -> None:
    c = fast.conn
    base = "RESTORE SNAPSHOT full FROM repo DATABASE sr_hub AS r_err"
    assert br.refused(c, base) == "Missing backup_timestamp property"
    msg = br.refused(c, f'{base} PROPERTIES ("backup_timestamp" = "2001-01-01-00-00-00-000")')
    assert msg.startswith("Failed to get info of snapshot 'full' because: ") and msg.endswith(
        ". Maybe specified wrong backup timestamp"), msg
    msg = br.refused(c, f'RESTORE SNAPSHOT no_such_label FROM repo {ts_props(fast)}')
    assert msg.startswith("Failed to get info of snapshot 'no_such_label' because: "), msg
    msg = br.refused(c, f"RESTORE SNAPSHOT full FROM repo DATABASE other_db {ts_props(fast)}")
    assert msg == "target database: other_db is not existed in snapshot"
    assert br.refused(c, f"{base} ON (TABLE nope) {ts_props(fast)}") == "Table nope does not exist in snapshot full"
    msg = br.refused(c, f"{base} ON (TABLE sr_member PARTITION (p9)) {ts_props(fast)}")
    assert msg == "Partition p9 of table sr_member does not exist in snapshot full"
    assert br.refused(c, f"{base} ON (FUNCTION nope) {ts_props(fast)}") == "Can not find restore function: nope"
    foo, short = ', "foo" = "1"', ', "timeout" = "10"'
    msg = br.refused(c, f"{base} {ts_props(fast, extra=foo)}")
    assert msg == "Unknown restore job properties: [foo]"
    msg = br.refused(c, f"{base} {ts_props(fast, extra=short)}")
    assert msg == "timeout must be at least 10 min"
    assert br.refused(c, f"RESTORE SNAPSHOT full FROM no_repo {ts_props(fast)}") == "Repository [no_repo] does not exist"
    assert "r_err" not in {r[0] for r in br.run(c, "SHOW DATABASES")}


def test_cancel_after_finished_is_refused(fast: Env) -> None:
    c = fast.conn
    br.restore(c, f"RESTORE SNAPSHOT full FROM repo DATABASE sr_hub AS r_done ON (TABLE sr_pmc) {ts_props(fast)}",
               "full", db="r_done")
    msg = br.refused(c, "CANCEL RESTORE FROM r_done")
    assert msg == "Failed to cancel job: Job with label full can not be cancelled. state: FINISHED"
    assert br.refused(c, "CANCEL BACKUP FROM r_done") == "No backup job is currently running"


def test_corrupted_repository_file_fails_the_job_and_leaves_target(fast: Env) -> None:
    c = fast.conn
    br.backup(c, "BACKUP DATABASE sr_hub SNAPSHOT corrupt TO repo ON (TABLE sr_member, TABLE sr_pmc)", "corrupt",
              db="sr_hub")
    fast.ts["corrupt"] = br.latest_timestamp(c, "repo", "corrupt")
    content = [p for p in br.repo_files(fast.repo_dir) if "/__ss_corrupt/__ss_content/" in str(p)]
    assert content, "no tablet files in the repository"
    victim = content[len(content) // 2]
    br.flip_bytes(victim)
    # Target: an existing copy of sr_member (changed) and no sr_pmc (the restore would create it).
    br.restore(c, f"RESTORE SNAPSHOT full FROM repo DATABASE sr_hub AS r_bad ON (TABLE sr_member) {ts_props(fast)}",
               "full", db="r_bad")
    br.run(c, f"INSERT INTO r_bad.sr_member VALUES {br.member_values(8000, 5)}")
    before = br.table_digest(c, "r_bad", "sr_member")
    msg = restore_error(c, f"RESTORE SNAPSHOT corrupt FROM repo DATABASE sr_hub AS r_bad {ts_props(fast, 'corrupt')}",
                        "corrupt", "r_bad")
    assert victim.name in msg, f"the error does not name {victim.name}: {msg}"
    assert br.table_digest(c, "r_bad", "sr_member") == before
    assert {r[0] for r in br.run(c, "SHOW TABLES FROM r_bad")} == {"sr_member"}
    br.run(c, f"INSERT INTO r_bad.sr_member VALUES {br.member_values(8100, 1)}")  # unlocked


# ------------------------------------------------------------------------------------------ async MVs


def test_async_mv_inactive_without_base_then_activated(fast: Env) -> None:
    c = fast.conn
    br.run(c, "CREATE DATABASE mvsrc")
    br.run(c, br.create_member_sql("mvsrc"))
    br.run(c, f"INSERT INTO mvsrc.sr_member VALUES {br.member_values(1, 50)}")
    br.run(c, br.MV1.format(db="mvsrc"))
    mv_digest = br.table_digest(c, "mvsrc", "sr_mv1")
    br.backup(c, "BACKUP DATABASE mvsrc SNAPSHOT mvsnap TO repo", "mvsnap", db="mvsrc")
    fast.ts["mvsnap"] = br.latest_timestamp(c, "repo", "mvsnap")
    br.run(c, "DROP DATABASE mvsrc")
    # The MV alone: its base table is missing, so it comes back inactive with a reason.
    br.restore(c, f"RESTORE SNAPSHOT mvsnap FROM repo DATABASE mvsrc ON (MATERIALIZED VIEW sr_mv1) "
                  f"{ts_props(fast, 'mvsnap')}", "mvsnap", db="mvsrc")
    active, reason = br.mv_state(c, "mvsrc", "sr_mv1")
    assert active == "false" and reason, (active, reason)
    # Then the base table; ALTER ... ACTIVE works and the MV answers.
    br.restore(c, f"RESTORE SNAPSHOT mvsnap FROM repo DATABASE mvsrc ON (TABLE sr_member) {ts_props(fast, 'mvsnap')}",
               "mvsnap", db="mvsrc")
    br.run(c, "ALTER MATERIALIZED VIEW mvsrc.sr_mv1 ACTIVE")
    assert br.mv_state(c, "mvsrc", "sr_mv1")[0] == "true"
    assert br.table_digest(c, "mvsrc", "sr_mv1") == mv_digest
    # Both together into a new database: active at once.
    br.restore(c, f"RESTORE SNAPSHOT mvsnap FROM repo DATABASE mvsrc AS mvboth {ts_props(fast, 'mvsnap')}",
               "mvsnap", db="mvboth")
    assert br.mv_state(c, "mvboth", "sr_mv1")[0] == "true"
    assert br.table_digest(c, "mvboth", "sr_mv1") == mv_digest


# ------------------------------------------------------------------------------------------ running restores


@pytest.fixture(scope="module")
def slow(fast: Env, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """A daemon whose items sleep, reading fast's repository (same name and location, READ ONLY)."""
    tmp = tmp_path_factory.mktemp("restore-slow")
    d = br.start_daemon(tmp / "data", faults=["--item-delay-s", str(DELAY_S)])
    try:
        conn = d.connect()
        br.create_file_repo(conn, "repo", fast.repo_dir, read_only=True)
        br.create_file_repo(conn, "local", tmp / "local")
        yield Env(d, conn, tmp, fast.repo_dir, ts=fast.ts, source=fast.source)
    finally:
        br.stop_daemon(d)


def test_table_locked_while_restored_and_free_after(slow: Env) -> None:
    c = slow.conn
    br.run(c, "CREATE DATABASE lk")
    br.run(c, br.create_member_sql("lk"))
    br.run(c, "INSERT INTO lk.sr_member VALUES (1, 'mine', 100, '2022-03-13', true)")
    br.run(c, f"RESTORE SNAPSHOT full FROM repo DATABASE sr_hub AS lk ON (TABLE sr_member) {ts_props(slow)}")
    br.wait_state(c, "RESTORE", "full", ("DOWNLOADING",), db="lk")
    refusals = [
        br.refused(c, "INSERT INTO lk.sr_member VALUES (2, 'x', 100, '2022-03-13', true)"),
        br.refused(c, "TRUNCATE TABLE lk.sr_member"),
        br.refused(c, "ALTER TABLE lk.sr_member ADD PARTITION p7 VALUES [('2022-03-20'), ('2022-03-21'))"),
        br.refused(c, "DROP TABLE lk.sr_member"),
    ]
    for msg in refusals:
        assert "sr_member" in msg and "RESTORE" in msg, refusals
    busy = "Can only run one backup or restore job of a database at same time"
    assert br.refused(c, "BACKUP DATABASE lk SNAPSHOT lk_b TO local") == busy
    assert br.refused(c, f"RESTORE SNAPSHOT full FROM repo DATABASE sr_hub AS lk ON (TABLE sr_pmc) {ts_props(slow)}") == busy
    br.wait_finished(c, "RESTORE", "full", db="lk")
    assert br.table_digest(c, "lk", "sr_member") == slow.source["sr_member"]
    br.run(c, "INSERT INTO lk.sr_member VALUES (2, 'x', 100, '2022-03-13', true)")
    br.run(c, "ALTER TABLE lk.sr_member ADD PARTITION p7 VALUES [('2022-03-20'), ('2022-03-21'))")


def test_cancel_before_commit_leaves_target_unchanged(slow: Env) -> None:
    c = slow.conn
    br.run(c, "CREATE DATABASE cx")
    br.run(c, br.create_member_sql("cx"))
    br.run(c, "INSERT INTO cx.sr_member VALUES (1, 'mine', 100, '2022-03-13', true)")
    before = br.table_digest(c, "cx", "sr_member")
    tables_before = br.run(c, "SHOW TABLES FROM cx")
    # Overwrites sr_member, creates sr_pmc, the MVs, views and UDFs.
    br.run(c, f"RESTORE SNAPSHOT full FROM repo DATABASE sr_hub AS cx {ts_props(slow)}")
    br.wait_state(c, "RESTORE", "full", ("DOWNLOADING",), db="cx")
    time.sleep(DELAY_S * 2)  # some files are down
    br.run(c, "CANCEL RESTORE FROM cx")
    row = br.wait_state(c, "RESTORE", "full", br.DONE, db="cx")
    assert row["State"] == "CANCELLED", row
    assert row["Status"] == "[COMMON_ERROR, msg: user cancelled, current state: DOWNLOADING]", row
    assert br.run(c, "SHOW TABLES FROM cx") == tables_before
    assert br.table_digest(c, "cx", "sr_member") == before
    assert br.run(c, "SHOW FUNCTIONS FROM cx") == []
    br.run(c, "INSERT INTO cx.sr_member VALUES (2, 'after', 100, '2022-03-13', true)")  # unlocked
    assert br.refused(c, "CANCEL RESTORE FROM cx") == (
        "Failed to cancel job: Job with label full can not be cancelled. state: CANCELLED")


def test_cancel_restore_into_missing_database(slow: Env) -> None:
    c = slow.conn
    br.run(c, f"RESTORE SNAPSHOT full FROM repo DATABASE sr_hub AS cx_new ON (TABLE sr_pmc) {ts_props(slow)}")
    br.wait_state(c, "RESTORE", "full", ("DOWNLOADING",), db="cx_new")
    br.run(c, "CANCEL RESTORE FROM cx_new")
    assert br.wait_state(c, "RESTORE", "full", br.DONE, db="cx_new")["State"] == "CANCELLED"
    dbs = {r[0] for r in br.run(c, "SHOW DATABASES")}
    if "cx_new" in dbs:  # StarRocks leaves an automatically created database (semantics §3.2); no table in it
        assert br.run(c, "SHOW TABLES FROM cx_new") == []


# kill -9 and restart: tests/crash/test_kill9.py (every state that can be the last one on disk).
