"""Databases, tables, partitions and the SHOW statements about them."""

from __future__ import annotations

import re
from typing import Any

from events.commands import (
    AddPartitions,
    CreateDatabase,
    CreateTable,
    DropDatabase,
    DropPartition,
    DropTable,
    Truncate,
)
from events.errors import CatalogError
from events.model import Table
from events.plain import load, to_plain
from events.queries import Backends, Databases, TableLayout, Tables
from sqlfront.handler_base import HandlerSession, Result, need_db, ok
from sqlfront.parse import ast_catalog as C
from sqlfront.show_create import render_create_table
from sqlfront.show_objects import render_create_mv, render_create_view


def create_database(s: HandlerSession, st: C.CreateDatabase) -> Result:
    s.cluster.cmd(CreateDatabase(name=st.name, if_not_exists=st.if_not_exists))
    return ok()


def drop_database(s: HandlerSession, st: C.DropDatabase) -> Result:
    name = st.name
    s.cluster.cmd(DropDatabase(name=name, if_exists=st.if_exists))
    if s.database == name:
        s.database = None
    return ok()


def show_databases(s: HandlerSession, st: C.ShowDatabases) -> Result:
    names = ["information_schema", *s.cluster.read(Databases())]
    return [(n,) for n in names], ["Database"]


def show_tables(s: HandlerSession, st: C.ShowTables) -> Result:
    db = need_db(s, st.db)
    tables = s.cluster.read(Tables(db=db))
    like = st.like
    if like is not None:
        rx = re.compile("^" + re.escape(like).replace("%", ".*").replace("_", ".") + "$", re.I)
        tables = [t for t in tables if rx.match(t["name"])]
    if st.full:
        kinds = {"OLAP": "BASE TABLE", "VIEW": "VIEW", "MATERIALIZED_VIEW": "VIEW"}
        return [(t["name"], kinds.get(t["kind"], "BASE TABLE")) for t in tables], [f"Tables_in_{db}", "Table_type"]
    return [(t["name"],) for t in tables], [f"Tables_in_{db}"]


def create_table(s: HandlerSession, st: C.CreateTable) -> Result:
    db, spec, if_not_exists = st.db, st.spec, st.if_not_exists
    s.cluster.cmd(CreateTable(db=db or s.db, spec=to_plain(spec), if_not_exists=if_not_exists))
    return ok()


def drop_table(s: HandlerSession, st: C.DropTable) -> Result:
    s.cluster.cmd(DropTable(db=need_db(s, st.db), name=st.name, if_exists=st.if_exists))
    return ok()


def alter_table(s: HandlerSession, st: C.AlterTablePartitions) -> Result:
    alter = st.alter
    db = alter.db or s.db
    if alter.action == "ADD_PARTITIONS":
        s.cluster.cmd(AddPartitions(db=db, table=alter.table, partitions=to_plain(alter.partitions),
                                    if_not_exists=alter.if_not_exists))
    elif alter.action == "DROP_PARTITION":
        assert alter.partition_name is not None  # the table grammar requires the name
        s.cluster.cmd(DropPartition(db=db, table=alter.table, partition=alter.partition_name,
                                    if_exists=alter.if_exists))
    else:
        raise CatalogError(f"ALTER TABLE {alter.action} is not supported")
    return ok()


def truncate(s: HandlerSession, st: C.Truncate) -> Result:
    db, table, partitions = st.db, st.table, st.partitions
    s.cluster.cmd(Truncate(db=db or s.db, table=table, partitions=partitions))
    return ok()


def show_create_table(s: HandlerSession, st: C.ShowCreateTable) -> Result:
    layout = s.cluster.read(TableLayout(db=need_db(s, st.db), table=st.name))
    table = load(Table, layout["table"])
    if table.kind == "VIEW":
        return [(table.name, render_create_view(table), "utf8", "utf8_general_ci")], [
            "View", "Create View", "character_set_client", "collation_connection"]
    if table.kind == "MATERIALIZED_VIEW":
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


def show_partitions(s: HandlerSession, st: C.ShowPartitions) -> Result:
    layout = s.cluster.read(TableLayout(db=need_db(s, st.db), table=st.name))
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


def show_tablets(s: HandlerSession, st: C.ShowTablets) -> Result:
    layout = s.cluster.read(TableLayout(db=need_db(s, st.db), table=st.name))
    table = layout["table"]
    only = st.partition
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


def show_backends(s: HandlerSession, st: C.ShowBackends) -> Result:
    rows = []
    for b in s.cluster.read(Backends()):
        rows.append((b["id"], b["host"], b["port"], b["port"] + 10, "true", "false", b["tablets"], b["dir"]))
    return rows, ["BackendId", "IP", "HeartbeatPort", "BePort", "Alive", "SystemDecommissioned", "TabletNum",
                  "RootPath"]


def use(s: HandlerSession, st: C.Use) -> Result:
    name = st.name
    if name.lower() != "information_schema":
        s.cluster.require_database(name)
    s.database = name
    return ok()


def describe(s: HandlerSession, st: C.Describe) -> Result:
    layout = s.cluster.read(TableLayout(db=need_db(s, st.db), table=st.name))
    table = layout["table"]
    rows = []
    for c in table["columns"]:
        extra = c.get("aggregation") or ""
        rows.append((c["name"], c["type"], "YES" if c.get("nullable", True) else "NO",
                     "true" if c.get("is_key") else "false", c.get("default"), extra))
    return rows, ["Field", "Type", "Null", "Key", "Default", "Extra"]
