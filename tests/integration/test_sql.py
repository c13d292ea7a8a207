"""Every statement family of the foundation issue, over PyMySQL against one real daemon (3 backends)."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import psutil
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pymysql
import pytest
from pymysql.constants import CLIENT, FIELD_TYPE

from tests.support.daemon import DaemonProcess, columns, query

_names = itertools.count(1)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory):
    with DaemonProcess(tmp_path_factory.mktemp("sql") / "data", backends=3) as d:
        yield d


@pytest.fixture(scope="module")
def conn(daemon: DaemonProcess):
    c = daemon.connect()
    yield c
    c.close()


@pytest.fixture
def db(conn: pymysql.connections.Connection) -> str:
    """A fresh database per test, selected on the shared connection."""
    name = f"t{next(_names)}"
    query(conn, f"CREATE DATABASE {name}")
    query(conn, f"USE {name}")
    return name


def error_of(conn: pymysql.connections.Connection, sql: str) -> tuple[int, str]:
    with pytest.raises(pymysql.err.MySQLError) as e:
        query(conn, sql)
    code, message = e.value.args[0], e.value.args[1]
    assert "Traceback" not in message
    # The connection survives every refusal.
    assert query(conn, "SELECT 1") == [(1,)]
    return code, message


def dec(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Decimals and big integer sums as Decimal, however the server typed them (text or number)."""
    return [tuple(Decimal(str(v)) if isinstance(v, (str, int, float, Decimal)) and not isinstance(v, bool)
                  and _numeric(v) else v for v in row) for row in rows]


def _numeric(v: Any) -> bool:
    try:
        Decimal(str(v))
    except ArithmeticError:
        return False
    return True


def show(conn: pymysql.connections.Connection, sql: str) -> list[dict[str, Any]]:
    with conn.cursor() as cur:
        cur.execute(sql)
        names = [d[0] for d in cur.description or []]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


# ------------------------------------------------------------------------------------------ databases


def test_databases(conn: pymysql.connections.Connection) -> None:
    query(conn, "CREATE DATABASE dbs_a")
    query(conn, "CREATE DATABASE IF NOT EXISTS dbs_a")
    assert error_of(conn, "CREATE DATABASE dbs_a")[0] == 1007
    query(conn, "CREATE SCHEMA dbs_b")
    names = [r[0] for r in query(conn, "SHOW DATABASES")]
    assert {"dbs_a", "dbs_b", "information_schema"} <= set(names)
    query(conn, "USE dbs_a")
    assert query(conn, "SELECT database()") == [("dbs_a",)]
    query(conn, "CREATE TABLE t (k INT) DISTRIBUTED BY HASH(k) BUCKETS 1")
    query(conn, "DROP DATABASE dbs_a FORCE")
    query(conn, "DROP DATABASE IF EXISTS dbs_a")
    assert error_of(conn, "DROP DATABASE dbs_a")[0] == 1008
    query(conn, "DROP SCHEMA dbs_b")
    names = [r[0] for r in query(conn, "SHOW DATABASES")]
    assert "dbs_a" not in names and "dbs_b" not in names
    code, message = error_of(conn, "USE dbs_a")
    assert code == 5501 and "dbs_a" in message


# ------------------------------------------------------------------------------------------ tables


