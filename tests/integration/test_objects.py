"""Views, both kinds of materialized views, UDFs, external catalogs and FE settings through PyMySQL.

One daemon serves the whole module (started with a --config file); `test_restart_keeps_everything`
stops and starts it in the middle and checks that every object is still there and usable.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest

from tests.support.daemon import DaemonProcess, columns, query

ROOT = Path(__file__).resolve().parents[2]
PY_UDF = ("CREATE FUNCTION {name}({arg}) RETURNS {ret} PROPERTIES (\"symbol\"=\"{sym}\", \"type\"=\"Python\", "
          "\"file\"=\"inline\") AS $$\n{body}\n$$")
JAVA_UDF = ("CREATE FUNCTION {name}(INT) RETURNS INT PROPERTIES (\"symbol\"=\"com.example.F\", "
            "\"type\"=\"StarrocksJar\", \"file\"=\"http://repo.example/udf.jar\")")
TABLE = ("CREATE TABLE {name} (k INT, g INT, v INT) DUPLICATE KEY(k) PARTITION BY RANGE(k) "
         "(PARTITION p1 VALUES LESS THAN ('10'), PARTITION p2 VALUES LESS THAN ('100')) "
         "DISTRIBUTED BY HASH(k) BUCKETS 2 PROPERTIES ('replication_num' = '1')")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    base = tmp_path_factory.mktemp("objects")
    config = base / "fe.conf"
    config.write_text("# settings\nupload_worker_count = 3\nhistory_job_keep_max_second = 3600\n")
    with DaemonProcess(base / "data", backends=2, config=config) as d:
        yield d


def sql(conn: pymysql.connections.Connection, text: str) -> tuple[tuple[Any, ...], ...]:
    return tuple(query(conn, text))


def error_of(conn: pymysql.connections.Connection, text: str) -> tuple[int, str]:
    with pytest.raises(pymysql.MySQLError) as info:
        query(conn, text)
    code, message = info.value.args[0], info.value.args[1]
    assert "Traceback" not in message and "Internal error" not in message, message
    return code, message


def fresh_db(daemon: DaemonProcess, name: str) -> pymysql.connections.Connection:
    conn = daemon.connect()
    sql(conn, f"CREATE DATABASE {name}")
    sql(conn, f"USE {name}")
    return conn


def mvs(conn: pymysql.connections.Connection, extra: str = "") -> dict[str, dict[str, Any]]:
    with conn.cursor() as cur:
        cur.execute("SHOW MATERIALIZED VIEWS" + extra)
        names = [d[0] for d in cur.description or []]
        return {row[2]: dict(zip(names, row, strict=True)) for row in cur.fetchall()}


# ---------------------------------------------------------------------------------------- views


def test_views(daemon: DaemonProcess) -> None:
    conn = fresh_db(daemon, "vdb")
    sql(conn, TABLE.format(name="t"))
    sql(conn, "INSERT INTO t VALUES (1, 1, 10), (2, 1, 20), (50, 2, 30)")
    sql(conn, "CREATE VIEW v1 (a COMMENT 'the key', b) COMMENT 'big ones' AS SELECT k, v FROM t WHERE v > 10")
    sql(conn, "CREATE VIEW IF NOT EXISTS v1 AS SELECT 1")
    sql(conn, "CREATE VIEW v2 AS SELECT sum(b) AS total FROM v1")  # a view over a view
    assert sql(conn, "SELECT * FROM v1 ORDER BY a") == ((2, 20), (50, 30))
    assert sql(conn, "SELECT total FROM v2") == ((50,),)
    assert sql(conn, "SELECT count(*) FROM vdb.v1 JOIN t ON v1.a = t.k") == ((2,),)
    row = sql(conn, "SHOW CREATE VIEW v1")[0]
    assert row[0] == "v1"
    assert row[1] == 'CREATE VIEW `v1` (`a` COMMENT "the key", `b`)\nCOMMENT "big ones"\nAS SELECT k, v FROM t WHERE v > 10;'
    assert columns(conn, "SHOW CREATE VIEW v1") == ["View", "Create View", "character_set_client", "collation_connection"]
    assert sql(conn, "SHOW CREATE TABLE v1")[0][1] == row[1]
    sql(conn, "ALTER VIEW v2 AS SELECT count(*) AS n FROM v1")
    assert sql(conn, "SELECT * FROM v2") == ((2,),)
    assert ("v1", "VIEW") in sql(conn, "SHOW FULL TABLES")
    code, msg = error_of(conn, "CREATE VIEW v1 AS SELECT 1")
    assert code == 1050 and "already exists" in msg
    _, msg = error_of(conn, "CREATE VIEW bad AS SELECT nope FROM t")
    assert "nope" in msg
    _, msg = error_of(conn, "INSERT INTO v1 VALUES (1, 2)")
    assert "is a view" in msg
    _, msg = error_of(conn, "DROP VIEW t")
    assert "is not a view" in msg
    sql(conn, "DROP VIEW v2")
    sql(conn, "DROP VIEW IF EXISTS v2")
    code, _ = error_of(conn, "SELECT * FROM v2")
    assert sql(conn, "SHOW TABLES") == (("t",), ("v1",))


# ---------------------------------------------------------------------------------------- sync MVs


def test_sync_mv_is_maintained_on_every_load(daemon: DaemonProcess) -> None:
    conn = fresh_db(daemon, "sdb")
    sql(conn, TABLE.format(name="t"))
    sql(conn, "INSERT INTO t VALUES (1, 1, 10), (2, 1, 20), (50, 2, 30)")
    sql(conn, "CREATE MATERIALIZED VIEW smv AS SELECT g, sum(v) AS total, count(*) AS n FROM t GROUP BY g")
    assert sql(conn, "SELECT * FROM smv ORDER BY g") == ((1, 30, 2), (2, 30, 1))
    sql(conn, "INSERT INTO t VALUES (3, 2, 5), (60, 3, 7)")
    sql(conn, "INSERT INTO t SELECT k + 1, g, v FROM t WHERE k = 1")
    assert sql(conn, "SELECT * FROM smv ORDER BY g") == ((1, 40, 3), (2, 35, 2), (3, 7, 1))
    assert sql(conn, "SELECT g, sum(v), count(*) FROM t GROUP BY g ORDER BY g") == ((1, 40, 3), (2, 35, 2), (3, 7, 1))
    # its own tablets beside the base table's, in every partition
    tablets = sql(conn, "SHOW TABLETS FROM t")
    by_index: dict[str, set[str]] = {}
    for r in tablets:
        by_index.setdefault(r[9], set()).add(r[8])
    assert by_index == {"t": {"p1", "p2"}, "smv": {"p1", "p2"}}
    info = mvs(conn)["smv"]
    assert info["refresh_type"] == "ROLLUP" and info["is_active"] == "true"
    assert "SELECT g, sum(v) AS total" in info["text"]
    assert sql(conn, "SHOW CREATE MATERIALIZED VIEW smv")[0][1].startswith("CREATE MATERIALIZED VIEW `smv` AS SELECT")
    _, msg = error_of(conn, "CREATE MATERIALIZED VIEW bad AS SELECT g, avg(v) FROM t GROUP BY g")
    assert "only sum, min, max and count" in msg
    sql(conn, "DROP MATERIALIZED VIEW smv")
    assert mvs(conn) == {}
    assert {r[9] for r in sql(conn, "SHOW TABLETS FROM t")} == {"t"}
    _, msg = error_of(conn, "SELECT * FROM smv")
    assert "smv" in msg


# ---------------------------------------------------------------------------------------- async MVs


def test_async_mv_refresh_and_states(daemon: DaemonProcess) -> None:
    conn = fresh_db(daemon, "adb")
    sql(conn, TABLE.format(name="t"))
    sql(conn, "CREATE TABLE dim (g INT, label VARCHAR(20)) DUPLICATE KEY(g) DISTRIBUTED BY HASH(g) BUCKETS 1 "
              "PROPERTIES ('replication_num' = '1')")
    sql(conn, "INSERT INTO t VALUES (1, 1, 10), (2, 1, 20), (50, 2, 30)")
    sql(conn, "INSERT INTO dim VALUES (1, 'one'), (2, 'two')")
    sql(conn, "CREATE MATERIALIZED VIEW amv DISTRIBUTED BY HASH(g) BUCKETS 2 REFRESH MANUAL AS "
              "SELECT t.g, dim.label, sum(t.v) AS total FROM t JOIN dim ON t.g = dim.g GROUP BY t.g, dim.label")
    assert sql(conn, "SELECT * FROM amv ORDER BY g") == ((1, "one", 30), (2, "two", 30))
    sql(conn, "INSERT INTO t VALUES (3, 2, 5)")
    assert sql(conn, "SELECT total FROM amv WHERE g = 2") == ((30,),)  # not refreshed yet
    result = sql(conn, "REFRESH MATERIALIZED VIEW amv")
    assert len(result) == 1
    assert sql(conn, "SELECT total FROM amv WHERE g = 2") == ((35,),)
    info = mvs(conn)["amv"]
    assert info["refresh_type"] == "MANUAL" and info["is_active"] == "true"
    assert info["last_refresh_state"] == "SUCCESS" and info["rows"] == "2" and info["task_name"].startswith("mv-")
    assert info["last_refresh_start_time"] and info["last_refresh_finished_time"]
    assert list(info)[:6] == ["id", "database_name", "name", "refresh_type", "is_active", "inactive_reason"]
    assert list(info)[-2:] == ["rows", "text"]
    assert mvs(conn, " LIKE 'a%'").keys() == {"amv"} and mvs(conn, " WHERE NAME = 'zz'") == {}
    text = sql(conn, "SHOW CREATE MATERIALIZED VIEW amv")[0][1]
    assert text.startswith("CREATE MATERIALIZED VIEW `amv` (`g`, `label`, `total`)\nDISTRIBUTED BY HASH(`g`) BUCKETS 2")
    assert "REFRESH MANUAL" in text
    _, msg = error_of(conn, "INSERT INTO amv VALUES (9, 'x', 1)")
    assert "materialized view" in msg
    # inactive / active
    sql(conn, "ALTER MATERIALIZED VIEW amv INACTIVE")
    assert mvs(conn)["amv"]["is_active"] == "false"
    _, msg = error_of(conn, "REFRESH MATERIALIZED VIEW amv")
    assert "inactive" in msg
    sql(conn, "ALTER MATERIALIZED VIEW amv ACTIVE")
    assert mvs(conn)["amv"]["is_active"] == "true"
    # dropping a base table deactivates it with a reason; ACTIVE is refused until the table exists again
    sql(conn, "DROP TABLE dim")
    info = mvs(conn)["amv"]
    assert info["is_active"] == "false" and info["inactive_reason"] == "base-table dropped: dim"
    _, msg = error_of(conn, "ALTER MATERIALIZED VIEW amv ACTIVE")
    assert "Can not active materialized view [amv]" in msg and "adb.dim" in msg
    sql(conn, "CREATE TABLE dim (g INT, label VARCHAR(20)) DUPLICATE KEY(g) DISTRIBUTED BY HASH(g) BUCKETS 1 "
              "PROPERTIES ('replication_num' = '1')")
    sql(conn, "INSERT INTO dim VALUES (2, 'deux')")
    sql(conn, "ALTER MATERIALIZED VIEW amv ACTIVE")
    assert mvs(conn)["amv"]["is_active"] == "true"
    assert sql(conn, "SELECT * FROM amv ORDER BY g") == ((2, "deux", 35),)
    _, msg = error_of(conn, "CREATE MATERIALIZED VIEW bad REFRESH ASYNC EVERY (INTERVAL 1 FORTNIGHT) AS SELECT 1 x FROM t")
    # PARTITION BY is kept as written; DEFERRED creates the MV empty until its first refresh
    sql(conn, "CREATE MATERIALIZED VIEW pmv PARTITION BY g REFRESH DEFERRED MANUAL AS SELECT g, v FROM t")
    assert sql(conn, "SELECT count(*) FROM pmv") == ((0,),)
    assert "\nPARTITION BY g\n" in sql(conn, "SHOW CREATE MATERIALIZED VIEW pmv")[0][1]
    sql(conn, "REFRESH MATERIALIZED VIEW pmv WITH SYNC MODE")
    assert sql(conn, "SELECT count(*) FROM pmv") == ((4,),)
    sql(conn, "DROP MATERIALIZED VIEW amv")
    _, msg = error_of(conn, "DROP MATERIALIZED VIEW amv")
    assert "not found" in msg
    sql(conn, "DROP MATERIALIZED VIEW IF EXISTS amv")


# ---------------------------------------------------------------------------------------- UDFs


def test_udfs(daemon: DaemonProcess) -> None:
    conn = fresh_db(daemon, "fdb")
    sql(conn, TABLE.format(name="t"))
    sql(conn, "INSERT INTO t VALUES (1, 1, 10), (2, 1, 20)")
    sql(conn, PY_UDF.format(name="add_one", arg="INT", ret="INT", sym="add_one",
                            body="def add_one(x):\n    return x + 1"))
    sql(conn, PY_UDF.format(name="add_one", arg="STRING", ret="STRING", sym="shout",
                            body="def shout(s):\n    return s.upper() + '!'"))
    sql(conn, JAVA_UDF.format(name="jfun"))
    assert sql(conn, "SELECT add_one(k), add_one(v) FROM t ORDER BY k") == ((2, 11), (3, 21))
    assert sql(conn, "SELECT add_one('hi'), add_one(41)") == (("HI!", 42),)
    assert sql(conn, "SELECT sum(add_one(v)) FROM t") == ((32,),)
    _, msg = error_of(conn, "SELECT jfun(1)")
    assert "Java UDF fdb.jfun(INT) cannot be called" in msg
    assert sql(conn, "SHOW FUNCTIONS") == (("add_one",), ("jfun",))
    assert columns(conn, "SHOW FUNCTIONS") == ["Function Name"]
    full = sql(conn, "SHOW FULL FUNCTIONS")
    assert columns(conn, "SHOW FULL FUNCTIONS") == ["Signature", "Return Type", "Function Type", "Intermediate Type",
                                                    "Properties"]
    assert [r[0] for r in full] == ["add_one(INT)", "add_one(STRING)", "jfun(INT)"]
    assert full[2][4] == '{"file":"http://repo.example/udf.jar","symbol":"com.example.F","type":"StarrocksJar"}'
    assert sql(conn, "SHOW FUNCTIONS LIKE 'j%'") == (("jfun",),)
    _, msg = error_of(conn, PY_UDF.format(name="add_one", arg="INT", ret="INT", sym="add_one", body="def add_one(x): return x"))
    assert "already exists" in msg
    _, msg = error_of(conn, PY_UDF.format(name="broken", arg="INT", ret="INT", sym="nope", body="def f(x): return x"))
    assert "symbol 'nope'" in msg
    sql(conn, "CREATE VIEW uv AS SELECT add_one(k) AS k1 FROM t")
    assert sql(conn, "SELECT * FROM uv ORDER BY k1") == ((2,), (3,))
    sql(conn, "DROP FUNCTION add_one(STRING)")
    assert [r[0] for r in sql(conn, "SHOW FULL FUNCTIONS")] == ["add_one(INT)", "jfun(INT)"]
    error_of(conn, "SELECT add_one('hi')")
    _, msg = error_of(conn, "DROP FUNCTION add_one(STRING)")
    assert "Unknown function" in msg
    # a UDF failing at run time fails an MV refresh cleanly, recorded in the MV's refresh state
    sql(conn, PY_UDF.format(name="boom", arg="INT", ret="INT", sym="boom",
                            body="def boom(x):\n    raise ValueError('no way')"))
    sql(conn, "CREATE MATERIALIZED VIEW fm REFRESH DEFERRED MANUAL AS SELECT boom(k) AS b FROM t")
    _, msg = error_of(conn, "REFRESH MATERIALIZED VIEW fm")
    assert "Refresh materialized view fm failed" in msg and "no way" in msg
    info = mvs(conn)["fm"]
    assert info["last_refresh_state"] == "FAILED" and "no way" in info["last_refresh_error_message"]
    other = daemon.connect()
    sql(other, "CREATE DATABASE fdb2")
    sql(other, "USE fdb2")
    _, msg = error_of(other, "SELECT add_one(1)")  # functions belong to their database


# ---------------------------------------------------------------------------------------- catalogs


def test_external_catalogs(daemon: DaemonProcess) -> None:
    conn = daemon.connect()
    sql(conn, "CREATE EXTERNAL CATALOG hive_c COMMENT 'metastore one' PROPERTIES ('type' = 'hive', "
              "'hive.metastore.uris' = 'thrift://meta:9083', 'aws.s3.access_key' = 'AKIAXXX', "
              "'aws.s3.secret_key' = 'TOPSECRET1')")
    sql(conn, "CREATE EXTERNAL CATALOG jdbc_c PROPERTIES ('type' = 'jdbc', 'user' = 'u', 'password' = 'TOPSECRET2', "
              "'jdbc_uri' = 'jdbc:mysql://h:3306')")
    rows = sql(conn, "SHOW CATALOGS")
    assert columns(conn, "SHOW CATALOGS") == ["Catalog", "Type", "Comment"]
    assert rows[0] == ("default_catalog", "Internal", "An internal catalog contains this cluster's self-managed tables.")
    assert ("hive_c", "Hive", "metastore one") in rows and ("jdbc_c", "Jdbc", "") in rows
    name, text = sql(conn, "SHOW CREATE CATALOG hive_c")[0]
    assert name == "hive_c" and text.startswith("CREATE EXTERNAL CATALOG `hive_c`\ncomment \"metastore one\"")
    assert '"hive.metastore.uris"  =  "thrift://meta:9083"' in text
    assert '"aws.s3.secret_key"  =  "******"' in text and '"aws.s3.access_key"  =  "******"' in text
    assert "TOPSECRET" not in text and "AKIAXXX" not in text
    assert '"password"  =  "******"' in sql(conn, "SHOW CREATE CATALOG jdbc_c")[0][1]
    stored = (daemon.data_dir / "eventlog.sqlite3").read_bytes()
    for wal in daemon.data_dir.glob("eventlog.sqlite3*"):
        stored += wal.read_bytes()
    assert b"TOPSECRET" not in stored and b"AKIAXXX" not in stored  # sealed at rest
    _, msg = error_of(conn, "CREATE EXTERNAL CATALOG bad PROPERTIES ('type' = 'mongodb')")
    assert "Unsupported catalog type 'mongodb'" in msg and "hive, iceberg, hudi, deltalake, jdbc, paimon" in msg
    _, msg = error_of(conn, "CREATE EXTERNAL CATALOG hive_c PROPERTIES ('type' = 'hive')")
    assert "exists" in msg
    sql(conn, "CREATE EXTERNAL CATALOG IF NOT EXISTS hive_c PROPERTIES ('type' = 'hive')")
    sql(conn, "DROP CATALOG jdbc_c")
    assert "jdbc_c" not in [r[0] for r in sql(conn, "SHOW CATALOGS")]
    _, msg = error_of(conn, "DROP CATALOG jdbc_c")
    assert "Unknown catalog" in msg
    _, msg = error_of(conn, "DROP CATALOG default_catalog")
    assert "internal catalog" in msg


# ---------------------------------------------------------------------------------------- settings


def test_frontend_config(daemon: DaemonProcess) -> None:
    conn = daemon.connect()
    rows = {r[0]: r for r in sql(conn, "ADMIN SHOW FRONTEND CONFIG")}
    assert columns(conn, "ADMIN SHOW FRONTEND CONFIG") == ["Key", "AliasNames", "Value", "Type", "IsMutable", "Comment"]
    assert rows["upload_worker_count"][2] == "3"  # from the --config file
    assert rows["history_job_keep_max_second"][2] == "3600"
    assert rows["make_snapshot_worker_count"][2] == "5"  # StarRocks default
    sql(conn, "ADMIN SET FRONTEND CONFIG ('max_download_task_per_be' = '7')")
    assert sql(conn, "ADMIN SHOW FRONTEND CONFIG LIKE 'max_download%'") == (
        ("max_download_task_per_be", "[]", "7", "int", "true", ""),)
    assert {r[0] for r in sql(conn, "ADMIN SHOW FRONTEND CONFIG LIKE '%worker_count'")} == {
        "make_snapshot_worker_count", "release_snapshot_worker_count", "upload_worker_count", "download_worker_count"}
    _, msg = error_of(conn, "ADMIN SET FRONTEND CONFIG ('no_such_key' = '1')")
    assert "no_such_key" in msg
    _, msg = error_of(conn, "ADMIN SET FRONTEND CONFIG ('upload_worker_count' = 'many')")
    assert "integer" in msg


def test_unknown_config_key_refused(tmp_path: Path) -> None:
    config = tmp_path / "bad.conf"
    config.write_text("upload_worker_count = 1\nfrobnicate = 2\n")
    proc = DaemonProcess(tmp_path / "data", config=config)
    with pytest.raises(RuntimeError, match="unknown configuration key 'frobnicate'"):
        proc.start(timeout=20)


# ---------------------------------------------------------------------------------------- restart


def test_restart_keeps_everything(daemon: DaemonProcess) -> None:
    conn = fresh_db(daemon, "keep")
    sql(conn, TABLE.format(name="t"))
    sql(conn, "INSERT INTO t VALUES (1, 1, 10), (50, 2, 30)")
    sql(conn, "CREATE VIEW v AS SELECT g, v FROM t WHERE v > 5")
    sql(conn, "CREATE VIEW vv AS SELECT count(*) AS n FROM v")
    sql(conn, "CREATE MATERIALIZED VIEW smv AS SELECT g, sum(v) AS total FROM t GROUP BY g")
    sql(conn, "CREATE MATERIALIZED VIEW amv REFRESH ASYNC AS SELECT g, count(*) AS n FROM t GROUP BY g")
    sql(conn, "CREATE MATERIALIZED VIEW gone REFRESH MANUAL AS SELECT k FROM t")
    sql(conn, "ALTER MATERIALIZED VIEW gone INACTIVE")
    sql(conn, PY_UDF.format(name="twice", arg="INT", ret="INT", sym="twice", body="def twice(x):\n    return 2 * x"))
    sql(conn, JAVA_UDF.format(name="jfun"))
    sql(conn, "CREATE EXTERNAL CATALOG ice COMMENT 'lake' PROPERTIES ('type' = 'iceberg', "
              "'iceberg.catalog.type' = 'rest', 'token' = 'TOKSECRET')")
    sql(conn, "ADMIN SET FRONTEND CONFIG ('download_worker_count' = '6')")
    before_mvs = mvs(conn)
    conn.close()

    assert daemon.stop() == 0
    daemon.start()

    conn = daemon.connect("keep")
    assert sql(conn, "SELECT * FROM vv") == ((2,),)
    assert sql(conn, "SELECT * FROM smv ORDER BY g") == ((1, 10), (2, 30))
    assert sql(conn, "SELECT * FROM amv ORDER BY g") == ((1, 1), (2, 1))
    assert sql(conn, "SELECT twice(v) FROM t ORDER BY k") == ((20,), (60,))
    after = mvs(conn)
    assert after.keys() == before_mvs.keys() == {"smv", "amv", "gone"}
    assert after["gone"]["is_active"] == "false" and after["amv"]["last_refresh_state"] == "SUCCESS"
    assert after["amv"]["last_refresh_start_time"] == before_mvs["amv"]["last_refresh_start_time"]
    assert [r[0] for r in sql(conn, "SHOW FULL FUNCTIONS")] == ["jfun(INT)", "twice(INT)"]
    assert ("ice", "Iceberg", "lake") in sql(conn, "SHOW CATALOGS")
    assert '"token"  =  "******"' in sql(conn, "SHOW CREATE CATALOG ice")[0][1]
    assert sql(conn, "ADMIN SHOW FRONTEND CONFIG LIKE 'download_worker_count'")[0][2] == "6"
    # still maintained and refreshable after the restart
    sql(conn, "INSERT INTO t VALUES (2, 1, 5)")
    assert sql(conn, "SELECT * FROM smv ORDER BY g") == ((1, 15), (2, 30))
    sql(conn, "REFRESH MATERIALIZED VIEW amv")
    assert sql(conn, "SELECT * FROM amv ORDER BY g") == ((1, 2), (2, 1))
    assert sql(conn, "SHOW CREATE VIEW v")[0][1] == "CREATE VIEW `v` (`g`, `v`)\nAS SELECT g, v FROM t WHERE v > 5;"


# ---------------------------------------------------------------------------------------- timed refresh


def _daemon_spawns_refresher() -> bool:
    return "spawn_mv_refresher" in (ROOT / "sqlfront" / "daemon.py").read_text()


@pytest.mark.skipif(not _daemon_spawns_refresher(), reason="sqlfront/daemon.py does not spawn the MV refresher yet")
def test_timed_refresh_in_daemon(daemon: DaemonProcess) -> None:
    conn = fresh_db(daemon, "tdb")
    sql(conn, TABLE.format(name="t"))
    sql(conn, "INSERT INTO t VALUES (1, 1, 10)")
    sql(conn, "CREATE MATERIALIZED VIEW tmv REFRESH ASYNC EVERY (INTERVAL 1 SECOND) AS SELECT sum(v) AS s FROM t")
    assert sql(conn, "SELECT * FROM tmv") == ((10,),)
    sql(conn, "INSERT INTO t VALUES (2, 1, 5)")
    deadline = time.monotonic() + 10
    while sql(conn, "SELECT * FROM tmv") != ((15,),):
        assert time.monotonic() < deadline, "the timed refresh did not run"
        time.sleep(0.2)


class ManualClock:
    def __init__(self) -> None:
        self.ns = time.time_ns()
        self.lock = threading.Lock()

    def now_ns(self) -> int:
        with self.lock:
            return self.ns

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.ns += int(seconds * 1e9)


def test_timed_refresh_runs_on_the_injected_clock(tmp_path: Path) -> None:
    """In process: the refresher's schedule follows runtime.clock, not the wall clock."""
    from actors.mv_refresher import spawn_mv_refresher
    from sqlfront.daemon import Daemon
    from sqlfront.session import StarSession

    d = Daemon(str(tmp_path / "data"), backends=1)
    client = d.start_cluster()
    try:
        assert d.runtime is not None
        clock = ManualClock()
        d.runtime.clock = clock
        d.runtime.stop("mv_refresher")  # the daemon's own refresher wakes too rarely for this test
        refresher = spawn_mv_refresher(d.runtime, client, wake_s=0.05)
        s = StarSession(client)
        s.execute("CREATE DATABASE c")
        s.database = "c"
        s.execute("CREATE TABLE t (k INT, v INT) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1")
        s.execute("INSERT INTO t VALUES (1, 10)")
        s.execute("CREATE MATERIALIZED VIEW m REFRESH ASYNC EVERY (INTERVAL 1 HOUR) AS SELECT sum(v) AS s FROM t")
        s.execute("INSERT INTO t VALUES (2, 5)")
        passes = refresher.passes
        deadline = time.monotonic() + 10
        while refresher.passes < passes + 3:  # several passes on the unchanged clock: nothing due
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert s.execute("SELECT * FROM m")[0] == [(10,)]
        clock.advance(3600)
        deadline = time.monotonic() + 10
        while s.execute("SELECT * FROM m")[0] != [(15,)]:
            assert time.monotonic() < deadline, "the refresh did not run after the clock moved"
            time.sleep(0.05)
        row = s.execute("SHOW MATERIALIZED VIEWS")[0][0]
        assert row[12] == "SUCCESS"
    finally:
        d.shutdown()
