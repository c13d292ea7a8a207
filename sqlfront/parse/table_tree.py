"""The table grammar's tree to Python values: each clause of CREATE/ALTER/TRUNCATE TABLE as a (tag, value)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lark import Token, Transformer

from events.catalog import PartitionSpec
from events.errors import CatalogError
from sqlfront.parse.errors import error_at
from sqlfront.parse.lexical import unquote_string
from sqlfront.parse.table_types import normalize_type, unquote_token

MAX_BUCKETS_PER_PARTITION = 1024  # StarRocks' max_bucket_number_per_partition (FE config, default 1024)


@dataclass
class ColumnDraft:
    name: str
    type: str
    nullable: bool | None = None  # None: not written
    aggregation: str | None = None
    default: str | None = None
    comment: str = ""


@dataclass
class Every:
    start: str
    end: str
    step: int
    unit: str | None  # None: integer step


@dataclass
class RangeItem:
    name: str
    lower: list[str] | None
    upper: list[str] | None
    if_not_exists: bool = False


@dataclass
class ListItem:
    name: str
    values: list[list[str]]
    if_not_exists: bool = False


@dataclass
class Partitioning:
    kind: str  # RANGE | LIST | EXPR
    columns: list[str]
    items: list[Any] = field(default_factory=list)  # RangeItem | Every | ListItem


@dataclass
class Distribution:
    kind: str  # HASH | RANDOM
    columns: list[str]
    buckets: int  # 0: not written (or AUTO)


@dataclass
class TableRef:
    db: str | None
    name: str


MAXVALUE = object()  # MAXVALUE inside a bound tuple


class ToPython(Transformer[Token, Any]):
    """Bottom-up conversion; each clause of a statement comes back as a (tag, value) pair."""

    # --- small pieces
    def name(self, children: list[Token]) -> str:
        return unquote_token(children[0])

    def name_list(self, children: list[str]) -> list[str]:
        return list(children)

    def table_name(self, children: list[str]) -> TableRef:
        return TableRef(children[0], children[1]) if len(children) == 2 else TableRef(None, children[0])

    def string(self, children: list[Token]) -> str:
        return unquote_string(str(children[0]))

    def literal(self, children: list[Any]) -> str:
        return str(children[0])

    def if_not_exists(self, _children: list[Any]) -> tuple[str, bool]:
        return ("if_not_exists", True)

    def if_exists(self, _children: list[Any]) -> tuple[str, bool]:
        return ("if_exists", True)

    def prop(self, children: list[str]) -> tuple[str, str]:
        return (children[0].lower(), children[1])

    def properties(self, children: list[tuple[str, str]]) -> tuple[str, dict[str, str]]:
        return ("properties", dict(children))

    def partition_props(self, children: list[tuple[str, str]]) -> tuple[str, dict[str, str]]:
        return ("partition_props", dict(children))

    # --- columns
    def type_args(self, children: list[Token]) -> list[Token]:
        return list(children)

    def data_type(self, children: list[Any]) -> str:
        type_token: Token = children[0]
        args: list[int] = []
        for arg in children[1] if len(children) > 1 else []:
            if not re.fullmatch(r"\d+", str(arg)):
                raise error_at(arg, f"Unexpected input '{arg}', the most similar input is {{a number}}")
            args.append(int(str(arg)))
        try:
            return normalize_type(str(type_token), args)
        except ValueError as err:
            if str(err).startswith("unknown type"):
                raise error_at(
                    type_token, f"Unexpected input '{type_token}', the most similar input is {{a legal type}}"
                ) from None
            raise CatalogError(str(err)) from None

    def nullability(self, children: list[Token]) -> tuple[str, bool]:
        return ("nullable", len(children) == 1)

    def agg_type(self, children: list[Token]) -> tuple[str, str]:
        return ("aggregation", str(children[0]).upper())

    def default_value(self, children: list[Any]) -> tuple[str, str | None]:
        value = children[0]
        if isinstance(value, Token):
            if value.type == "NULL":
                return ("default", None)
            if value.type in ("CURRENT_TIMESTAMP", "NOW"):
                return ("default", "CURRENT_TIMESTAMP")
        return ("default", str(value))

    def column_comment(self, children: list[str]) -> tuple[str, str]:
        return ("comment", children[0])

    def column_def(self, children: list[Any]) -> ColumnDraft:
        draft = ColumnDraft(name=children[0], type=children[1])
        seen: set[str] = set()
        for tag, value in children[2:]:
            if tag in seen:
                raise CatalogError(f"Duplicate {tag} for column {draft.name}")
            seen.add(tag)
            setattr(draft, tag, value)
        return draft

    # --- table clauses
    def engine(self, children: list[Token]) -> tuple[str, str]:
        engine = str(children[0]).upper()
        if engine != "OLAP":
            raise CatalogError(f"Unknown engine name: {children[0]}")
        return ("engine", engine)

    def key_desc(self, children: list[Any]) -> tuple[str, tuple[str, list[str]]]:
        keys_type = {
            "DUPLICATE": "DUP_KEYS",
            "AGGREGATE": "AGG_KEYS",
            "UNIQUE": "UNIQUE_KEYS",
            "PRIMARY": "PRIMARY_KEYS",
        }
        return ("keys", (keys_type[str(children[0]).upper()], children[1]))

    def table_comment(self, children: list[str]) -> tuple[str, str]:
        return ("comment", children[0])

    def order_by(self, children: list[list[str]]) -> tuple[str, list[str]]:
        return ("order_by", children[0])

    # --- partitions
    def bound_tuple(self, children: list[Any]) -> list[Any]:
        return [MAXVALUE if isinstance(c, Token) and c.type == "MAXVALUE" else c for c in children]

    def less_than(self, children: list[Any]) -> tuple[None, list[str] | None]:
        value = children[0]
        if isinstance(value, Token):  # LESS THAN MAXVALUE
            return (None, None)
        return (None, upper_bound(value))

    def fixed_range(self, children: list[list[Any]]) -> tuple[list[str], list[str] | None]:
        lower, upper = children
        if any(v is MAXVALUE for v in lower):
            raise CatalogError("MAXVALUE is not allowed in a lower bound")
        return (lower, upper_bound(upper))

    def range_bound(self, children: list[Any]) -> tuple[list[str] | None, list[str] | None]:
        return children[0]  # type: ignore[no-any-return]

    def single_range(self, children: list[Any]) -> RangeItem:
        if_not_exists = bool(
            children and isinstance(children[0], tuple) and children[0][0] == "if_not_exists"
        )
        rest = children[1:] if if_not_exists else children
        lower, upper = rest[1]
        return RangeItem(name=rest[0], lower=lower, upper=upper, if_not_exists=if_not_exists)

    def every(self, children: list[Token]) -> tuple[int, str | None]:
        if len(children) == 3:  # INTERVAL n UNIT
            return (positive_int(children[1]), str(children[2]).upper())
        return (positive_int(children[0]), None)

    def multi_range(self, children: list[Any]) -> Every:
        step, unit = children[2]
        return Every(start=children[0], end=children[1], step=step, unit=unit)

    def range_partition(self, children: list[Any]) -> Partitioning:
        return Partitioning("RANGE", children[0], list(children[1:]))

    def single_values(self, children: list[str]) -> list[list[str]]:
        return [[v] for v in children]

    def multi_values(self, children: list[list[str]]) -> list[list[str]]:
        return list(children)

    def literal_tuple(self, children: list[str]) -> list[str]:
        return list(children)

    def list_item(self, children: list[Any]) -> ListItem:
        if_not_exists = bool(
            children and isinstance(children[0], tuple) and children[0][0] == "if_not_exists"
        )
        rest = children[1:] if if_not_exists else children
        return ListItem(name=rest[0], values=rest[1], if_not_exists=if_not_exists)

    def list_partition(self, children: list[Any]) -> Partitioning:
        columns = children[0]
        items: list[ListItem] = list(children[1:])
        for item in items:
            for value in item.values:
                if len(value) != len(columns):
                    raise CatalogError(
                        f"Partition column size {len(columns)} is not equal to the values size {len(value)} "
                        f"in partition {item.name}"
                    )
        return Partitioning("LIST", columns, items)

    # Only bare column references matter in a partition expression: they are the partition columns.
    def func_column(self, children: list[str]) -> tuple[str, str]:
        return ("column", children[0])

    def func_literal(self, _children: list[Any]) -> tuple[str, str]:
        return ("other", "")

    def func_interval(self, _children: list[Any]) -> tuple[str, str]:
        return ("other", "")

    def func_call(self, children: list[Any]) -> list[str]:
        function = str(children[0]).lower()
        if function not in ("date_trunc", "time_slice", "str2date", "from_unixtime", "substr", "substring"):
            raise CatalogError(f"Unsupported partition expression function: {children[0]}")
        columns = [value for tag, value in children[1:] if tag == "column"]
        if len(columns) != 1:
            raise CatalogError(f"Partition expression {children[0]}(...) must reference exactly one column")
        return columns

    def expr_partition(self, children: list[Any]) -> Partitioning:
        value = children[0]
        columns = value if isinstance(value, list) else [value]
        return Partitioning("EXPR", columns)

    def partition_desc(self, children: list[Partitioning]) -> tuple[str, Partitioning]:
        return ("partitioning", children[0])

    # --- distribution
    def hash_dist(self, children: list[list[str]]) -> tuple[str, list[str]]:
        return ("HASH", children[0])

    def random_dist(self, _children: list[Any]) -> tuple[str, list[str]]:
        return ("RANDOM", [])

    def buckets(self, children: list[Token]) -> int:
        if children[0].type == "AUTO":
            return 0
        n = positive_int(children[0])
        if n > MAX_BUCKETS_PER_PARTITION:
            raise CatalogError(f"The number of buckets is too large, the maximum is {MAX_BUCKETS_PER_PARTITION}. "
                               "Please reduce the number of buckets or increase frontend config "
                               "max_bucket_number_per_partition.", 5510)
        return n

    def distribution_desc(self, children: list[Any]) -> tuple[str, Distribution]:
        kind, columns = children[0]
        buckets = children[1] if len(children) > 1 else 0
        return ("distribution", Distribution(kind, columns, buckets))

    # --- statements
    def create_table(self, children: list[Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"columns": []}
        for child in children:
            if isinstance(child, ColumnDraft):
                out["columns"].append(child)
            elif isinstance(child, TableRef):
                out["db"], out["table"] = child.db, child.name
            else:
                tag, value = child
                out[tag] = value
        return out

    def add_partition(self, children: list[Any]) -> dict[str, Any]:
        if_not_exists = bool(isinstance(children[0], tuple) and children[0][0] == "if_not_exists")
        rest = children[1:] if if_not_exists else children
        name, bound = rest[0], rest[1]
        buckets: int | None = None
        for extra in rest[2:]:
            if isinstance(extra, tuple) and extra[0] == "distribution":
                buckets = extra[1].buckets or None
        if isinstance(bound, tuple):  # range_bound -> (lower, upper)
            spec = PartitionSpec(name=name, lower=bound[0], upper=bound[1], buckets=buckets)
        else:
            spec = PartitionSpec(name=name, values=bound, buckets=buckets)
        return {"action": "ADD_PARTITIONS", "specs": [spec], "if_not_exists": if_not_exists}

    def add_partitions(self, children: list[Any]) -> dict[str, Any]:
        buckets: int | None = None
        if len(children) > 1:
            buckets = children[1][1].buckets or None
        return {"action": "ADD_PARTITIONS", "every": children[0], "buckets": buckets}

    def drop_partition(self, children: list[Any]) -> dict[str, Any]:
        if_exists = bool(isinstance(children[0], tuple) and children[0][0] == "if_exists")
        rest = children[1:] if if_exists else children
        return {"action": "DROP_PARTITION", "name": rest[0], "if_exists": if_exists, "force": len(rest) > 1}

    def alter_table(self, children: list[Any]) -> dict[str, Any]:
        ref, clause = children[0], children[1]
        return {"db": ref.db, "table": ref.name, **clause}

    def truncate_partitions(self, children: list[Any]) -> list[str]:
        value = children[0]
        return list(value) if isinstance(value, list) else [value]

    def truncate_table(self, children: list[Any]) -> tuple[str | None, str, list[str] | None]:
        ref = children[0]
        return (ref.db, ref.name, children[1] if len(children) > 1 else None)


def positive_int(token: Token) -> int:
    text = str(token)
    if not re.fullmatch(r"\+?\d{1,18}", text) or int(text) <= 0:
        raise CatalogError(f"Invalid number: {text}, it should be a positive integer")
    return int(text)


def upper_bound(values: list[Any]) -> list[str] | None:
    """An upper bound tuple; all-MAXVALUE is None (the model's MAXVALUE)."""
    if all(v is MAXVALUE for v in values):
        return None
    if any(v is MAXVALUE for v in values):
        # The model keeps MAXVALUE only as a whole upper bound; a partial one has no representation.
        raise CatalogError("MAXVALUE is only supported as the whole upper bound of a partition")
    return [str(v) for v in values]
