"""kill -9 of the real daemon in every job state that can be the last one on disk (issue 10 item 8).

Each test starts the daemon through tests/support/faulty_serve.py, which holds the job in the chosen state
with decorated test equipment (slow snapshots, slow uploads or downloads of chosen files, or a delayed
self-message for the states without work of their own), waits until SHOW BACKUP / SHOW RESTORE shows that
state, kills the process with SIGKILL, restarts it normally (only the transfer log stays on), and checks:
the job resumes and FINISHES, no file was uploaded or downloaded twice (the transfer log, written by the
storage decorator), and the result restores with data identical to the source.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support import br
from tests.support.daemon import DaemonProcess

pytestmark = pytest.mark.slow

TABLES = ["sr_member", "sr_pmc"]
HOLD_S = "60"  # a held state lasts this long unless the test kills the daemon first


@dataclass
class Run:
    daemon: DaemonProcess
    conn: Any
    tmp: Path
    log: Path

    def kill_and_restart_normally(self) -> None:
        self.daemon.kill()
        self.daemon.faults = ["--transfer-log", str(self.log)]  # no more slowness or held messages
        self.daemon.start()
        self.conn = self.daemon.connect()


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Any]:
    runs: list[Run] = []

    def _start(hold: list[str], backends: int = 3) -> Run:
        log = tmp_path / "transfers.log"
        d = br.start_daemon(tmp_path / "data", backends=backends, faults=[*hold, "--transfer-log", str(log)])
        conn = d.connect()
        br.create_file_repo(conn, "repo", tmp_path / "repo")
        run = Run(d, conn, tmp_path, log)
        runs.append(run)
        return run

    yield _start
    for r in runs:
        br.stop_daemon(r.daemon)


def _source(c: Any, db: str) -> dict[str, str]:
    br.run(c, f"CREATE DATABASE {db}")
    br.run(c, br.create_member_sql(db, buckets=2))
    br.run(c, f"INSERT INTO {db}.sr_member VALUES {br.member_values(1, 40)}")
    br.run(c, br.create_pmc_sql(db))
    br.run(c, f"INSERT INTO {db}.sr_pmc VALUES {br.pmc_values(1, 30)}")
    return br.digests(c, db, TABLES)


def _uploads(run: Run) -> list[str]:
    return [ln for ln in br.transfer_lines(run.log) if ln.startswith("upload ")]


def _restores_identically(c: Any, label: str, source: dict[str, str], alias: str) -> None:
    ts = br.latest_timestamp(c, "repo", label)
    br.restore(c, f'RESTORE SNAPSHOT {label} FROM repo DATABASE src AS {alias} PROPERTIES ("backup_timestamp" = "{ts}")',
               label, db=alias)
    assert br.digests(c, alias, TABLES) == source


def _uploaded_some(c: Any, label: str) -> bool:
    r = br.job_row(c, "BACKUP", label, "src")
    return bool(r and r["State"] == "UPLOADING" and re.search(r"\[\d+: [1-9]\d*/", r["Progress"] or ""))


# ------------------------------------------------------------------------------------------ BACKUP

BACKUP_CASES = {
    "SNAPSHOTING": ["--snapshot-delay-s", "0.4"],
    "UPLOAD_SNAPSHOT": ["--hold-advance", "backup:UPLOAD_SNAPSHOT", "--hold-s", HOLD_S],
    "UPLOADING": ["--item-delay-s", "0.3", "--slow-keys", "__ss_content", "--snapshot-delay-s", "0"],
    "SAVE_META": ["--item-delay-s", HOLD_S, "--slow-keys", "/__meta", "--snapshot-delay-s", "0"],
    "UPLOAD_INFO": ["--item-delay-s", HOLD_S, "--slow-keys", "/__info_", "--snapshot-delay-s", "0"],
    # UPLOAD_INFO before the info file is written: the verification of data and meta (a listing) is slow.
    "UPLOAD_INFO-verifying-data": ["--item-delay-s", HOLD_S, "--slow-ops", "list_objects", "--slow-keys", r"__ss_\w+/$",
                                   "--snapshot-delay-s", "0"],
    # UPLOAD_INFO once the info file is written: the final verification (a listing again) is slow. Each
    # listing takes 8 s here, so the info file is written 8 s into the state and the test kills 0-8 s later.
    "UPLOAD_INFO-verifying": ["--item-delay-s", "8", "--slow-ops", "list_objects", "--slow-keys", r"__ss_\w+/$",
                              "--snapshot-delay-s", "0"],
}


@pytest.mark.parametrize("case", list(BACKUP_CASES))
def test_kill9_in_backup_state(case: str, start: Any) -> None:
    state = case.split("-")[0]
    run = start(BACKUP_CASES[case])
    source = _source(run.conn, "src")
    br.run(run.conn, "BACKUP DATABASE src SNAPSHOT snap TO repo")
    if state == "UPLOADING":
        br.wait_for(lambda: _uploaded_some(run.conn, "snap"), timeout=60, what="an upload recorded", every=0.01)
    else:
        br.wait_state(run.conn, "BACKUP", "snap", (state,), db="src", timeout=60)
    if case == "UPLOAD_INFO-verifying":
        br.wait_for(lambda: any("/__info_" in ln for ln in _uploads(run)), timeout=30, what="the info file written",
                    every=0.01)
    if case == "UPLOAD_INFO-verifying-data":
        time.sleep(1)
        assert not any("/__info_" in ln for ln in _uploads(run)), "the info file was written before the verification"
    uploaded_before = len(_uploads(run))
    row = br.job_row(run.conn, "BACKUP", "snap", "src")
    assert row is not None and row["State"] == state, f"not held in {state}: {row}"
    run.kill_and_restart_normally()
    row = br.wait_finished(run.conn, "BACKUP", "snap", db="src", timeout=90)
    assert row["Status"] == "[OK]"
    assert br.repeated_transfers(run.log) == {}, "a resumed backup uploaded a file twice"
    if case in ("SAVE_META", "UPLOAD_INFO"):  # the held file was not written before the kill: it is now
        assert uploaded_before > 0 and len(_uploads(run)) > uploaded_before
    infos = br.repo_files(run.tmp / "repo", "__info_*")
    assert len(infos) == 1, infos
    br.wait_for(lambda: not br.snapshot_job_dirs(run.tmp / "data"), timeout=30, what="snapshots released")
    _restores_identically(run.conn, "snap", source, "copy")


def test_kill9_after_backup_finished(start: Any) -> None:
    run = start([])
    source = _source(run.conn, "src")
    br.backup(run.conn, "BACKUP DATABASE src SNAPSHOT snap TO repo", "snap", db="src")
    run.kill_and_restart_normally()
    row = br.wait_finished(run.conn, "BACKUP", "snap", db="src")
    assert row["Status"] == "[OK]"
    br.wait_for(lambda: not br.snapshot_job_dirs(run.tmp / "data"), timeout=30, what="snapshots released")
    assert br.repeated_transfers(run.log) == {}
    _restores_identically(run.conn, "snap", source, "copy")


# ------------------------------------------------------------------------------------------ RESTORE

RESTORE_CASES = {
    "SNAPSHOTING": ["--hold-advance", "restore:SNAPSHOTING", "--hold-s", HOLD_S],
    "DOWNLOAD": ["--hold-advance", "restore:DOWNLOAD", "--hold-s", HOLD_S],
    "DOWNLOADING": ["--item-delay-s", "0.3", "--slow-ops", "open_read,get_file"],
    "COMMIT": ["--hold-advance", "restore:COMMIT", "--hold-s", HOLD_S],
}


def _downloaded_some(c: Any, db: str) -> bool:
    r = br.job_row(c, "RESTORE", "snap", db)
    return bool(r and r["State"] == "DOWNLOADING"
                and sum(int(d) for d, _ in re.findall(r"(\d+)/(\d+)", r["Progress"] or "")) >= 1)


@pytest.mark.parametrize("case", list(RESTORE_CASES))
def test_kill9_in_restore_state(case: str, start: Any) -> None:
    run = start(RESTORE_CASES[case], backends=3)
    source = _source(run.conn, "src")
    br.backup(run.conn, "BACKUP DATABASE src SNAPSHOT snap TO repo", "snap", db="src")
    # Rows loaded after the backup: the restore overwrites them.
    br.run(run.conn, f"INSERT INTO src.sr_member VALUES {br.member_values(500, 7)}")
    ts = br.latest_timestamp(run.conn, "repo", "snap")
    br.run(run.conn, f'RESTORE SNAPSHOT snap FROM repo DATABASE src PROPERTIES ("backup_timestamp" = "{ts}")')
    if case == "DOWNLOADING":
        br.wait_for(lambda: _downloaded_some(run.conn, "src"), timeout=60, what="a download recorded", every=0.01)
    else:
        br.wait_state(run.conn, "RESTORE", "snap", (case,), db="src", timeout=60)
    row = br.job_row(run.conn, "RESTORE", "snap", "src")
    assert row is not None and row["State"] == case, f"not held in {case}: {row}"
    run.kill_and_restart_normally()
    row = br.wait_finished(run.conn, "RESTORE", "snap", db="src", timeout=90)
    assert row["Status"] == "[OK]"
    assert br.repeated_transfers(run.log) == {}, "a resumed restore downloaded a file twice"
    assert br.digests(run.conn, "src", TABLES) == source


def test_kill9_in_cancelled_restore_leaves_target(start: Any) -> None:
    run = start(["--item-delay-s", "0.4", "--slow-ops", "open_read,get_file"])
    _source(run.conn, "src")
    br.backup(run.conn, "BACKUP DATABASE src SNAPSHOT snap TO repo", "snap", db="src")
    br.run(run.conn, f"INSERT INTO src.sr_member VALUES {br.member_values(500, 7)}")
    before = br.digests(run.conn, "src", TABLES)
    ts = br.latest_timestamp(run.conn, "repo", "snap")
    br.run(run.conn, f'RESTORE SNAPSHOT snap FROM repo DATABASE src PROPERTIES ("backup_timestamp" = "{ts}")')
    br.wait_for(lambda: _downloaded_some(run.conn, "src"), timeout=60, what="a download recorded", every=0.01)
    br.run(run.conn, "CANCEL RESTORE FROM src")
    br.wait_state(run.conn, "RESTORE", "snap", ("CANCELLED",), db="src")
    run.kill_and_restart_normally()
    row = br.wait_state(run.conn, "RESTORE", "snap", br.DONE, db="src")
    assert row["State"] == "CANCELLED"
    assert br.digests(run.conn, "src", TABLES) == before


# ------------------------------------------------------------------------------------------ moved from tests/integration


def test_kill9_twice_in_snapshoting_then_uploading(start: Any) -> None:
    """Two crashes in one job, restarted slow each time, then normally: still nothing uploaded twice."""
    run = start(["--item-delay-s", "0.3"])
    source = _source(run.conn, "src")
    br.run(run.conn, "BACKUP DATABASE src SNAPSHOT snap TO repo")
    br.wait_state(run.conn, "BACKUP", "snap", ("SNAPSHOTING",), db="src")
    run.daemon.kill()
    run.daemon.start()  # still slow: the resumed job must get to UPLOADING and record some uploads
    run.conn = run.daemon.connect()
    br.wait_for(lambda: _uploaded_some(run.conn, "snap"), timeout=60, what="an upload recorded", every=0.01)
    run.kill_and_restart_normally()
    br.wait_finished(run.conn, "BACKUP", "snap", db="src", timeout=60)
    assert _uploads(run), "the transfer log recorded no upload"
    assert br.repeated_transfers(run.log) == {}
    _restores_identically(run.conn, "snap", source, "copy")


def test_kill9_after_cancel_stays_cancelled(start: Any) -> None:
    run = start(["--item-delay-s", "0.4"])
    _source(run.conn, "src")
    br.run(run.conn, "BACKUP DATABASE src SNAPSHOT snap TO repo")
    row = br.wait_state(run.conn, "BACKUP", "snap", ("SNAPSHOTING", "UPLOADING"), db="src")
    job_id = str(row["JobId"])
    br.run(run.conn, "CANCEL BACKUP FROM src")
    br.wait_state(run.conn, "BACKUP", "snap", ("CANCELLED",), db="src")
    run.kill_and_restart_normally()
    uploads_after = len(br.transfer_lines(run.log))
    time.sleep(1.5)
    row = br.job_row(run.conn, "BACKUP", "snap", "src")
    assert row is not None and row["State"] == "CANCELLED", row
    assert row["Status"] == "[COMMON_ERROR, msg: user cancelled]"
    assert len(br.transfer_lines(run.log)) == uploads_after, "a cancelled job uploaded after restart"
    br.wait_for(lambda: not [p for p in br.snapshot_job_dirs(run.tmp / "data") if p.name == job_id],
                timeout=15, what="snapshots of the cancelled job released")
