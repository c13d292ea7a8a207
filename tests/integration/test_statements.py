"""Issue 10 items 3 and 4 over PyMySQL against a real daemon: comments and SET_VAR hints never change what
runs, nothing of ours reaches mysql-mimic's stub, NOT NULL holds on every load path, and every bad input
gets a MySQL error with a code and a readable message (never Python text, never a traceback in the log)."""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pymysql
import pytest

from tests.support.daemon import DaemonProcess, query

_names = itertools.count(1)
PYTHON_TEXT = re.compile(r"Traceback|Error:|Exception|\bFile \"|codec can't|object has no attribute|"
                         r"NoneType|RecursionError|KeyError|AssertionError|TokenError|ParseError")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory):
    with DaemonProcess(tmp_path_factory.mktemp("stmt") / "data", backends=1) as d:
        yield d


@pytest.fixture(scope="module")
def conn(daemon: DaemonProcess):
    c = daemon.connect()
    yield c
    c.close()


@pytest.fixture
def db(conn: pymysql.connections.Connection) -> str:
    name = f"s{next(_names)}"
    query(conn, f"CREATE DATABASE {name}")
    query(conn, f"USE {name}")
    return name


def refused(conn: pymysql.connections.Connection, sql: str | bytes) -> tuple[int, str]:
    with pytest.raises(pymysql.err.MySQLError) as e:
        if isinstance(sql, bytes):
            conn.query(sql)
        else:
            query(conn, sql)
    code, message = e.value.args[0], e.value.args[1]
    assert code != 1105, message
    assert not PYTHON_TEXT.search(message), message
    assert "\x1b" not in message
    assert query(conn, "SELECT 1") == [(1,)]  # the connection survives
    return code, message


def log_text(daemon: DaemonProcess) -> str:
    return (daemon.data_dir / "daemon.log").read_text(errors="replace")


# ------------------------------------------------------------------------------------------ comments


LEADING = ["/* x */ ", "/* multi\nline */\n", "-- dbt: model x\n", "# metabase\n", "/* a */ -- b\n# c\n  "]


