"""The real `mysql` command-line client (mariadb-client, installed by dev/setup.sh) against the daemon."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.support.daemon import DaemonProcess

MYSQL = shutil.which("mysql")
pytestmark = pytest.mark.skipif(MYSQL is None, reason="the `mysql` client is not installed (bash dev/setup.sh installs "
                                                      "mariadb-client)")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory):
    with DaemonProcess(tmp_path_factory.mktemp("cli") / "data", backends=3) as d:
        yield d


def mysql(d: DaemonProcess, sql: str, *extra: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    assert MYSQL is not None
    cmd = [MYSQL, "-h127.0.0.1", f"-P{d.port}", "-uroot", "--batch", *extra]
    if password:
        cmd.append(f"-p{password}")
    return subprocess.run([*cmd, "-e", sql], capture_output=True, text=True, timeout=60)


def lines(r: subprocess.CompletedProcess[str]) -> list[str]:
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def test_connect_and_session_statements(daemon: DaemonProcess) -> None:
    # The client sends SELECT @@version_comment etc. when it connects; a plain query must just work.
    assert lines(mysql(daemon, "SELECT 1 AS one")) == ["one", "1"]
    out = lines(mysql(daemon, "SHOW DATABASES"))
    assert out[0] == "Database" and "information_schema" in out


def test_create_load_query_show(daemon: DaemonProcess) -> None:
    script = """
        CREATE DATABASE sr_hub;
        USE sr_hub;
        CREATE TABLE sr_member (sr_id INT, name STRING, city_code INT, reg_date DATE)
        PARTITION BY RANGE(reg_date) (
            PARTITION p1 VALUES [('2022-03-13'), ('2022-03-14')),
            PARTITION p2 VALUES [('2022-03-14'), ('2022-03-15')))
        DISTRIBUTED BY HASH(city_code) BUCKETS 2;
        INSERT INTO sr_member VALUES (1, 'ann', 100, '2022-03-13'), (2, 'bob', 200, '2022-03-14'),
                                     (3, 'cyd', 100, '2022-03-14');
        SELECT city_code, count(*) AS n FROM sr_member GROUP BY city_code ORDER BY city_code;
    """
    assert lines(mysql(daemon, script)) == ["city_code\tn", "100\t2", "200\t1"]
    out = lines(mysql(daemon, "SHOW TABLES", "-Dsr_hub"))
    assert out == ["Tables_in_sr_hub", "sr_member"]
    out = lines(mysql(daemon, "SHOW PARTITIONS FROM sr_hub.sr_member"))
    header = out[0].split("\t")
    rows = [dict(zip(header, line.split("\t"), strict=True)) for line in out[1:]]
    assert [(r["PartitionName"], r["VisibleVersion"], r["RowCount"]) for r in rows] == [("p1", "2", "1"),
                                                                                        ("p2", "2", "2")]
    out = lines(mysql(daemon, "SHOW CREATE TABLE sr_hub.sr_member", "--raw"))
    assert "PARTITION BY RANGE(`reg_date`)" in "\n".join(out)
    out = lines(mysql(daemon, "SHOW TABLET FROM sr_hub.sr_member"))
    assert len(out) == 1 + 2 * 2 * 3  # header + partitions x buckets x replicas
    out = lines(mysql(daemon, "SHOW BACKENDS"))
    assert len(out) == 4


def test_errors_show_code_and_message(daemon: DaemonProcess) -> None:
    r = mysql(daemon, "SELECT * FROM no_such_db.t")
    assert r.returncode != 0
    assert "ERROR 5501" in r.stderr and "no_such_db" in r.stderr
    r = mysql(daemon, "SELEC 1")
    assert r.returncode != 0 and "ERROR 1064" in r.stderr
    # --force (reading a script from stdin) carries on after an error, on the same connection.
    assert MYSQL is not None
    r = subprocess.run([MYSQL, "-h127.0.0.1", f"-P{daemon.port}", "-uroot", "--batch", "--force"],
                       input="SELECT * FROM no_such_db.t;\nSELECT 7 AS seven;\n", capture_output=True, text=True,
                       timeout=60)
    assert "ERROR 5501" in r.stderr
    assert r.stdout.splitlines() == ["seven", "7"]


def test_wrong_password_is_1045(tmp_path) -> None:
    with DaemonProcess(tmp_path / "data", backends=1, password="s3cret") as d:
        r = mysql(d, "SELECT 1")
        assert r.returncode != 0 and "ERROR 1045" in r.stderr
        r = mysql(d, "SELECT 1 AS ok", password="s3cret")
        assert lines(r) == ["ok", "1"]
