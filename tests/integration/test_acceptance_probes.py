"""Findings of an outside acceptance pass over issue 10 items 3, 4, 5 and 7, each a regression test over the
real daemon: what a real client (PyMySQL, the mysql client, mysql-connector) or a fault from outside the
process did, and what it must get instead."""

from __future__ import annotations

import re
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pymysql
import pytest

from tests.support.daemon import ROOT, DaemonProcess, query


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory):
    with DaemonProcess(tmp_path_factory.mktemp("probe") / "data", backends=1) as d:
        yield d


@pytest.fixture(scope="module")
def conn(daemon: DaemonProcess):
    c = daemon.connect()
    yield c
    c.close()


def log_text(daemon: DaemonProcess) -> str:
    return (daemon.data_dir / "daemon.log").read_text(errors="replace") + daemon.output()


# ---------------------------------------------------------------------------- results of 16 MB and more


@pytest.mark.parametrize("size", [0xFFFFFF - 5, 0xFFFFFF - 4, 0xFFFFFF, 20_000_000])
def test_a_row_of_16_mb_or_more_is_split_over_packets(conn: pymysql.connections.Connection, size: int) -> None:
    """mysql-mimic framed a row of 16 MB or more into one packet, its length overflowing into the sequence
    number: PyMySQL said `Packet sequence number wrong`, the connection was lost and the log had a
    traceback. (A 4-byte row header makes `size - 4` the payload's 16 MB - 1 boundary.)"""
    rows = query(conn, f"SELECT repeat('x', {size}) AS a, 1 AS b")
    assert len(rows[0][0]) == size and rows[0][1] == 1
    assert query(conn, "SELECT 1") == [(1,)]


def test_a_column_named_by_a_10_mb_expression(conn: pymysql.connections.Connection) -> None:
    """A column's name is its expression's text: a 10 MB literal made a column definition of 20 MB (name
    and original name), mysql-mimic framed it as one packet and the connection was lost."""
    literal = "y" * (10 * 1024 * 1024)
    with conn.cursor() as cur:
        cur.execute(f"SELECT '{literal}'")
        assert cur.fetchall()[0][0] == literal
    assert query(conn, "SELECT 2") == [(2,)]


# ---------------------------------------------------------------------------- timeouts beyond a timer


@pytest.mark.parametrize("variable", ["query_timeout", "insert_timeout"])
def test_huge_timeouts(daemon: DaemonProcess, conn: pymysql.connections.Connection, variable: str) -> None:
    """`SET query_timeout = 9223372036854775807` was accepted and every later SELECT started a timer thread
    that died with `OverflowError: timestamp too large` (a traceback on stderr per statement, no limit
    applied); a value beyond a Java long was stored as it was."""
    with pytest.raises(pymysql.err.MySQLError) as e:
        query(conn, f"SET {variable} = 99999999999999999999999")
    assert e.value.args[0] == 1231
    query(conn, "CREATE DATABASE IF NOT EXISTS tmo")
    query(conn, "CREATE TABLE IF NOT EXISTS tmo.t (k INT) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1")
    query(conn, f"SET {variable} = 9223372036854775807")
    try:
        query(conn, "INSERT INTO tmo.t VALUES (1)")
        assert query(conn, "SELECT count(*) FROM tmo.t") >= [(1,)]
        assert query(conn, f"SELECT /*+ SET_VAR({variable} = 9223372036854775807) */ 1") == [(1,)]
    finally:
        query(conn, f"SET {variable} = 300")
    assert "OverflowError" not in log_text(daemon)
    assert "Traceback" not in log_text(daemon)


# ---------------------------------------------------------------------------- names that become paths


