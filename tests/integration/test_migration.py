"""Migration to a second cluster (reference: "Create a repository in the new cluster"): a second daemon, with
its own data directory and port, creates a repository with the same name and location, sees the first
daemon's snapshots in SHOW SNAPSHOT, restores them and answers queries exactly as the first one does.
Over a `file://` repository and an S3 (moto) repository.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.support import br
from tests.support.daemon import DaemonProcess

QUERIES = [
    "SELECT city_code, count(*), sum(sr_id) FROM sr_hub.sr_member GROUP BY city_code ORDER BY city_code",
    "SELECT m.city_code, p.status, sum(p.amount) FROM sr_hub.sr_member m JOIN sr_hub.sr_pmc p ON m.sr_id = p.member_id "
    "GROUP BY m.city_code, p.status ORDER BY 1, 2",
    "SELECT * FROM sr_hub.sr_view2 ORDER BY status",
    "SELECT * FROM sr_hub.sr_mv1 ORDER BY city_code",
    "SELECT sr_hub.sr_udf2(sr_id, 2) FROM sr_hub.sr_member WHERE sr_id < 5 ORDER BY sr_id",
]


@dataclass
class Pair:
    kind: str
    a: DaemonProcess
    b: DaemonProcess
    ca: Any
    cb: Any
    create_repo: Any  # (conn, name, read_only) -> location
    source: dict[str, str] = field(default_factory=dict)
    answers: list[Any] = field(default_factory=list)
    ts: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module", params=["file", "s3"])
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    tmp = tmp_path_factory.mktemp(f"migrate-{request.param}")
    if request.param == "file":
        def create_repo(conn: Any, name: str, read_only: bool = False) -> str:
            return br.create_file_repo(conn, name, tmp / "shared-repo", read_only=read_only)
    else:
        moto = request.getfixturevalue("moto_s3")
        bucket = moto.new_bucket("migrate")

        def create_repo(conn: Any, name: str, read_only: bool = False) -> str:
            return br.create_s3_repo(conn, name, moto, bucket, read_only=read_only)

    a = br.start_daemon(tmp / "cluster-a")
    b = None
    try:
        b = br.start_daemon(tmp / "cluster-b")
        assert a.port != b.port and a.data_dir != b.data_dir
        ca, cb = a.connect(), b.connect()
        br.build_sr_hub(ca, catalogs=True)
        create_repo(ca, "test_repo")
        p = Pair(request.param, a, b, ca, cb, create_repo)
        p.source = br.object_digests(ca, "sr_hub")
        p.answers = [br.run(ca, q) for q in QUERIES]
        br.backup(ca, "BACKUP DATABASE sr_hub SNAPSHOT sr_hub_backup TO test_repo", "sr_hub_backup", db="sr_hub")
        br.backup(ca, "BACKUP ALL EXTERNAL CATALOGS SNAPSHOT all_catalog_backup TO test_repo", "all_catalog_backup")
        p.ts = {lb: br.latest_timestamp(ca, "test_repo", lb) for lb in ("sr_hub_backup", "all_catalog_backup")}
        yield p
    finally:
        for d in (a, b):
            if d is not None:
                br.stop_daemon(d)


def test_read_only_repository_on_second_cluster_restores_everything(pair: Pair) -> None:
    cb = pair.cb
    location = pair.create_repo(cb, "test_repo", read_only=True)
    repos = {r[1]: r for r in br.run(cb, "SHOW REPOSITORIES")}
    assert repos["test_repo"][3] == "true" and repos["test_repo"][4] == location
    # The first cluster's snapshots, with the same timestamps, read from the repository itself.
    seen = {r[0]: r for r in br.run(cb, "SHOW SNAPSHOT ON test_repo")}
    for label, ts in pair.ts.items():
        assert seen[label][1:] == (ts, "OK"), seen
    ts = pair.ts["sr_hub_backup"]
    ((_, _, database, _, status),) = br.run(
        cb, f"SHOW SNAPSHOT ON test_repo WHERE SNAPSHOT = 'sr_hub_backup' AND TIMESTAMP = '{ts}'")
    assert (database, status) == ("sr_hub", "OK")
    # Backing up into it is refused; restoring from it works.
    assert "sr_hub" not in {r[0] for r in br.run(cb, "SHOW DATABASES")}
    br.restore(cb, f'RESTORE SNAPSHOT sr_hub_backup FROM test_repo DATABASE sr_hub PROPERTIES ("backup_timestamp" = "{ts}")',
               "sr_hub_backup", db="sr_hub")
    assert br.object_digests(cb, "sr_hub") == pair.source
    assert [br.run(cb, q) for q in QUERIES] == pair.answers
    for name in br.MVS:
        assert br.mv_state(cb, "sr_hub", name)[0] == "true"
    ts = pair.ts["all_catalog_backup"]
    br.restore(cb, f'RESTORE SNAPSHOT all_catalog_backup FROM test_repo ALL EXTERNAL CATALOGS '
                   f'PROPERTIES ("backup_timestamp" = "{ts}")', "all_catalog_backup")
    assert {"iceberg", "hive"} <= {r[0] for r in br.run(cb, "SHOW CATALOGS")}
    assert br.refused(cb, "BACKUP DATABASE sr_hub SNAPSHOT from_b TO test_repo") == "Repository test_repo is read only"


def test_read_write_repository_on_second_cluster(pair: Pair) -> None:
    """Same name and location without READ ONLY: the snapshots are there too, and what the second cluster
    writes, the first one sees."""
    cb, ca = pair.cb, pair.ca
    if "test_repo" in {r[1] for r in br.run(cb, "SHOW REPOSITORIES")}:
        br.run(cb, "DROP REPOSITORY test_repo")
    pair.create_repo(cb, "test_repo")
    assert set(pair.ts) <= {r[0] for r in br.run(cb, "SHOW SNAPSHOT ON test_repo")}
    ts = pair.ts["sr_hub_backup"]
    br.restore(cb, f'RESTORE SNAPSHOT sr_hub_backup FROM test_repo DATABASE sr_hub AS sr_hub_b ON (TABLE sr_member, '
                   f'TABLE sr_pmc) PROPERTIES ("backup_timestamp" = "{ts}")', "sr_hub_backup",
               db="sr_hub_b")
    assert br.digests(cb, "sr_hub_b", br.TABLES) == {k: pair.source[k] for k in br.TABLES}
    br.run(cb, f"INSERT INTO sr_hub_b.sr_pmc VALUES {br.pmc_values(5000, 3)}")
    expected = br.digests(cb, "sr_hub_b", br.TABLES)
    br.backup(cb, "BACKUP DATABASE sr_hub_b SNAPSHOT from_b TO test_repo", "from_b", db="sr_hub_b")
    ts_b = br.latest_timestamp(cb, "test_repo", "from_b")
    assert br.latest_timestamp(ca, "test_repo", "from_b") == ts_b
    br.restore(ca, f'RESTORE SNAPSHOT from_b FROM test_repo PROPERTIES ("backup_timestamp" = "{ts_b}")', "from_b",
               db="sr_hub_b")
    assert br.digests(ca, "sr_hub_b", br.TABLES) == expected


def test_other_repository_name_sees_nothing(pair: Pair) -> None:
    """The repository name is part of the path: the same location under another name holds no snapshots."""
    cb = pair.cb
    if "other_repo" not in {r[1] for r in br.run(cb, "SHOW REPOSITORIES")}:
        pair.create_repo(cb, "other_repo", read_only=True)
    assert br.run(cb, "SHOW SNAPSHOT ON other_repo") == []
