"""Findings of trying to break "FINISHED means restorable" from outside the process, one regression each.

A slow daemon (every transfer item sleeps: tests/support/faulty_serve.py) holds a backup running while the
test does what an operator or a second daemon on the same repository could do.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support import br
from tests.support.daemon import DaemonProcess


@dataclass
class Env:
    daemon: DaemonProcess
    conn: Any
    repo_dir: Path


@pytest.fixture(scope="module")
def slow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("red-slow")
    d = br.start_daemon(tmp / "data", faults=["--item-delay-s", "0.3"])
    try:
        conn = d.connect()
        br.create_file_repo(conn, "repo", tmp / "repo")
        for db in ("ra", "rb", "rc"):
            br.build_sr_hub(conn, db, members=60, pmcs=20, objects=False)
        yield Env(d, conn, tmp / "repo")
    finally:
        br.stop_daemon(d)


def _snapshot_dir(env: Env, label: str) -> Path:
    return env.repo_dir / "__starrocks_repository_repo" / f"__ss_{label}"


def test_same_label_from_two_databases_is_refused_while_the_first_runs(slow: Env) -> None:
    """Both used to end FINISHED [OK] with SHOW SNAPSHOT OK, and neither restored: two `__meta` files in one
    snapshot directory (`Expected one file with path: .../__meta. get: 2`)."""
    br.run(slow.conn, "BACKUP SNAPSHOT ra.dup TO repo")
    msg = br.refused(slow.conn, "BACKUP SNAPSHOT rb.dup TO repo")
    assert msg == "Snapshot with name 'dup' already exist in repository"
    br.wait_finished(slow.conn, "BACKUP", "dup", db="ra", timeout=120)
    assert len(list(_snapshot_dir(slow, "dup").glob("__meta.*"))) == 1
    ts = br.latest_timestamp(slow.conn, "repo", "dup")
    br.restore(slow.conn, f"RESTORE SNAPSHOT ra.dup FROM repo ON (TABLE sr_member AS m_dup) "
                          f"PROPERTIES ('backup_timestamp' = '{ts}')", "dup", db="ra", timeout=120)
    assert br.table_digest(slow.conn, "ra", "m_dup") == br.table_digest(slow.conn, "ra", "sr_member")


def test_another_writers_meta_file_cancels_the_backup_and_show_snapshot_says_error(slow: Env) -> None:
    """A second daemon on the same repository (migration) backing up the same label writes its own meta file:
    the job cannot be restored, so it must not end FINISHED, and SHOW SNAPSHOT must not say OK."""
    br.run(slow.conn, "BACKUP SNAPSHOT rc.foreign TO repo")
    sdir = _snapshot_dir(slow, "foreign")
    br.wait_for(sdir.is_dir, 60, "snapshot directory")
    (sdir / "__meta.0123456789abcdef0123456789abcdef").write_text("{}")
    row = br.wait_state(slow.conn, "BACKUP", "foreign", db="rc", timeout=120)
    assert row["State"] == "CANCELLED", row
    assert "another backup's meta file __meta.0123456789abcdef0123456789abcdef" in row["Status"], row
    rows = br.run(slow.conn, "SHOW SNAPSHOT ON repo WHERE SNAPSHOT = 'foreign'")
    assert rows and rows[0][2] != "OK", rows


def test_show_snapshot_is_not_ok_without_the_meta_file(slow: Env) -> None:
    """The info file verified, so SHOW SNAPSHOT said OK, but every RESTORE failed `Failed to read backup meta`."""
    br.backup(slow.conn, "BACKUP SNAPSHOT rb.nometa TO repo", "nometa", db="rb", timeout=120)
    assert br.run(slow.conn, "SHOW SNAPSHOT ON repo WHERE SNAPSHOT = 'nometa'")[0][2] == "OK"
    for meta in _snapshot_dir(slow, "nometa").glob("__meta.*"):
        meta.unlink()
    status = br.run(slow.conn, "SHOW SNAPSHOT ON repo WHERE SNAPSHOT = 'nometa'")[0][2]
    assert status.startswith("ERROR: Failed to get meta: Expected one file"), status


def test_a_stopped_daemon_is_not_a_job_without_progress(tmp_path: Path) -> None:
    """SIGSTOP for longer than backup_job_no_progress_timeout_s, then SIGCONT: the backup used to be CANCELLED
    `no progress for 10 s in state UPLOADING` at the first tick after SIGCONT, though nothing had failed."""
    import os
    import signal
    import time

    d = br.start_daemon(tmp_path / "data", faults=["--item-delay-s", "0.5"],
                        config={"backup_job_no_progress_timeout_s": "6", "backup_task_reissue_s": "3"})
    try:
        conn = d.connect()
        br.build_sr_hub(conn, "h", members=60, pmcs=20, objects=False)
        br.create_file_repo(conn, "repo", tmp_path / "repo")
        br.run(conn, "BACKUP SNAPSHOT h.paused TO repo")
        br.wait_state(conn, "BACKUP", "paused", ["UPLOADING"], db="h", timeout=60)
        assert d.proc is not None
        os.kill(d.proc.pid, signal.SIGSTOP)
        try:
            time.sleep(10)
        finally:
            os.kill(d.proc.pid, signal.SIGCONT)
        conn = d.connect()
        br.wait_finished(conn, "BACKUP", "paused", db="h", timeout=120)
    finally:
        br.stop_daemon(d)