def test_names_that_would_leave_their_directory_are_refused(daemon: DaemonProcess, conn: pymysql.connections.Connection,
                                                            tmp_path_factory: pytest.TempPathFactory) -> None:
    """A repository named `r/2` wrote `__starrocks_repository_r/2` (a directory inside the one repository
    `r` would own); a snapshot label `../../../x` reached a path outside its snapshot directory. Both, and
    a SHOW SNAPSHOT or RESTORE naming such a label or timestamp, are refused before any storage call."""
    location = tmp_path_factory.mktemp("repo")
    query(conn, "CREATE DATABASE IF NOT EXISTS paths")
    query(conn, "CREATE TABLE IF NOT EXISTS paths.t (k INT) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1")
    query(conn, f'CREATE REPOSITORY pr WITH BROKER ON LOCATION "file://{location}"')
    refusals = [
        f'CREATE REPOSITORY `r/2` WITH BROKER ON LOCATION "file://{location}"',
        f'CREATE REPOSITORY `..` WITH BROKER ON LOCATION "file://{location}"',
        "BACKUP SNAPSHOT paths.`../../../evil` TO pr ON (t)",
        "BACKUP SNAPSHOT paths.`a\\\\b` TO pr ON (t)",
        f"BACKUP SNAPSHOT paths.`{'s' * 129}` TO pr ON (t)",
        "RESTORE SNAPSHOT paths.`../x` FROM pr PROPERTIES ('backup_timestamp' = '2024-01-01-00-00-00-000')",
        "RESTORE SNAPSHOT paths.s FROM pr PROPERTIES ('backup_timestamp' = '../../x')",
        "SHOW SNAPSHOT ON pr WHERE SNAPSHOT = 'a/b'",
        "SHOW SNAPSHOT ON pr WHERE SNAPSHOT = 's' AND TIMESTAMP = '../x'",
    ]
    for sql in refusals:
        with pytest.raises(pymysql.err.MySQLError) as e:
            query(conn, sql)
        assert e.value.args[0] == 5064 and "Invalid" in e.value.args[1], (sql, e.value.args)
    assert sorted(p.name for p in location.iterdir()) == ["__starrocks_repository_pr"]
    assert [p.name for p in (location / "__starrocks_repository_pr").iterdir()] == ["__repo_info"]
    assert [r[1] for r in query(conn, "SHOW REPOSITORIES")] == ["pr"]
    query(conn, "BACKUP SNAPSHOT paths.`snap-1:a_b` TO pr ON (t)")  # StarRocks' label characters still work


# ---------------------------------------------------------------------------- secrets


def _proc(pid: int, what: str) -> bytes:
    return Path(f"/proc/{pid}/{what}").read_bytes()


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="Linux /proc")
def test_the_password_is_not_in_proc_environ_or_cmdline(tmp_path: Path) -> None:
    """`os.environ.pop` unsets the variable for Python and children, but /proc/<pid>/environ shows the
    process's initial environment block, which still held STARBACKUP_ROOT_PASSWORD=<password>; likewise
    --root-password stayed in /proc/<pid>/cmdline (ps) for the daemon's whole life. Both are overwritten."""
    secret = "env s3cret ü"
    with DaemonProcess(tmp_path / "env", backends=1, extra_env={"STARBACKUP_ROOT_PASSWORD": secret}) as d:
        assert d.proc is not None
        d.connect(password=secret.encode("utf-8")).close()  # PyMySQL sends a str password as latin-1
        assert secret.encode() not in _proc(d.proc.pid, "environ")
        assert b"STARBACKUP_ROOT_PASSWORD=x" in _proc(d.proc.pid, "environ")
    for form in (["--root-password", "cli s3cret"], ["--root-password=cli s3cret"]):
        with DaemonProcess(tmp_path / f"cli{len(form)}", backends=1) as d:
            d.command = lambda d=d, form=form: DaemonProcess.command(d) + form  # type: ignore[method-assign]
            d.stop()
            d.start()
            assert d.proc is not None
            d.connect(password="cli s3cret").close()
            cmdline = _proc(d.proc.pid, "cmdline")
            assert b"s3cret" not in cmdline and b"--root-password" in cmdline, cmdline
            ps = subprocess.run(["ps", "-o", "args=", "-p", str(d.proc.pid)], capture_output=True, text=True)
            assert "s3cret" not in ps.stdout


