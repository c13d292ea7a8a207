"""Parse StarRocks table DDL (CREATE TABLE, ALTER TABLE ... PARTITION, TRUNCATE TABLE) into catalog specs.

sqlglot's starrocks dialect was tried first and rejected: it cannot parse aggregate types on columns
(`v BIGINT SUM`), refuses a RANGE partition list that mixes `PARTITION p VALUES ...` with
`START .. END .. EVERY`, and keeps no source positions for StarRocks-like error messages. So the whole
statement family is parsed here with a small lark LALR grammar.

Semantics follow StarRocks 3.x (CreateTableAnalyzer, MultiRangePartitionDesc):

* No key clause: if some column has an aggregate type the table is AGGREGATE KEY over the leading
  non-aggregated columns; otherwise DUPLICATE KEY over StarRocks' short-key prefix (at most 3 leading
  columns, at most 36 bytes of index size, a VARCHAR ends the prefix, FLOAT/DOUBLE/JSON are never keys).
* No DISTRIBUTED BY: RANDOM for DUPLICATE KEY tables (3.1+), HASH over the key columns otherwise; in
  both cases buckets = 0, meaning "let the catalog pick".
* `START (..) END (..) EVERY (..)` is expanded into one PartitionSpec per step, named as StarRocks names
  them: p<yyyyMMdd> (DAY), p<yyyyMMddHH> (HOUR), p<yyyy>_<ww> (WEEK), p<yyyyMM> (MONTH), p<yyyy> (YEAR),
  p<lower> for integer steps.
* Expression partitioning (`PARTITION BY date_trunc('day', dt)`, `PARTITION BY dt`,
  `PARTITION BY (c1, c2)`) has no partition list: it becomes RANGE on the referenced column(s) with NO
  initial partitions. The partitioning function itself is not kept (the catalog model has no slot for it).

Syntax errors raise DdlSyntaxError with StarRocks' "Getting syntax error at line L, column C. Detail
message: ..." text (column counted from 0, as ANTLR does). Statements that parse but that StarRocks'
analyzer would refuse (bad key columns, bad EVERY ranges, ...) raise events.errors.CatalogError, which the
SQL front already turns into a MySQL error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lark.exceptions import UnexpectedInput, VisitError

from events.catalog import PartitionSpec, TableSpec
from events.errors import CatalogError
from events.model import Column
from sqlfront.parse import grammar
from sqlfront.parse.errors import StatementSyntaxError
from sqlfront.parse.partitions import expand_every
from sqlfront.parse.table_tree import ColumnDraft, Distribution, Every, Partitioning, RangeItem, ToPython
from sqlfront.parse.table_types import index_size, normalize_type, type_base

__all__ = [
    "AlterTable",
    "DdlSyntaxError",
    "expand_every",
    "normalize_type",
    "parse_alter_table",
    "parse_create_table",
    "parse_truncate",
]

DdlSyntaxError = StatementSyntaxError  # a statement the parser cannot read; `message` is StarRocks' full text


@dataclass
class AlterTable:
    db: str | None
    table: str
    action: str  # ADD_PARTITIONS | DROP_PARTITION
    partitions: list[PartitionSpec] = field(default_factory=list)  # ADD_PARTITIONS
    partition_name: str | None = None  # DROP_PARTITION
    if_exists: bool = False  # DROP PARTITION IF EXISTS
    if_not_exists: bool = False  # ADD PARTITION IF NOT EXISTS
    force: bool = False  # DROP PARTITION ... FORCE


# ---------------------------------------------------------------- grammar (table.lark)

_START = ["create_table", "alter_table", "truncate_table"]


def _parse(sql: str, start: str) -> Any:
    lark = grammar.parser("table", start=_START)
    try:
        tree = lark.parse(sql, start=start)
        return ToPython().transform(tree)
    except UnexpectedInput as err:
        raise grammar.syntax_error(lark, sql, err) from None
    except VisitError as err:
        # The transformer raises our own errors (bad type names, ...); lark wraps them.
        if isinstance(err.orig_exc, DdlSyntaxError | CatalogError):
            raise err.orig_exc from None
        raise


# ---------------------------------------------------------------- CREATE TABLE


def parse_create_table(sql: str) -> tuple[str | None, TableSpec, bool]:
    """`CREATE TABLE [IF NOT EXISTS] [db.]t (...) ...` -> (db or None, spec, if_not_exists)."""
    parsed: dict[str, Any] = _parse(sql, "create_table")
    table: str = parsed["table"]
    drafts: list[ColumnDraft] = parsed["columns"]
    by_lower = {d.name.lower(): d for d in drafts}
    if len(by_lower) != len(drafts):
        dup = next(d.name for d in drafts if sum(o.name.lower() == d.name.lower() for o in drafts) > 1)
        raise CatalogError(f"Duplicate column name '{dup}'", 1060)

    def resolve(names: list[str], what: str) -> list[str]:
        """Column references take the column's declared spelling (StarRocks is case-insensitive here)."""
        out = []
        for n in names:
            draft = by_lower.get(n.lower())
            if draft is None:
                raise CatalogError(f"{what} column '{n}' does not exist in table {table}")
            out.append(draft.name)
        return out

    properties: dict[str, str] = parsed.get("properties", {})
    keys_type, key_columns = _key_columns(parsed.get("keys"), drafts, resolve)
    columns = _finish_columns(drafts, keys_type, key_columns)

    partition_type, partition_columns, partitions = "UNPARTITIONED", [], []
    partitioning: Partitioning | None = parsed.get("partitioning")
    if partitioning is not None:
        partition_columns = resolve(partitioning.columns, "Partition")
        partition_type = "LIST" if partitioning.kind == "LIST" else "RANGE"
        first_type = by_lower[partition_columns[0].lower()].type
        partitions = _partition_specs(partitioning, first_type, properties)

    dist: Distribution | None = parsed.get("distribution")
    if dist is None:
        distribution = "RANDOM" if keys_type == "DUP_KEYS" else "HASH"
        distribution_columns = [] if distribution == "RANDOM" else list(key_columns)
        buckets = 0
    else:
        distribution, buckets = dist.kind, dist.buckets
        distribution_columns = resolve(dist.columns, "Distribution")

    spec = TableSpec(
        name=table,
        columns=columns,
        keys_type=keys_type,
        key_columns=key_columns,
        partition_type=partition_type,
        partition_columns=partition_columns,
        partitions=partitions,
        distribution=distribution,
        distribution_columns=distribution_columns,
        buckets=buckets,
        properties=properties,
        comment=parsed.get("comment", ""),
    )
    return parsed["db"], spec, bool(parsed.get("if_not_exists", False))


