"""Tests for sqlfront.parse.parser (lark grammar for StarRocks BACKUP/RESTORE & object statements)."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from sqlfront.parse import ast as ast
from sqlfront.parse.parser import (
    StatementSemanticError,
    StatementSyntaxError,
    is_our_statement,
    parse_statement,
)

REFERENCE_DOC = Path(
    os.environ.get("STARBACKUP_REFERENCE_DOC", "/work/shared/reference/backup-and-restore.md")
)
TS = '"backup_timestamp" = "2024-12-09-10-52-10-940"'


def parse(sql: str) -> ast.Statement:
    stmt = parse_statement(sql)
    assert stmt is not None, sql
    return stmt


def semantic_error(sql: str) -> str:
    with pytest.raises(StatementSemanticError) as info:
        parse_statement(sql)
    return info.value.message


def syntax_error(sql: str) -> str:
    with pytest.raises(StatementSyntaxError) as info:
        parse_statement(sql)
    return info.value.message


# ---------------------------------------------------------------------------------------- the user doc


def _doc_statements() -> list[str]:
    text = REFERENCE_DOC.read_text(encoding="utf-8")
    out: list[str] = []
    for block in re.findall(r"```SQL\s*\n(.*?)```", text, flags=re.S | re.I):
        for piece in re.split(r";[ \t]*(?:\n|$)", block):
            body = "\n".join(line for line in piece.splitlines() if not line.strip().startswith("--")).strip()
            if body:
                out.append(piece.strip())
    return out


DOC_STATEMENTS = _doc_statements() if REFERENCE_DOC.exists() else []

_EXPECTED_KIND = [
    (r"CREATE\s+REPOSITORY", ast.CreateRepository),
    (r"BACKUP", ast.Backup),
    (r"RESTORE", ast.Restore),
    (r"CANCEL\s+BACKUP", ast.CancelBackup),
    (r"CANCEL\s+RESTORE", ast.CancelRestore),
]


def _strip_comments(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--")).strip()


@pytest.mark.skipif(not REFERENCE_DOC.exists(), reason="reference document not available")
def test_doc_has_the_examples_we_expect():
    # guards the extraction regex: the document had 54 statements when this test was written
    assert len(DOC_STATEMENTS) >= 50
    kinds = {_strip_comments(s).split()[0].upper() for s in DOC_STATEMENTS}
    assert kinds == {"CREATE", "BACKUP", "RESTORE", "CANCEL"}


@pytest.mark.skipif(not REFERENCE_DOC.exists(), reason="reference document not available")
@pytest.mark.parametrize("sql", DOC_STATEMENTS, ids=lambda s: " ".join(_strip_comments(s).split())[:70])
def test_every_doc_example_parses(sql: str):
    body = _strip_comments(sql)
    expected = next(cls for pattern, cls in _EXPECTED_KIND if re.match(pattern, body, re.I))
    if expected is ast.Restore and "backup_timestamp" not in body:
        # the doc's `ON (ALL TABLES)` restore example has no timestamp; StarRocks rejects it too
        assert semantic_error(sql) == "Missing backup_timestamp property"
        return
    stmt = parse(sql)
    assert type(stmt) is expected
    # the same statement also parses with a trailing semicolon, and with lower-cased keywords
    assert parse(sql + ";") == stmt
    assert type(parse(sql.lower())) is expected


# ---------------------------------------------------------------------------------------- repositories


def test_create_repository_hdfs():
    stmt = parse(
        """CREATE REPOSITORY test_repo
        WITH BROKER
        ON LOCATION "hdfs://<hdfs_host>:<hdfs_port>/repo_dir/backup"
        PROPERTIES(
            "username" = "<hdfs_username>",
            "password" = "<hdfs_password>"
        );"""
    )
    assert stmt == ast.CreateRepository(
        name="test_repo",
        read_only=False,
        broker=None,
        location="hdfs://<hdfs_host>:<hdfs_port>/repo_dir/backup",
        properties={"username": "<hdfs_username>", "password": "<hdfs_password>"},
    )


def test_create_repository_variants():
    stmt = parse("create read only repository `r``x` with broker 'b' on location 's3a://b/p'")
    assert stmt == ast.CreateRepository(name="r`x", read_only=True, broker="b", location="s3a://b/p")
    stmt = parse('CREATE REPOSITORY r WITH BROKER hdfs_broker ON LOCATION "hdfs://h:9000/p"')
    assert isinstance(stmt, ast.CreateRepository) and stmt.broker == "hdfs_broker"
    assert "Unexpected input 'ON'" in syntax_error("CREATE REPOSITORY r ON LOCATION 's3://x'")
    assert parse("DROP REPOSITORY `test_repo`") == ast.DropRepository(name="test_repo")
    assert parse("show repositories") == ast.ShowRepositories()


def test_property_values_must_be_strings():
    syntax_error("CREATE REPOSITORY r WITH BROKER ON LOCATION 's3://x' PROPERTIES (a = 'b')")
    syntax_error("BACKUP SNAPSHOT d.s TO r PROPERTIES ('timeout' = 3600)")


# ---------------------------------------------------------------------------------------- BACKUP


def test_backup_database_v34_and_legacy_agree():
    new = parse("BACKUP DATABASE sr_hub SNAPSHOT sr_hub_backup\nTO test_repo;")
    old = parse("BACKUP SNAPSHOT sr_hub.sr_hub_backup\nTO test_repo;")
    assert (
        new
        == old
        == ast.Backup(
            db="sr_hub",
            snapshot="sr_hub_backup",
            repo="test_repo",
            objects=(),
            external_catalogs=None,
            properties={},
            type="FULL",
            type_given=False,
            timeout_s=None,
        )
    )


def test_backup_without_database_uses_session_db():
    stmt = parse("BACKUP SNAPSHOT snap TO repo")
    assert isinstance(stmt, ast.Backup) and stmt.db is None and stmt.snapshot == "snap"


def test_backup_table_partition_forms():
    new = parse(
        "BACKUP DATABASE sr_hub SNAPSHOT sr_par_backup TO test_repo ON (TABLE sr_member PARTITION (p1));"
    )
    old = parse("BACKUP SNAPSHOT sr_hub.sr_par_backup TO test_repo ON (sr_member PARTITION (p1));")
    assert new == old
    assert isinstance(new, ast.Backup)
    assert new.objects == (ast.BackupObject(kind="TABLE", name="sr_member", partitions=("p1",)),)

    stmt = parse(
        "BACKUP SNAPSHOT d.s TO r ON (TABLES t1 PARTITIONS (p1, `p2`, 'p3'), t2 TEMPORARY PARTITION (tp), "
        "db.t3 PARTITION p4)"
    )
    assert isinstance(stmt, ast.Backup)
    assert stmt.objects == (
        ast.BackupObject("TABLE", "t1", ("p1", "p2", "p3")),
        ast.BackupObject("TABLE", "t2", ("tp",), temporary=True),
        ast.BackupObject("TABLE", "t3", ("p4",)),
    )


def test_backup_all_object_kinds():
    stmt = parse(
        "backup database d snapshot s to r on (all tables, ALL MATERIALIZED VIEWS, all views, ALL FUNCTIONS, "
        "TABLE t, MATERIALIZED VIEW mv, MATERIALIZED VIEWS mv2, VIEW v, VIEWS v2, FUNCTION f, FUNCTIONS f2, "
        "ALL TABLE, ALL VIEW, ALL FUNCTION, ALL MATERIALIZED VIEW)"
    )
    assert isinstance(stmt, ast.Backup)
    assert [(o.kind, o.name) for o in stmt.objects] == [
        ("TABLE", None),
        ("MATERIALIZED_VIEW", None),
        ("VIEW", None),
        ("FUNCTION", None),
        ("TABLE", "t"),
        ("MATERIALIZED_VIEW", "mv"),
        ("MATERIALIZED_VIEW", "mv2"),
        ("VIEW", "v"),
        ("VIEW", "v2"),
        ("FUNCTION", "f"),
        ("FUNCTION", "f2"),
        ("TABLE", None),
        ("VIEW", None),
        ("FUNCTION", None),
        ("MATERIALIZED_VIEW", None),
    ]
    assert stmt.objects[0].is_all and not stmt.objects[4].is_all


def test_backup_doc_multi_objects():
    stmt = parse(
        "BACKUP DATABASE sr_hub SNAPSHOT sr_mv2_backup\nTO test_repo\nON (MATERIALIZED VIEW sr_mv1, MATERIALIZED VIEW sr_mv2);"
    )
    assert isinstance(stmt, ast.Backup)
    assert stmt.objects == (
        ast.BackupObject("MATERIALIZED_VIEW", "sr_mv1"),
        ast.BackupObject("MATERIALIZED_VIEW", "sr_mv2"),
    )
    stmt = parse("BACKUP DATABASE sr_hub SNAPSHOT sr_udf3_backup TO test_repo ON (ALL FUNCTIONS);")
    assert isinstance(stmt, ast.Backup) and stmt.objects == (ast.BackupObject("FUNCTION", None),)


def test_backup_external_catalogs():
    one = parse("BACKUP EXTERNAL CATALOG (iceberg) SNAPSHOT iceberg_backup\nTO test_repo;")
    assert isinstance(one, ast.Backup)
    assert one.external_catalogs == ("iceberg",) and one.db is None and one.objects == ()
    two = parse("BACKUP EXTERNAL CATALOGS (iceberg, hive) SNAPSHOT iceberg_hive_backup TO test_repo;")
    assert isinstance(two, ast.Backup) and two.external_catalogs == ("iceberg", "hive")
    every = parse("BACKUP ALL EXTERNAL CATALOGS SNAPSHOT all_catalog_backup TO test_repo;")
    assert isinstance(every, ast.Backup) and every.external_catalogs == "ALL"
    plain = parse("BACKUP DATABASE d SNAPSHOT s TO r")
    assert isinstance(plain, ast.Backup) and plain.external_catalogs is None


def test_backup_properties():
    stmt = parse("BACKUP SNAPSHOT d.s TO r PROPERTIES ('type' = 'Full', \"timeout\" = \"600\")")
    assert isinstance(stmt, ast.Backup)
    assert stmt.type == "FULL" and stmt.type_given and stmt.timeout_s == 600
    assert stmt.properties == {"type": "Full", "timeout": "600"}
    inc = parse("BACKUP SNAPSHOT d.s TO r PROPERTIES ('type' = 'incremental')")
    assert isinstance(inc, ast.Backup) and inc.type == "INCREMENTAL"


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ('"type" = "diff"', "Invalid backup job type: diff"),
        ('"timeout" = "ten"', "Invalid timeout format: ten"),
        ('"timeout" = "1.5"', "Invalid timeout format: 1.5"),
        ('"timeout" = "599"', "timeout must be at least 10 min"),
        ('"timeout" = "-1"', "timeout must be at least 10 min"),
        ('"ttl" = "7 DAY", "foo" = "1"', "Unknown backup job properties: [ttl, foo]"),
        ('"TYPE" = "FULL"', "Unknown backup job properties: [TYPE]"),
    ],
)
def test_backup_property_errors(props: str, message: str):
    assert semantic_error(f"BACKUP SNAPSHOT d.s TO r PROPERTIES ({props})") == message


def test_backup_semantic_errors():
    assert (
        semantic_error("BACKUP DATABASE d SNAPSHOT s TO r ON (TABLE t PARTITION (p1) AS x)")
        == "Can not set alias for table in Backup Stmt: t AS x"
    )
    assert semantic_error("BACKUP SNAPSHOT d.s TO r ON (t, TABLE t)") == "Duplicated table: t"
    # table names are case-sensitive, as in StarRocks' TreeMap
    assert isinstance(parse("BACKUP SNAPSHOT d.s TO r ON (t, TABLE T)"), ast.Backup)
    msg = semantic_error("BACKUP DATABASE d SNAPSHOT d2.s TO r")
    assert "DATABASE d" in msg and "d2.s" in msg
    assert semantic_error("BACKUP SNAPSHOT a.b.c TO r") == "Invalid snapshot name: a.b.c"


def test_backup_syntax_errors():
    msg = syntax_error("BACKUP DATABASE d SNAPSHOT s TO r ON (TABLE t) garbage")
    assert msg == (
        "Getting syntax error at line 1, column 47. Detail message: Unexpected input 'garbage', "
        "the most similar input is {'PROPERTIES', <EOF>}."
    )
    msg = syntax_error("BACKUP DATABASE d SNAPSHOT s TO r ON (TABLE t")
    assert "Unexpected input '<EOF>'" in msg and "')'" in msg
    msg = syntax_error("BACKUP DATABASE d SNAPSHOT s TO r ON (TABLE t,\n)")
    assert msg.startswith("Getting syntax error at line 2, column 0. Detail message: Unexpected input ')'")
    assert "a legal identifier" in msg
    syntax_error("BACKUP")
    syntax_error("BACKUP SNAPSHOT s")
    syntax_error("BACKUP SNAPSHOT d.s TO r ON ()")
    syntax_error("BACKUP SNAPSHOT d.s TO r ON (TABLES t1, t2 PARTITION ())")
    syntax_error("BACKUP SNAPSHOT d.s TO r; BACKUP SNAPSHOT d.s TO r")
    syntax_error("BACKUP SNAPSHOT d.s TO r ON (TABLE t) !")


# ---------------------------------------------------------------------------------------- RESTORE


def test_restore_database_forms():
    new = parse(f"RESTORE SNAPSHOT sr_hub_backup\nFROM test_repo\nDATABASE sr_hub\nPROPERTIES({TS});")
    assert new == ast.Restore(
        snapshot_db_prefix=None,
        label="sr_hub_backup",
        repo="test_repo",
        database="sr_hub",
        database_alias=None,
        objects=(),
        external_catalogs=None,
        properties={"backup_timestamp": "2024-12-09-10-52-10-940"},
        backup_timestamp="2024-12-09-10-52-10-940",
        replication_num=None,
        timeout_s=None,
        allow_load=False,
        meta_version=None,
        starrocks_meta_version=None,
    )
    old = parse(f"RESTORE SNAPSHOT sr_hub.sr_hub_backup\nFROM `test_repo` \nPROPERTIES({TS});")
    assert isinstance(old, ast.Restore)
    assert old.snapshot_db_prefix == "sr_hub" and old.database is None and old.label == "sr_hub_backup"
    renamed = parse(
        f"RESTORE SNAPSHOT sr_hub_backup FROM test_repo DATABASE sr_hub AS sr_hub_new PROPERTIES({TS})"
    )
    assert isinstance(renamed, ast.Restore)
    assert (renamed.database, renamed.database_alias) == ("sr_hub", "sr_hub_new")


def test_restore_table_with_alias_and_partitions():
    stmt = parse(
        "RESTORE SNAPSHOT sr_member_backup\nFROM test_repo \nDATABASE sr_hub  AS sr_hub_new\n"
        f"ON (TABLE sr_member AS sr_member_new) \nPROPERTIES ({TS});"
    )
    assert isinstance(stmt, ast.Restore)
    assert stmt.objects == (ast.BackupObject("TABLE", "sr_member", alias="sr_member_new"),)
    legacy = parse(f"RESTORE SNAPSHOT d.s FROM r ON (t1 PARTITION (p1, p2) AS t1_new, t2) PROPERTIES ({TS})")
    assert isinstance(legacy, ast.Restore)
    assert legacy.objects == (
        ast.BackupObject("TABLE", "t1", ("p1", "p2"), alias="t1_new"),
        ast.BackupObject("TABLE", "t2"),
    )
    fn = parse(f"RESTORE SNAPSHOT s FROM r DATABASE d ON (FUNCTION f AS g, VIEW v AS w) PROPERTIES ({TS})")
    assert isinstance(fn, ast.Restore)
    assert fn.objects == (
        ast.BackupObject("FUNCTION", "f", alias="g"),
        ast.BackupObject("VIEW", "v", alias="w"),
    )


def test_restore_external_catalogs():
    stmt = parse(
        f"RESTORE SNAPSHOT iceberg_backup FROM test_repo EXTERNAL CATALOG (iceberg AS iceberg_new) PROPERTIES ({TS});"
    )
    assert isinstance(stmt, ast.Restore) and stmt.external_catalogs == (("iceberg", "iceberg_new"),)
    stmt = parse(f"RESTORE SNAPSHOT s FROM test_repo EXTERNAL CATALOGS (iceberg, hive) PROPERTIES ({TS})")
    assert isinstance(stmt, ast.Restore) and stmt.external_catalogs == (("iceberg", None), ("hive", None))
    stmt = parse(f"RESTORE SNAPSHOT s FROM test_repo ALL EXTERNAL CATALOGS PROPERTIES ({TS})")
    assert isinstance(stmt, ast.Restore) and stmt.external_catalogs == "ALL"


def test_restore_properties():
    stmt = parse(
        "RESTORE SNAPSHOT d.s FROM r PROPERTIES ('backup_timestamp' = 't', 'replication_num' = '1', "
        "'timeout' = '3600', 'allow_load' = 'TRUE', 'meta_version' = '94', 'starrocks_meta_version' = '+3')"
    )
    assert isinstance(stmt, ast.Restore)
    assert (stmt.backup_timestamp, stmt.replication_num, stmt.timeout_s, stmt.allow_load) == (
        "t",
        1,
        3600,
        True,
    )
    assert (stmt.meta_version, stmt.starrocks_meta_version) == (94, 3)


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ("", "Missing backup_timestamp property"),
        ('"replication_num" = "1"', "Missing backup_timestamp property"),
        (f'{TS}, "allow_load" = "yes"', "Invalid allow load value: yes"),
        (f'{TS}, "replication_num" = "three"', "Invalid meta version format: three"),
        (f'{TS}, "meta_version" = "99999999999"', "Invalid meta version format: 99999999999"),
        (f'{TS}, "starrocks_meta_version" = ""', "Invalid meta version format: "),
        (f'{TS}, "timeout" = "x"', "Invalid timeout format: x"),
        (f'{TS}, "timeout" = "60"', "timeout must be at least 10 min"),
        (f'{TS}, "foo" = "1", "type" = "full"', "Unknown restore job properties: [foo, type]"),
        ('"foo" = "1"', "Missing backup_timestamp property"),
    ],
)
def test_restore_property_errors(props: str, message: str):
    sql = "RESTORE SNAPSHOT d.s FROM r" + (f" PROPERTIES ({props})" if props else "")
    assert semantic_error(sql) == message


def test_restore_semantic_errors():
    assert (
        semantic_error(f"RESTORE SNAPSHOT s FROM r ON (TABLE a, a) PROPERTIES ({TS})")
        == "Duplicated table: a"
    )
    assert (
        semantic_error(f"RESTORE SNAPSHOT s FROM r ON (TABLE a AS b, TABLE b) PROPERTIES ({TS})")
        == "Duplicated alias name: b"
    )
    assert (
        semantic_error(f"RESTORE SNAPSHOT s FROM r ON (TABLE a AS c, TABLE b AS c) PROPERTIES ({TS})")
        == "Duplicated alias name: c"
    )
    msg = semantic_error(f"RESTORE SNAPSHOT d.s FROM r DATABASE d AS e PROPERTIES ({TS})")
    assert "d.s" in msg and "AS e" in msg
    # a db prefix with DATABASE but without AS is accepted
    assert isinstance(parse(f"RESTORE SNAPSHOT d.s FROM r DATABASE d PROPERTIES ({TS})"), ast.Restore)


def test_restore_syntax_errors():
    syntax_error(f"RESTORE SNAPSHOT s TO r PROPERTIES ({TS})")
    syntax_error(f"RESTORE SNAPSHOT s FROM r ON (TABLE a AS) PROPERTIES ({TS})")
    syntax_error(f"RESTORE SNAPSHOT s FROM r PROPERTIES ({TS}) ON (TABLE a)")


# ---------------------------------------------------------------------------------------- CANCEL / SHOW


def test_cancel():
    assert parse("CANCEL BACKUP") == ast.CancelBackup(db=None)
    assert parse("cancel backup from d") == ast.CancelBackup(db="d")
    assert parse("CANCEL RESTORE IN `d`") == ast.CancelRestore(db="d")
    assert parse("CANCEL BACKUP FOR EXTERNAL CATALOG;") == ast.CancelBackup(db=None, external_catalog=True)
    assert parse("CANCEL RESTORE FOR EXTERNAL CATALOG") == ast.CancelRestore(db=None, external_catalog=True)
    syntax_error("CANCEL BACKUP FOR d")


def test_show_backup_restore():
    assert parse("SHOW BACKUP") == ast.ShowBackup(db=None)
    assert parse("SHOW RESTORE FROM d") == ast.ShowRestore(db="d")
    stmt = parse(
        "SHOW BACKUP IN d WHERE SnapshotName = 'x' AND State != \"FINISHED\" ORDER BY CreateTime DESC, x LIMIT 5, 10"
    )
    assert stmt == ast.ShowBackup(
        db="d",
        where="SnapshotName = 'x' AND State != \"FINISHED\"",
        order_by="CreateTime DESC, x",
        limit=10,
        offset=5,
    )
    stmt = parse("SHOW RESTORE WHERE label LIKE 'a%' OR (a IN (1, 2) AND b IS NOT NULL) LIMIT 3 OFFSET 2")
    assert stmt == ast.ShowRestore(
        db=None, where="label LIKE 'a%' OR (a IN (1, 2) AND b IS NOT NULL)", limit=3, offset=2
    )
    syntax_error("SHOW BACKUP LIMIT x")


def test_show_snapshot():
    assert parse("SHOW SNAPSHOT ON test_repo;") == ast.ShowSnapshot(repo="test_repo")
    stmt = parse("show snapshot on r where Snapshot = 'a' and timestamp = '2018-04-18-19-19-10'")
    assert isinstance(stmt, ast.ShowSnapshot)
    assert stmt.snapshot_names == ("a",) and stmt.timestamp == "2018-04-18-19-19-10"
    stmt = parse("SHOW SNAPSHOT ON r WHERE TIMESTAMP = 't' AND SNAPSHOT = \"b\"")
    assert isinstance(stmt, ast.ShowSnapshot) and (stmt.snapshot_names, stmt.timestamp) == (("b",), "t")
    stmt = parse("SHOW SNAPSHOT ON r WHERE SNAPSHOT IN ('a', 'b', '') LIMIT 1")
    assert isinstance(stmt, ast.ShowSnapshot) and stmt.snapshot_names == ("a", "b") and stmt.limit == 1


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("TIMESTAMP = 't'", "Where clause should looks like"),
        ("snapshot = 1", "Where clause should looks like"),
        ("snapshot = ''", "Where clause should looks like"),
        ("label = 'a'", "Where clause should looks like"),
        ("snapshot = 'a' OR timestamp = 't'", "Where clause should looks like"),
        ("snapshot LIKE 'a%'", "Where clause should looks like"),
        ("snapshot NOT IN ('a')", "Where clause should looks like"),
        ("'a' = snapshot", "Where clause should looks like"),
        ("name IN ('a')", "Left expr of should be snapshot"),
        ("'x' IN ('a')", "Left expr of should be snapshot"),
        ("snapshot IN ('a', 1)", "Child of in predicate should be string value"),
    ],
)
def test_show_snapshot_where_errors(where: str, message: str):
    msg = semantic_error(f"SHOW SNAPSHOT ON r WHERE {where}")
    assert msg.startswith(message)
    if message.startswith("Where"):
        assert msg == (
            "Where clause should looks like: SNAPSHOT = 'your_snapshot_name' [AND TIMESTAMP = '2018-04-18-19-19-10']"
        )


# ---------------------------------------------------------------------------------------- views


def test_views():
    stmt = parse(
        "CREATE VIEW IF NOT EXISTS db1.v1 (k1 COMMENT \"first\", k2) COMMENT 'my view' AS "
        "SELECT k1, k2 FROM t WHERE k1 > 'a;b';  -- trailing"
    )
    assert stmt == ast.CreateView(
        db="db1",
        name="v1",
        query="SELECT k1, k2 FROM t WHERE k1 > 'a;b'",
        columns=(ast.ViewColumn("k1", "first"), ast.ViewColumn("k2")),
        comment="my view",
        if_not_exists=True,
    )
    stmt = parse("create or replace view v as\n  /* c */ WITH x AS (SELECT 1) SELECT *\n  FROM x -- c\n")
    assert isinstance(stmt, ast.CreateView) and stmt.or_replace
    assert stmt.query == "WITH x AS (SELECT 1) SELECT *\n  FROM x"
    assert parse("ALTER VIEW db.v (a, b) AS SELECT 1, 2") == ast.AlterView(
        db="db", name="v", query="SELECT 1, 2", columns=(ast.ViewColumn("a"), ast.ViewColumn("b"))
    )
    assert parse("DROP VIEW IF EXISTS db.v") == ast.DropView(db="db", name="v", if_exists=True)
    assert parse("DROP VIEW v") == ast.DropView(db=None, name="v")
    assert parse("SHOW CREATE VIEW `d`.`v`") == ast.ShowCreateView(db="d", name="v")
    syntax_error("CREATE VIEW v AS")
    syntax_error("CREATE VIEW v SELECT 1")


# ---------------------------------------------------------------------------------------- materialized views


def test_sync_materialized_view():
    stmt = parse("CREATE MATERIALIZED VIEW mv1 AS SELECT k1, sum(v) FROM t GROUP BY k1")
    assert stmt == ast.CreateMaterializedView(
        db=None, name="mv1", query="SELECT k1, sum(v) FROM t GROUP BY k1", synchronous=True
    )


def test_async_materialized_view():
    stmt = parse(
        "CREATE MATERIALIZED VIEW IF NOT EXISTS d.mv2 COMMENT 'x' DISTRIBUTED BY HASH(k1, `k2`) BUCKETS 10 "
        "PARTITION BY date_trunc('day', dt) REFRESH ASYNC START ('2024-01-01 00:00:00') EVERY (INTERVAL 1 DAY) "
        'PROPERTIES ("replication_num"="1") AS SELECT dt, k1, k2 FROM t'
    )
    assert stmt == ast.CreateMaterializedView(
        db="d",
        name="mv2",
        query="SELECT dt, k1, k2 FROM t",
        if_not_exists=True,
        comment="x",
        distribution=ast.MvDistribution("HASH", ("k1", "k2"), 10),
        partition_by="date_trunc('day', dt)",
        refresh=ast.MvRefresh(
            moment=None, kind="ASYNC", start="2024-01-01 00:00:00", every_value=1, every_unit="DAY"
        ),
        properties={"replication_num": "1"},
        synchronous=False,
    )
    # any clause order
    stmt = parse(
        "CREATE MATERIALIZED VIEW mv3 REFRESH DEFERRED MANUAL PROPERTIES ('a'='b') PARTITION BY dt "
        "DISTRIBUTED BY RANDOM BUCKETS 2 ORDER BY (k1) AS SELECT * FROM t"
    )
    assert isinstance(stmt, ast.CreateMaterializedView)
    assert stmt.refresh == ast.MvRefresh(moment="DEFERRED", kind="MANUAL")
    assert stmt.distribution == ast.MvDistribution("RANDOM", (), 2)
    assert (stmt.partition_by, stmt.order_by, stmt.properties) == ("dt", ("k1",), {"a": "b"})
    assert not stmt.synchronous
    stmt = parse(
        "CREATE MATERIALIZED VIEW m PARTITION BY str2date(dt, '%Y%m%d') REFRESH IMMEDIATE AS SELECT 1"
    )
    assert isinstance(stmt, ast.CreateMaterializedView)
    assert stmt.partition_by == "str2date(dt, '%Y%m%d')" and stmt.refresh == ast.MvRefresh("IMMEDIATE", None)
    stmt = parse("CREATE MATERIALIZED VIEW m DISTRIBUTED BY HASH(k) AS SELECT 1")
    assert isinstance(stmt, ast.CreateMaterializedView) and stmt.refresh is None and not stmt.synchronous
    stmt = parse("CREATE MATERIALIZED VIEW m REFRESH ASYNC EVERY(INTERVAL 30 minute) AS SELECT 1")
    assert isinstance(stmt, ast.CreateMaterializedView)
    assert stmt.refresh == ast.MvRefresh(None, "ASYNC", None, 30, "MINUTE")
    assert "Duplicated REFRESH" in semantic_error(
        "CREATE MATERIALIZED VIEW m REFRESH ASYNC REFRESH MANUAL AS SELECT 1"
    )
    syntax_error("CREATE MATERIALIZED VIEW m REFRESH AS SELECT 1")
    syntax_error("CREATE MATERIALIZED VIEW m DISTRIBUTED BY HASH() AS SELECT 1")


def test_other_materialized_view_statements():
    assert parse("DROP MATERIALIZED VIEW IF EXISTS d.mv") == ast.DropMaterializedView(
        db="d", name="mv", if_exists=True
    )
    assert parse("ALTER MATERIALIZED VIEW d.mv ACTIVE") == ast.AlterMaterializedView(
        db="d", name="mv", active=True
    )
    assert parse("alter materialized view mv inactive") == ast.AlterMaterializedView(
        db=None, name="mv", active=False
    )
    assert parse("REFRESH MATERIALIZED VIEW d.mv WITH SYNC MODE") == ast.RefreshMaterializedView(
        db="d", name="mv", sync_mode=True
    )
    assert parse("REFRESH MATERIALIZED VIEW mv") == ast.RefreshMaterializedView(db=None, name="mv")
    assert parse("SHOW MATERIALIZED VIEWS") == ast.ShowMaterializedViews(db=None)
    assert parse("SHOW MATERIALIZED VIEWS IN d LIKE 'mv%'") == ast.ShowMaterializedViews(db="d", like="mv%")
    assert parse("SHOW MATERIALIZED VIEWS FROM d WHERE NAME = 'mv1'") == ast.ShowMaterializedViews(
        db="d", where_name="mv1", where="NAME = 'mv1'"
    )
    assert parse("SHOW CREATE MATERIALIZED VIEW mv") == ast.ShowCreateMaterializedView(db=None, name="mv")
    syntax_error("ALTER MATERIALIZED VIEW mv")


# ---------------------------------------------------------------------------------------- functions


def test_functions():
    stmt = parse(
        "CREATE GLOBAL FUNCTION IF NOT EXISTS d.my_add(INT, bigint, VARCHAR(10), DECIMAL(10, 2), string, double, "
        "boolean, date, datetime, ...) RETURNS decimal(10,2) "
        'PROPERTIES ("symbol"="Add", "type"="StarrocksJar", "file"="http://x/a.jar")'
    )
    assert stmt == ast.CreateFunction(
        db="d",
        name="my_add",
        arg_types=(
            "INT",
            "BIGINT",
            "VARCHAR(10)",
            "DECIMAL(10,2)",
            "STRING",
            "DOUBLE",
            "BOOLEAN",
            "DATE",
            "DATETIME",
        ),
        return_type="DECIMAL(10,2)",
        is_global=True,
        if_not_exists=True,
        varargs=True,
        properties={"symbol": "Add", "type": "StarrocksJar", "file": "http://x/a.jar"},
    )
    body = "\ndef add(a, b):\n    -- not a comment; 'quote\n    return a + b\n"
    stmt = parse(
        'CREATE FUNCTION py_add(INT, INT) RETURNS INT PROPERTIES ("symbol"="add", "type"="Python") '
        f"AS $${body}$$;"
    )
    assert isinstance(stmt, ast.CreateFunction) and stmt.body == body and stmt.arg_types == ("INT", "INT")
    stmt = parse("CREATE AGGREGATE FUNCTION agg(ARRAY<INT>) RETURNS BIGINT INTERMEDIATE BIGINT")
    assert isinstance(stmt, ast.CreateFunction)
    assert (stmt.kind, stmt.arg_types, stmt.intermediate_type) == ("AGGREGATE", ("ARRAY<INT>",), "BIGINT")
    stmt = parse("CREATE TABLE FUNCTION tf(...) RETURNS STRING")
    assert (
        isinstance(stmt, ast.CreateFunction)
        and stmt.kind == "TABLE"
        and stmt.varargs
        and stmt.arg_types == ()
    )
    assert parse("DROP FUNCTION IF EXISTS d.f(INT, BIGINT, ...)") == ast.DropFunction(
        db="d", name="f", arg_types=("INT", "BIGINT"), if_exists=True, varargs=True
    )
    assert parse("DROP GLOBAL FUNCTION f()") == ast.DropFunction(
        db=None, name="f", arg_types=(), is_global=True
    )
    assert parse("SHOW FULL GLOBAL FUNCTIONS LIKE 'my%'") == ast.ShowFunctions(
        db=None, full=True, is_global=True, like="my%"
    )
    assert parse("SHOW FUNCTIONS FROM d") == ast.ShowFunctions(db="d")
    syntax_error("CREATE FUNCTION f(INT) PROPERTIES ('a'='b')")
    syntax_error("DROP FUNCTION f")
    syntax_error("CREATE FUNCTION f(..., INT) RETURNS INT")


# ---------------------------------------------------------------------------------------- catalogs & config


def test_catalogs_and_config():
    stmt = parse(
        "CREATE EXTERNAL CATALOG IF NOT EXISTS hive1 COMMENT 'h' "
        'PROPERTIES ("type"="hive", "hive.metastore.uris"="thrift://x:9083")'
    )
    assert stmt == ast.CreateExternalCatalog(
        name="hive1",
        properties={"type": "hive", "hive.metastore.uris": "thrift://x:9083"},
        if_not_exists=True,
        comment="h",
    )
    assert isinstance(stmt, ast.CreateExternalCatalog) and stmt.catalog_type == "hive"
    syntax_error("CREATE EXTERNAL CATALOG c")
    assert parse("DROP CATALOG IF EXISTS hive1") == ast.DropCatalog(name="hive1", if_exists=True)
    assert parse("SHOW CATALOGS") == ast.ShowCatalogs()
    assert parse("SHOW CREATE CATALOG hive1") == ast.ShowCreateCatalog(name="hive1")
    assert parse('ADMIN SET FRONTEND CONFIG ("backup_job_default_timeout_ms" = "1000000")') == (
        ast.AdminSetFrontendConfig(key="backup_job_default_timeout_ms", value="1000000")
    )
    assert parse("ADMIN SHOW FRONTEND CONFIG LIKE '%backup%'") == ast.AdminShowFrontendConfig(like="%backup%")
    assert parse("admin show frontend config") == ast.AdminShowFrontendConfig()


# ---------------------------------------------------------------------------------------- lexical details


def test_lexical_details():
    stmt = parse(
        "/* lead */ -- another\nBaCkUp DaTaBaSe `my db` SnApShOt `a``b` To `repo`\n"
        "ON (TABLE `select` PARTITION ('p''1', \"p\\\"2\"));  /* trailing */"
    )
    assert isinstance(stmt, ast.Backup)
    assert (stmt.db, stmt.snapshot, stmt.repo) == ("my db", "a`b", "repo")
    assert stmt.objects == (ast.BackupObject("TABLE", "select", ("p'1", 'p"2')),)
    # keywords are only reserved where the grammar expects them
    stmt = parse("BACKUP SNAPSHOT table.view TO function ON (snapshot, TABLE backup)")
    assert isinstance(stmt, ast.Backup)
    assert (stmt.db, stmt.snapshot, stmt.repo) == ("table", "view", "function")
    assert [o.name for o in stmt.objects] == ["snapshot", "backup"]
    # digit-leading identifiers, as StarRocks allows
    stmt = parse("BACKUP SNAPSHOT 2024db.1st_snap TO r")
    assert isinstance(stmt, ast.Backup) and (stmt.db, stmt.snapshot) == ("2024db", "1st_snap")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1",
        "select * from t",
        "INSERT INTO t VALUES (1)",
        "CREATE TABLE t (a INT)",
        "CREATE DATABASE d",
        "CREATE EXTERNAL TABLE t (a INT)",
        "DROP TABLE t",
        "DROP DATABASE d",
        "SHOW TABLES",
        "SHOW FULL TABLES",
        "SHOW DATABASES",
        "SHOW GLOBAL VARIABLES",
        "SHOW CREATE TABLE t",
        "ALTER TABLE t ADD COLUMN c INT",
        "CANCEL LOAD FROM d",
        "ADMIN SHOW REPLICA STATUS FROM t",
        "USE d",
        "SET a = 1",
        "",
        "   ",
        "-- only a comment",
        "(SELECT 1)",
    ],
)
def test_not_ours(sql: str):
    assert not is_our_statement(sql)
    assert parse_statement(sql) is None


def test_parse_time_is_small():
    sql = (
        "RESTORE SNAPSHOT sr_member_backup FROM test_repo DATABASE sr_hub AS sr_hub_new "
        "ON (TABLE sr_member AS sr_member_new, TABLE a PARTITION (p1, p2, p3), MATERIALIZED VIEW mv, VIEW v) "
        f'PROPERTIES ({TS}, "timeout" = "3600", "replication_num" = "1")'
    )
    parse(sql)  # builds the parser
    n = 100
    best = float("inf")
    for _ in range(3):  # best of three batches, to be robust against a busy machine
        start = time.perf_counter()
        for _ in range(n):
            parse(sql)
        best = min(best, (time.perf_counter() - start) / n)
    assert best < 0.005, best


def test_ast_is_frozen():
    stmt = parse("DROP REPOSITORY r")
    with pytest.raises(AttributeError):
        stmt.name = "x"  # type: ignore[misc]


# ---------------------------------------------------------------------------------------- bad input (issue 10)


def test_a_nul_escape_in_any_string_is_a_syntax_error():
    for sql in ["CREATE REPOSITORY r WITH BROKER ON LOCATION 'file:///tmp/a\\0b' PROPERTIES ('k' = 'v')",
                "BACKUP SNAPSHOT db.s TO r ON (t) PROPERTIES ('type' = 'fu\\0ll')",
                f"RESTORE SNAPSHOT db.s FROM r PROPERTIES ({TS}, 'timeout' = '6\\000')"]:
        assert "NUL character" in syntax_error(sql)


def test_overlong_numbers_in_properties_are_refused_not_crashed():
    assert semantic_error(f"RESTORE SNAPSHOT db.s FROM r PROPERTIES ({TS}, 'timeout' = '{'9' * 5000}')").startswith(
        "Invalid timeout format: 999")
    assert semantic_error(f"RESTORE SNAPSHOT db.s FROM r PROPERTIES ({TS}, 'meta_version' = '{'1' * 30}')") == (
        f"Invalid meta version format: {'1' * 30}")


def test_a_keyword_glued_to_the_query_is_a_syntax_error():
    assert "Unexpected input 'ASAS'" in syntax_error("CREATE MATERIALIZED VIEW mv REFRESH MANUAL ASAS SELECT 1")
    assert parse("CREATE MATERIALIZED VIEW mv REFRESH MANUAL AS(SELECT 1)").query == "(SELECT 1)"
