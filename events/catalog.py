"""The catalog's `decide` half: commands about databases, tables and partitions, checked against the state.

Each function takes the state and a command, raises CatalogError when StarRocks would refuse it, and
otherwise returns the events that carry the change. Nothing here reads a clock or touches a disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from events.errors import (
    ERR_DB_CREATE_EXISTS,
    ERR_TABLE_EXISTS,
    CatalogError,
    unknown_database,
    unknown_table,
)
from events.event import Event
from events.model import Column, Database, Index, Partition, Table
from events.placement import Ids, default_replication, new_tablets, replication_of
from events.plain import to_plain
from events.state import ENGINE_DEFAULTS, ClusterState


@dataclass(frozen=True)
class PartitionSpec:
    name: str
    lower: list[str] | None = None  # None: for RANGE, the previous partition's upper bound (LESS THAN form)
    upper: list[str] | None = None  # None: MAXVALUE
    values: list[list[str]] | None = None  # LIST partitions
    buckets: int | None = None


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: list[Column]
    keys_type: str = "DUP_KEYS"
    key_columns: list[str] = field(default_factory=list)
    partition_type: str = "UNPARTITIONED"
    partition_columns: list[str] = field(default_factory=list)
    partitions: list[PartitionSpec] = field(default_factory=list)
    distribution: str = "HASH"
    distribution_columns: list[str] = field(default_factory=list)
    buckets: int = 0  # 0: pick a default
    properties: dict[str, str] = field(default_factory=dict)
    comment: str = ""


def get_db(state: ClusterState, name: str | None) -> Database:
    if not name:
        raise CatalogError("No database selected", 1046)
    db = state.databases.get(name)
    if db is None:
        raise unknown_database(name)
    return db


def get_table(state: ClusterState, db_name: str | None, name: str) -> tuple[Database, Table]:
    db = get_db(state, db_name)
    table = db.tables.get(name)
    if table is None:
        raise unknown_table(name)
    return db, table


def check_writable(table: Table) -> None:
    """While a restore holds a table, loads and DDL on it are refused (reference: usage notes)."""
    if table.state != "NORMAL":
        raise CatalogError(
            f"Table {table.name} is in {table.state} state (restore job {table.restore_job} is running); "
            "loads and DDL are refused until the job ends"
        )


# ---------------------------------------------------------------- databases


def create_database(state: ClusterState, name: str, if_not_exists: bool) -> list[Event]:
    if name in state.databases:
        if if_not_exists:
            return []
        raise CatalogError(f"Can't create database '{name}'; database exists", ERR_DB_CREATE_EXISTS)
    ids = Ids(state)
    return [Event("database.created", {"id": ids.take(), "name": name, "next_id": ids.next})]


def drop_database(state: ClusterState, name: str, if_exists: bool) -> list[Event]:
    db = state.databases.get(name)
    if db is None:
        if if_exists:
            return []
        raise CatalogError(f"Can't drop database '{name}'; database doesn't exist", 1008)
    for table in db.tables.values():
        check_writable(table)
    return [Event("database.dropped", {"id": db.id})]


# ---------------------------------------------------------------- range bounds


def bound_key(column_types: list[str], bound: list[str] | None, is_upper: bool) -> tuple[Any, ...]:
    """A sortable key for a partition bound; None is MINVALUE for a lower bound and MAXVALUE for an upper."""
    if bound is None:
        return (1,) if is_upper else (-1,)
    parts: list[Any] = [0]
    for col_type, value in zip(column_types, bound, strict=False):
        base = col_type.split("(")[0].upper()
        if base in {"TINYINT", "SMALLINT", "INT", "INTEGER", "BIGINT", "LARGEINT", "DECIMAL", "DECIMALV3"}:
            try:
                parts.append(Decimal(value))
            except InvalidOperation:
                raise CatalogError(f"Invalid range value format: {value}") from None
        elif base in {"DATETIME", "DATE"}:
            parts.append(value if len(value) > 10 else value + " 00:00:00")
        else:
            parts.append(value)
    return tuple(parts)


def _partition_column_types(table: TableSpec | Table) -> list[str]:
    types = {c.name.lower(): c.type for c in table.columns}
    return [types[c.lower()] for c in table.partition_columns]


def resolve_range(
    types: list[str], existing: list[Partition], spec: PartitionSpec
) -> tuple[list[str] | None, list[str] | None]:
    """Turn a spec into [lower, upper) and refuse it if it overlaps an existing partition."""
    upper_key = bound_key(types, spec.upper, True)
    lower = spec.lower
    if lower is None and spec.values is None:
        # VALUES LESS THAN: the range starts at the largest existing upper bound below this one.
        below = [p.upper for p in existing if bound_key(types, p.upper, True) <= upper_key]
        lower = max(below, key=lambda b: bound_key(types, b, True)) if below else None
    lower_key = bound_key(types, lower, False)
    if lower is not None and lower_key[1:] >= upper_key[1:] and spec.upper is not None:
        raise CatalogError(f"Range is empty for partition {spec.name}: [{lower}, {spec.upper})")
    for p in existing:
        p_lower, p_upper = bound_key(types, p.lower, False), bound_key(types, p.upper, True)
        if _overlaps(lower_key, upper_key, p_lower, p_upper):
            raise CatalogError(
                f"Range {_fmt(lower)}-{_fmt(spec.upper)} is intersected with range "
                f"{_fmt(p.lower)}-{_fmt(p.upper)} of partition {p.name}"
            )
    return lower, spec.upper


def _cmp_key(key: tuple[Any, ...]) -> tuple[int, tuple[Any, ...]]:
    return (key[0], key[1:])


def _overlaps(a_lo: tuple[Any, ...], a_hi: tuple[Any, ...], b_lo: tuple[Any, ...], b_hi: tuple[Any, ...]) -> bool:
    return _cmp_key(a_lo) < _cmp_key(b_hi) and _cmp_key(b_lo) < _cmp_key(a_hi)


def _fmt(bound: list[str] | None) -> str:
    return "MAXVALUE" if bound is None else "[" + ", ".join(bound) + "]"


# ---------------------------------------------------------------- tables


def _check_columns(spec: TableSpec) -> None:
    names = [c.name.lower() for c in spec.columns]
    if not names:
        raise CatalogError("Table should contain at least one column")
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise CatalogError(f"Duplicate column name '{dup}'", 1060)
    for col_list, what in (
        (spec.key_columns, "Key"),
        (spec.partition_columns, "Partition"),
        (spec.distribution_columns, "Distribution"),
    ):
        for c in col_list:
            if c.lower() not in names:
                raise CatalogError(f"{what} column '{c}' does not exist in table {spec.name}")


def build_partitions(
    state: ClusterState,
    ids: Ids,
    table: Table,
    specs: list[PartitionSpec],
    replication_num: int,
    existing: list[Partition] | None = None,
) -> tuple[list[Partition], list[dict[str, Any]]]:
    existing = list(existing or [])
    types = _partition_column_types(table) if table.partition_type != "UNPARTITIONED" else []
    names = {p.name.lower() for p in existing}
    made: list[Partition] = []
    tablets: list[dict[str, Any]] = []
    for spec in specs:
        if spec.name.lower() in names:
            raise CatalogError(f"Duplicate partition name {spec.name}", 1517)
        names.add(spec.name.lower())
        lower = upper = None
        if table.partition_type == "RANGE":
            lower, upper = resolve_range(types, existing + made, spec)
        elif table.partition_type == "LIST":
            _check_list_values(existing + made, spec)
        buckets = spec.buckets or table.buckets
        pid = ids.take()
        by_index, plain = new_tablets(state, ids, sorted(table.indexes), buckets, replication_num)
        made.append(
            Partition(
                id=pid,
                name=spec.name,
                lower=lower,
                upper=upper,
                values=spec.values,
                replication_num=replication_num,
                buckets=buckets,
                tablets=by_index,
            )
        )
        tablets.extend(plain)
    return made, tablets


def _check_list_values(existing: list[Partition], spec: PartitionSpec) -> None:
    taken = {tuple(v) for p in existing for v in (p.values or [])}
    for v in spec.values or []:
        if tuple(v) in taken:
            raise CatalogError(f"Duplicate values ({', '.join(v)}) in partition {spec.name}")


def create_table(state: ClusterState, db_name: str | None, spec: TableSpec, if_not_exists: bool) -> list[Event]:
    db = get_db(state, db_name)
    if spec.name in db.tables:
        if if_not_exists:
            return []
        raise CatalogError(f"Table '{spec.name}' already exists", ERR_TABLE_EXISTS)
    _check_columns(spec)
    replication_num = replication_of(state, spec.properties)
    ids = Ids(state)
    table_id = ids.take()
    base_index = Index(id=ids.take(), name=spec.name, columns=[c.name for c in spec.columns], keys_type=spec.keys_type)
    buckets = spec.buckets or (1 if spec.distribution == "RANDOM" else 3)
    properties = dict(spec.properties)
    properties["replication_num"] = str(replication_num)
    properties.pop("default.replication_num", None)
    table = Table(
        id=table_id,
        name=spec.name,
        kind="OLAP",
        columns=list(spec.columns),
        keys_type=spec.keys_type,
        key_columns=list(spec.key_columns),
        partition_type=spec.partition_type,
        partition_columns=list(spec.partition_columns),
        distribution=spec.distribution,
        distribution_columns=list(spec.distribution_columns),
        buckets=buckets,
        properties=properties,
        base_index_id=base_index.id,
        indexes={base_index.id: base_index},
        comment=spec.comment,
    )
    specs = spec.partitions
    if table.partition_type == "UNPARTITIONED":
        # An unpartitioned table has one partition named after the table, as in StarRocks.
        specs = [PartitionSpec(name=spec.name)]
    partitions, tablets = build_partitions(state, ids, table, specs, replication_num)
    table.partitions = {p.name: p for p in partitions}
    return [
        Event(
            "table.created",
            {"db_id": db.id, "table": to_plain(table), "tablets": tablets, "next_id": ids.next},
        )
    ]


def drop_table(state: ClusterState, db_name: str | None, name: str, if_exists: bool, kind: str = "OLAP") -> list[Event]:
    db = get_db(state, db_name)
    table = db.tables.get(name)
    if table is None or (kind != "ANY" and table.kind != kind and not (kind == "OLAP" and table.kind == "OLAP")):
        if if_exists:
            return []
        raise unknown_table(name)
    check_writable(table)
    events = [Event("table.dropped", {"db_id": db.id, "table_id": table.id})]
    events.extend(deactivate_dependent_mvs(state, db.name, name, f"base-table dropped: {name}"))
    return events


def deactivate_dependent_mvs(state: ClusterState, db_name: str, table_name: str, reason: str) -> list[Event]:
    events = []
    for db in state.databases.values():
        for t in db.tables.values():
            if t.mv and t.mv.is_active and [db_name, table_name] in t.mv.base_tables:
                events.append(
                    Event(
                        "mv.state_changed",
                        {"db_id": db.id, "table_id": t.id, "is_active": False, "reason": reason},
                    )
                )
    return events


def add_partitions(
    state: ClusterState, db_name: str | None, table_name: str, specs: list[PartitionSpec], if_not_exists: bool = False
) -> list[Event]:
    db, table = get_table(state, db_name, table_name)
    check_writable(table)
    if table.partition_type == "UNPARTITIONED":
        raise CatalogError(f"Table[{table_name}] is not a partitioned table, can not add partition")
    if if_not_exists:
        specs = [s for s in specs if s.name not in table.partitions]
    ids = Ids(state)
    replication_num = int(table.properties.get("replication_num", default_replication(state)))
    partitions, tablets = build_partitions(
        state, ids, table, specs, replication_num, existing=list(table.partitions.values())
    )
    events = []
    for p in partitions:
        mine = [t for t in tablets if any(t["id"] in ts for ts in p.tablets.values())]
        events.append(
            Event(
                "partition.added",
                {"db_id": db.id, "table_id": table.id, "partition": to_plain(p), "tablets": mine, "next_id": ids.next},
            )
        )
    return events


def drop_partition(
    state: ClusterState, db_name: str | None, table_name: str, partition_name: str, if_exists: bool
) -> list[Event]:
    db, table = get_table(state, db_name, table_name)
    check_writable(table)
    partition = table.partitions.get(partition_name)
    if partition is None:
        if if_exists:
            return []
        raise CatalogError(f"Error in list of partitions to {partition_name}")
    if table.partition_type == "UNPARTITIONED":
        raise CatalogError("Cannot drop the only partition of an unpartitioned table")
    return [Event("partition.dropped", {"db_id": db.id, "table_id": table.id, "partition_id": partition.id})]


def truncate(
    state: ClusterState, db_name: str | None, table_name: str, partition_names: list[str] | None
) -> list[Event]:
    db, table = get_table(state, db_name, table_name)
    check_writable(table)
    if partition_names:
        missing = [p for p in partition_names if p not in table.partitions]
        if missing:
            raise CatalogError(f"Partition {missing[0]} does not exist")
        targets = [table.partitions[p] for p in partition_names]
    else:
        targets = list(table.partitions.values())
    ids = Ids(state)
    events = []
    for p in targets:
        by_index, plain = new_tablets(state, ids, sorted(p.tablets), p.buckets, p.replication_num)
        events.append(
            Event(
                "partition.truncated",
                {
                    "db_id": db.id,
                    "table_id": table.id,
                    "partition_id": p.id,
                    "index_tablets": {str(k): v for k, v in by_index.items()},
                    "tablets": plain,
                    "next_id": ids.next,
                },
            )
        )
    return events


def set_config(state: ClusterState, key: str, value: str) -> list[Event]:
    if key not in state.config and key not in ENGINE_DEFAULTS:
        raise CatalogError(f"Config '{key}' does not exist or is not mutable")
    try:
        int(value)
    except ValueError:
        raise CatalogError(f"Invalid value '{value}' for config '{key}': an integer is expected") from None
    return [Event("config.set", {"key": key, "value": value})]
