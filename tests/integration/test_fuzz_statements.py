"""Mutated statements against a real daemon (issue 10 item 4): every one is answered with a result or a MySQL
error with a proper code and a readable message, never 1105 with Python text, never ANSI escapes; no
traceback reaches daemon.log, which stays bounded; the connection never drops.

The seed statements are the reference's (tests/unit/test_stmt_parser.py reads them from
backup-and-restore.md) plus DDL, DML and SELECT over a scratch database. Mutations are seeded and
deterministic: byte flips, truncation, duplicated/dropped/swapped tokens, deep nesting, huge numbers, NUL,
invalid UTF-8, unterminated quotes and comments, comments and hints in odd places, ANSI escapes. They are
sent as raw bytes, so invalid UTF-8 reaches the server as it is.

`test_fuzz_statements_fast` (a few hundred statements) runs by default; `test_fuzz_statements_slow` sends
20,000 (`STARBACKUP_FUZZ_STATEMENTS`, `STARBACKUP_FUZZ_SEED` override).
"""

from __future__ import annotations

import os
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pymysql
import pytest

from tests.support.daemon import DaemonProcess, query
from tests.unit.test_stmt_parser import DOC_STATEMENTS

PYTHON_TEXT = re.compile(
    r"Traceback|\b[A-Z][A-Za-z]*(Error|Exception)\b|\bFile \"|codec can't|object has no attribute|NoneType|"
    r"not subscriptable|unsupported operand|takes \d+ positional|invalid literal for int|Exceeds the limit|"
    r"maximum recursion|list index|string index|dict\b|tuple\b|Python"
)
# Python exception class names that StarRocks' own messages never contain. (StarRocks' texts do contain
# words like "Error" in prose, e.g. "Unknown error", so the pattern above looks for class-name shapes.)
ALLOWED_CLASS_LIKE = {"SemanticException"}

SCRATCH = "fz"

SETUP = [
    f"CREATE DATABASE IF NOT EXISTS {SCRATCH}",
    f"USE {SCRATCH}",
    "CREATE TABLE IF NOT EXISTS m1 (k INT NOT NULL, d DATE, v STRING, n DECIMAL(10, 2)) DUPLICATE KEY(k) "
    "PARTITION BY RANGE(d) (PARTITION p1 VALUES [('2024-01-01'), ('2024-02-01')), "
    "PARTITION p2 VALUES [('2024-02-01'), ('2024-03-01'))) DISTRIBUTED BY HASH(k) BUCKETS 2",
    "CREATE TABLE IF NOT EXISTS pk (id BIGINT, name VARCHAR(32), city INT) PRIMARY KEY(id) "
    "DISTRIBUTED BY HASH(id) BUCKETS 2",
    "CREATE TABLE IF NOT EXISTS agg (city INT, total BIGINT SUM, last STRING REPLACE) AGGREGATE KEY(city) "
    "DISTRIBUTED BY HASH(city) BUCKETS 1",
    "SET query_timeout = 5",
    "SET time_zone = '+00:00'",
    "SET NAMES utf8mb4",
]