@pytest.mark.parametrize("lead", LEADING)
def test_leading_comments_run_the_statement(conn: pymysql.connections.Connection, lead: str) -> None:
    name = f"c{next(_names)}"
    query(conn, f"{lead}CREATE DATABASE {name}")
    assert (name,) in query(conn, f"{lead}SHOW DATABASES")
    query(conn, f"{lead}USE {name}")
    query(conn, f"{lead}CREATE TABLE t (k INT, v STRING) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1")
    query(conn, f"{lead}INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    query(conn, f"{lead}INSERT INTO t SELECT k + 10, v FROM t")
    assert query(conn, f"{lead}SELECT k, v FROM t ORDER BY k") == [(1, "a"), (2, "b"), (11, "a"), (12, "b")]
    assert query(conn, f"{lead}SELECT count(*) FROM {name}.t") == [(4,)]
    assert query(conn, f"{lead}SHOW TABLES") == [("t",)]
    assert query(conn, f"{lead}SHOW BACKUP") == []
    query(conn, f"{lead}DROP DATABASE {name}")
    assert (name,) not in query(conn, "SHOW DATABASES")


def test_comments_inside_and_after_statements(conn: pymysql.connections.Connection, db: str) -> None:
    query(conn, "CREATE TABLE t ( -- the key\n k INT, /* a value */ v STRING # trailing\n)"
                " DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1 -- done")
    query(conn, "INSERT INTO t /* rows */ VALUES (1, '/* not a comment */'), (2, '-- nor this'), (3, '# nor')")
    assert query(conn, "SELECT v FROM t WHERE k > 0 -- all\nORDER BY k") == [
        ("/* not a comment */",), ("-- nor this",), ("# nor",)]
    assert query(conn, "SELECT /* one */ 1 + /* two */ 1 # three") == [(2,)]
    query(conn, f"CREATE DATABASE IF NOT EXISTS {db} -- exists already")


def test_comments_between_statements_of_a_multi_statement_string(daemon: DaemonProcess) -> None:
    from pymysql.constants import CLIENT

    c = daemon.connect(client_flag=CLIENT.MULTI_STATEMENTS)
    try:
        name = f"m{next(_names)}"
        with c.cursor() as cur:
            cur.execute(f"/* 1 */ CREATE DATABASE {name}; -- 2\nCREATE TABLE {name}.t (k INT) DUPLICATE KEY(k) "
                        f"DISTRIBUTED BY HASH(k) BUCKETS 1; # 3\nINSERT INTO {name}.t VALUES (7); /* 4 */")
            while cur.nextset():
                pass
        assert query(c, f"/* q */ SELECT k FROM {name}.t") == [(7,)]
    finally:
        c.close()


@pytest.mark.skipif(shutil.which("mysql") is None, reason="the `mysql` client is not installed")
def test_the_mysql_client_with_comments(daemon: DaemonProcess) -> None:
    """The `mysql` client keeps comments with --comments (as tools that send them do)."""
    name = f"cli{next(_names)}"
    script = (f"/* dbt */ CREATE DATABASE {name};\n-- model\nCREATE TABLE {name}.t (k INT) DUPLICATE KEY(k) "
              f"DISTRIBUTED BY HASH(k) BUCKETS 1;\n/* load */ INSERT INTO {name}.t VALUES (5);\n# metabase\n"
              f"SELECT /*+ SET_VAR(query_timeout = 9) */ k, @@query_timeout AS qt FROM {name}.t;\n"
              "SELECT @@query_timeout AS qt;")
    r = subprocess.run([str(shutil.which("mysql")), "-h127.0.0.1", f"-P{daemon.port}", "-uroot", "--batch",
                        "--comments", "-e", script], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["k\tqt", "5\t9", "qt", "300"]


def test_a_comment_alone_is_an_empty_ok(conn: pymysql.connections.Connection) -> None:
    assert query(conn, "/* nothing */") == []
    assert query(conn, "-- nothing") == []
    assert query(conn, "/*!40101 SET NAMES utf8 */") == []  # MySQL's executable comments are comments here


# ------------------------------------------------------------------------------------------ SET_VAR


def test_set_var_applies_to_its_statement_only(conn: pymysql.connections.Connection) -> None:
    assert query(conn, "SELECT /*+ SET_VAR(query_timeout = 10, time_zone = '+08:00') */ @@query_timeout, "
                       "@@time_zone") == [(10, "+08:00")]
    assert query(conn, "SELECT @@query_timeout, @@time_zone") == [(300, "UTC")]
    query(conn, "SET query_timeout = 42")
    assert query(conn, "SELECT /*+ SET_VAR(query_timeout = 7) */ @@query_timeout") == [(7,)]
    assert query(conn, "SELECT @@query_timeout") == [(42,)]
    query(conn, "SET query_timeout = 300")


def test_session_variables_in_a_select_over_tables(conn: pymysql.connections.Connection, db: str) -> None:
    query(conn, "CREATE TABLE t (k INT) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1")
    query(conn, "INSERT INTO t VALUES (1), (2)")
    with conn.cursor() as cur:
        cur.execute("SELECT /*+ SET_VAR(query_timeout = 11) */ k, @@query_timeout FROM t ORDER BY k")
        assert list(cur.fetchall()) == [(1, 11), (2, 11)]
        assert [d[0] for d in cur.description] == ["k", "@@query_timeout"]
    code, message = refused(conn, "SELECT k, @@no_such FROM t")
    assert (code, message) == (1193, "Unknown system variable 'no_such'")


def test_set_var_query_timeout_interrupts_a_select(conn: pymysql.connections.Connection) -> None:
    code, message = refused(conn, "SELECT /*+ SET_VAR(query_timeout = 1) */ count(*) FROM range(100000000000)")
    assert code == 5024
    assert message == ("Query reached its timeout of 1 seconds, please increase the 'query_timeout' session "
                       "variable and retry")


def test_set_var_on_insert_enable_insert_strict(conn: pymysql.connections.Connection, db: str) -> None:
    query(conn, "CREATE TABLE t (k INT NOT NULL, v STRING) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1")
    code, _ = refused(conn, "INSERT INTO t VALUES (NULL, 'a'), (1, 'b')")
    assert code == 5025
    query(conn, "INSERT /*+ SET_VAR(enable_insert_strict = false) */ INTO t VALUES (NULL, 'a'), (1, 'b')")
    assert query(conn, "SELECT k, v FROM t") == [(1, "b")]
    assert query(conn, "SELECT @@enable_insert_strict") == [(1,)]
    code, _ = refused(conn, "INSERT INTO t VALUES (NULL, 'c')")  # strict again after that statement
    assert code == 5025


@pytest.mark.parametrize(("sql", "code", "text"), [
    ("SELECT /*+ SET_VAR(no_such_variable = 1) */ 1", 1193, "Unknown system variable 'no_such_variable'"),
    ("SELECT /*+ SET_VAR(query_timeout = soon) */ 1", 1231,
     "Variable 'query_timeout' can't be set to the value of 'soon'"),
    ("SELECT /*+ SET_VAR(query_timeout) */ 1", 1064, "malformed SET_VAR hint"),
    ("SET no_such_variable = 1", 1193, "Unknown system variable 'no_such_variable'"),
])
def test_bad_set_var_is_refused(conn: pymysql.connections.Connection, sql: str, code: int, text: str) -> None:
    got_code, message = refused(conn, sql)
    assert (got_code, text in message) == (code, True), message


# ------------------------------------------------------------------------------------------ mysql-mimic's stub


@pytest.mark.parametrize("sql", [
    "UPDATE t SET v = 1", "DELETE FROM t", "EXPLAIN SELECT 1", "SHOW INDEX FROM t", "SHOW CREATE DATABASE d",
    "FLUSH TABLES", "LOAD LABEL d.l (DATA INFILE('x') INTO TABLE t)", "REPLACE INTO t VALUES (1)",
    "ALTER DATABASE d SET DATA QUOTA 10G", "GRANT ALL ON *.* TO root", "CREATE USER u", "/* x */ FOO BAR",
    "RENAME TABLE a TO b", "(SELECT 1", "VALUES (1)", "HANDLER t OPEN",
])
def test_statements_we_do_not_run_are_refused(conn: pymysql.connections.Connection, sql: str) -> None:
    code, message = refused(conn, sql)
    assert code in (1064, 5064), message


def test_session_statements_still_answered(conn: pymysql.connections.Connection) -> None:
    assert query(conn, "SELECT @@version_comment") == [("starbackup (StarRocks-compatible BACKUP/RESTORE)",)]
    assert query(conn, "/* probe */ SELECT @@autocommit") == [(1,)]
    assert query(conn, "-- x\nSHOW VARIABLES LIKE 'query_timeout'") == [("query_timeout", "300")]
    for sql in ("SET NAMES utf8mb4", "BEGIN", "COMMIT", "ROLLBACK", "SHOW WARNINGS", "SET autocommit = 1"):
        query(conn, sql)
    assert query(conn, "SHOW VARIABLES LIKE 'QUERY\\_TIME%'") == [("query_timeout", "300")]
    assert query(conn, "SHOW VARIABLES LIKE '(('") == []  # a LIKE pattern, not a regex


@pytest.mark.parametrize(("sql", "code", "text"), [
    ("SET NAMES bogus", 1115, "Unknown character set: 'bogus'"),
    ("SET NAMES latin1", 1115, "Unknown character set: 'latin1'"),
    ("SET CHARACTER SET bogus", 1115, "Unknown character set: 'bogus'"),
    ("SET character_set_results = 'bogus'", 1115, "Unknown character set: 'bogus'"),
    ("SET collation_connection = 'bogus'", 1273, "Unknown collation: 'bogus'"),
    ("SET time_zone = '+0\x1b[0m8:00'", 1298, "Unknown or incorrect time zone: '+0\\x1b[0m8:00'"),
    ("SET sql_select_limit = 'abc'", 1231, "Variable 'sql_select_limit' can't be set to the value of 'abc'"),
    ("SET autocommit = 'maybe'", 1231, "Variable 'autocommit' can't be set to the value of 'maybe'"),
    ("SET SNAPSHOT s FROM r", 1064, "Unexpected input 'SNAPSHOT'"),
    ("SET CATALOG hive", 1064, "Unexpected input 'CATALOG'"),
    ("SELECT @@no_such_variable", 1193, "Unknown system variable 'no_such_variable'"),
    ("SET character", 1064, "Getting syntax error"),
    ("SET", 1064, "Getting syntax error"),
    ("SET SESSION", 1064, "Getting syntax error"),
    ("SET time_zone = '+89:00'", 1298, "Unknown or incorrect time zone: '+89:00'"),
    ("SET time_zone = 5", 1298, "Unknown or incorrect time zone: '5'"),
    ("SET enable_profile = 2", 1231, "Variable 'enable_profile' can't be set to the value of '2'"),
    ("SET @@", 1064, "the statement is incomplete here"),
    ("KILL QUERY", 1064, "the statement is incomplete here"),
])
def test_session_statements_that_would_break_the_session_are_refused(
        conn: pymysql.connections.Connection, sql: str, code: int, text: str) -> None:
    got_code, message = refused(conn, sql)
    assert (got_code, text in message) == (code, True), message
    assert query(conn, "SELECT 'é', @@time_zone, @@character_set_results") == [("é", "UTC", "utf8mb4")]


def test_datetime_results_without_time_zone(conn: pymysql.connections.Connection) -> None:
    rows = query(conn, "SELECT now() IS NOT NULL, to_timestamp(0)")
    assert rows == [(1, __import__("datetime").datetime(1970, 1, 1))]


def test_information_schema_shows_our_tables(conn: pymysql.connections.Connection, db: str) -> None:
    query(conn, "CREATE TABLE t (k INT NOT NULL, v STRING) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1")
    assert query(conn, f"/* tool */ SELECT table_name FROM information_schema.tables WHERE table_schema = '{db}'") \
        == [("t",)]
    assert query(conn, "SELECT column_name, data_type FROM information_schema.columns "
                       f"WHERE table_schema = '{db}' AND table_name = 't'") == [("k", "INT"), ("v", "VARCHAR(65533)")]


@pytest.mark.parametrize("sql", [
    "SELECT @@version + 1", "SELECT @@query_timeout, unknown_func(1)", "SELECT * FROM information_schema.nosuch",
    "SELECT table_name FROM information_schema.tables WHERE table_name > 5",
    "SELECT * FROM information_schema.tables t JOIN information_schema.columns c ON t.table_name = c.table_name",
])
def test_what_mysql_mimic_cannot_evaluate_is_refused(conn: pymysql.connections.Connection, sql: str) -> None:
    code, message = refused(conn, sql)
    assert code == 5064 and "cannot be evaluated here" in message, message


def test_results_with_columns_of_one_name(conn: pymysql.connections.Connection, db: str) -> None:
    query(conn, "CREATE TABLE t (k INT, v STRING) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1")
    query(conn, "INSERT INTO t VALUES (1, 'a')")
    assert query(conn, "SELECT k, k FROM t") == [(1, 1)]
    assert query(conn, "SELECT 1 AS a, 'x' AS a, NULL AS a") == [(1, "x", None)]
    assert query(conn, "SELECT *\u202e FROM t") == [(1, "a")]  # `* AS <RLO>`: two columns named alike


def test_com_init_db_of_an_unknown_database(daemon: DaemonProcess) -> None:
    c = daemon.connect()
    try:
        with pytest.raises(pymysql.err.MySQLError) as e:
            c.select_db("no_such_db")
        assert e.value.args[0] == 5501 and e.value.args[1] == "Unknown database 'no_such_db'"
        assert query(c, "SELECT 1") == [(1,)]
    finally:
        c.close()


# ------------------------------------------------------------------------------------------ NOT NULL


def _nulls_parquet(path: Path) -> str:
    pq.write_table(pa.table({"k": pa.array([1, None], pa.int32()), "v": ["a", "b"]}), path)
    return f"file://{path}"


@pytest.mark.parametrize("model", ["PRIMARY KEY(k)", "UNIQUE KEY(k)", "DUPLICATE KEY(k)", "AGGREGATE KEY(k)"])
def test_not_null_holds_on_every_load_path(conn: pymysql.connections.Connection, db: str, tmp_path: Path,
                                           model: str) -> None:
    value = "v STRING REPLACE" if model.startswith("AGGREGATE") else "v STRING"
    # PRIMARY KEY and UNIQUE key columns are NOT NULL without saying so; the others say it.
    k = "k INT" if model.startswith(("PRIMARY", "UNIQUE")) else "k INT NOT NULL"
    query(conn, f"CREATE TABLE t ({k}, {value}) {model} DISTRIBUTED BY HASH(k) BUCKETS 2")
    query(conn, "INSERT INTO t VALUES (5, 'keep')")
    files = _nulls_parquet(tmp_path / "nulls.parquet")
    for sql in ["INSERT INTO t VALUES (1, 'a'), (NULL, 'b')",
                "INSERT INTO t (k, v) VALUES (NULL, 'b')",
                "INSERT INTO t SELECT NULL, 'c'",
                "INSERT INTO t SELECT k + NULL, v FROM t",
                f"INSERT INTO t SELECT * FROM FILES('path' = '{files}', 'format' = 'parquet')"]:
        code, message = refused(conn, sql)
        assert code == 5025, message
        assert message.startswith("Insert has filtered data in strict mode. Reason: NULL value in non-nullable "
                                  "column 'k'"), message
    assert query(conn, "SELECT k, v FROM t") == [(5, "keep")]  # nothing stored


def test_not_null_value_column(conn: pymysql.connections.Connection, db: str) -> None:
    query(conn, "CREATE TABLE t (k INT, v STRING NOT NULL, w INT NULL) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) "
                "BUCKETS 1")
    code, message = refused(conn, "INSERT INTO t VALUES (1, NULL, 1)")
    assert (code, "column 'v'" in message) == (5025, True)
    query(conn, "INSERT INTO t VALUES (NULL, 'x', NULL)")  # nullable columns take NULL
    assert query(conn, "SELECT k, v, w FROM t") == [(None, "x", None)]


# ------------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(("sql", "expected"), [
    (b"SELECT '\xff\xfe'", "line 1, column 8. Detail message: the statement is not valid UTF-8"),
    (b"INSERT INTO t VALUES (1, '\xc3')", "not valid UTF-8"),
    (b"\x80", "line 1, column 0"),
    ("SELECT " + "(" * 10_000 + "1" + ")" * 10_000, "more than 200 levels deep"),
    ("SELECT " + "9" * 5000, "a numeric literal of 5000 digits is out of range"),
    ("SELECT 'a\x00b'", "a NUL character"),
    ("SELECT 'abc", "line 1, column 7. Detail message: unterminated quoted string"),
    ("SELECT 1,\n  \"abc", "line 2, column 2. Detail message: unterminated quoted string"),
    ("SELECT `abc", "unterminated quoted identifier"),
    ("SELECT 1 /* never closed", "line 1, column 9. Detail message: unterminated comment"),
    ("SELECT 'a\\'", "unterminated quoted string"),
    ("CREATE FUNCTION f(INT) RETURNS INT PROPERTIES ('file' = 'x') AS $$ body", "unterminated $$ body"),
    ("SELECT \x1b[31mred\x1b[0m", "Getting syntax error"),
    ("SELECT 1 +", "Getting syntax error"),
    ("SELECT * FROM", "Getting syntax error"),
    ("INSERT INTO", "Getting syntax error"),
    ("INSERT INTO t", "Getting syntax error"),
    ("CREATE TABLE", "Getting syntax error"),
    ("BACKUP SNAPSHOT", "Getting syntax error"),
    ("SELECT " + "NOT " * 3000 + "1", "Getting syntax error"),
    ("SELECT " + "1 + " * 3000 + "1", ""),
    ("SELECT " + "-" * 3000 + "1", ""),
])
def test_bad_input_gets_a_readable_error(conn: pymysql.connections.Connection, db: str, sql: str | bytes,
                                         expected: str) -> None:
    code, message = refused(conn, sql)
    assert code in (1064, 5064), message
    assert expected in message, message