def _key_columns(
    keys: tuple[str, list[str]] | None, drafts: list[ColumnDraft], resolve: Any
) -> tuple[str, list[str]]:
    if keys is not None:
        keys_type, names = keys[0], resolve(keys[1], "Key")
        for i, key in enumerate(names):
            if i >= len(drafts) or drafts[i].name != key:
                actual = drafts[i].name if i < len(drafts) else "<none>"
                raise CatalogError(
                    "Key columns should be a ordered prefix of the schema. "
                    f"KeyColumns[{i}] (starts from zero) is {key}, but corresponding column is {actual} "
                    "in the previous columns declaration."
                )
        return keys_type, names
    if any(d.aggregation for d in drafts):
        leading: list[str] = []
        for d in drafts:
            if d.aggregation:
                break
            leading.append(d.name)
        return "AGG_KEYS", leading
    return "DUP_KEYS", _default_short_key(drafts)


def _default_short_key(drafts: list[ColumnDraft]) -> list[str]:
    """StarRocks' default DUPLICATE KEY: the short-key prefix (CreateTableAnalyzer)."""
    keys: list[str] = []
    key_length = 0
    for d in drafts:
        base = type_base(d.type)
        key_length += index_size(d.type)
        if len(keys) >= 3 or key_length > 36:
            if not keys and base in ("CHAR", "VARCHAR"):
                keys.append(d.name)
            break
        if base in ("FLOAT", "DOUBLE", "JSON"):
            break
        keys.append(d.name)
        if base == "VARCHAR":
            break
    if not keys:
        raise CatalogError(
            "The olap table first column could not be float, double, string or array, struct, map, "
            "please use decimal or varchar instead."
        )
    return keys