# Statements over the scratch database; {files} is a local Parquet file.
SCRATCH_STATEMENTS = [
    "INSERT INTO m1 VALUES (1, '2024-01-05', 'a', 1.50), (2, '2024-02-07', 'b', 2.25)",
    "INSERT INTO m1 (k, d) VALUES (3, '2024-01-09')",
    "INSERT INTO pk VALUES (1, 'ann', 100), (2, 'bob', 200)",
    "INSERT INTO agg SELECT city, count(*), max(name) FROM pk GROUP BY city",
    "INSERT INTO m1 SELECT k + 10, d, upper(v), n * 2 FROM m1 WHERE k < 5",
    "INSERT INTO pk SELECT * FROM FILES('path' = '{files}', 'format' = 'parquet')",
    "INSERT /*+ SET_VAR(enable_insert_strict = false) */ INTO m1 VALUES (NULL, '2024-01-01', 'x', 0)",
    "SELECT k, v, n FROM m1 WHERE d >= '2024-01-01' AND n > 1.0 ORDER BY k DESC LIMIT 10",
    "SELECT city, count(*) AS c, sum(id) FROM pk GROUP BY city HAVING count(*) > 0 ORDER BY c",
    "SELECT a.k, b.name FROM m1 a JOIN pk b ON a.k = b.id WHERE b.city IN (100, 200, 300)",
    "WITH t AS (SELECT k, n FROM m1) SELECT max(k), min(n), avg(n) FROM t",
    "SELECT k, row_number() OVER (PARTITION BY d ORDER BY k) FROM m1",
    "SELECT CASE WHEN k > 1 THEN 'big' ELSE 'small' END, coalesce(v, '-'), cast(n AS INT) FROM m1",
    "SELECT * FROM (SELECT k, v FROM m1 UNION ALL SELECT id, name FROM pk) u WHERE k BETWEEN 1 AND 100",
    "SELECT /*+ SET_VAR(query_timeout = 3) */ count(*) FROM m1 WHERE v LIKE 'a%' OR v IS NULL",
    "SELECT date_trunc('month', d), count(DISTINCT k) FROM m1 GROUP BY 1",
    "SELECT 1 + 2 * 3, 'abc' || 'def', concat('x', 'y'), substr('hello', 2, 3), abs(-4.5)",
    "SELECT @@version_comment, @@query_timeout, database()",
    "SHOW TABLES",
    "SHOW FULL TABLES FROM fz LIKE 'm%'",
    "SHOW PARTITIONS FROM m1",
    "SHOW TABLET FROM m1",
    "SHOW CREATE TABLE m1",
    "DESCRIBE pk",
    "SHOW DATABASES",
    "SHOW BACKENDS",
    "SHOW VARIABLES LIKE 'query%'",
    "SET time_zone = '+08:00'",
    "SET NAMES utf8mb4 COLLATE utf8mb4_general_ci",
    "SET character_set_results = 'utf8'",
    "SET sql_select_limit = 1000, autocommit = 1",
    "SELECT now(), current_date(), to_timestamp(0)",
    "CREATE TABLE IF NOT EXISTS scratch1 (a INT, b STRING) DUPLICATE KEY(a) DISTRIBUTED BY HASH(a) BUCKETS 1 "
    "PROPERTIES ('replication_num' = '1')",
    "ALTER TABLE m1 ADD PARTITION IF NOT EXISTS p3 VALUES [('2024-03-01'), ('2024-04-01'))",
    "TRUNCATE TABLE agg",
    "CREATE VIEW IF NOT EXISTS v1 AS SELECT k, v FROM m1 WHERE k > 0",
    "SELECT * FROM v1 ORDER BY k",
    "CREATE MATERIALIZED VIEW IF NOT EXISTS mv1 REFRESH MANUAL AS SELECT city, count(*) FROM pk GROUP BY city",
    "SHOW MATERIALIZED VIEWS",
    "DROP VIEW IF EXISTS v_missing",
    "DROP TABLE IF EXISTS scratch_missing",
    "SHOW BACKUP FROM fz",
    "SHOW RESTORE FROM fz",
    "SHOW REPOSITORIES",
    "CANCEL BACKUP FROM fz",
    "/* dbt */ SELECT k FROM m1 -- trailing\n",
    "# metabase\nSELECT count(*) FROM pk",
    "SHOW SNAPSHOT ON fz_repo",
    "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'fz' ORDER BY table_name",
    "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'm1' AND column_name LIKE 'k%'",
    "SELECT count(*) FROM information_schema.schemata",
    "SELECT @@query_timeout + 1, @@version, connection_id(), user(), current_user()",
    "SHOW VARIABLES LIKE 'char%'",
]

KEYWORDS = ["SELECT", "FROM", "WHERE", "(", ")", ",", "'", '"', "`", "NULL", "NOT", "AND", "OR", "ON", "AS", "TO",
            "BACKUP", "RESTORE", "SNAPSHOT", "DATABASE", "TABLE", "PARTITION", "PROPERTIES", "VALUES", "INTO",
            "LIKE", "LIMIT", "ORDER BY", "GROUP BY", "EXCEPT", "ALL", "=", "*", ";", "$$", "/*", "*/", "--", "#",
            "@@", "?", "\\", "ALTER", "DROP", "CREATE", "SHOW", "SET", "USE", "INSERT", "UNION", "CASE", "END"]