@pytest.mark.parametrize(("line", "password"), [
    ('root_password = "a#b c"  # the password', "a#b c"),
    ("root_password = 'it#s'", "it#s"),
    ("root_password = plain  # a comment", "plain"),
])
def test_config_passwords_with_a_hash_sign(tmp_path: Path, line: str, password: str) -> None:
    """`#` starts a comment in the config file, so `root_password = #Pr0d` meant no password at all and
    `a#b` meant `a`: the daemon ran with another password than the operator wrote, silently. A quoted value
    keeps its `#`; an unquoted value that a comment empties is refused."""
    config = tmp_path / "daemon.conf"
    config.write_text(line + "\n")
    config.chmod(0o600)
    with DaemonProcess(tmp_path / "data", backends=1, config=config) as d:
        d.connect(password=password).close()
        with pytest.raises(pymysql.err.OperationalError):
            d.connect(password="")


def test_a_config_password_emptied_by_a_comment_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "daemon.conf"
    config.write_text("root_password = #Pr0d\n")
    out = subprocess.run([sys.executable, "-m", "sqlfront.cli", "serve", "--data-dir", str(tmp_path / "d"),
                          "--config", str(config)], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 2 and "quote a password that holds '#'" in out.stderr
    config.write_text("root_password:Pr0dSecret\n")
    out = subprocess.run([sys.executable, "-m", "sqlfront.cli", "serve", "--data-dir", str(tmp_path / "d"),
                          "--config", str(config)], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 2 and "expected 'key = value'" in out.stderr
    assert "Pr0dSecret" not in out.stderr  # the error names the line, not the secret on it


# ---------------------------------------------------------------------------- refused rows


def test_a_refused_row_is_shown_as_sql_values_not_python_repr(conn: pymysql.connections.Connection) -> None:
    """The 5025 message showed the refused row as a Python dict: `{'k': None, 'd': datetime.date(2020, 1,
    1), 'n': Decimal('1.50')}`."""
    query(conn, "CREATE DATABASE IF NOT EXISTS rows5025")
    query(conn, "CREATE TABLE IF NOT EXISTS rows5025.t (k INT NOT NULL, d DATE, n DECIMAL(10, 2), s STRING, "
                "b BOOLEAN) DUPLICATE KEY(k) PARTITION BY RANGE(d) (PARTITION p1 VALUES LESS THAN ('2030-01-01')) "
                "DISTRIBUTED BY HASH(k) BUCKETS 1")
    with pytest.raises(pymysql.err.MySQLError) as e:
        query(conn, "INSERT INTO rows5025.t VALUES (NULL, '2020-01-01', 1.5, 'it''s', true)")
    assert e.value.args[0] == 5025
    assert e.value.args[1].endswith("of table t: (k=NULL, d=2020-01-01, n=1.50, s='it''s', b=true)"), e.value.args
    with pytest.raises(pymysql.err.MySQLError) as e:
        query(conn, f"INSERT INTO rows5025.t VALUES (1, '2031-01-01', NULL, '{'z' * 500}', NULL)")
    message = e.value.args[1]
    assert "in no partition" in message and "d=2031-01-01, n=NULL" in message and "z" * 61 not in message
    assert not re.search(r"datetime|Decimal\(|None|\{'", message), message


# ---------------------------------------------------------------------------- prepared statements


def test_prepared_statement_parameters_are_values_never_sql(daemon: DaemonProcess,
                                                            conn: pymysql.connections.Connection) -> None:
    """mysql-mimic bound a string parameter by putting it between quotes as it was: with mysql-connector's
    server-side prepared statements, the parameter `x'; DROP DATABASE d; --` dropped the database (the
    session split the bound text on `;`). A `'`, `\\`, `?`, comment markers or invalid UTF-8 in a
    parameter are data too."""
    connector = pytest.importorskip("mysql.connector")
    query(conn, "CREATE DATABASE IF NOT EXISTS victim")
    query(conn, "CREATE TABLE IF NOT EXISTS victim.t (k INT NOT NULL, s STRING) DUPLICATE KEY(k) "
                "DISTRIBUTED BY HASH(k) BUCKETS 1")
    c = connector.connect(host="127.0.0.1", port=daemon.port, user="root", password="", use_pure=True,
                          database="victim")
    try:
        cur = c.cursor(prepared=True)
        values = ["x'; DROP DATABASE victim; --", "it's -- x /* y */ # z", "back\\slash \\' \\\\", "a?b", "\\1 \\g<0>",
                  "日本語", ""]
        for v in values:
            cur.execute("SELECT ? /* ? */, '?'", (v,))
            assert cur.fetchall() == [(v, "?")], v
        for i, v in enumerate(values):
            cur.execute("INSERT INTO t VALUES (?, ?)", (i, v))
            assert cur.rowcount == 1  # mysql-mimic's OK said 0 rows
        cur.execute("SELECT s FROM t WHERE s = ? OR k = ? ORDER BY k", (values[0], 99))
        assert cur.fetchall() == [(values[0],)]
        cur.execute("SELECT count(*) FROM t")
        assert cur.fetchall() == [(len(values),)]
        with pytest.raises(connector.Error) as e:
            cur.execute("SELECT ?", (b"\xff\xfe",))
        assert e.value.errno == 1064 and "UTF-8" in e.value.msg
        cur.execute("SELECT ? + 1, ?", (41, None))
        assert cur.fetchall() == [(42, None)]
    finally:
        c.close()
    assert ("victim",) in query(conn, "SHOW DATABASES")
    assert "Traceback" not in log_text(daemon)


# ---------------------------------------------------------------------------- information functions


def test_information_functions_in_a_select_over_tables(daemon: DaemonProcess) -> None:
    """In a SELECT over our tables DuckDB answered database() with its own schema `main` and user() with
    `duckdb` (an answer, and a wrong one); they are the session's values, as without tables."""
    c = daemon.connect()
    try:
        query(c, "CREATE DATABASE IF NOT EXISTS infofn")
        query(c, "CREATE TABLE IF NOT EXISTS infofn.t (k INT) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1")
        query(c, "INSERT INTO infofn.t VALUES (1)")
        assert query(c, "SELECT database(), k FROM infofn.t") == [(None, 1)]
        query(c, "USE infofn")
        connection_id = query(c, "SELECT connection_id()")[0][0]
        rows = query(c, "SELECT database(), schema(), user(), current_user(), connection_id(), k FROM t")
        assert rows == [("infofn", "infofn", "root", "root", connection_id, 1)]
        assert query(c, "SELECT count(*) FROM t WHERE database() = 'infofn'") == [(1,)]
        with c.cursor() as cur:
            cur.execute("SELECT database(), k FROM t")
            assert [d[0] for d in cur.description] == ["database()", "k"]
    finally:
        c.close()


def test_show_variables_where(conn: pymysql.connections.Connection) -> None:
    """`SHOW VARIABLES WHERE Variable_name = 'query_timeout'` (what JDBC and several tools send) listed every
    variable: mysql-mimic ignored the WHERE."""
    assert query(conn, "SHOW SESSION VARIABLES WHERE Variable_name = 'query_timeout'") == [("query_timeout", "300")]
    rows = query(conn, "SHOW VARIABLES WHERE Variable_name IN ('query_timeout', 'INSERT_TIMEOUT') "
                       "OR (Variable_name LIKE 'batch%' AND NOT Value = '1')")
    assert sorted(r[0] for r in rows) == ["batch_size", "insert_timeout", "query_timeout"]
    with pytest.raises(pymysql.err.MySQLError) as e:
        query(conn, "SHOW VARIABLES WHERE length(Value) > 3")
    assert e.value.args[0] == 5064


# ---------------------------------------------------------------------------- malformed packets


def _packet(payload: bytes, seq: int) -> bytes:
    return struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload


def _read_packet(sock: socket.socket) -> bytes:
    header = b""
    while len(header) < 4:
        chunk = sock.recv(4 - len(header))
        if not chunk:
            return b""
        header += chunk
    length = int.from_bytes(header[:3], "little")
    body = b""
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        if not chunk:
            break
        body += chunk
    return body


def test_packets_without_their_nul_never_freeze_the_daemon(tmp_path: Path) -> None:
    """mysql-mimic reads NUL-terminated strings with a loop that never ends at the end of the packet. A
    handshake response whose user name has no NUL (before any login), or a COM_FIELD_LIST or
    COM_CHANGE_USER of one byte, froze the event loop: no client was answered and SIGTERM did nothing
    (only kill -9 ended it). Now each is refused and the daemon goes on."""
    with DaemonProcess(tmp_path / "data", backends=1) as d:
        # before login: capabilities (CLIENT_PROTOCOL_41 | CLIENT_PLUGIN_AUTH ...), max packet, charset,
        # 23 filler bytes, then a user name without its NUL
        with socket.create_connection(("127.0.0.1", d.port), timeout=15) as s:
            _read_packet(s)
            s.sendall(_packet(struct.pack("<IIB", 0x000FA685, 1 << 24, 45) + b"\x00" * 23 + b"root", 1))
            reply = _read_packet(s)
            assert reply == b"" or reply[:1] == b"\xff"  # an error packet, or the connection closed
        c = d.connect()
        assert query(c, "SELECT 1") == [(1,)]
        for command in (b"\x04", b"\x04nouser", b"\x11", b"\x11root"):  # COM_FIELD_LIST, COM_CHANGE_USER
            c._next_seq_id = 1  # type: ignore[attr-defined]  (a raw command on PyMySQL's socket)
            c._write_bytes(_packet(command, 0))  # type: ignore[attr-defined]
            with pytest.raises(pymysql.err.MySQLError) as e:
                c._read_packet()  # type: ignore[attr-defined]
            assert e.value.args[0] in (1835, 1043, 1045), e.value.args
            c.close()
            c = d.connect()
        assert query(c, "SELECT 2") == [(2,)]
        other = d.connect()
        assert query(other, "SELECT 3") == [(3,)]
        started = time.monotonic()
        assert d.stop(timeout=15) == 0
        assert time.monotonic() - started < 10
    assert "Traceback" not in (tmp_path / "data" / "daemon.log").read_text()


def test_malformed_commands_are_1835_and_no_reply_commands_stay_silent(daemon: DaemonProcess) -> None:
    """An empty command packet or a truncated COM_STMT_EXECUTE got 1105 with Python's text (`index out of
    range`, `unpack requires a buffer of 4 bytes`) and a traceback; a COM_STMT_SEND_LONG_DATA for an unknown
    statement got an error reply MySQL never sends, which the client took for the answer to its next
    statement (SELECT 1 answered `Unknown statement: 9`)."""
    c = daemon.connect()

    def command(payload: bytes, reply: bool = True) -> tuple[int, str] | None:
        c._next_seq_id = 1  # type: ignore[attr-defined]
        c._write_bytes(_packet(payload, 0))  # type: ignore[attr-defined]
        if not reply:
            return None
        with pytest.raises(pymysql.err.MySQLError) as e:
            c._read_packet()  # type: ignore[attr-defined]
        return e.value.args[0], e.value.args[1]

    try:
        assert command(b"") == (1047, "Unsupported Command: 0x0")
        assert command(b"\x17\x01") == (1835, "Malformed communication packet.")
        assert command(b"\x03SELECT \xab\x83") is not None
        command(b"\x18" + struct.pack("<IH", 9, 0) + b"abc", reply=False)  # COM_STMT_SEND_LONG_DATA
        command(b"\x19" + struct.pack("<I", 12345), reply=False)  # COM_STMT_CLOSE
        assert query(c, "SELECT 1") == [(1,)]
        assert query(c, "SELECT 2") == [(2,)]
    finally:
        c.close()
    assert "Traceback" not in log_text(daemon)
    assert "index out of range" not in log_text(daemon)


def test_a_set_under_a_set_var_hint_keeps_its_value(conn: pymysql.connections.Connection) -> None:
    """`/*+ SET_VAR(query_timeout = 5) */ SET query_timeout = 11` answered OK and left 300: the hint's value
    was restored over what the statement set."""
    try:
        query(conn, "/*+ SET_VAR(query_timeout = 5) */ SET query_timeout = 11")
        assert query(conn, "SELECT @@query_timeout") == [(11,)]
        query(conn, "/*+ SET_VAR(query_timeout = 5, insert_timeout = 6) */ SET insert_timeout = 7")
        assert query(conn, "SELECT @@query_timeout, @@insert_timeout") == [(11, 7)]
    finally:
        query(conn, "SET query_timeout = 300")
        query(conn, "SET insert_timeout = 14400")


def test_information_schema_with_a_database_without_tables(conn: pymysql.connections.Connection) -> None:
    """One database without tables made mysql-mimic read the catalog mapping a level too shallow:
    information_schema.schemata listed '', information_schema and mysql, none of our databases, and
    `WHERE table_schema = 'x'` found nothing (an empty answer, not an error)."""
    query(conn, "CREATE DATABASE IF NOT EXISTS is_empty")
    query(conn, "CREATE DATABASE IF NOT EXISTS is_full")
    query(conn, "CREATE TABLE IF NOT EXISTS is_full.t (k INT, v STRING) DUPLICATE KEY(k) "
                "DISTRIBUTED BY HASH(k) BUCKETS 1")
    names = {r[0] for r in query(conn, "SELECT schema_name FROM information_schema.schemata")}
    assert {"is_empty", "is_full", "information_schema"} <= names and "" not in names
    assert query(conn, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'is_full'") == [("t",)]
    assert query(conn, "SELECT column_name FROM information_schema.columns WHERE table_schema = 'is_full' "
                       "ORDER BY ordinal_position") == [("k",), ("v",)]


# ---------------------------------------------------------------------------- long statements


def test_a_long_statement_of_comments_does_not_hold_other_clients(daemon: DaemonProcess) -> None:
    """Splitting a statement made of many comment lines was quadratic and ran in the event loop: 2 MB of
    `-- x` lines held every other client (and the SIGTERM handler) for 11 s, 10 MB for minutes."""
    big = "-- x\n" * 800_000 + "SELECT 7"  # 4 MB
    result: list[object] = []

    def send() -> None:
        c = daemon.connect()
        try:
            result.append(query(c, big))
        finally:
            c.close()

    other = daemon.connect()
    thread = threading.Thread(target=send)
    started = time.monotonic()
    thread.start()
    slowest = 0.0
    while thread.is_alive() and time.monotonic() - started < 60:
        t = time.monotonic()
        assert query(other, "SELECT 1") == [(1,)]
        slowest = max(slowest, time.monotonic() - t)
        time.sleep(0.05)
    thread.join(60)
    other.close()
    assert result == [[(7,)]]
    assert time.monotonic() - started < 30
    assert slowest < 3.0, slowest
    c = daemon.connect()
    try:  # a long statement refused while it is scanned off the loop is still a 1064 with its position
        with pytest.raises(pymysql.err.MySQLError) as e:
            query(c, "-- x\n" * 100_000 + "SELECT 'unterminated")
        assert e.value.args[0] == 1064 and "line 100001, column 7" in e.value.args[1], e.value.args
        assert query(c, "SELECT 1") == [(1,)]
    finally:
        c.close()


def test_an_empty_password_source_is_warned_about(tmp_path: Path) -> None:
    """`STARBACKUP_ROOT_PASSWORD=` (set but empty, as a wrapper script may export it) silently won over the
    config file's root_password and left root without a password; an empty password file did the same."""
    config = tmp_path / "daemon.conf"
    config.write_text("root_password = from-config\n")
    config.chmod(0o600)
    with DaemonProcess(tmp_path / "env", backends=1, config=config,
                       extra_env={"STARBACKUP_ROOT_PASSWORD": ""}) as d:
        d.connect(password="").close()
    assert "$STARBACKUP_ROOT_PASSWORD is set but empty: root has no password" in d.output()
    assert "config file's root_password is not used" in d.output()
    empty = tmp_path / "pw"
    empty.write_text("\n")
    empty.chmod(0o600)
    out = subprocess.run([sys.executable, "-c", "from sqlfront.daemon import root_password_hash; "
                          f"print(root_password_hash(None, {str(empty)!r}, {{}}))"],
                         capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert "holds no password" in out.stdout, out
