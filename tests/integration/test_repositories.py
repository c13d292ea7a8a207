"""CREATE / DROP / SHOW REPOSITORIES through PyMySQL against the real daemon: local and S3 (moto).

One daemon serves most tests (its repository checker runs every 0.3 s); the restart test has its own.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest
from minio.error import S3Error

import storage.audit
from events.errors import CatalogError
from events.event import Event
from events.fold import fold as state_fold
from events.repositories import create_repository, drop_repository, err_reason, repository_status
from events.state import ClusterState
from tests.support.daemon import ROOT, DaemonProcess, columns, query
from tests.support.moto_server import MotoS3

CHECK_SECONDS = "0.3"
TIME_RE = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"
CHECKER = "ErrMsg change (is actors.repo_checker.spawn_repo_checker called by the daemon?)"
SHOW_COLUMNS = ["RepoId", "RepoName", "CreateTime", "IsReadOnly", "Location", "Broker", "ErrMsg"]
# Never let the daemon look for instance credentials on a link-local address.
CLEAN_ENV = {
    k: ""
    for k in (
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ROLE_ARN",
    )
}


def start_daemon(data_dir: Path) -> DaemonProcess:
    env = {**CLEAN_ENV, "STARBACKUP_REPO_CHECK_SECONDS": CHECK_SECONDS}
    return DaemonProcess(data_dir, backends=1, extra_env=env).start()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    d = start_daemon(tmp_path_factory.mktemp("repos") / "data")
    try:
        yield d
    finally:
        if d.proc is not None and d.proc.poll() is None:
            assert d.stop() == 0


@pytest.fixture
def conn(daemon: DaemonProcess) -> Iterator[pymysql.connections.Connection]:
    c = daemon.connect()
    try:
        yield c
    finally:
        c.close()


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def props_sql(props: dict[str, str]) -> str:
    return "PROPERTIES (" + ", ".join(f'"{k}" = "{v}"' for k, v in props.items()) + ")"


def show(conn: Any) -> dict[str, dict[str, Any]]:
    return {r[1]: dict(zip(SHOW_COLUMNS, r, strict=True)) for r in query(conn, "SHOW REPOSITORIES")}


def refused(conn: Any, sql: str) -> str:
    with pytest.raises(pymysql.err.MySQLError) as err:
        query(conn, sql)
    return str(err.value.args[1])


def wait_for(pred: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met in {timeout} s")
        time.sleep(0.1)


def run_audit(data_dir: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "sqlfront.cli", "audit", "--data-dir", str(data_dir)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return out.stdout + out.stderr


def is_probe(key: str) -> bool:
    """The checker's list/write probe object, which may exist for a moment at the location's top."""
    return key.rsplit("/", 1)[-1].startswith("__starbackup_probe_")


def s3_keys(moto_s3: MotoS3, bucket: str) -> list[str]:
    return sorted(
        o.object_name
        for o in moto_s3.client().list_objects(bucket, recursive=True)
        if not is_probe(o.object_name)
    )


def remove_bucket(moto_s3: MotoS3, bucket: str) -> bool:
    """Empty and remove a bucket; False if a checker probe slipped in between (then try again)."""
    client = moto_s3.client()
    for o in client.list_objects(bucket, recursive=True):
        client.remove_object(bucket, o.object_name)
    try:
        client.remove_bucket(bucket)
    except S3Error as e:
        if e.code == "BucketNotEmpty":
            return False
        raise
    return True


def s3_create(conn: Any, name: str, bucket: str, props: dict[str, str], read_only: bool = False) -> None:
    ro = "READ ONLY " if read_only else ""
    query(
        conn,
        f'CREATE {ro}REPOSITORY {name} WITH BROKER ON LOCATION "s3a://{bucket}/backups" {props_sql(props)}',
    )


# ------------------------------------------------------------------------------------------ local


def test_file_repository_create_show_drop(conn: Any, tmp_path: Path) -> None:
    name = unique("local")
    loc = tmp_path / "repo"
    query(conn, f'CREATE REPOSITORY {name} WITH BROKER ON LOCATION "file://{loc}/"')
    assert columns(conn, "SHOW REPOSITORIES") == SHOW_COLUMNS
    row = show(conn)[name]
    assert re.fullmatch(r"\d+", row["RepoId"])
    assert re.fullmatch(TIME_RE, row["CreateTime"])
    assert row["IsReadOnly"] == "false"
    assert row["Location"] == f"file://{loc}"  # trailing '/' stripped, as newer StarRocks does
    assert row["Broker"] is None and row["ErrMsg"] is None
    info = json.loads((loc / f"__starrocks_repository_{name}" / "__repo_info").read_text())
    assert info == {"name": name, "create_time": row["CreateTime"]}
    assert [p.name for p in loc.iterdir() if not is_probe(p.name)] == [f"__starrocks_repository_{name}"]

    assert "Failed to create repository: repository with same name already exist: " + name == refused(
        conn, f'CREATE REPOSITORY {name} WITH BROKER ON LOCATION "file://{tmp_path}/other"'
    )
    query(conn, f"DROP REPOSITORY {name}")
    assert name not in show(conn)
    assert (loc / f"__starrocks_repository_{name}" / "__repo_info").is_file()  # remote data kept
    assert refused(conn, f"DROP REPOSITORY {name}") == "Repository does not exist"

    # Re-creating adopts the existing __repo_info and its create time.
    query(conn, f'CREATE REPOSITORY {name} WITH BROKER ON LOCATION "file://{loc}"')
    assert show(conn)[name]["CreateTime"] == info["create_time"]
    query(conn, f"DROP REPOSITORY {name}")


def test_adopts_palo_repository_and_its_create_time(conn: Any, tmp_path: Path) -> None:
    name = unique("palo")
    palo = tmp_path / f"__palo_repository_{name}"
    palo.mkdir()
    (palo / "__repo_info").write_text(json.dumps({"name": name, "create_time": "2020-01-02 03:04:05"}))
    query(conn, f'CREATE REPOSITORY {name} WITH BROKER ON LOCATION "file://{tmp_path}"')
    assert show(conn)[name]["CreateTime"] == "2020-01-02 03:04:05"
    assert not (tmp_path / f"__starrocks_repository_{name}").exists()
    query(conn, f"DROP REPOSITORY {name}")


def test_read_only_repository_is_not_written(conn: Any, tmp_path: Path) -> None:
    name = unique("ro")
    query(conn, f'CREATE READ ONLY REPOSITORY {name} WITH BROKER ON LOCATION "file://{tmp_path}"')
    row = show(conn)[name]
    assert row["IsReadOnly"] == "true" and row["ErrMsg"] is None
    assert list(tmp_path.iterdir()) == []
    time.sleep(0.8)  # a few checker rounds: they only list a read-only repository
    assert list(tmp_path.iterdir()) == [] and show(conn)[name]["ErrMsg"] is None
    query(conn, f"DROP REPOSITORY {name}")


def test_broker_and_storage_refusals(conn: Any, tmp_path: Path, closed_port: int) -> None:
    assert refused(conn, f'CREATE REPOSITORY b1 WITH BROKER hdfs_broker ON LOCATION "file://{tmp_path}"') == (
        "broker does not exist: hdfs_broker"
    )
    assert refused(
        conn, 'CREATE REPOSITORY h1 WITH BROKER ON LOCATION "hdfs://127.0.0.1:9/backups"'
    ).startswith("Failed to create repository: HDFS support needs a Java runtime (JAVA_HOME) and libhdfs")
    (tmp_path / "afile").write_text("x")
    msg = refused(conn, f'CREATE REPOSITORY f1 WITH BROKER ON LOCATION "file://{tmp_path}/afile"')
    assert msg.startswith("Failed to create repository: "), msg
    assert refused(conn, 'CREATE REPOSITORY u1 WITH BROKER ON LOCATION "ftp://host/x"') == (
        "Failed to create repository: unsupported storage location: ftp://host/x"
    )
    assert not {"b1", "h1", "f1", "u1"} & set(show(conn))


# ------------------------------------------------------------------------------------------ S3


def test_s3_repository_create_show_drop(conn: Any, moto_s3: MotoS3) -> None:
    name = unique("s3")
    bucket = moto_s3.new_bucket()
    s3_create(conn, name, bucket, moto_s3.properties())
    row = show(conn)[name]
    assert row["Location"] == f"s3a://{bucket}/backups" and row["Broker"] is None and row["ErrMsg"] is None
    assert s3_keys(moto_s3, bucket) == [f"backups/__starrocks_repository_{name}/__repo_info"]
    query(conn, f"DROP REPOSITORY {name}")
    assert name not in show(conn)
    assert s3_keys(moto_s3, bucket) == [f"backups/__starrocks_repository_{name}/__repo_info"]  # kept

    # READ ONLY on S3: listed, not written.
    empty = moto_s3.new_bucket()
    s3_create(conn, name, empty, moto_s3.properties(), read_only=True)
    assert list(moto_s3.client().list_objects(empty, recursive=True)) == []
    query(conn, f"DROP REPOSITORY {name}")


def test_s3_failures(conn: Any, moto_s3: MotoS3, closed_port: int) -> None:
    bucket = moto_s3.new_bucket()
    bad = moto_s3.properties(
        **{"aws.s3.access_key": "AKIANOTAKEY00001", "aws.s3.secret_key": "bad-secret-77"}
    )
    with moto_s3.iam_authentication():
        msg = refused(
            conn, f'CREATE REPOSITORY c1 WITH BROKER ON LOCATION "s3a://{bucket}/x" {props_sql(bad)}'
        )
    assert msg.startswith("Failed to create repository: invalid access key"), msg
    assert "bad-secret-77" not in msg and "AKIANOTAKEY00001" not in msg

    msg = refused(
        conn,
        f'CREATE REPOSITORY c2 WITH BROKER ON LOCATION "s3a://no-such-bucket-zz/x" '
        f"{props_sql(moto_s3.properties())}",
    )
    assert msg.startswith("Failed to create repository: bucket does not exist: no-such-bucket-zz"), msg

    dead = moto_s3.properties(**{"aws.s3.endpoint": f"http://127.0.0.1:{closed_port}"})
    start = time.monotonic()
    msg = refused(conn, f'CREATE REPOSITORY c3 WITH BROKER ON LOCATION "s3a://{bucket}/x" {props_sql(dead)}')
    assert msg.startswith(
        f"Failed to create repository: cannot reach S3 endpoint http://127.0.0.1:{closed_port}"
    ), msg
    assert time.monotonic() - start < 5

    gcs = {
        "fs.s3a.access.key": "k",
        "fs.s3a.secret.key": "s",
        "fs.s3a.endpoint": "https://storage.googleapis.com",
    }
    msg = refused(conn, f'CREATE REPOSITORY c4 WITH BROKER ON LOCATION "s3a://{bucket}/x" {props_sql(gcs)}')
    assert msg.startswith("Failed to create repository: fs.s3a.endpoint must not include the scheme"), msg
    assert not {"c1", "c2", "c3", "c4"} & set(show(conn))


def test_secrets_never_leak(
    daemon: DaemonProcess, conn: Any, moto_s3: MotoS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = unique("sec")
    access, secret = f"AKIASB{uuid.uuid4().hex[:12].upper()}", f"sb-secret-{uuid.uuid4().hex}"
    s3_create(
        conn,
        name,
        moto_s3.new_bucket(),
        moto_s3.properties(**{"aws.s3.access_key": access, "aws.s3.secret_key": secret}),
    )
    shown = repr(query(conn, "SHOW REPOSITORIES"))
    assert name in shown and secret not in shown and access not in shown
    time.sleep(0.5)  # let the checker run with these credentials too
    audit = run_audit(daemon.data_dir)
    assert "repository.created" in audit and "OK:" in audit
    assert secret not in audit and access not in audit
    # The CLI cuts each line at 120 characters; in full, the properties print masked.
    monkeypatch.setattr(storage.audit, "SUMMARY_CHARS", 1_000_000)
    full = io.StringIO()
    assert storage.audit.run_audit(str(daemon.data_dir), out=full) == 0
    created = next(
        line for line in full.getvalue().splitlines() if "repository.created" in line and name in line
    )
    assert "aws.s3.secret_key=******" in created and "aws.s3.access_key=******" in created, created
    assert f"aws.s3.endpoint={moto_s3.endpoint}" in created
    assert secret not in full.getvalue() and access not in full.getvalue()
    for path in [*daemon.data_dir.glob("eventlog.sqlite3*"), daemon.data_dir / "daemon.log", daemon.log_path]:
        data = path.read_bytes()
        assert secret.encode() not in data and access.encode() not in data, path
    query(conn, f"DROP REPOSITORY {name}")


# ------------------------------------------------------------------------------------------ checker


def test_err_msg_filled_and_cleared_local(daemon: DaemonProcess, conn: Any, tmp_path: Path) -> None:
    name = unique("chk")
    loc, away = tmp_path / "repo", tmp_path / "away"
    query(conn, f'CREATE REPOSITORY {name} WITH BROKER ON LOCATION "file://{loc}"')
    stream = f"repository/{show(conn)[name]['RepoId']} "
    loc.rename(away)
    loc.write_text("a file where the repository was")
    err = wait_for(lambda: show(conn)[name]["ErrMsg"], what=CHECKER)
    assert re.fullmatch(TIME_RE + r": .+", err), err
    assert "repository info file is missing" in err
    time.sleep(1.0)  # still broken for several rounds: the same reason is recorded once
    assert show(conn)[name]["ErrMsg"] == err
    loc.unlink()
    away.rename(loc)
    wait_for(lambda: show(conn)[name]["ErrMsg"] is None, what=CHECKER)
    audit = run_audit(daemon.data_dir)
    statuses = [line for line in audit.splitlines() if stream in line and "repository.status" in line]
    assert len(statuses) == 2, statuses
    query(conn, f"DROP REPOSITORY {name}")


def test_err_msg_when_bucket_goes_away(conn: Any, moto_s3: MotoS3) -> None:
    name = unique("chks3")
    bucket = moto_s3.new_bucket()
    s3_create(conn, name, bucket, moto_s3.properties())
    client = moto_s3.client()
    info_key = f"backups/__starrocks_repository_{name}/__repo_info"
    info = client.get_object(bucket, info_key).read()
    wait_for(lambda: remove_bucket(moto_s3, bucket), what="bucket removed")
    # (A round may first see the object gone and the bucket still there.)
    wait_for(
        lambda: re.fullmatch(
            TIME_RE + rf": bucket does not exist: {bucket}.*", show(conn)[name]["ErrMsg"] or ""
        ),
        what=CHECKER,
    )
    client.make_bucket(bucket)
    client.put_object(bucket, info_key, io.BytesIO(info), len(info))
    wait_for(lambda: show(conn)[name]["ErrMsg"] is None, what=CHECKER)
    query(conn, f"DROP REPOSITORY {name}")


# ------------------------------------------------------------------------------------------ restart


def test_repositories_survive_restart(tmp_path: Path, moto_s3: MotoS3) -> None:
    data = tmp_path / "data"
    d = start_daemon(data)
    try:
        with d.connect() as c:
            query(c, f'CREATE REPOSITORY keep_local WITH BROKER ON LOCATION "file://{tmp_path}/r"')
            s3_create(c, "keep_s3", moto_s3.new_bucket(), moto_s3.properties(), read_only=True)
            before = show(c)
        assert d.stop() == 0
        d = start_daemon(data)
        with d.connect() as c:
            assert show(c) == before
            query(c, "DROP REPOSITORY keep_local")
        assert d.stop() == 0
        d = start_daemon(data)
        with d.connect() as c:
            assert set(show(c)) == {"keep_s3"}
            time.sleep(0.8)  # the checker opens the sealed S3 properties with the key in the data dir
            assert show(c)["keep_s3"]["ErrMsg"] is None
    finally:
        if d.proc is not None and d.proc.poll() is None:
            d.stop()


# ------------------------------------------------------------------------------------------ pure core


def fold(evs: list[Event], state: ClusterState) -> ClusterState:
    return state_fold([(e.type, e.data) for e in evs], state)


def _state_with_repo(name: str = "r") -> ClusterState:
    evs = create_repository(
        ClusterState(),
        name=name,
        location="file:///x",
        read_only=False,
        broker=None,
        properties={},
        create_time_ns=1,
        root=f"__starrocks_repository_{name}",
    )
    return fold(evs, ClusterState())


def test_drop_refused_while_a_job_uses_the_repository() -> None:
    state = _state_with_repo()
    state.jobs[1] = {"repo": "r", "state": "UPLOADING"}
    with pytest.raises(
        CatalogError, match="^Backup or restore job is running on this repository. Can not drop it$"
    ):
        drop_repository(state, "r")
    state.jobs[1]["state"] = "FINISHED"
    state.jobs[2] = {"repo": "other", "state": "PENDING"}
    assert [e.type for e in drop_repository(state, "r")] == ["repository.dropped"]


def test_status_recorded_only_on_change() -> None:
    state = _state_with_repo()
    rid = state.repositories["r"].id
    assert repository_status(state, name="r", repo_id=rid, error=None, at="2024-01-01 00:00:00") == []
    evs = repository_status(state, name="r", repo_id=rid, error="down", at="2024-01-01 00:00:00")
    state = fold(evs, state)
    assert state.repositories["r"].err_msg == "2024-01-01 00:00:00: down"
    assert err_reason(state.repositories["r"].err_msg) == "down"
    assert repository_status(state, name="r", repo_id=rid, error="down", at="2024-01-01 00:01:00") == []
    assert repository_status(state, name="r", repo_id=rid + 1, error=None, at="x") == []  # re-created: stale
    assert repository_status(state, name="gone", repo_id=rid, error=None, at="x") == []
    evs = repository_status(state, name="r", repo_id=rid, error=None, at="2024-01-01 00:02:00")
    assert fold(evs, state).repositories["r"].err_msg is None
