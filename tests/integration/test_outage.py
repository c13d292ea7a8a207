"""S3 outages during BACKUP and RESTORE, against the real daemon and moto's S3 behind a TCP proxy that the
test takes down and brings back (a fault from outside the daemon; moto keeps its objects meanwhile).

Short outages (3 s, 20 s) mid-upload and mid-download: the job keeps retrying with backoff, shows the
reason in TaskErrMsg, and FINISHES within 30 s of the endpoint's return with identical data. A long outage
ends the job CANCELLED naming the storage's reason after backup_job_no_progress_timeout_s (a short one here;
the slow test keeps the endpoint down for 5 minutes with a 2-minute timeout). No job sits running without
progress.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support import br
from tests.support.daemon import DaemonProcess
from tests.support.moto_server import MotoS3
from tests.support.tcp_proxy import TcpProxy

ITEM_DELAY_S = 0.3  # every upload/download item sleeps this long, so an outage lands mid-transfer
BACK_WITHIN_S = 30.0


@dataclass
class Env:
    daemon: DaemonProcess
    conn: Any
    proxy: TcpProxy
    moto: MotoS3


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, moto_s3: MotoS3) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("outage")
    proxy = TcpProxy(moto_s3.host, moto_s3.port)
    d = br.start_daemon(tmp / "data", faults=["--item-delay-s", str(ITEM_DELAY_S)],
                        config={"upload_worker_count": "1", "download_worker_count": "1"})
    try:
        conn = d.connect()
        bucket = moto_s3.new_bucket("outage")
        props = {"aws.s3.access_key": moto_s3.access_key, "aws.s3.secret_key": moto_s3.secret_key,
                 "aws.s3.endpoint": proxy.endpoint}
        br.run(conn, f'CREATE REPOSITORY `s3r` WITH BROKER ON LOCATION "s3a://{bucket}/bk" ' + br.props_sql(props))
        yield Env(d, conn, proxy, moto_s3)
    finally:
        proxy.stop()
        br.stop_daemon(d)


def _db(c: Any, db: str) -> str:
    """sr_member over 3 partitions x 3 buckets, loaded twice: 18 files, a few seconds of uploads."""
    br.run(c, f"CREATE DATABASE `{db}`")
    br.run(c, br.create_member_sql(db, buckets=3))
    br.run(c, f"INSERT INTO `{db}`.sr_member VALUES {br.member_values(1, 60)}")
    br.run(c, f"INSERT INTO `{db}`.sr_member VALUES {br.member_values(100, 60)}")
    return br.table_digest(c, db, "sr_member")


def _done_count(row: dict[str, Any] | None) -> int:
    return sum(int(d) for d in re.findall(r"(\d+)/\d+", (row or {}).get("Progress") or ""))


def _outage(e: Env, kind: str, label: str, db: str, seconds: float, partition: bool = False) -> list[dict[str, Any]]:
    """Keep the endpoint down (or partitioned) for `seconds`, watching the job; the rows seen meanwhile."""
    seen = []
    with e.proxy.outage(partition=partition):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            seen.append(br.job_row(e.conn, kind, label, db) or {})
            time.sleep(0.5)
    return seen


def _wait_transferring(e: Env, kind: str, label: str, db: str, state: str) -> None:
    br.wait_for(lambda: (r := br.job_row(e.conn, kind, label, db)) and r["State"] == state and _done_count(r) >= 1,
                timeout=60, what=f"{kind} {label}: a file transferred in {state}", every=0.02)


def _finish_after_return(e: Env, kind: str, label: str, db: str) -> float:
    back = time.monotonic()
    row = br.wait_state(e.conn, kind, label, br.DONE, db, timeout=BACK_WITHIN_S)
    took = time.monotonic() - back
    assert row["State"] == "FINISHED" and row["Status"] == "[OK]", row
    return took


@pytest.mark.parametrize("seconds", [3, 20])
def test_outage_mid_upload_then_finished(env: Env, seconds: int) -> None:
    c = env.conn
    db, label = f"up_{seconds}", f"up_{seconds}_l"
    source = _db(c, db)
    br.run(c, f"BACKUP DATABASE {db} SNAPSHOT {label} TO s3r")
    _wait_transferring(env, "BACKUP", label, db, "UPLOADING")
    seen = _outage(env, "BACKUP", label, db, seconds)
    assert all(r.get("State") not in br.DONE for r in seen), seen[-1]
    assert any("retrying" in (r.get("TaskErrMsg") or "") for r in seen), seen[-1]
    took = _finish_after_return(env, "BACKUP", label, db)
    print(f"\nOUTAGE upload {seconds}s: FINISHED {took:.1f}s after the endpoint returned")
    ts = br.latest_timestamp(c, "s3r", label)
    br.restore(c, f'RESTORE SNAPSHOT {label} FROM s3r DATABASE {db} AS {db}_r PROPERTIES ("backup_timestamp" = "{ts}")',
               label, db=f"{db}_r")
    assert br.table_digest(c, f"{db}_r", "sr_member") == source


def test_partition_mid_upload_then_finished(env: Env) -> None:
    """20 s of a network partition (bytes held, nothing closed): requests wait on their sockets and go on."""
    c = env.conn
    db, label = "part_20", "part_20_l"
    source = _db(c, db)
    br.run(c, f"BACKUP DATABASE {db} SNAPSHOT {label} TO s3r")
    _wait_transferring(env, "BACKUP", label, db, "UPLOADING")
    seen = _outage(env, "BACKUP", label, db, 20, partition=True)
    assert all(r.get("State") not in br.DONE for r in seen), seen[-1]
    took = _finish_after_return(env, "BACKUP", label, db)
    print(f"\nPARTITION upload 20s: FINISHED {took:.1f}s after the network returned")
    ts = br.latest_timestamp(c, "s3r", label)
    br.restore(c, f'RESTORE SNAPSHOT {label} FROM s3r DATABASE {db} AS {db}_r PROPERTIES ("backup_timestamp" = "{ts}")',
               label, db=f"{db}_r")
    assert br.table_digest(c, f"{db}_r", "sr_member") == source


@pytest.mark.parametrize("seconds", [3, 20])
def test_outage_mid_download_then_finished(env: Env, seconds: int) -> None:
    c = env.conn
    db, label = f"down_{seconds}", f"down_{seconds}_l"
    source = _db(c, db)
    br.backup(c, f"BACKUP DATABASE {db} SNAPSHOT {label} TO s3r", label, db=db)
    ts = br.latest_timestamp(c, "s3r", label)
    br.run(c, f'RESTORE SNAPSHOT {label} FROM s3r DATABASE {db} AS {db}_r PROPERTIES ("backup_timestamp" = "{ts}")')
    _wait_transferring(env, "RESTORE", label, f"{db}_r", "DOWNLOADING")
    seen = _outage(env, "RESTORE", label, f"{db}_r", seconds)
    assert all(r.get("State") not in br.DONE for r in seen), seen[-1]
    took = _finish_after_return(env, "RESTORE", label, f"{db}_r")
    print(f"\nOUTAGE download {seconds}s: FINISHED {took:.1f}s after the endpoint returned")
    assert br.table_digest(c, f"{db}_r", "sr_member") == source


def _long_outage(env: Env, phase: str, timeout_s: int, outage_s: float) -> dict[str, Any]:
    """An outage longer than the no-progress timeout: the job ends CANCELLED with the storage's reason."""
    c = env.conn
    db, label = f"long_{phase}_{timeout_s}", f"long_{phase}_{timeout_s}_l"
    _db(c, db)
    kind, job_db = "BACKUP", db
    if phase == "download":
        br.backup(c, f"BACKUP DATABASE {db} SNAPSHOT {label} TO s3r", label, db=db)
        ts = br.latest_timestamp(c, "s3r", label)
        br.run(c, f'RESTORE SNAPSHOT {label} FROM s3r DATABASE {db} AS {db}_r PROPERTIES ("backup_timestamp" = "{ts}")')
        kind, job_db = "RESTORE", f"{db}_r"
    br.run(c, f'ADMIN SET FRONTEND CONFIG ("backup_job_no_progress_timeout_s" = "{timeout_s}")')
    try:
        if phase == "upload":
            br.run(c, f"BACKUP DATABASE {db} SNAPSHOT {label} TO s3r")
        _wait_transferring(env, kind, label, job_db, "UPLOADING" if kind == "BACKUP" else "DOWNLOADING")
        started = time.monotonic()
        with env.proxy.outage():
            row = br.wait_state(c, kind, label, br.DONE, job_db, timeout=min(outage_s, timeout_s + 30))
            ended = time.monotonic() - started
            rest = outage_s - (time.monotonic() - started)
            if rest > 0:
                time.sleep(rest)
            assert br.job_row(c, kind, label, job_db)["State"] == "CANCELLED"  # type: ignore[index]
    finally:
        br.run(c, 'ADMIN SET FRONTEND CONFIG ("backup_job_no_progress_timeout_s" = "300")')
    assert row["State"] == "CANCELLED", row
    assert f"no progress for {timeout_s} s" in row["Status"] and "last error" in row["Status"], row["Status"]
    print(f"\nOUTAGE {phase} {outage_s}s (no-progress timeout {timeout_s}s): CANCELLED {ended:.1f}s into it: "
          f"{row['Status']}")
    return row


@pytest.mark.parametrize("phase", ["upload", "download"])
def test_long_outage_cancels_with_the_storage_reason(env: Env, phase: str) -> None:
    _long_outage(env, phase, timeout_s=6, outage_s=15)
    # The endpoint is back: the next job works.
    db = f"long_{phase}_6"
    br.backup(env.conn, f"BACKUP DATABASE {db} SNAPSHOT {db}_again TO s3r", f"{db}_again", db=db, timeout=90)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_five_minute_outage_mid_upload(env: Env) -> None:
    _long_outage(env, "upload", timeout_s=120, outage_s=300)