@pytest.mark.parametrize(("command", "payload"), [(2, b"\xff"), (22, b"SELECT '\xff'"), (4, b"t\xff\x00")])
def test_invalid_utf8_in_other_commands(daemon: DaemonProcess, command: int, payload: bytes) -> None:
    """COM_INIT_DB (2), COM_STMT_PREPARE (22), COM_FIELD_LIST (4) decode text too."""
    c = daemon.connect()
    try:
        c._execute_command(command, payload)
        with pytest.raises(pymysql.err.MySQLError) as e:
            c._read_packet()
        assert e.value.args[0] == 1064 and "not valid UTF-8" in e.value.args[1], e.value.args
        c.ping(reconnect=False)
    finally:
        c.close()
    assert "Traceback" not in log_text(daemon)


def test_nul_never_reaches_the_file_system(conn: pymysql.connections.Connection, db: str) -> None:
    query(conn, "CREATE TABLE t (k INT) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1")
    for sql in ["INSERT INTO t SELECT * FROM FILES('path' = 'file:///tmp/a\\0b', 'format' = 'parquet')",
                "CREATE REPOSITORY r0 WITH BROKER ON LOCATION 'file:///tmp/x\\0y' PROPERTIES ('a' = 'b')",
                "BACKUP SNAPSHOT s TO `r` ON (t) PROPERTIES ('type' = 'fu\\0ll')",
                "CREATE REPOSITORY r0 WITH BROKER ON LOCATION 'file:///tmp/x\x00y' PROPERTIES ('a' = 'b')"]:
        code, message = refused(conn, sql)
        assert code in (1064, 5064) and "NUL" in message, message