def _finish_columns(drafts: list[ColumnDraft], keys_type: str, key_columns: list[str]) -> list[Column]:
    keys = set(key_columns)
    columns = []
    for d in drafts:
        is_key = d.name in keys
        if d.aggregation and is_key:
            raise CatalogError(f"Key column[{d.name}] should not specify aggregate type.")
        if keys_type == "AGG_KEYS" and not is_key and not d.aggregation:
            raise CatalogError(f"AGG_KEYS table should specify aggregate type for non-key column[{d.name}]")
        if keys_type != "AGG_KEYS" and d.aggregation:
            raise CatalogError(
                f"{keys_type} table should not specify aggregate type for non-key column[{d.name}]"
            )
        nullable = d.nullable
        if keys_type == "PRIMARY_KEYS" and is_key and nullable:
            raise CatalogError(f"primary key column[{d.name}] cannot be nullable")
        if nullable is None:
            # UNIQUE and PRIMARY key columns identify rows, so they default to NOT NULL.
            nullable = not (is_key and keys_type in ("UNIQUE_KEYS", "PRIMARY_KEYS"))
        columns.append(
            Column(
                name=d.name,
                type=d.type,
                is_key=is_key,
                aggregation=d.aggregation,
                nullable=nullable,
                default=d.default,
                comment=d.comment,
            )
        )
    return columns


def _partition_specs(
    partitioning: Partitioning, first_type: str, properties: dict[str, str]
) -> list[PartitionSpec]:
    specs: list[PartitionSpec] = []
    width = len(partitioning.columns)
    for item in partitioning.items:
        if isinstance(item, Every):
            if width != 1:
                raise CatalogError("Batch build partition only support single range column.")
            specs.extend(expand_every(item.start, item.end, item.step, item.unit, first_type, properties))
        elif isinstance(item, RangeItem):
            for bound in (item.lower, item.upper):
                if bound is not None and len(bound) > width:
                    raise CatalogError(
                        f"Partition values number is more than partition column number: {item.name}"
                    )
            specs.append(PartitionSpec(name=item.name, lower=item.lower, upper=item.upper))
        else:
            specs.append(PartitionSpec(name=item.name, values=item.values))
    return specs


# ---------------------------------------------------------------- ALTER / TRUNCATE


def parse_alter_table(
    sql: str,
    partition_column_types: list[str] | None = None,
    table_properties: dict[str, str] | None = None,
) -> AlterTable:
    """ALTER TABLE [db.]t ADD PARTITION ... | ADD PARTITIONS START .. END .. EVERY .. | DROP PARTITION ...

    `partition_column_types` (the table's partition column types) makes START/END/EVERY expansion exact
    (DATE vs DATETIME bound text, integer vs date steps); without it the kind is guessed from the text.
    `table_properties` supplies dynamic_partition.start_day_of_week/start_day_of_month/prefix.
    """
    parsed: dict[str, Any] = _parse(sql, "alter_table")
    alter = AlterTable(db=parsed["db"], table=parsed["table"], action=parsed["action"])
    if parsed["action"] == "DROP_PARTITION":
        alter.partition_name = parsed["name"]
        alter.if_exists = parsed["if_exists"]
        alter.force = parsed["force"]
        return alter
    if "every" in parsed:
        every: Every = parsed["every"]
        first_type = partition_column_types[0] if partition_column_types else None
        specs = expand_every(every.start, every.end, every.step, every.unit, first_type, table_properties)
        if parsed["buckets"]:
            specs = [
                PartitionSpec(name=s.name, lower=s.lower, upper=s.upper, buckets=parsed["buckets"])
                for s in specs
            ]
        alter.partitions = specs
    else:
        alter.partitions = parsed["specs"]
        alter.if_not_exists = parsed["if_not_exists"]
    return alter


def parse_truncate(sql: str) -> tuple[str | None, str, list[str] | None]:
    """TRUNCATE TABLE [db.]t [PARTITION (p1, p2) | PARTITION p1] -> (db, table, partitions or None)."""
    result: tuple[str | None, str, list[str] | None] = _parse(sql, "truncate_table")
    return result