BAD_UTF8 = [b"\xff", b"\xfe\xff", b"\xc3", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82", b"\x80"]
MAX_USUAL_SIZE = 12_000
TOKEN = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`|\w+|\s+|.", re.S)


def _repository_free(stmt: str, location: str) -> str:
    """Reference statements with their repository locations pointed at a local directory: no mutation
    makes the daemon dial a remote storage (S3, HDFS) and wait on its timeouts."""
    return re.sub(r"(LOCATION\s+)(['\"]).*?\2", lambda m: f"{m.group(1)}'{location}'", stmt, flags=re.I | re.S)


def seed_statements(files: str, repo_dir: Path) -> list[str]:
    reference = [_repository_free(s, f"file://{repo_dir}") for s in DOC_STATEMENTS]
    return reference + [s.replace("{files}", files) for s in SCRATCH_STATEMENTS]


def mutate(rng: random.Random, stmt: str) -> bytes:
    """1-3 seeded mutations of `stmt`; the result is bytes (some mutations are not valid UTF-8)."""
    data = stmt.encode()
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
        data = rng.choice(_MUTATIONS)(rng, data)
    if len(data) > MAX_USUAL_SIZE and rng.random() < 0.9:
        data = data[:MAX_USUAL_SIZE]  # most huge statements are cut; one in ten stays huge (it costs parse time)
    return data


def _tokens(data: bytes) -> list[str]:
    return TOKEN.findall(data.decode("utf-8", errors="surrogateescape"))


def _join(tokens: list[str]) -> bytes:
    return "".join(tokens).encode("utf-8", errors="surrogateescape")


def _pos(rng: random.Random, data: bytes) -> int:
    return rng.randrange(len(data) + 1)


def _byte_flip(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return bytes([rng.randrange(256)])
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def _bit_flip(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    i = rng.randrange(len(out))
    out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def _truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: _pos(rng, data)]


def _duplicate_token(rng: random.Random, data: bytes) -> bytes:
    tokens = _tokens(data)
    if not tokens:
        return data
    i = rng.randrange(len(tokens))
    times = rng.choice((1, 2, 3, 10, 100, 1000))
    return _join(tokens[:i] + [tokens[i]] * (times + 1) + tokens[i + 1 :])


def _drop_token(rng: random.Random, data: bytes) -> bytes:
    tokens = _tokens(data)
    if not tokens:
        return data
    i = rng.randrange(len(tokens))
    return _join(tokens[:i] + tokens[i + 1 :])


def _swap_tokens(rng: random.Random, data: bytes) -> bytes:
    tokens = _tokens(data)
    if len(tokens) < 2:
        return data
    i, j = rng.randrange(len(tokens)), rng.randrange(len(tokens))
    tokens[i], tokens[j] = tokens[j], tokens[i]
    return _join(tokens)


def _replace_token(rng: random.Random, data: bytes) -> bytes:
    tokens = _tokens(data)
    if not tokens:
        return data
    tokens[rng.randrange(len(tokens))] = rng.choice(KEYWORDS)
    return _join(tokens)


def _insert(rng: random.Random, data: bytes, piece: bytes) -> bytes:
    i = _pos(rng, data)
    return data[:i] + piece + data[i:]


def _deep_nesting(rng: random.Random, data: bytes) -> bytes:
    depth = rng.choice((50, 199, 201, 1000, 10_000))
    kind = rng.randrange(4)
    if kind == 0:
        return _insert(rng, data, b"(" * depth + b"1" + b")" * depth)
    if kind == 1:
        return _insert(rng, data, b"(" * depth)
    if kind == 2:
        return _insert(rng, data, b"NOT " * depth + b"1")
    return _insert(rng, data, b"1" + b" + 1" * depth)


def _huge_number(rng: random.Random, data: bytes) -> bytes:
    digits = rng.choice((20, 39, 40, 400, 401, 4300, 5000, 20_000))
    number = (str(rng.randint(1, 9)) * digits).encode()
    if rng.random() < 0.3:
        number = b"'" + number + b"'"
    elif rng.random() < 0.3:
        number = b"-" + number + b"." + b"9" * rng.choice((1, 500))
    tokens = _tokens(data)
    numeric = [i for i, t in enumerate(tokens) if t.isdigit()]
    if numeric and rng.random() < 0.7:
        tokens[rng.choice(numeric)] = number.decode()
        return _join(tokens)
    return _insert(rng, data, number)


def _nul(rng: random.Random, data: bytes) -> bytes:
    return _insert(rng, data, rng.choice((b"\x00", b"\\0", b"'\x00'", b"'a\\0b'")))


def _bad_utf8(rng: random.Random, data: bytes) -> bytes:
    return _insert(rng, data, rng.choice(BAD_UTF8))


def _unterminated(rng: random.Random, data: bytes) -> bytes:
    return _insert(rng, data, rng.choice((b"'", b'"', b"`", b"/*", b"/*+", b"$$", b"'\\", b"/*+ SET_VAR(")))


def _comment(rng: random.Random, data: bytes) -> bytes:
    piece = rng.choice((b"/* c */", b"-- c\n", b"# c\n", b"/*+ SET_VAR(query_timeout = 4) */",
                        b"/*+ SET_VAR(no_such = 1) */", b"/*+ SET_VAR(query_timeout = x) */", b"/*!50000 x */",
                        b"/*+ broadcast */", b"--", b"#"))
    return _insert(rng, data, piece)


def _control(rng: random.Random, data: bytes) -> bytes:
    return _insert(rng, data, rng.choice((b"\x1b[31m", b"\x1b[0m", b"\x1b]0;title\x07", b"\r", b"\x08", b"\x7f",
                                          "\u202e".encode(), "\ufeff".encode(), "\u00e9\u4e2d".encode())))


def _long_token(rng: random.Random, data: bytes) -> bytes:
    return _insert(rng, data, rng.choice((b"x", b"'y", b"`z")) * rng.choice((300, 70_000)))


