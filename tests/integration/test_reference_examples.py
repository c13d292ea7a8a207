"""Every BACKUP / RESTORE / CANCEL example of reference/backup-and-restore.md, run as written against the real
daemon, over a `file://` repository and an S3 (moto) repository.

The examples are extracted from the document's ```SQL fences. Only three things are substituted: the
doc's `backup_timestamp` values become the real timestamp of the named snapshot (from SHOW SNAPSHOT), the
repository `test_repo` is ours (file:// or s3a:// on moto), and a second BACKUP of a label that an earlier
example already wrote (the doc shows the v3.4 form and the legacy form of the same backup) gets the label
`<label>_legacy`, since a label can be written once per repository.

Before each RESTORE the test damages what the restore is about to bring back (an extra row in sr_member's
p1 and in sr_pmc; the named MVs, views, UDFs and catalogs dropped), then checks that every restored object
equals the source: tables, MVs and views by digest, UDFs by result, catalogs by SHOW CATALOGS.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support import br
from tests.support.daemon import DaemonProcess

REFERENCE = Path("/work/shared/reference/backup-and-restore.md")
if not REFERENCE.exists():  # the checkout may also carry a copy
    REFERENCE = Path(__file__).resolve().parents[2] / "reference" / "backup-and-restore.md"
DOC_TS = re.compile(r'("backup_timestamp"\s*=\s*)"[^"]*"')


@dataclass
class Example:
    n: int
    kind: str  # BACKUP, RESTORE, CANCEL
    sql: str
    label: str = ""

    @property
    def id(self) -> str:
        legacy = "-legacy" if self.label.endswith("_legacy") or re.search(r"SNAPSHOT\s+\w+\.", self.sql) else ""
        return f"{self.n:02d}-{self.kind.lower()}-{self.label or 'catalog'}{legacy}"


def extract_examples() -> list[Example]:
    text = REFERENCE.read_text()
    out: list[Example] = []
    seen_labels: set[str] = set()
    for block in re.findall(r"```SQL\n(.*?)```", text, re.S):
        body = "\n".join(line for line in block.splitlines() if not line.strip().startswith("--"))
        for stmt in body.split(";"):
            stmt = stmt.strip()
            if not stmt:
                continue
            kind = stmt.split()[0].upper()
            if kind not in ("BACKUP", "RESTORE", "CANCEL"):
                continue
            ex = Example(len(out), kind, stmt)
            m = re.search(r"SNAPSHOT\s+(?:`?\w+`?\.)?`?(\w+)`?", stmt)
            if m:
                ex.label = m.group(1)
            if kind == "BACKUP":
                if ex.label in seen_labels:
                    new = f"{ex.label}_legacy"
                    ex.sql = re.sub(rf"\b{ex.label}\b", new, stmt, count=1)
                    ex.label = new
                seen_labels.add(ex.label)
            out.append(ex)
    return out


EXAMPLES = extract_examples()
BACKUPS = [e for e in EXAMPLES if e.kind == "BACKUP"]
RESTORES = [e for e in EXAMPLES if e.kind == "RESTORE"]
CANCELS = [e for e in EXAMPLES if e.kind == "CANCEL"]


def test_examples_were_found() -> None:
    assert len(BACKUPS) == 20 and len(RESTORES) == 26 and len(CANCELS) == 2, (len(BACKUPS), len(RESTORES), len(CANCELS))


# ------------------------------------------------------------------------------------------ what a statement names


def on_items(sql: str) -> list[str] | None:
    """The items of the ON ( ... ) clause, split at top-level commas; None without ON."""
    m = re.search(r"\bON\s*\(", sql, re.I)
    if not m:
        return None
    depth, start, items = 1, m.end(), []
    i = start
    while depth:
        ch = sql[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if (ch == "," and depth == 1) or depth == 0:
            items.append(" ".join(sql[start:i].split()))
            start = i + 1
        i += 1
    return items


@dataclass
class Contents:
    """Objects held by (or restored from) a snapshot: name -> target name."""

    tables: dict[str, str] = field(default_factory=dict)
    partitions: dict[str, list[str] | None] = field(default_factory=dict)
    mvs: dict[str, str] = field(default_factory=dict)
    views: dict[str, str] = field(default_factory=dict)
    udfs: dict[str, str] = field(default_factory=dict)
    catalogs: dict[str, str] = field(default_factory=dict)


def everything() -> Contents:
    c = Contents()
    c.tables = {t: t for t in br.TABLES}
    c.partitions = {t: None for t in br.TABLES}
    c.mvs = {m: m for m in br.MVS}
    c.views = {v: v for v in br.VIEWS}
    c.udfs = {u: u for u in br.UDFS}
    return c


def select(sql: str, available: Contents) -> Contents:
    """What a BACKUP takes from sr_hub, or a RESTORE takes from a snapshot (with AS renames)."""
    cat = re.search(r"EXTERNAL\s+CATALOGS?\s*\(([^)]*)\)", sql, re.I)
    if cat or re.search(r"ALL\s+EXTERNAL\s+CATALOGS", sql, re.I):
        c = Contents()
        if cat:
            for item in cat.group(1).split(","):
                parts = item.split()
                c.catalogs[parts[0]] = parts[2] if len(parts) == 3 else parts[0]
        else:
            c.catalogs = {k: k for k in available.catalogs}
        return c
    items = on_items(sql)
    if items is None:
        return available
    c = Contents()
    for item in items:
        alias = re.search(r"\bAS\s+(\w+)$", item, re.I)
        target = alias.group(1) if alias else None
        item = re.sub(r"\s+AS\s+\w+$", "", item, flags=re.I)
        part = re.search(r"PARTITIONS?\s*\(([^)]*)\)", item, re.I)
        parts = [p.strip() for p in part.group(1).split(",")] if part else None
        item = re.sub(r"\s*PARTITIONS?\s*\(.*\)", "", item, flags=re.I)
        words = item.upper().split()
        name = item.split()[-1]
        if words[:2] == ["ALL", "TABLES"]:
            c.tables.update(available.tables)
            c.partitions.update(available.partitions)
        elif words[:3] == ["ALL", "MATERIALIZED", "VIEWS"]:
            c.mvs.update(available.mvs)
        elif words[:2] == ["ALL", "VIEWS"]:
            c.views.update(available.views)
        elif words[:2] == ["ALL", "FUNCTIONS"]:
            c.udfs.update(available.udfs)
        elif words[:2] == ["MATERIALIZED", "VIEW"]:
            c.mvs[name] = target or name
        elif words[0] == "VIEW":
            c.views[name] = target or name
        elif words[0] == "FUNCTION":
            c.udfs[name] = target or name
        else:  # TABLE t, or the legacy bare table name
            c.tables[name] = target or name
            c.partitions[name] = parts or available.partitions.get(name)
    return c


# ------------------------------------------------------------------------------------------ the daemon and sr_hub


@dataclass
class Hub:
    daemon: DaemonProcess
    conn: Any
    kind: str
    source: dict[str, str]
    timestamps: dict[str, str] = field(default_factory=dict)
    contents: dict[str, Contents] = field(default_factory=dict)
    failed_backups: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module", params=["file", "s3"])
def hub(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    tmp = tmp_path_factory.mktemp(f"ref-{request.param}")
    d = br.start_daemon(tmp / "data")
    try:
        conn = d.connect()
        br.build_sr_hub(conn, catalogs=True)
        if request.param == "file":
            br.create_file_repo(conn, "test_repo", tmp / "repo")
        else:
            moto = request.getfixturevalue("moto_s3")
            br.create_s3_repo(conn, "test_repo", moto, moto.new_bucket("ref"))
        source = br.object_digests(conn, "sr_hub")
        yield Hub(d, conn, request.param, source)
        conn.close()
    finally:
        br.stop_daemon(d)


def run_backup(hub: Hub, ex: Example) -> None:
    if ex.label in hub.timestamps:
        return
    db = None if "CATALOG" in ex.sql.upper() else "sr_hub"
    try:
        br.backup(hub.conn, ex.sql, ex.label, db=db)
    except Exception as e:
        hub.failed_backups[ex.label] = f"{type(e).__name__}: {e}"
        raise
    hub.timestamps[ex.label] = br.latest_timestamp(hub.conn, "test_repo", ex.label)
    if db is None:
        available = Contents(catalogs={"iceberg": "iceberg", "hive": "hive"})
    else:
        available = everything()
    hub.contents[ex.label] = select(ex.sql, available)


def ensure_backup(hub: Hub, label: str) -> str:
    if label not in hub.timestamps:
        if label in hub.failed_backups:
            pytest.fail(f"the backup example of {label} failed: {hub.failed_backups[label]}")
        for ex in BACKUPS:
            if ex.label == label:
                run_backup(hub, ex)
    return hub.timestamps[label]


# ------------------------------------------------------------------------------------------ BACKUP examples


@pytest.mark.parametrize("ex", BACKUPS, ids=[e.id for e in BACKUPS])
def test_backup_example(hub: Hub, ex: Example) -> None:
    run_backup(hub, ex)
    row = br.job_row(hub.conn, "BACKUP", ex.label)
    assert row is not None and row["State"] == "FINISHED" and row["Status"] == "[OK]"
    rows = br.run(hub.conn, f"SHOW SNAPSHOT ON test_repo WHERE SNAPSHOT = '{ex.label}'")
    assert rows == [(ex.label, hub.timestamps[ex.label], "OK")]


def test_cancel_backup_for_external_catalog_example(hub: Hub) -> None:
    """`CANCEL BACKUP FOR EXTERNAL CATALOG` with the cluster's last catalog backup already FINISHED: StarRocks
    refuses it naming that job (a catalog backup holds no tablets, so there is no moment it is running)."""
    ensure_backup(hub, "all_catalog_backup")
    (ex,) = [e for e in CANCELS if e.sql.upper().startswith("CANCEL BACKUP")]
    msg = br.refused(hub.conn, ex.sql)
    assert msg == "Failed to cancel job: Job with label all_catalog_backup can not be cancelled. state: FINISHED"


# ------------------------------------------------------------------------------------------ RESTORE examples


def target_db(sql: str) -> str:
    m = re.search(r"\bDATABASE\s+(\w+)(?:\s+AS\s+(\w+))?", sql, re.I)
    if m:
        return m.group(2) or m.group(1)
    m = re.search(r"SNAPSHOT\s+(\w+)\.", sql, re.I)
    return m.group(1) if m else "sr_hub"


def existing(hub: Hub, sql: str) -> set[str]:
    return {r[0] for r in br.run(hub.conn, sql)}


def damage(hub: Hub, db: str, sel: Contents) -> None:
    """Change what the restore is about to bring back, so that the restore must really do it."""
    c = hub.conn
    dbs = existing(hub, "SHOW DATABASES")
    if db in dbs:
        tables = existing(hub, f"SHOW TABLES FROM `{db}`")
        for src, target in sel.tables.items():
            if target not in tables:
                continue
            if src == "sr_member":
                br.run(c, f"INSERT INTO `{db}`.`{target}` VALUES (99999, 'damage', 100, '2022-03-13', true)")
            else:
                br.run(c, f"INSERT INTO `{db}`.`{target}` VALUES (99999, 1, 0.5, 'damage')")
        for target in sel.mvs.values():
            if target in tables:
                br.run(c, f"DROP MATERIALIZED VIEW `{db}`.`{target}`")
        for target in sel.views.values():
            if target in tables:
                br.run(c, f"DROP VIEW `{db}`.`{target}`")
        functions = existing(hub, f"SHOW FUNCTIONS FROM `{db}`")
        for target in sel.udfs.values():
            if target in functions:
                args = "INT" if target == "sr_udf1" else "INT, INT"
                br.run(c, f"DROP FUNCTION `{db}`.`{target}`({args})")
    catalogs = existing(hub, "SHOW CATALOGS")
    for target in sel.catalogs.values():
        if target in catalogs:
            br.run(c, f"DROP CATALOG `{target}`")


def check_restored(hub: Hub, db: str, sel: Contents) -> None:
    c = hub.conn
    for src, target in sel.tables.items():
        assert br.table_digest(c, db, target) == hub.source[src], f"table {db}.{target} differs from sr_hub.{src}"
    for src, target in sel.mvs.items():
        digest = br.table_digest(c, db, target)
        if db == "sr_hub":
            assert digest == hub.source[src], f"MV {db}.{target}"
            assert br.mv_state(c, db, target)[0] == "true", br.mv_state(c, db, target)
    for src, target in sel.views.items():
        digest = br.table_digest(c, db, target)  # the view answers
        if db == "sr_hub":
            assert digest == hub.source[src], f"view {db}.{target}"
    restored_udfs = set(sel.udfs.values())
    if {"sr_udf1", "sr_udf2"} <= restored_udfs:
        assert br.udf_results(c, db) == {k: hub.source[k] for k in br.UDFS}
    elif "sr_udf1" in restored_udfs:
        assert br.run(c, f"SELECT `{db}`.sr_udf1(41)") == [(42,)]
    if sel.catalogs:
        catalogs = existing(hub, "SHOW CATALOGS")
        for target in sel.catalogs.values():
            assert target in catalogs, f"catalog {target} not restored: {sorted(catalogs)}"


@pytest.mark.parametrize("ex", RESTORES, ids=[e.id for e in RESTORES])
def test_restore_example(hub: Hub, ex: Example) -> None:
    ts = ensure_backup(hub, ex.label)
    sql = ex.sql
    if not DOC_TS.search(sql):
        # The doc's `ON (ALL TABLES)` example has no backup_timestamp; StarRocks (and we) require it
        # (semantics §1.3): check the refusal, then run the example with the timestamp added.
        assert br.refused(hub.conn, sql) == "Missing backup_timestamp property"
        sql = f'{sql}\nPROPERTIES ("backup_timestamp" = "{ts}")'
    else:
        sql = DOC_TS.sub(lambda m: f'{m.group(1)}"{ts}"', sql)
    sel = select(sql, hub.contents[ex.label])
    db = target_db(sql)
    damage(hub, db, sel)
    if sel.tables and db in existing(hub, "SHOW DATABASES"):
        for target in sel.tables.values():
            if target in existing(hub, f"SHOW TABLES FROM `{db}`"):
                assert br.table_digest(hub.conn, db, target) != hub.source.get(target, ""), "damage had no effect"
    is_catalog = bool(sel.catalogs)
    br.restore(hub.conn, sql, ex.label, db=None if is_catalog else db)
    check_restored(hub, db, sel)


def test_cancel_restore_for_external_catalog_example(hub: Hub) -> None:
    """`CANCEL RESTORE FOR EXTERNAL CATALOG` after the catalog restores finished: refused, naming the job."""
    ts = ensure_backup(hub, "iceberg_backup")
    for c in ("iceberg_cancel",):
        if c in existing(hub, "SHOW CATALOGS"):
            br.run(hub.conn, f"DROP CATALOG {c}")
    br.restore(hub.conn, f"RESTORE SNAPSHOT iceberg_backup FROM test_repo EXTERNAL CATALOG (iceberg AS iceberg_cancel) "
                         f'PROPERTIES ("backup_timestamp" = "{ts}")', "iceberg_backup")
    (ex,) = [e for e in CANCELS if e.sql.upper().startswith("CANCEL RESTORE")]
    msg = br.refused(hub.conn, ex.sql)
    assert msg == "Failed to cancel job: Job with label iceberg_backup can not be cancelled. state: FINISHED"


def test_source_database_unchanged_by_backups(hub: Hub) -> None:
    """After all the examples, a final whole-database restore brings sr_hub back to the source exactly."""
    ts = ensure_backup(hub, "sr_hub_backup")
    br.restore(hub.conn, f'RESTORE SNAPSHOT sr_hub_backup FROM test_repo DATABASE sr_hub PROPERTIES ("backup_timestamp" = "{ts}")',
               "sr_hub_backup", db="sr_hub")
    for name in br.TABLES + br.VIEWS:
        assert br.table_digest(hub.conn, "sr_hub", name) == hub.source[name], name
