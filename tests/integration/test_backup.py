"""BACKUP through PyMySQL against the real daemon: SHOW BACKUP, syntax forms, errors of semantics §6, the
one-job-per-database rule, CANCEL, snapshot isolation, timeouts, SHOW SNAPSHOT and external catalogs.

Two daemons: `fast` (no test equipment) for statements and errors; `slow` (every snapshot, upload and
download item sleeps: tests/support/faulty_serve.py decorates the storage) to hold a job in a state;
kill -9 tests, one per state that can be the last on disk, are in tests/crash/.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support import br
from tests.support.daemon import DaemonProcess, columns

TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-\d{3}$")
PROGRESS_RE = re.compile(r"^\[\d+: \d+/\d+\](, \[\d+: \d+/\d+\])*$")
ORDER = ["PENDING", "SNAPSHOTING", "UPLOAD_SNAPSHOT", "UPLOADING", "SAVE_META", "UPLOAD_INFO", "FINISHED"]
DELAY_S = 0.4


@dataclass
class Env:
    daemon: DaemonProcess
    conn: Any
    repo_dir: Path
    tmp: Path


def _env(tmp: Path, **kw: Any) -> Env:
    d = br.start_daemon(tmp / "data", **kw)
    conn = d.connect()
    br.create_file_repo(conn, "repo", tmp / "repo")
    return Env(d, conn, tmp / "repo", tmp)


@pytest.fixture(scope="module")
def fast(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("backup-fast")
    env = _env(tmp)
    try:
        br.build_sr_hub(env.conn, catalogs=True)
        yield env
    finally:
        br.stop_daemon(env.daemon)


@pytest.fixture(scope="module")
def slow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("backup-slow")
    env = _env(tmp, faults=["--item-delay-s", str(DELAY_S)])
    try:
        yield env
    finally:
        br.stop_daemon(env.daemon)


def small_db(conn: Any, db: str, rows: int = 40, buckets: int = 1) -> None:
    """sr_member with 3 partitions x 1 bucket (3 tablets): a job over it takes a few delays."""
    br.run(conn, f"CREATE DATABASE `{db}`")
    br.run(conn, br.create_member_sql(db, buckets=buckets))
    br.run(conn, f"INSERT INTO `{db}`.sr_member VALUES {br.member_values(1, rows)}")


def states_until_done(conn: Any, label: str, db: str, timeout: float = 60.0) -> tuple[list[str], list[str], dict[str, Any]]:
    """Poll SHOW BACKUP until the job ends: (states seen in order, Progress values seen, final row)."""
    seen: list[str] = []
    progress: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        row = br.job_row(conn, "BACKUP", label, db)
        if row is not None:
            if not seen or seen[-1] != row["State"]:
                seen.append(row["State"])
            if row["Progress"] and (not progress or progress[-1] != row["Progress"]):
                progress.append(row["Progress"])
            if row["State"] in br.DONE:
                return seen, progress, row
        assert time.monotonic() < deadline, f"backup {label} did not end; states seen {seen}"
        time.sleep(0.02)


# ------------------------------------------------------------------------------------------ SHOW BACKUP


def test_show_backup_columns_and_finished_row(fast: Env) -> None:
    c = fast.conn
    assert columns(c, "SHOW BACKUP") == br.BACKUP_COLUMNS
    before = time.time()
    row = br.backup(c, "BACKUP DATABASE sr_hub SNAPSHOT show_cols TO repo ON (TABLE sr_member, TABLE sr_pmc)",
                    "show_cols", db="sr_hub")
    assert str(row["JobId"]).isdigit()
    assert row["SnapshotName"] == "show_cols" and row["DbName"] == "sr_hub" and row["State"] == "FINISHED"
    assert row["BackupObjs"] == "[sr_hub.sr_member], [sr_hub.sr_pmc]"
    times = [row[k] for k in ("CreateTime", "SnapshotFinishedTime", "UploadFinishedTime", "FinishedTime")]
    assert all(t is not None and TIME_RE.match(str(t)) for t in times), times
    assert times == sorted(times)
    assert abs(time.mktime(time.strptime(str(times[0]), "%Y-%m-%d %H:%M:%S")) - before) < 60
    assert row["UnfinishedTasks"] == ""
    assert PROGRESS_RE.match(row["Progress"]), row["Progress"]
    for done, total in re.findall(r"(\d+)/(\d+)", row["Progress"]):
        assert done == total
    assert row["TaskErrMsg"] == "" and row["Status"] == "[OK]"
    assert str(row["Timeout"]) == "86400"
    # FROM <db> gives this database's last job; no FROM lists it too; another database has none.
    assert [r["SnapshotName"] for r in br.show_jobs(c, "BACKUP", "sr_hub")] == ["show_cols"]
    assert "show_cols" in [r["SnapshotName"] for r in br.show_jobs(c, "BACKUP")]
    br.run(c, "CREATE DATABASE IF NOT EXISTS empty_db")
    assert br.show_jobs(c, "BACKUP", "empty_db") == []


def test_state_progression_and_progress(slow: Env) -> None:
    c = slow.conn
    small_db(c, "prog")
    br.run(c, "BACKUP DATABASE prog SNAPSHOT prog_l TO repo")
    seen, progress, row = states_until_done(c, "prog_l", "prog")
    assert row["State"] == "FINISHED", row
    assert [s for s in ORDER if s in seen] == seen, f"states out of order: {seen}"
    assert "SNAPSHOTING" in seen and "UPLOADING" in seen and seen[-1] == "FINISHED"
    # Progress moved while the files were uploading: several distinct values, counts never going down.
    assert len(progress) >= 2, progress
    done_counts = [sum(int(d) for d, _ in re.findall(r"(\d+)/(\d+)", p)) for p in progress]
    assert done_counts == sorted(done_counts) and done_counts[0] < done_counts[-1], progress


# ------------------------------------------------------------------------------------------ syntax forms


def test_legacy_syntax_with_partitions(fast: Env) -> None:
    c = fast.conn
    row = br.backup(c, "BACKUP SNAPSHOT sr_hub.legacy_parts TO repo ON (sr_member PARTITION (p1, p2))",
                    "legacy_parts", db="sr_hub")
    assert row["BackupObjs"] == "[sr_hub.sr_member PARTITIONS (p1, p2)]"
    ts = br.latest_timestamp(c, "repo", "legacy_parts")
    detail = br.run(c, f"SHOW SNAPSHOT ON repo WHERE SNAPSHOT = 'legacy_parts' AND TIMESTAMP = '{ts}'")
    info = json.loads(detail[0][3])
    assert list(info["backup_objects"]) == ["sr_member"]
    assert sorted(info["backup_objects"]["sr_member"]["partitions"]) == ["p1", "p2"]


def test_backup_of_current_database_and_type_full(fast: Env) -> None:
    c = fast.daemon.connect(db="sr_hub")
    try:
        row = br.backup(c, 'BACKUP SNAPSHOT cur_db TO repo ON (TABLE sr_pmc) PROPERTIES ("type" = "FULL", "timeout" = "600")',
                        "cur_db", db="sr_hub")
        assert row["DbName"] == "sr_hub" and str(row["Timeout"]) == "600"
    finally:
        c.close()


# ------------------------------------------------------------------------------------------ errors (§6)


def test_label_already_in_repository(fast: Env) -> None:
    c = fast.conn
    br.backup(c, "BACKUP DATABASE sr_hub SNAPSHOT twice TO repo ON (TABLE sr_pmc)", "twice", db="sr_hub")
    msg = br.refused(c, "BACKUP DATABASE sr_hub SNAPSHOT twice TO repo ON (TABLE sr_pmc)")
    assert msg == "Snapshot with name 'twice' already exist in repository"
    msg = br.refused(c, 'BACKUP DATABASE sr_hub SNAPSHOT twice TO repo ON (TABLE sr_pmc) PROPERTIES ("type" = "INCREMENTAL")')
    assert msg == "Currently does not support incremental backup"


def test_read_only_repository(fast: Env) -> None:
    c = fast.conn
    br.create_file_repo(c, "ro_repo", fast.repo_dir, read_only=True)
    assert br.refused(c, "BACKUP DATABASE sr_hub SNAPSHOT ro_l TO ro_repo") == "Repository ro_repo is read only"


def test_unknown_repository_database_table_partition(fast: Env) -> None:
    c = fast.conn
    assert br.refused(c, "BACKUP DATABASE sr_hub SNAPSHOT u1 TO no_such_repo") == "Repository [no_such_repo] does not exist"
    code, msg = br.refused_code(c, "BACKUP DATABASE no_such_db SNAPSHOT u2 TO repo")
    assert msg == "Unknown database 'no_such_db'", (code, msg)
    code, msg = br.refused_code(c, "BACKUP DATABASE sr_hub SNAPSHOT u3 TO repo ON (TABLE no_such_table)")
    assert msg == "Unknown table 'no_such_table'", (code, msg)
    msg = br.refused(c, "BACKUP DATABASE sr_hub SNAPSHOT u4 TO repo ON (TABLE sr_member PARTITION (p9))")
    assert msg == "partition[p9] does not exist  in tablesr_member"  # sic, semantics §6
    msg = br.refused(c, "BACKUP DATABASE sr_hub SNAPSHOT u5 TO repo ON (TABLE sr_member AS other)")
    assert msg.startswith("Can not set alias for table in Backup Stmt"), msg
    msg = br.refused(c, "BACKUP DATABASE sr_hub SNAPSHOT u6 TO repo ON (FUNCTION no_such_fn)")
    assert msg == "Invalid backup function(s), function name: no_such_fn"
    br.run(c, "CREATE DATABASE IF NOT EXISTS nothing_db")
    assert br.refused(c, "BACKUP DATABASE nothing_db SNAPSHOT u7 TO repo") == "Database: nothing_db is empty"
    # None of the refused statements left a snapshot behind.
    labels = {r[0] for r in br.run(c, "SHOW SNAPSHOT ON repo")}
    assert not labels & {"u1", "u2", "u3", "u4", "u5", "u6", "u7"}


def test_bad_properties(fast: Env) -> None:
    c = fast.conn
    msg = br.refused(c, 'BACKUP DATABASE sr_hub SNAPSHOT p1 TO repo PROPERTIES ("timeout" = "599")')
    assert msg == "timeout must be at least 10 min"
    msg = br.refused(c, 'BACKUP DATABASE sr_hub SNAPSHOT p2 TO repo PROPERTIES ("foo" = "1")')
    assert msg == "Unknown backup job properties: [foo]"
    msg = br.refused(c, 'BACKUP DATABASE sr_hub SNAPSHOT p3 TO repo PROPERTIES ("timeout" = "ten")')
    assert msg == "Invalid timeout format: ten"


def test_cancel_with_nothing_to_cancel_and_after_finish(fast: Env) -> None:
    c = fast.conn
    br.run(c, "CREATE DATABASE IF NOT EXISTS idle_db")
    assert br.refused(c, "CANCEL BACKUP FROM idle_db") == "No backup job is currently running"
    assert br.refused(c, "CANCEL RESTORE FROM idle_db") == "No restore is currently running"
    br.backup(c, "BACKUP DATABASE sr_hub SNAPSHOT done_l TO repo ON (TABLE sr_pmc)", "done_l", db="sr_hub")
    msg = br.refused(c, "CANCEL BACKUP FROM sr_hub")
    assert msg == "Failed to cancel job: Job with label done_l can not be cancelled. state: FINISHED"
    # The last job of sr_hub is a backup: CANCEL RESTORE has nothing to cancel there.
    assert br.refused(c, "CANCEL RESTORE IN sr_hub") == "No restore is currently running"


# ------------------------------------------------------------------------------------------ SHOW SNAPSHOT


def test_show_snapshot_forms(fast: Env) -> None:
    c = fast.conn
    br.backup(c, "BACKUP DATABASE sr_hub SNAPSHOT ss_a TO repo ON (TABLE sr_member)", "ss_a", db="sr_hub")
    br.backup(c, "BACKUP DATABASE sr_hub SNAPSHOT ss_b TO repo ON (TABLE sr_pmc)", "ss_b", db="sr_hub")
    assert columns(c, "SHOW SNAPSHOT ON repo") == ["Snapshot", "Timestamp", "Status"]
    every = {r[0]: r for r in br.run(c, "SHOW SNAPSHOT ON repo")}
    assert {"ss_a", "ss_b"} <= set(every)
    ts_a = every["ss_a"][1]
    assert TS_RE.match(ts_a) and every["ss_a"][2] == "OK"
    one = br.run(c, "SHOW SNAPSHOT ON repo WHERE SNAPSHOT = 'ss_a'")
    assert one == [("ss_a", ts_a, "OK")]
    assert columns(c, "SHOW SNAPSHOT ON repo WHERE SNAPSHOT = 'ss_a'") == ["Snapshot", "Timestamp", "Status"]
    missing = br.run(c, "SHOW SNAPSHOT ON repo WHERE SNAPSHOT = 'ss_missing'")
    assert len(missing) == 1 and missing[0][0] == "ss_missing" and missing[0][2] == "ERROR: no snapshot"
    sql = f"SHOW SNAPSHOT ON repo WHERE SNAPSHOT = 'ss_a' AND TIMESTAMP = '{ts_a}'"
    assert columns(c, sql) == ["Snapshot", "Timestamp", "Database", "Details", "Status"]
    ((label, ts, database, details, status),) = br.run(c, sql)
    assert (label, ts, database, status) == ("ss_a", ts_a, "sr_hub", "OK")
    info = json.loads(details)
    assert info["name"] == "ss_a" and info["database"] == "sr_hub" and info["backup_result"] == "succeed"
    assert info["backup_objects"] == {"sr_member": {"partitions": {"p1": {}, "p2": {}, "p3": {}}}}
    bad = br.run(c, "SHOW SNAPSHOT ON repo WHERE SNAPSHOT = 'ss_a' AND TIMESTAMP = '2001-01-01-00-00-00-000'")
    assert bad[0][:4] == ("ss_a", "2001-01-01-00-00-00-000", None, None) and bad[0][4].startswith("Failed to get info")
    listed = br.run(c, "SHOW SNAPSHOT ON repo WHERE SNAPSHOT IN ('ss_a', 'ss_b', 'ss_missing')")
    assert sorted(r[0] for r in listed) == ["ss_a", "ss_b"]
    assert columns(c, "SHOW SNAPSHOT ON repo WHERE SNAPSHOT IN ('ss_a')") == ["Snapshot", "Timestamp", "Status"]
    msg = br.refused(c, f"SHOW SNAPSHOT ON repo WHERE TIMESTAMP = '{ts_a}'")
    assert msg.startswith("Where clause should looks like: SNAPSHOT = 'your_snapshot_name'"), msg
    assert br.refused(c, "SHOW SNAPSHOT ON no_repo") == "Repository no_repo does not exist"


# ------------------------------------------------------------------------------------------ external catalogs


def test_external_catalog_backups(fast: Env) -> None:
    c = fast.conn
    row = br.backup(c, "BACKUP EXTERNAL CATALOGS (iceberg, hive) SNAPSHOT cat_two TO repo", "cat_two")
    assert row["DbName"] == "" and "iceberg" in row["BackupObjs"] and "hive" in row["BackupObjs"]
    ts = br.latest_timestamp(c, "repo", "cat_two")
    ((_, _, database, details, status),) = br.run(
        c, f"SHOW SNAPSHOT ON repo WHERE SNAPSHOT = 'cat_two' AND TIMESTAMP = '{ts}'")
    assert database == "" and status == "OK"
    assert sorted(json.loads(details)["catalogs"]) == ["hive", "iceberg"]
    msg = br.refused(c, "BACKUP EXTERNAL CATALOG (no_such_cat) SNAPSHOT cat_bad TO repo")
    assert msg == "external catalog no_such_cat does not existed."
    msg = br.refused(c, "BACKUP EXTERNAL CATALOG (iceberg) DATABASE sr_hub SNAPSHOT cat_db TO repo")
    assert msg == "Can not specify database for external catalog snapshot"
    msg = br.refused(c, "CANCEL BACKUP FOR EXTERNAL CATALOG")
    assert msg == "Failed to cancel job: Job with label cat_two can not be cancelled. state: FINISHED"


# ------------------------------------------------------------------------------------------ running jobs


def test_one_running_job_per_database(slow: Env) -> None:
    c = slow.conn
    small_db(c, "busy")
    br.run(c, "BACKUP DATABASE busy SNAPSHOT busy_1 TO repo")
    br.wait_state(c, "BACKUP", "busy_1", ("SNAPSHOTING", "UPLOADING"), db="busy")
    msg = br.refused(c, "BACKUP DATABASE busy SNAPSHOT busy_2 TO repo")
    assert msg == "Can only run one backup or restore job of a database at same time"
    # Another database is free.
    small_db(c, "busy_other", rows=3)
    br.run(c, "BACKUP DATABASE busy_other SNAPSHOT busy_other_1 TO repo")
    br.wait_finished(c, "BACKUP", "busy_1", db="busy")
    br.wait_finished(c, "BACKUP", "busy_other_1", db="busy_other")
    br.backup(c, "BACKUP DATABASE busy SNAPSHOT busy_2 TO repo", "busy_2", db="busy")


def test_cancel_backup_releases_snapshots(slow: Env) -> None:
    c = slow.conn
    small_db(c, "cxl")
    br.run(c, "BACKUP DATABASE cxl SNAPSHOT cxl_1 TO repo")
    row = br.wait_state(c, "BACKUP", "cxl_1", ("UPLOADING",), db="cxl")
    job_id = str(row["JobId"])
    held = [p for p in br.snapshot_job_dirs(slow.tmp / "data") if p.name == job_id]
    assert held, "no snapshot directory while UPLOADING"
    br.run(c, "CANCEL BACKUP FROM cxl")
    row = br.wait_state(c, "BACKUP", "cxl_1", br.DONE, db="cxl")
    assert row["State"] == "CANCELLED" and row["Status"] == "[COMMON_ERROR, msg: user cancelled]", row
    assert row["FinishedTime"] is not None
    br.wait_for(lambda: not [p for p in br.snapshot_job_dirs(slow.tmp / "data") if p.name == job_id],
                timeout=15, what=f"snapshots/{job_id} released")
    msg = br.refused(c, "CANCEL BACKUP FROM cxl")
    assert msg == "Failed to cancel job: Job with label cxl_1 can not be cancelled. state: CANCELLED"
    # The label's leftover directory makes it "exist" (StarRocks, semantics §3.1); a new label works.
    br.backup(c, "BACKUP DATABASE cxl SNAPSHOT cxl_2 TO repo", "cxl_2", db="cxl")


def test_rows_loaded_during_upload_are_not_in_the_backup(slow: Env) -> None:
    c = slow.conn
    small_db(c, "iso")
    before = br.table_digest(c, "iso", "sr_member")
    br.run(c, "BACKUP DATABASE iso SNAPSHOT iso_1 TO repo")
    br.wait_state(c, "BACKUP", "iso_1", ("UPLOADING",), db="iso")
    br.run(c, f"INSERT INTO iso.sr_member VALUES {br.member_values(1000, 30)}")
    br.wait_finished(c, "BACKUP", "iso_1", db="iso")
    assert br.table_digest(c, "iso", "sr_member") != before
    ts = br.latest_timestamp(c, "repo", "iso_1")
    br.restore(c, f'RESTORE SNAPSHOT iso_1 FROM repo DATABASE iso AS iso_copy PROPERTIES ("backup_timestamp" = "{ts}")',
               "iso_1", db="iso_copy")
    assert br.table_digest(c, "iso_copy", "sr_member") == before


def test_timed_out_job_is_cancelled(slow: Env) -> None:
    """The `timeout` property cannot go below 600 s, but the default timeout is the mutable FE setting
    backup_job_default_timeout_ms (semantics §7.1): 1 s there times a slowed job out."""
    c = slow.conn
    small_db(c, "tmo", buckets=4)  # 12 tablets: the job lasts several ticks of the 1 s timeout check
    br.run(c, 'ADMIN SET FRONTEND CONFIG ("backup_job_default_timeout_ms" = "1000")')
    try:
        br.run(c, "BACKUP DATABASE tmo SNAPSHOT tmo_1 TO repo")
    finally:
        br.run(c, 'ADMIN SET FRONTEND CONFIG ("backup_job_default_timeout_ms" = "86400000")')
    row = br.wait_state(c, "BACKUP", "tmo_1", br.DONE, db="tmo", timeout=20)
    assert row["State"] == "CANCELLED" and row["Status"] == "[TIMEOUT, msg: ]", row
    assert str(row["Timeout"]) == "1"
    job_id = str(row["JobId"])
    br.wait_for(lambda: not [p for p in br.snapshot_job_dirs(slow.tmp / "data") if p.name == job_id],
                timeout=15, what="snapshots released after the timeout")


# kill -9 and restart: tests/crash/test_kill9.py (every state that can be the last one on disk).


def test_drop_repository_is_refused_while_a_job_uses_it(slow: Env) -> None:
    c = slow.conn
    small_db(c, "droprepo_db")
    br.run(c, "BACKUP DATABASE droprepo_db SNAPSHOT while_running TO repo")
    assert br.refused(c, "DROP REPOSITORY repo") == "Backup or restore job is running on this repository. Can not drop it"
    br.wait_finished(c, "BACKUP", "while_running", db="droprepo_db")
    assert [r[1] for r in br.run(c, "SHOW REPOSITORIES")] == ["repo"]  # the refusal changed nothing


# ------------------------------------------------------------------------------------------ checksums


def _tablet_files(env: Env, db: str, table: str) -> list[Path]:
    """The Parquet files of a table's tablets on one backend each (replicas are hard links of them)."""
    tablet_ids = {str(r[0]) for r in br.run(env.conn, f"SHOW TABLET FROM `{db}`.`{table}`")}
    files = [p for p in sorted((env.tmp / "data").glob("be*/tablets/*/*.parquet")) if p.parent.name in tablet_ids]
    return list({p.stat().st_ino: p for p in files}.values())