_MUTATIONS = [_byte_flip, _byte_flip, _bit_flip, _truncate, _truncate, _duplicate_token, _duplicate_token,
              _drop_token, _swap_tokens, _replace_token, _replace_token, _deep_nesting, _huge_number, _nul,
              _bad_utf8, _bad_utf8, _unterminated, _unterminated, _comment, _comment, _control, _long_token]


# ------------------------------------------------------------------------------------------ the run


@dataclass
class Report:
    sent: int = 0
    ok: int = 0
    codes: Counter[int] = field(default_factory=Counter)
    internal: list[tuple[bytes, int, str]] = field(default_factory=list)
    seconds: float = 0.0


def _bad_message(code: int, message: str) -> bool:
    if code == 1105 or "\x1b" in message:
        return True
    found = PYTHON_TEXT.search(message)
    return bool(found) and found.group(0) not in ALLOWED_CLASS_LIKE


def run_fuzz(daemon: DaemonProcess, tmp: Path, count: int, seed: int, batch: int = 250) -> Report:
    files = tmp / "fz.parquet"
    pq.write_table(pa.table({"id": pa.array([7, 8], pa.int64()), "name": ["p", "q"],
                             "city": pa.array([100, 300], pa.int32())}), files)
    repo_dir = tmp / "fz-repo"
    repo_dir.mkdir(exist_ok=True)
    seeds = seed_statements(f"file://{files}", repo_dir)
    rng = random.Random(seed)
    report = Report()
    conn = daemon.connect()
    recent: list[bytes] = []
    started = time.monotonic()
    try:
        while report.sent < count:
            for stmt in SETUP:  # a mutated DROP or USE may have changed the scratch state
                query(conn, stmt)
            for _ in range(min(batch, count - report.sent)):
                raw = mutate(rng, rng.choice(seeds))
                recent = [*recent[-4:], raw]
                report.sent += 1
                try:
                    conn.query(raw)
                    report.ok += 1
                except pymysql.err.OperationalError as e:
                    if e.args[0] in (2006, 2013, 2014):  # the connection dropped
                        alive = daemon.proc is not None and daemon.proc.poll() is None
                        raise AssertionError(
                            f"connection dropped on {raw[:300]!r}: {e}; daemon alive: {alive}; before it: "
                            f"{[r[:200] for r in recent]}; daemon output: {daemon.output()[-3000:]}") from None
                    code, message = e.args[0], str(e.args[1])
                    report.codes[code] += 1
                    if _bad_message(code, message):
                        report.internal.append((raw[:300], code, message[:300]))
                except pymysql.err.MySQLError as e:
                    code, message = e.args[0], str(e.args[1]) if len(e.args) > 1 else ""
                    report.codes[code] += 1
                    if _bad_message(code, message):
                        report.internal.append((raw[:300], code, message[:300]))
            conn.ping(reconnect=False)  # the connection never drops
    finally:
        report.seconds = time.monotonic() - started
        conn.close()
    return report


def check(daemon: DaemonProcess, report: Report, log_before: int) -> None:
    log = (daemon.data_dir / "daemon.log").read_text(errors="replace")
    added = log[log_before:]
    print(f"fuzz: {report.sent} statements in {report.seconds:.1f}s, {report.ok} answered OK, errors by code "
          f"{dict(report.codes.most_common())}, internal {len(report.internal)}, log +{len(added)} bytes")
    assert report.internal == [], report.internal[:20]
    assert "Traceback" not in log, log[log.index("Traceback") - 2000 : log.index("Traceback") + 3000]
    assert "\x1b" not in added
    longest = max((len(line) for line in added.splitlines()), default=0)
    assert longest < 1000, longest
    assert len(added) < 700 * report.sent  # bounded: one short line per refusal at most


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory):
    with DaemonProcess(tmp_path_factory.mktemp("fuzz") / "data", backends=1) as d:
        yield d


def _log_size(daemon: DaemonProcess) -> int:
    path = daemon.data_dir / "daemon.log"
    return len(path.read_text(errors="replace")) if path.exists() else 0


def test_fuzz_statements_fast(daemon: DaemonProcess, tmp_path: Path) -> None:
    before = _log_size(daemon)
    report = run_fuzz(daemon, tmp_path, count=400, seed=10)
    check(daemon, report, before)


@pytest.mark.slow
def test_fuzz_statements_slow(daemon: DaemonProcess, tmp_path: Path) -> None:
    count = int(os.environ.get("STARBACKUP_FUZZ_STATEMENTS", "20000"))
    seed = int(os.environ.get("STARBACKUP_FUZZ_SEED", "2026"))
    before = _log_size(daemon)
    report = run_fuzz(daemon, tmp_path, count=count, seed=seed)
    check(daemon, report, before)
    assert report.sent >= count