def test_numbers_beyond_range_in_properties(conn: pymysql.connections.Connection, db: str) -> None:
    code, message = refused(conn, "RESTORE SNAPSHOT s FROM r PROPERTIES ('backup_timestamp' = 'x', "
                                  f"'timeout' = '{'9' * 5000}')")
    assert code == 5064 and message.startswith("Invalid timeout format: 999"), message
    assert len(message) < 1100


def test_config_values_beyond_java_range(conn: pymysql.connections.Connection) -> None:
    code, message = refused(conn, 'ADMIN SET FRONTEND CONFIG ("max_download_task_per_be" = "99999999999999999999999")')
    assert (code, message) == (5064, "Invalid value '99999999999999999999999' for config 'max_download_task_per_be': "
                                     "out of range")
    code, message = refused(conn, f'ADMIN SET FRONTEND CONFIG ("max_download_task_per_be" = "{"9" * 5000}")')
    assert code == 5064 and len(message) < 1100


def test_the_log_keeps_refusals_short_and_without_tracebacks(daemon: DaemonProcess,
                                                            conn: pymysql.connections.Connection) -> None:
    before = len(log_text(daemon))
    huge = "SELECT '" + "x" * 1_000_000 + "' FROM"
    refused(conn, huge)
    refused(conn, "SELECT \x1b[2J 'clear' +")
    refused(conn, b"SELECT '\xff'")
    added = log_text(daemon)[before:]
    assert len(added) < 3000, added[:3000]
    assert "Traceback" not in log_text(daemon)
    assert "\x1b" not in added
    lines = [line for line in added.splitlines() if "refused" in line]
    assert len(lines) == 3, lines  # one line per refusal (mysql-mimic's copy is dropped)
    assert "(1000014 characters)" in lines[0]