def test_uploaded_files_are_named_by_the_md5_of_their_content(fast: Env) -> None:
    """Loads record each rowset's md5 as they write it and the backup names the upload with it: the name
    must be the md5 of the bytes, for every file (a wrong recorded md5 would only show at restore)."""
    c = fast.conn
    br.backup(c, "BACKUP DATABASE sr_hub SNAPSHOT md5_names TO repo", "md5_names", db="sr_hub")
    content = [p for p in br.repo_files(fast.repo_dir) if "/__ss_md5_names/__ss_content/" in str(p)]
    assert len(content) >= 6, content
    for p in content:
        name, md5 = p.name.rsplit(".", 1)
        assert name.endswith(".parquet") and hashlib.md5(p.read_bytes()).hexdigest() == md5, p


def test_truncated_tablet_file_cancels_the_backup_naming_it(fast: Env) -> None:
    c = fast.conn
    small_db(c, "dmg_size")
    victim = _tablet_files(fast, "dmg_size", "sr_member")[0]
    with open(victim, "r+b") as fh:
        fh.truncate(victim.stat().st_size // 2)
    br.run(c, "BACKUP DATABASE dmg_size SNAPSHOT dmg_size_l TO repo")
    row = br.wait_state(c, "BACKUP", "dmg_size_l", br.DONE, db="dmg_size")
    assert row["State"] == "CANCELLED", row
    assert victim.name in row["Status"] and "damaged" in row["Status"], row["Status"]


def test_tablet_file_changed_in_place_is_caught_by_the_backup(fast: Env) -> None:
    """Same size, other bytes: the copy path checks the xxh3 recorded at load, so the backup (not a later
    restore) names the file; every replica shares the bytes here (hard links), so every one is damaged."""
    c = fast.conn
    small_db(c, "dmg_bits")
    victim = _tablet_files(fast, "dmg_bits", "sr_member")[0]
    br.flip_bytes(victim)
    br.run(c, "BACKUP DATABASE dmg_bits SNAPSHOT dmg_bits_l TO repo")
    row = br.wait_state(c, "BACKUP", "dmg_bits_l", br.DONE, db="dmg_bits")
    assert row["State"] == "CANCELLED", row
    assert victim.name in row["Status"] and "damaged on every replica" in row["Status"], row["Status"]
    assert "xxh3" in row["Status"], row["Status"]
    # Not in SHOW SNAPSHOT as a good snapshot: no info file was written.
    listed = br.run(c, "SHOW SNAPSHOT ON repo WHERE SNAPSHOT = 'dmg_bits_l'")
    assert listed[0][2] != "OK", listed


def test_a_damaged_replica_is_skipped_for_a_good_one(fast: Env) -> None:
    """Two of three replicas of a tablet file changed (their hard links broken first, so the third keeps the
    loaded bytes): the backup names the damaged copies, takes the good one and restores equal data."""
    c = fast.conn
    small_db(c, "dmg_one")
    source = br.table_digest(c, "dmg_one", "sr_member")
    tablet_ids = {str(r[0]) for r in br.run(c, "SHOW TABLET FROM dmg_one.sr_member")}
    copies = sorted(p for p in (fast.tmp / "data").glob("be*/tablets/*/*.parquet") if p.parent.name in tablet_ids)
    first = copies[0]
    replicas = sorted(p for p in copies if p.parent.name == first.parent.name and p.name == first.name)
    assert len(replicas) == 3, replicas
    for p in replicas[:2]:
        data = p.read_bytes()
        p.unlink()
        p.write_bytes(data)  # its own inode now
        br.flip_bytes(p)
    row = br.backup(c, "BACKUP DATABASE dmg_one SNAPSHOT dmg_one_l TO repo", "dmg_one_l", db="dmg_one")
    assert row["Status"] == "[OK]", row
    ts = br.latest_timestamp(c, "repo", "dmg_one_l")
    br.restore(c, f'RESTORE SNAPSHOT dmg_one_l FROM repo DATABASE dmg_one AS dmg_one_r '
                  f'PROPERTIES ("backup_timestamp" = "{ts}")', "dmg_one_l", db="dmg_one_r")
    assert br.table_digest(c, "dmg_one_r", "sr_member") == source


def test_repository_files_lost_during_upload_are_uploaded_again(slow: Env) -> None:
    """The repository's files removed behind the job's back while it uploads: the verification before
    FINISHED finds what is missing and uploads it again from the held snapshot; the backup restores."""
    import shutil

    c = slow.conn
    small_db(c, "lost", rows=60, buckets=2)
    source = br.table_digest(c, "lost", "sr_member")
    br.run(c, "BACKUP DATABASE lost SNAPSHOT lost_l TO repo")
    br.wait_for(lambda: (r := br.job_row(c, "BACKUP", "lost_l", "lost")) and re.search(r"\[\d+: [1-9]\d*/", r["Progress"] or ""),
                timeout=30, what="an upload recorded")
    snap_dir = next(slow.repo_dir.glob("__starrocks_repository_repo/__ss_lost_l"))
    for _ in range(5):  # the job keeps writing into it meanwhile
        shutil.rmtree(snap_dir, ignore_errors=True)
    row = br.wait_finished(c, "BACKUP", "lost_l", db="lost", timeout=60)
    assert "missing from the repository" in row["TaskErrMsg"], row
    ts = br.latest_timestamp(c, "repo", "lost_l")
    br.restore(c, f'RESTORE SNAPSHOT lost_l FROM repo DATABASE lost AS lost_r PROPERTIES ("backup_timestamp" = "{ts}")',
               "lost_l", db="lost_r")
    assert br.table_digest(c, "lost_r", "sr_member") == source


def test_show_snapshot_says_ok_only_for_an_info_file_that_verifies(fast: Env) -> None:
    c = fast.conn
    br.backup(c, "BACKUP DATABASE sr_hub SNAPSHOT ss_ver TO repo ON (TABLE sr_pmc)", "ss_ver", db="sr_hub")
    assert br.run(c, "SHOW SNAPSHOT ON repo WHERE SNAPSHOT = 'ss_ver'")[0][2] == "OK"
    (info,) = [
        p for p in br.repo_files(fast.repo_dir, "__info_*") if p.parent.name == "__ss_ss_ver"]
    good = info.read_bytes()
    br.flip_bytes(info)  # the md5 in its name no longer matches
    status = br.run(c, "SHOW SNAPSHOT ON repo WHERE SNAPSHOT = 'ss_ver'")[0][2]
    assert status.startswith("ERROR: ") and "md5" in status, status
    info.write_bytes(good)
    (info.parent / (info.name.rsplit(".", 1)[0] + "." + "0" * 32)).write_bytes(good)  # a second one
    status = br.run(c, "SHOW SNAPSHOT ON repo WHERE SNAPSHOT = 'ss_ver'")[0][2]
    assert status.startswith("ERROR: ") and "Expected one file" in status, status
