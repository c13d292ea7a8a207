"""Databases, tables, partitions and the SHOW statements about them."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from events.errors import CatalogError
from events.plain import load, to_plain
from sqlfront.session import Result, StarSession, statement

IDENT = r"`[^`]+`|[A-Za-z0-9_$]+"
QNAME = rf"(?:(?P<db>{IDENT})\s*\.\s*)?(?P<name>{IDENT})"


def unquote(name: str | None) -> str | None:
    if name is None:
        return None
    name = name.strip()
    return name[1:-1].replace("``", "`") if name.startswith("`") else name


def target_db(s: StarSession, m: re.Match[str]) -> str:
    db = unquote(m.group("db")) or s.db
    if not db:
        raise CatalogError("No database selected", 1046)
    return db


def fmt_time(ns: int | None) -> str | None:
    if not ns or ns < 0:
        return None
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def ok(affected: int = 0) -> Result:
    return [], []


@statement(rf"create\s+(database|schema)\s+(?P<ine>if\s+not\s+exists\s+)?(?P<name>{IDENT})\s*$")
def _create_db(s: StarSession, sql: str, m: re.Match[str]) -> Result:
    s.cluster.cmd("create_database", name=unquote(m.group("name")), if_not_exists=bool(m.group("ine")))
    return ok()


@statement(rf"drop\s+(database|schema)\s+(?P<ie>if\s+exists\s+)?(?P<name>{IDENT})(\s+force)?\s*$")
def _drop_db(s: StarSession, sql: str, m: re.Match[str]) -> Result:
    name = unquote(m.group("name"))
    s.cluster.cmd("drop_database", name=name, if_exists=bool(m.group("ie")))
    if s.database == name:
        s.database = None
    return ok()


@statement(r"show\s+(databases|schemas)\s*$")
def _show_dbs(s: StarSession, sql: str, m: re.Match[str]) -> Result:
    names = ["information_schema", *s.cluster.read("databases")]
    return [(n,) for n in names], ["Database"]


@statement(rf"show\s+(full\s+)?tables(\s+(from|in)\s+(?P<db>{IDENT}))?\s*(like\s+'(?P<like>[^']*)')?\s*$")
def _show_tables(s: StarSession, sql: str, m: re.Match[str]) -> Result:
    db = unquote(m.group("db")) or s.db
    if not db:
        raise CatalogError("No database selected", 1046)
    tables = s.cluster.read("tables", db=db)
    like = m.group("like")
    if like is not None:
        rx = re.compile("^" + re.escape(like).replace("%", ".*").replace("_", ".") + "$", re.I)
        tables = [t for t in tables if rx.match(t["name"])]
    if m.group(1):
        kinds = {"OLAP": "BASE TABLE", "VIEW": "VIEW", "MATERIALIZED_VIEW": "VIEW"}
        return [(t["name"], kinds.get(t["kind"], "BASE TABLE")) for t in tables], [f"Tables_in_{db}", "Table_type"]
    return [(t["name"],) for t in tables], [f"Tables_in_{db}"]


@statement(r"create\s+(external\s+)?table\b")
def _create_table(s: StarSession, sql: str, m: re.Match[str]) -> Result:
    from sqlfront.parse.table import DdlSyntaxError, parse_create_table

    try:
        db, spec, if_not_exists = parse_create_table(sql)
    except DdlSyntaxError as e:
        raise CatalogError(str(e), 1064) from None
    s.cluster.cmd("create_table", db=db or s.db, spec=to_plain(spec), if_not_exists=if_not_exists)
    return ok()


@statement(rf"drop\s+table\s+(?P<ie>if\s+exists\s+)?{QNAME}(\s+force)?\s*$")
def _drop_table(s: StarSession, sql: str, m: re.Match[str]) -> Result:
    s.cluster.cmd("drop_table", db=target_db(s, m), name=unquote(m.group("name")), if_exists=bool(m.group("ie")))
    return ok()


@statement(r"alter\s+table\b")
def _alter_table(s: StarSession, sql: str, m: re.Match[str]) -> Result:
    from sqlfront.parse.table import DdlSyntaxError, parse_alter_table

    try:
        alter = parse_alter_table(sql)
    except DdlSyntaxError as e:
        raise CatalogError(str(e), 1064) from None
    db = alter.db or s.db
    if alter.action == "ADD_PARTITIONS":
        s.cluster.cmd("add_partitions", db=db, table=alter.table, partitions=to_plain(alter.partitions),
                      if_not_exists=alter.if_not_exists)
    elif alter.action == "DROP_PARTITION":
        s.cluster.cmd("drop_partition", db=db, table=alter.table, partition=alter.partition_name,
                      if_exists=alter.if_exists)
    else:
        raise CatalogError(f"ALTER TABLE {alter.action} is not supported")
    return ok()


@statement(r"truncate\s+(table\s+)?")
def _truncate(s: StarSession, sql: str, m: re.Match[str]) -> Result:
    from sqlfront.parse.table import DdlSyntaxError, parse_truncate

    try:
        db, table, partitions = parse_truncate(sql)
    except DdlSyntaxError as e:
        raise CatalogError(str(e), 1064) from None
    s.cluster.cmd("truncate", db=db or s.db, table=table, partitions=partitions)
    return ok()


@statement(rf"show\s+create\s+table\s+{QNAME}\s*$")
def _show_create_table(s: StarSession, sql: str, m: re.Match[str]) -> Result:
    from events.model import Table
    from sqlfront.show_create import render_create_table

    layout = s.cluster.read("table", db=target_db(s, m), table=unquote(m.group("name")))
    table = load(Table, layout["table"])
    if table.kind == "VIEW":
        from sqlfront.show_objects import render_create_view

        return [(table.name, render_create_view(table), "utf8", "utf8_general_ci")], [
            "View", "Create View", "character_set_client", "collation_connection"]
    if table.kind == "MATERIALIZED_VIEW":
        from sqlfront.show_objects import render_create_mv

        return [(table.name, render_create_mv(table))], ["Materialized View", "Create Materialized View"]
    return [(table.name, render_create_table(table))], ["Table", "Create Table"]


def _range_text(p: dict[str, Any], table: dict[str, Any]) -> str:
    types = {c["name"].lower(): c["type"] for c in table["columns"]}
    col_types = [types[c.lower()] for c in table["partition_columns"]]
    if table["partition_type"] == "LIST":
        return str(p["values"])

    def key(bound: list[str] | None, upper: bool) -> str:
        if bound is None:
            vals = ["MAXVALUE" if upper else _min_value(t) for t in col_types]
        else:
            vals = bound
        return "[" + ", ".join(f"types: [{t.split('(')[0]}]; keys: [{v}]; " for t, v in zip(col_types, vals, strict=False)) + "]"

    return f"[{key(p['lower'], False)}..{key(p['upper'], True)})"


def _min_value(sr_type: str) -> str:
    base = sr_type.split("(")[0].upper()
    return {"DATE": "0000-01-01", "DATETIME": "0000-01-01 00:00:00", "INT": "-2147483648",
            "BIGINT": "-9223372036854775808", "TINYINT": "-128", "SMALLINT": "-32768"}.get(base, "MIN")


@statement(rf"show\s+(temporary\s+)?partitions\s+(from|in)\s+{QNAME}\s*$")
def _show_partitions(s: StarSession, sql: str, m: re.Match[str]) -> Result:
    layout = s.cluster.read("table", db=target_db(s, m), table=unquote(m.group("name")))
    table = layout["table"]
    rows = []
    for p in layout["partitions"]:
        base = p["tablets"].get(str(table["base_index_id"]), [])
        size = sum(t["bytes"] for t in base)
        row_count = sum(t["rows"] for t in base)
        rows.append((
            p["id"], p["name"], p["visible_version"], None, 0, "NORMAL",
            ", ".join(table["partition_columns"]),
            _range_text(p, table) if table["partition_type"] != "UNPARTITIONED" else "",
            ", ".join(table["distribution_columns"]) if table["distribution"] == "HASH" else "ALL KEY",
            p["buckets"], p["replication_num"], "HDD", "9999-12-31 23:59:59", None,
            _human_size(size), "false", row_count,
        ))
    cols = ["PartitionId", "PartitionName", "VisibleVersion", "VisibleVersionTime", "VisibleVersionHash", "State",
            "PartitionKey", "Range", "DistributionKey", "Buckets", "ReplicationNum", "StorageMedium",
            "CooldownTime", "LastConsistencyCheckTime", "DataSize", "IsInMemory", "RowCount"]
    return rows, cols


def _human_size(n: int) -> str:
    if n < 1024:
        return f"{n}B"
    for unit in ("KB", "MB", "GB", "TB"):
        n_f = n / 1024
        if n_f < 1024 or unit == "TB":
            return f"{n_f:.3f}{unit}"
        n = int(n_f)
    return f"{n}B"


@statement(rf"show\s+tablets?\s+from\s+{QNAME}(\s+partition\s*\(?\s*(?P<part>{IDENT})\s*\)?)?\s*$")
def _show_tablet(s: StarSession, sql: str, m: re.Match[str]) -> Result:
    layout = s.cluster.read("table", db=target_db(s, m), table=unquote(m.group("name")))
    table = layout["table"]
    only = unquote(m.group("part"))
    rows = []
    for p in layout["partitions"]:
        if only and p["name"] != only:
            continue
        for index_id, tablets in p["tablets"].items():
            index = table["indexes"].get(index_id) or table["indexes"].get(int(index_id))
            index_name = index["name"]
            for t in tablets:
                size, count = t["bytes"], t["rows"]
                for replica_no, be in enumerate(t["backends"]):
                    rows.append((t["id"], t["id"] * 10 + replica_no, be, 0, p["visible_version"], size, count,
                                 "NORMAL", p["name"], index_name, len(t["files"]), t["dirs"][replica_no]))
    cols = ["TabletId", "ReplicaId", "BackendId", "SchemaHash", "Version", "DataSize", "RowCount", "State",
            "PartitionName", "IndexName", "VersionCount", "PathHash"]
    return rows, cols


@statement(r"show\s+(backends|proc\s+'/backends')\s*$")
def _show_backends(s: StarSession, sql: str, m: re.Match[str]) -> Result:
    rows = []
    for b in s.cluster.read("backends"):
        rows.append((b["id"], b["host"], b["port"], b["port"] + 10, "true", "false", b["tablets"], b["dir"]))
    return rows, ["BackendId", "IP", "HeartbeatPort", "BePort", "Alive", "SystemDecommissioned", "TabletNum",
                  "RootPath"]


@statement(rf"use\s+(?P<name>{IDENT})\s*$")
def _use(s: StarSession, sql: str, m: re.Match[str]) -> Result:
    name = unquote(m.group("name"))
    assert name is not None
    if name.lower() != "information_schema":
        s.cluster.require_database(name)
    s.database = name
    return ok()


@statement(rf"(desc|describe|show\s+(full\s+)?columns\s+(from|in))\s+{QNAME}\s*$")
def _describe(s: StarSession, sql: str, m: re.Match[str]) -> Result:
    layout = s.cluster.read("table", db=target_db(s, m), table=unquote(m.group("name")))
    table = layout["table"]
    rows = []
    for c in table["columns"]:
        extra = c.get("aggregation") or ""
        rows.append((c["name"], c["type"], "YES" if c.get("nullable", True) else "NO",
                     "true" if c.get("is_key") else "false", c.get("default"), extra))
    return rows, ["Field", "Type", "Null", "Key", "Default", "Extra"]