def test_create_table_key_models_and_show_create(conn: pymysql.connections.Connection, db: str) -> None:
    ddl = {
        "dup": "CREATE TABLE dup (k INT, v VARCHAR(20)) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2",
        "agg": "CREATE TABLE agg (k INT, s BIGINT SUM, m INT MAX, n INT MIN, r VARCHAR(10) REPLACE) "
               "AGGREGATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2",
        "uniq": "CREATE TABLE uniq (k INT, v VARCHAR(20)) UNIQUE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2",
        "pk": "CREATE TABLE pk (k INT NOT NULL, v VARCHAR(20)) PRIMARY KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2",
    }
    for sql in ddl.values():
        query(conn, sql)
    assert query(conn, "SHOW TABLES") == [("agg",), ("dup",), ("pk",), ("uniq",)]
    create = {name: query(conn, f"SHOW CREATE TABLE {name}")[0] for name in ddl}
    assert create["dup"][0] == "dup"
    assert "DUPLICATE KEY(`k`)" in create["dup"][1]
    assert "AGGREGATE KEY(`k`)" in create["agg"][1] and "SUM" in create["agg"][1]
    assert "UNIQUE KEY(`k`)" in create["uniq"][1]
    assert "PRIMARY KEY(`k`)" in create["pk"][1]
    for name in ddl:
        assert 'DISTRIBUTED BY HASH(`k`) BUCKETS 2' in create[name][1]
        assert '"replication_num" = "3"' in create[name][1]
    # SHOW CREATE TABLE gives DDL that creates the same table again.
    query(conn, "CREATE DATABASE again_" + db)
    query(conn, f"USE again_{db}")
    for name in ddl:
        query(conn, create[name][1])
        assert query(conn, f"SHOW CREATE TABLE {name}")[0] == create[name]
    query(conn, f"USE {db}")
    # Duplicates.
    assert error_of(conn, ddl["dup"])[0] == 1050
    query(conn, ddl["dup"].replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS"))


def test_range_partitions_less_than_fixed_and_every(conn: pymysql.connections.Connection, db: str) -> None:
    query(conn, """CREATE TABLE lt (d DATE, v INT) DUPLICATE KEY(d)
        PARTITION BY RANGE(d) (
            PARTITION p2022 VALUES LESS THAN ('2023-01-01'),
            PARTITION p2023 VALUES LESS THAN ('2024-01-01'),
            PARTITION pmax VALUES LESS THAN MAXVALUE)
        DISTRIBUTED BY HASH(v) BUCKETS 2""")
    parts = show(conn, "SHOW PARTITIONS FROM lt")
    assert [p["PartitionName"] for p in parts] == ["p2022", "p2023", "pmax"]
    assert all(p["Buckets"] == 2 and p["ReplicationNum"] == 3 for p in parts)
    assert "2023-01-01" in parts[0]["Range"] and "2024-01-01" in parts[1]["Range"]
    assert "MAXVALUE" in parts[2]["Range"]

    query(conn, """CREATE TABLE fixed (d DATE, v INT) DUPLICATE KEY(d)
        PARTITION BY RANGE(d) (
            PARTITION p1 VALUES [('2022-03-13'), ('2022-03-14')),
            PARTITION p2 VALUES [('2022-03-14'), ('2022-03-15')))
        DISTRIBUTED BY HASH(v)""")
    assert [p["PartitionName"] for p in show(conn, "SHOW PARTITIONS FROM fixed")] == ["p1", "p2"]
    code, message = error_of(conn, "ALTER TABLE fixed ADD PARTITION p3 VALUES [('2022-03-14'), ('2022-03-16'))")
    assert "intersect" in message.lower()

    query(conn, """CREATE TABLE every_day (d DATE, v INT) DUPLICATE KEY(d)
        PARTITION BY RANGE(d) (START ('2022-01-01') END ('2022-01-04') EVERY (INTERVAL 1 DAY))
        DISTRIBUTED BY HASH(v) BUCKETS 1""")
    names = [p["PartitionName"] for p in show(conn, "SHOW PARTITIONS FROM every_day")]
    assert names == ["p20220101", "p20220102", "p20220103"]
    query(conn, """CREATE TABLE every_num (k INT, v INT) DUPLICATE KEY(k)
        PARTITION BY RANGE(k) (START ('0') END ('30') EVERY (10))
        DISTRIBUTED BY HASH(v) BUCKETS 1""")
    assert len(show(conn, "SHOW PARTITIONS FROM every_num")) == 3
    query(conn, "INSERT INTO every_num VALUES (0, 1), (9, 1), (10, 2), (29, 3)")
    rows = {p["PartitionName"]: p["RowCount"] for p in show(conn, "SHOW PARTITIONS FROM every_num")}
    assert sorted(rows.values()) == [1, 1, 2]


def test_list_unpartitioned_random_and_replication(conn: pymysql.connections.Connection, db: str) -> None:
    query(conn, """CREATE TABLE lst (city VARCHAR(20), v INT) DUPLICATE KEY(city)
        PARTITION BY LIST(city) (
            PARTITION p_north VALUES IN ('oslo', 'helsinki'),
            PARTITION p_south VALUES IN ('rome'))
        DISTRIBUTED BY HASH(v) BUCKETS 1""")
    query(conn, "INSERT INTO lst VALUES ('oslo', 1), ('rome', 2), ('helsinki', 3)")
    counts = {p["PartitionName"]: p["RowCount"] for p in show(conn, "SHOW PARTITIONS FROM lst")}
    assert counts == {"p_north": 2, "p_south": 1}
    code, _ = error_of(conn, "INSERT INTO lst VALUES ('paris', 4)")
    assert code != 0

    query(conn, "CREATE TABLE plain (k INT, v INT) DISTRIBUTED BY HASH(k) BUCKETS 4")
    parts = show(conn, "SHOW PARTITIONS FROM plain")
    assert [p["PartitionName"] for p in parts] == ["plain"]  # one partition named after the table

    query(conn, "CREATE TABLE rnd (k INT, v INT) DUPLICATE KEY(k) DISTRIBUTED BY RANDOM BUCKETS 3")
    assert "DISTRIBUTED BY RANDOM" in query(conn, "SHOW CREATE TABLE rnd")[0][1]
    query(conn, "INSERT INTO rnd SELECT x, x FROM (SELECT unnest(range(300)) AS x) s")
    assert dec(query(conn, "SELECT count(*), sum(v) FROM rnd")) == [(300, Decimal(44850))]

    query(conn, "CREATE TABLE r1 (k INT) DISTRIBUTED BY HASH(k) BUCKETS 2 PROPERTIES ('replication_num' = '1')")
    query(conn, "CREATE TABLE r2 (k INT) DISTRIBUTED BY HASH(k) BUCKETS 2 PROPERTIES ('replication_num' = '2')")
    assert len(query(conn, "SHOW TABLET FROM r1")) == 2
    assert len(query(conn, "SHOW TABLET FROM r2")) == 4
    code, message = error_of(conn, "CREATE TABLE r4 (k INT) DISTRIBUTED BY HASH(k) PROPERTIES ('replication_num' = '4')")
    assert "replication" in message.lower()
    assert "r4" not in [r[0] for r in query(conn, "SHOW TABLES")]


def test_alter_partitions_truncate_and_drop_table(conn: pymysql.connections.Connection, db: str) -> None:
    query(conn, """CREATE TABLE m (d DATE, v INT) DUPLICATE KEY(d)
        PARTITION BY RANGE(d) (
            PARTITION p1 VALUES [('2022-01-01'), ('2022-02-01')),
            PARTITION p2 VALUES [('2022-02-01'), ('2022-03-01')))
        DISTRIBUTED BY HASH(v) BUCKETS 2""")
    query(conn, "ALTER TABLE m ADD PARTITION p3 VALUES [('2022-03-01'), ('2022-04-01'))")
    query(conn, "INSERT INTO m VALUES ('2022-01-05', 1), ('2022-02-05', 2), ('2022-03-05', 3), ('2022-03-06', 4)")
    assert query(conn, "SELECT count(*) FROM m") == [(4,)]

    query(conn, "ALTER TABLE m DROP PARTITION p1")
    assert [p["PartitionName"] for p in show(conn, "SHOW PARTITIONS FROM m")] == ["p2", "p3"]
    assert query(conn, "SELECT v FROM m ORDER BY v") == [(2,), (3,), (4,)]
    query(conn, "ALTER TABLE m DROP PARTITION IF EXISTS p1")
    assert error_of(conn, "ALTER TABLE m DROP PARTITION p1")[0] != 0
    assert error_of(conn, "INSERT INTO m VALUES ('2022-01-05', 1)")[0] != 0  # p1 is gone

    old_tablets = {r[0] for r in query(conn, "SHOW TABLET FROM m PARTITION (p3)")}
    query(conn, "TRUNCATE TABLE m PARTITION (p3)")
    assert query(conn, "SELECT v FROM m ORDER BY v") == [(2,)]
    new_tablets = {r[0] for r in query(conn, "SHOW TABLET FROM m PARTITION (p3)")}
    assert new_tablets and not (old_tablets & new_tablets)  # truncate swaps in empty tablets
    query(conn, "TRUNCATE TABLE m")
    assert query(conn, "SELECT count(*) FROM m") == [(0,)]
    query(conn, "INSERT INTO m VALUES ('2022-03-07', 7)")
    assert query(conn, "SELECT v FROM m") == [(7,)]

    query(conn, "DROP TABLE m")
    assert error_of(conn, "SELECT * FROM m")[0] == 5502
    query(conn, "DROP TABLE IF EXISTS m")
    assert error_of(conn, "DROP TABLE m")[0] == 5502


def test_show_tablet_and_backends(conn: pymysql.connections.Connection, db: str) -> None:
    query(conn, """CREATE TABLE tb (d DATE, k INT, v INT) DUPLICATE KEY(d)
        PARTITION BY RANGE(d) (
            PARTITION p1 VALUES [('2022-01-01'), ('2022-02-01')),
            PARTITION p2 VALUES [('2022-02-01'), ('2022-03-01')))
        DISTRIBUTED BY HASH(k) BUCKETS 4""")
    backends = show(conn, "SHOW BACKENDS")
    assert len(backends) == 3
    be_ids = {b["BackendId"] for b in backends}
    assert all(b["Alive"] == "true" for b in backends)

    def tablets() -> dict[int, list[dict[str, Any]]]:
        out: dict[int, list[dict[str, Any]]] = {}
        for r in show(conn, "SHOW TABLET FROM tb"):
            out.setdefault(r["TabletId"], []).append(r)
        return out

    before = tablets()
    assert len(before) == 8  # 2 partitions x 4 buckets
    for replicas in before.values():
        assert len(replicas) == 3
        assert len({r["BackendId"] for r in replicas}) == 3  # distinct backends
        assert {r["BackendId"] for r in replicas} <= be_ids
        assert {r["Version"] for r in replicas} == {1}
        assert len({r["ReplicaId"] for r in replicas}) == 3
    # Every load advances the visible version of the partitions it touched, and only those.
    query(conn, "INSERT INTO tb SELECT DATE '2022-01-01' + CAST(x AS INTEGER), x, x "
                "FROM (SELECT unnest(range(20)) AS x) s")
    query(conn, "INSERT INTO tb VALUES ('2022-01-02', 1, 1)")
    query(conn, "INSERT INTO tb VALUES ('2022-02-02', 2, 2)")
    versions = {p["PartitionName"]: p["VisibleVersion"] for p in show(conn, "SHOW PARTITIONS FROM tb")}
    assert versions == {"p1": 3, "p2": 2}
    after = tablets()
    for replicas in after.values():
        expected = versions[replicas[0]["PartitionName"]]
        assert {r["Version"] for r in replicas} == {expected}
    assert sum(replicas[0]["RowCount"] for replicas in after.values()) == 22
    # TabletNum in SHOW BACKENDS counts replicas.
    query(conn, f"USE {db}")
    assert sum(b["TabletNum"] for b in show(conn, "SHOW BACKENDS")) >= 24


# ------------------------------------------------------------------------------------------ loads


def test_insert_values_columns_and_select(conn: pymysql.connections.Connection, db: str) -> None:
    query(conn, "CREATE TABLE src (k INT, name VARCHAR(20), amount DECIMAL(10, 2), d DATE) "
                "DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 3")
    with conn.cursor() as cur:
        assert cur.execute("INSERT INTO src VALUES (1, 'a', 1.50, '2024-01-01'), (2, 'b', 2.25, '2024-01-02')") == 2
    query(conn, "INSERT INTO src (k, name) VALUES (3, 'c')")
    assert dec(query(conn, "SELECT k, name, amount, d FROM src ORDER BY k")) == [
        (1, "a", Decimal("1.50"), date(2024, 1, 1)),
        (2, "b", Decimal("2.25"), date(2024, 1, 2)),
        (3, "c", None, None),
    ]
    query(conn, "CREATE TABLE dst (k INT, name VARCHAR(20), amount DECIMAL(10, 2), d DATE) "
                "DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2")
    with conn.cursor() as cur:
        assert cur.execute("INSERT INTO dst SELECT * FROM src WHERE amount IS NOT NULL") == 2
    query(conn, f"INSERT INTO {db}.dst SELECT k + 10, upper(name), amount * 2, d FROM {db}.src")
    assert dec(query(conn, "SELECT count(*), sum(amount) FROM dst")) == [(5, Decimal("11.25"))]
    code, message = error_of(conn, "INSERT INTO dst VALUES (1, 'too few')")
    assert "column count" in message
    code, message = error_of(conn, "INSERT INTO dst (nope) VALUES (1)")
    assert "nope" in message


def test_result_column_names_follow_starrocks(conn: pymysql.connections.Connection, db: str) -> None:
    """An alias, a column's own name, else the expression's text (DuckDB alone says `count_star()`)."""
    query(conn, "CREATE TABLE n (k INT, v INT) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2")
    query(conn, "INSERT INTO n VALUES (1, 10), (2, 20)")

    def names(sql: str) -> list[str]:
        with conn.cursor() as cur:
            cur.execute(sql)
            return [d[0] for d in cur.description]

    assert names("SELECT count(*), COUNT(*) AS c, sum(v), n.k, k + 1, max(v) AS `Top V` FROM n GROUP BY k") == [
        "count(*)", "c", "sum(v)", "k", "k + 1", "Top V"]
    assert names("SELECT * FROM n") == ["k", "v"]
    assert names("SELECT k FROM n UNION ALL SELECT v FROM n") == ["k"]


def test_decimals_reach_the_client_as_decimals(conn: pymysql.connections.Connection, db: str) -> None:
    query(conn, "CREATE TABLE m (k INT, amount DECIMAL(10, 2)) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1")
    query(conn, "INSERT INTO m VALUES (1, NULL), (2, 2.25), (3, 0.50)")
    with conn.cursor() as cur:
        cur.execute("SELECT k, amount, sum(amount) OVER () FROM m ORDER BY k")
        assert [d[1] for d in cur.description][1:] == [FIELD_TYPE.NEWDECIMAL] * 2
        assert cur.fetchall() == ((1, None, Decimal("2.75")), (2, Decimal("2.25"), Decimal("2.75")),
                                  (3, Decimal("0.50"), Decimal("2.75")))


def test_row_outside_every_partition_loads_nothing(conn: pymysql.connections.Connection, db: str) -> None:
    query(conn, """CREATE TABLE part (d DATE, v INT) DUPLICATE KEY(d)
        PARTITION BY RANGE(d) (PARTITION p1 VALUES [('2022-01-01'), ('2022-02-01')))
        DISTRIBUTED BY HASH(v) BUCKETS 2""")
    query(conn, "INSERT INTO part VALUES ('2022-01-01', 1)")
    code, message = error_of(conn, "INSERT INTO part VALUES ('2022-01-02', 2), ('2023-05-05', 3), ('2022-01-03', 4)")
    assert "no partition" in message or "filtered" in message
    assert query(conn, "SELECT v FROM part") == [(1,)]  # all or nothing
    assert show(conn, "SHOW PARTITIONS FROM part")[0]["VisibleVersion"] == 2


def test_key_models_merge_on_read(conn: pymysql.connections.Connection, db: str) -> None:
    query(conn, "CREATE TABLE agg (k INT, s BIGINT SUM, mx INT MAX, mn INT MIN, r VARCHAR(10) REPLACE) "
                "AGGREGATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2")
    query(conn, "INSERT INTO agg VALUES (1, 10, 5, 5, 'first'), (2, 1, 1, 1, 'x')")
    query(conn, "INSERT INTO agg VALUES (1, 5, 9, 2, 'second'), (1, 1, 0, 3, 'third')")
    assert query(conn, "SELECT * FROM agg ORDER BY k") == [(1, 16, 9, 2, "third"), (2, 1, 1, 1, "x")]

    for model in ("UNIQUE", "PRIMARY"):
        name = f"m_{model.lower()}"
        query(conn, f"CREATE TABLE {name} (k INT NOT NULL, v VARCHAR(10), n INT) {model} KEY(k) "
                    "DISTRIBUTED BY HASH(k) BUCKETS 3")
        query(conn, f"INSERT INTO {name} VALUES (1, 'a', 1), (2, 'b', 2), (3, 'c', 3)")
        query(conn, f"INSERT INTO {name} VALUES (2, 'B', 20)")
        query(conn, f"INSERT INTO {name} VALUES (3, 'C', 30), (4, 'D', 40)")
        assert query(conn, f"SELECT * FROM {name} ORDER BY k") == [(1, "a", 1), (2, "B", 20), (3, "C", 30),
                                                                   (4, "D", 40)]
        assert dec(query(conn, f"SELECT count(*), sum(n) FROM {name}")) == [(4, Decimal(91))]

    query(conn, "CREATE TABLE dup (k INT, v INT) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2")
    query(conn, "INSERT INTO dup VALUES (1, 1), (1, 1)")
    query(conn, "INSERT INTO dup VALUES (1, 1)")
    assert query(conn, "SELECT count(*) FROM dup") == [(3,)]


def _write_parquet(folder: Path, files: int, rows_per_file: int, pad: int = 0, row_group: int = 8192) -> None:
    folder.mkdir(parents=True)
    for f in range(files):
        k = pa.array(range(f * rows_per_file, (f + 1) * rows_per_file), pa.int64())
        cols = {"k": k, "grp": pc.cast(pc.divide(k, 1000), pa.int32())}
        cols["s"] = pc.binary_join_element_wise(pc.cast(k, pa.string()), "x" * pad, "") if pad else pc.cast(k, pa.string())
        pq.write_table(pa.table(cols), folder / f"part-{f:03d}.parquet", row_group_size=row_group)


def test_insert_from_files_parquet(conn: pymysql.connections.Connection, db: str, tmp_path: Path) -> None:
    files, per_file = 6, 50_000
    _write_parquet(tmp_path / "in", files, per_file)
    query(conn, "CREATE TABLE bulk (k BIGINT, grp INT, s STRING) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 4")
    with conn.cursor() as cur:
        n = cur.execute(f'INSERT INTO bulk SELECT * FROM FILES("path" = "file://{tmp_path}/in/*.parquet", '
                        '"format" = "parquet")')
    total = files * per_file
    assert n == total
    assert dec(query(conn, "SELECT count(*), sum(k), count(DISTINCT grp) FROM bulk")) == [
        (total, Decimal(total * (total - 1) // 2), total // 1000)]
    assert query(conn, "SELECT s FROM bulk WHERE k = 123456") == [("123456",)]
    # One load is one rowset per tablet: each tablet's replicas hold exactly one file at version 2.
    tablets = show(conn, "SHOW TABLET FROM bulk")
    assert {t["VersionCount"] for t in tablets} == {1} and {t["Version"] for t in tablets} == {2}
    assert sum(t["RowCount"] for t in tablets) == total * 3  # three replicas each
    # A column list and a projection over FILES().
    query(conn, "CREATE TABLE few (grp INT, n BIGINT SUM) AGGREGATE KEY(grp) DISTRIBUTED BY HASH(grp) BUCKETS 2")
    query(conn, f'INSERT INTO few (grp, n) SELECT grp, 1 FROM FILES("path" = "file://{tmp_path}/in/part-000.parquet", '
                '"format" = "parquet")')
    assert dec(query(conn, "SELECT count(*), sum(n) FROM few")) == [(per_file // 1000, Decimal(per_file))]
    code, message = error_of(conn, f'INSERT INTO bulk SELECT * FROM FILES("path" = "file://{tmp_path}/nothing/*.parquet", '
                                   '"format" = "parquet")')
    assert code != 0


def test_insert_from_files_streams(daemon: DaemonProcess, conn: pymysql.connections.Connection, db: str,
                                   tmp_path: Path) -> None:
    """A load 8x larger must not need 8x the memory: rows are streamed in batches, not materialized."""
    per_file, pad = 20_000, 1000
    _write_parquet(tmp_path / "small", 4, per_file, pad)
    _write_parquet(tmp_path / "big", 32, per_file, pad)
    query(conn, "CREATE TABLE wide (k BIGINT, grp INT, s STRING) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 4 "
                "PROPERTIES ('replication_num' = '1')")
    proc = psutil.Process(daemon.proc.pid)

    def peak_rss_during(sql: str) -> int:
        peak = [proc.memory_info().rss]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], proc.memory_info().rss)
                time.sleep(0.005)

        th = threading.Thread(target=sample)
        th.start()
        try:
            query(conn, sql)
        finally:
            done.set()
            th.join()
        return peak[0]

    small = peak_rss_during(f'INSERT INTO wide SELECT * FROM FILES("path" = "file://{tmp_path}/small/*.parquet")')
    big = peak_rss_during(f'INSERT INTO wide SELECT * FROM FILES("path" = "file://{tmp_path}/big/*.parquet", '
                          '"format" = "parquet")')
    assert query(conn, "SELECT count(*) FROM wide") == [(36 * per_file,)]
    extra_data = 28 * per_file * pad  # ~530 MiB more string data in the big load
    assert big - small < extra_data / 3, (
        f"peak RSS grew by {(big - small) >> 20} MiB for {extra_data >> 20} MiB more input: not streaming")


# ------------------------------------------------------------------------------------------ queries


def test_select_joins_group_by_order_limit_functions(conn: pymysql.connections.Connection, db: str) -> None:
    query(conn, "CREATE TABLE member (id INT, name VARCHAR(20), city INT, joined DATE) DUPLICATE KEY(id) "
                "DISTRIBUTED BY HASH(id) BUCKETS 3")
    query(conn, "CREATE TABLE city (id INT, name VARCHAR(20)) DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 1")
    query(conn, "INSERT INTO city VALUES (1, 'Oslo'), (2, 'Rome'), (3, 'Lima')")
    query(conn, "INSERT INTO member VALUES (1, 'ann', 1, '2022-01-05'), (2, 'bob', 1, '2022-02-06'), "
                "(3, 'cyd', 2, '2022-03-07'), (4, 'dan', 2, '2022-03-08'), (5, 'eve', 2, '2023-01-01'), "
                "(6, 'fay', NULL, '2023-02-02')")
    rows = query(conn, "SELECT c.name, count(*) AS n FROM member m JOIN city c ON m.city = c.id "
                       "GROUP BY c.name ORDER BY n DESC, c.name LIMIT 2")
    assert rows == [("Rome", 3), ("Oslo", 2)]
    assert columns(conn, "SELECT c.name, count(*) AS n FROM member m JOIN city c ON m.city = c.id GROUP BY c.name") == [
        "name", "n"]
    rows = query(conn, "SELECT c.name, count(m.id) FROM city c LEFT JOIN member m ON m.city = c.id "
                       "GROUP BY c.name ORDER BY c.name")
    assert rows == [("Lima", 0), ("Oslo", 2), ("Rome", 3)]
    rows = query(conn, "SELECT upper(name), year(joined), length(name), concat(name, '!'), coalesce(city, -1) "
                       "FROM member WHERE id IN (1, 6) ORDER BY id")
    assert rows == [("ANN", 2022, 3, "ann!", 1), ("FAY", 2023, 3, "fay!", -1)]
    rows = query(conn, "SELECT year(joined) AS y, count(*) FROM member GROUP BY y HAVING count(*) > 1 ORDER BY y")
    assert rows == [(2022, 4), (2023, 2)]
    assert query(conn, "SELECT name FROM member ORDER BY id DESC LIMIT 2 OFFSET 1") == [("eve",), ("dan",)]
    assert query(conn, f"SELECT count(*) FROM {db}.member WHERE name LIKE '%a%'") == [(3,)]
    assert query(conn, "SELECT id FROM member WHERE city IS NULL") == [(6,)]
    rows = query(conn, "WITH big AS (SELECT city, count(*) AS n FROM member GROUP BY city) "
                       "SELECT max(n) FROM big")
    assert rows == [(3,)]


def test_multi_statement_strings(daemon: DaemonProcess, db: str) -> None:
    c = daemon.connect(db, client_flag=CLIENT.MULTI_STATEMENTS)
    with c.cursor() as cur:
        cur.execute("CREATE TABLE ms (k INT) DISTRIBUTED BY HASH(k) BUCKETS 1; INSERT INTO ms VALUES (1), (2); "
                    "INSERT INTO ms VALUES (3); SELECT count(*) FROM ms")
        results = [cur.fetchall()]
        while cur.nextset():
            results.append(cur.fetchall())
    assert results[-1] == ((3,),)  # every statement ran; the last one's rows come back
    # A ';' inside a string or a comment does not split.
    with c.cursor() as cur:
        cur.execute("INSERT INTO ms SELECT length('a;b') /* ; */; SELECT count(*) FROM ms WHERE k = 3")
        while cur.nextset():
            pass
    assert query(c, "SELECT count(*) FROM ms WHERE k = 3") == [(2,)]
    c.close()


def test_multi_statement_each_answered(daemon: DaemonProcess) -> None:
    c = daemon.connect(client_flag=CLIENT.MULTI_STATEMENTS)
    with c.cursor() as cur:
        cur.execute("SELECT 1; SELECT 2")
        results = [cur.fetchall()]
        while cur.nextset():
            results.append(cur.fetchall())
    c.close()
    assert results == [((1,),), ((2,),)]


# ------------------------------------------------------------------------------------------ errors


def test_error_codes_and_connection_survives(conn: pymysql.connections.Connection, db: str) -> None:
    query(conn, "CREATE TABLE e (k INT) DISTRIBUTED BY HASH(k) BUCKETS 1")
    cases = [
        ("SELEC 1", 1064),
        ("CREATE TABLE (k INT)", 1064),
        ("INSERT INTO e VALUES (1", 1064),
        ("SELECT * FROM no_such_db.e", 5501),
        ("USE no_such_db", 5501),
        ("CREATE TABLE no_such_db.x (k INT) DISTRIBUTED BY HASH(k)", 5501),
        ("SELECT * FROM no_such_table", 5502),
        ("INSERT INTO no_such_table VALUES (1)", 5502),
        ("SHOW PARTITIONS FROM no_such_table", 5502),
        ("DROP TABLE no_such_table", 5502),
        (f"CREATE DATABASE {db}", 1007),
        ("CREATE TABLE e (k INT) DISTRIBUTED BY HASH(k)", 1050),
        ("DROP DATABASE no_such_db", 1008),
    ]
    for sql, code in cases:
        got, message = error_of(conn, sql)
        assert got == code, (sql, got, message)
        assert message
    # A bad property, a bad column: errors with a message, not a traceback or a dropped connection.
    for sql in ("CREATE TABLE bp (k INT) DISTRIBUTED BY HASH(k) PROPERTIES ('replication_num' = 'abc')",
                "CREATE TABLE bc (k INT) DISTRIBUTED BY HASH(nope)",
                "CREATE TABLE dc (k INT, k INT) DISTRIBUTED BY HASH(k)"):
        got, message = error_of(conn, sql)
        assert got not in (0, 1105), (sql, got, message)
    # No database selected.
    c = pymysql.connect(host=conn.host, port=conn.port, user="root", password="", autocommit=True)
    assert error_of(c, "CREATE TABLE x (k INT) DISTRIBUTED BY HASH(k)")[0] == 1046
    c.close()
    assert query(conn, "SELECT count(*) FROM e") == [(0,)]