@pytest.mark.parametrize("sql", [
    "CREATE REPOSITORY r9 WITH BROKER ON LOCATION 's3a://b/p' PROPERTIES ('aws.s3.secret_key' = 'TOPSECRET1",
    "CREATE REPOSITORY r9 WITH BROKER ON LOCATION 's3a://b/p' PROPERTIES ('aws.s3.secret_key' = TOPSECRET1)",
    "CREATE REPOSITORY r9 WITH BROKER ON LOCATION 's3a://b/p' PROPERTIES ('aws.s3.secret_key' 'TOPSECRET1')",
    "CREATE EXTERNAL CATALOG c9 PROPERTIES ('password' = 'TOPSECRET1' 'x')",
    b"CREATE EXTERNAL CATALOG c9 PROPERTIES ('password' = 'TOPSECRET1\xff')",
])
def test_refused_statements_with_credentials_never_echo_them(daemon: DaemonProcess,
                                                             conn: pymysql.connections.Connection,
                                                             sql: str | bytes) -> None:
    _, message = refused(conn, sql)
    assert "TOPSECRET1" not in message
    assert "TOPSECRET1" not in log_text(daemon)


def test_messages_are_bounded(conn: pymysql.connections.Connection, db: str) -> None:
    _, message = refused(conn, "SELECT " + "a" * 100_000 + " FROM")
    assert len(message) < 1100


