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

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from lark import Token, Transformer
from lark.exceptions import UnexpectedInput, VisitError

from events.catalog import PartitionSpec, TableSpec
from events.errors import CatalogError
from events.model import Column
from sqlfront.parse import grammar
from sqlfront.parse.errors import StatementSyntaxError, syntax_error_text
from sqlfront.parse.lexical import unquote_string

__all__ = [
    "AlterTable",
    "DdlSyntaxError",
    "expand_every",
    "normalize_type",
    "parse_alter_table",
    "parse_create_table",
    "parse_truncate",
]

# StarRocks' Config.max_partitions_in_one_batch default.
MAX_PARTITIONS_IN_ONE_BATCH = 4096
MAX_BUCKETS_PER_PARTITION = 1024  # StarRocks' max_bucket_number_per_partition (FE config, default 1024)


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


def _error_at(token: Token, detail: str) -> DdlSyntaxError:
    return DdlSyntaxError(syntax_error_text(token.line or 1, (token.column or 1) - 1, detail))


def _parse(sql: str, start: str) -> Any:
    lark = grammar.parser("table", start=_START)
    try:
        tree = lark.parse(sql, start=start)
        return _ToPython().transform(tree)
    except UnexpectedInput as err:
        raise grammar.syntax_error(lark, sql, err) from None
    except VisitError as err:
        # The transformer raises our own errors (bad type names, ...); lark wraps them.
        if isinstance(err.orig_exc, DdlSyntaxError | CatalogError):
            raise err.orig_exc from None
        raise


# ---------------------------------------------------------------- literals and types


def _unquote_ident(token: Token) -> str:
    text = str(token)
    if token.type == "QUOTED_IDENT":
        return text[1:-1].replace("``", "`")
    return text


_INTEGER_TYPES = ("TINYINT", "SMALLINT", "INT", "BIGINT", "LARGEINT")
_SIMPLE_TYPES = {
    "TINYINT": "TINYINT",
    "SMALLINT": "SMALLINT",
    "INT": "INT",
    "INTEGER": "INT",
    "BIGINT": "BIGINT",
    "LARGEINT": "LARGEINT",
    "FLOAT": "FLOAT",
    "DOUBLE": "DOUBLE",
    "BOOLEAN": "BOOLEAN",
    "BOOL": "BOOLEAN",
    "DATE": "DATE",
    "DATETIME": "DATETIME",
    "JSON": "JSON",
}
# Decimal spellings -> maximum precision (and default precision when none is written).
_DECIMALS = {"DECIMAL": 38, "DECIMALV3": 38, "NUMERIC": 38, "DECIMAL32": 9, "DECIMAL64": 18, "DECIMAL128": 38}


def normalize_type(type_name: str, args: list[int] | None = None) -> str:
    """StarRocks type text, upper case, as the catalog stores it; ValueError when unknown or malformed.

    Integer display widths (`int(11)`, as SHOW CREATE TABLE prints them) are accepted and dropped.
    DECIMALV3/DECIMAL32/64/128 all become DECIMAL(p,s): StarRocks 3.x shows them all as decimal(p, s).
    """
    base = type_name.upper()
    args = list(args or [])
    if base in _SIMPLE_TYPES:
        canonical = _SIMPLE_TYPES[base]
        if args and (canonical not in _INTEGER_TYPES or len(args) > 1):
            raise ValueError(f"type {base} takes no length")
        return canonical
    if base in _DECIMALS:
        max_precision = _DECIMALS[base]
        default_precision = 10 if base in ("DECIMAL", "NUMERIC") else max_precision
        precision = args[0] if args else default_precision
        scale = args[1] if len(args) > 1 else 0
        if not 1 <= precision <= max_precision:
            raise ValueError(
                f"Precision of {base} must between 1 and {max_precision}, precision was set to: {precision}."
            )
        if not 0 <= scale <= precision:
            raise ValueError(f"Scale of decimal must between 0 and precision. Scale was set to: {scale}.")
        return f"DECIMAL({precision},{scale})"
    if base in ("CHAR", "VARCHAR"):
        if len(args) > 1:
            raise ValueError(f"type {base} takes one length")
        length = args[0] if args else 1
        limit = 255 if base == "CHAR" else 1048576
        if not 1 <= length <= limit:
            raise ValueError(f"{base} size must be between 1 and {limit}")
        return f"{base}({length})"
    if base in ("STRING", "TEXT"):
        if args:
            raise ValueError(f"type {base} takes no length")
        return "VARCHAR(65533)"
    raise ValueError(f"unknown type {type_name}")


def _type_base(type_text: str) -> str:
    return type_text.split("(")[0].upper()


def _index_size(type_text: str) -> int:
    """Bytes a column adds to StarRocks' short key (PrimitiveType.getOlapColumnIndexSize)."""
    base = _type_base(type_text)
    if base == "CHAR":
        return int(type_text[type_text.index("(") + 1 : -1])
    if base == "DECIMAL":
        precision = int(type_text[type_text.index("(") + 1 : type_text.index(",")])
        return 4 if precision <= 9 else 8 if precision <= 18 else 16
    sizes = {
        "TINYINT": 1, "SMALLINT": 2, "INT": 4, "BIGINT": 8, "LARGEINT": 16, "FLOAT": 4, "DOUBLE": 8,
        "BOOLEAN": 1, "DATE": 3, "DATETIME": 8, "VARCHAR": 20,
    }  # fmt: skip
    return sizes.get(base, 16)


# ---------------------------------------------------------------- tree -> python


@dataclass
class _ColumnDraft:
    name: str
    type: str
    nullable: bool | None = None  # None: not written
    aggregation: str | None = None
    default: str | None = None
    comment: str = ""


@dataclass
class _Every:
    start: str
    end: str
    step: int
    unit: str | None  # None: integer step


@dataclass
class _RangeItem:
    name: str
    lower: list[str] | None
    upper: list[str] | None
    if_not_exists: bool = False


@dataclass
class _ListItem:
    name: str
    values: list[list[str]]
    if_not_exists: bool = False


@dataclass
class _Partitioning:
    kind: str  # RANGE | LIST | EXPR
    columns: list[str]
    items: list[Any] = field(default_factory=list)  # _RangeItem | _Every | _ListItem


@dataclass
class _Distribution:
    kind: str  # HASH | RANDOM
    columns: list[str]
    buckets: int  # 0: not written (or AUTO)


@dataclass
class _TableRef:
    db: str | None
    name: str


_MAX = object()  # MAXVALUE inside a bound tuple


class _ToPython(Transformer[Token, Any]):
    """Bottom-up conversion; each clause of a statement comes back as a (tag, value) pair."""

    # --- small pieces
    def name(self, children: list[Token]) -> str:
        return _unquote_ident(children[0])

    def name_list(self, children: list[str]) -> list[str]:
        return list(children)

    def table_name(self, children: list[str]) -> _TableRef:
        return _TableRef(children[0], children[1]) if len(children) == 2 else _TableRef(None, children[0])

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
                raise _error_at(arg, f"Unexpected input '{arg}', the most similar input is {{a number}}")
            args.append(int(str(arg)))
        try:
            return normalize_type(str(type_token), args)
        except ValueError as err:
            if str(err).startswith("unknown type"):
                raise _error_at(
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

    def column_def(self, children: list[Any]) -> _ColumnDraft:
        draft = _ColumnDraft(name=children[0], type=children[1])
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
        return [_MAX if isinstance(c, Token) and c.type == "MAXVALUE" else c for c in children]

    def less_than(self, children: list[Any]) -> tuple[None, list[str] | None]:
        value = children[0]
        if isinstance(value, Token):  # LESS THAN MAXVALUE
            return (None, None)
        return (None, _upper_bound(value))

    def fixed_range(self, children: list[list[Any]]) -> tuple[list[str], list[str] | None]:
        lower, upper = children
        if any(v is _MAX for v in lower):
            raise CatalogError("MAXVALUE is not allowed in a lower bound")
        return (lower, _upper_bound(upper))

    def range_bound(self, children: list[Any]) -> tuple[list[str] | None, list[str] | None]:
        return children[0]  # type: ignore[no-any-return]

    def single_range(self, children: list[Any]) -> _RangeItem:
        if_not_exists = bool(
            children and isinstance(children[0], tuple) and children[0][0] == "if_not_exists"
        )
        rest = children[1:] if if_not_exists else children
        lower, upper = rest[1]
        return _RangeItem(name=rest[0], lower=lower, upper=upper, if_not_exists=if_not_exists)

    def every(self, children: list[Token]) -> tuple[int, str | None]:
        if len(children) == 3:  # INTERVAL n UNIT
            return (_positive_int(children[1]), str(children[2]).upper())
        return (_positive_int(children[0]), None)

    def multi_range(self, children: list[Any]) -> _Every:
        step, unit = children[2]
        return _Every(start=children[0], end=children[1], step=step, unit=unit)

    def range_partition(self, children: list[Any]) -> _Partitioning:
        return _Partitioning("RANGE", children[0], list(children[1:]))

    def single_values(self, children: list[str]) -> list[list[str]]:
        return [[v] for v in children]

    def multi_values(self, children: list[list[str]]) -> list[list[str]]:
        return list(children)

    def literal_tuple(self, children: list[str]) -> list[str]:
        return list(children)

    def list_item(self, children: list[Any]) -> _ListItem:
        if_not_exists = bool(
            children and isinstance(children[0], tuple) and children[0][0] == "if_not_exists"
        )
        rest = children[1:] if if_not_exists else children
        return _ListItem(name=rest[0], values=rest[1], if_not_exists=if_not_exists)

    def list_partition(self, children: list[Any]) -> _Partitioning:
        columns = children[0]
        items: list[_ListItem] = list(children[1:])
        for item in items:
            for value in item.values:
                if len(value) != len(columns):
                    raise CatalogError(
                        f"Partition column size {len(columns)} is not equal to the values size {len(value)} "
                        f"in partition {item.name}"
                    )
        return _Partitioning("LIST", columns, items)

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

    def expr_partition(self, children: list[Any]) -> _Partitioning:
        value = children[0]
        columns = value if isinstance(value, list) else [value]
        return _Partitioning("EXPR", columns)

    def partition_desc(self, children: list[_Partitioning]) -> tuple[str, _Partitioning]:
        return ("partitioning", children[0])

    # --- distribution
    def hash_dist(self, children: list[list[str]]) -> tuple[str, list[str]]:
        return ("HASH", children[0])

    def random_dist(self, _children: list[Any]) -> tuple[str, list[str]]:
        return ("RANDOM", [])

    def buckets(self, children: list[Token]) -> int:
        if children[0].type == "AUTO":
            return 0
        n = _positive_int(children[0])
        if n > MAX_BUCKETS_PER_PARTITION:
            raise CatalogError(f"The number of buckets is too large, the maximum is {MAX_BUCKETS_PER_PARTITION}. "
                               "Please reduce the number of buckets or increase frontend config "
                               "max_bucket_number_per_partition.", 5510)
        return n

    def distribution_desc(self, children: list[Any]) -> tuple[str, _Distribution]:
        kind, columns = children[0]
        buckets = children[1] if len(children) > 1 else 0
        return ("distribution", _Distribution(kind, columns, buckets))

    # --- statements
    def create_table(self, children: list[Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"columns": []}
        for child in children:
            if isinstance(child, _ColumnDraft):
                out["columns"].append(child)
            elif isinstance(child, _TableRef):
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


def _positive_int(token: Token) -> int:
    text = str(token)
    if not re.fullmatch(r"\+?\d{1,18}", text) or int(text) <= 0:
        raise CatalogError(f"Invalid number: {text}, it should be a positive integer")
    return int(text)


def _upper_bound(values: list[Any]) -> list[str] | None:
    """An upper bound tuple; all-MAXVALUE is None (the model's MAXVALUE)."""
    if all(v is _MAX for v in values):
        return None
    if any(v is _MAX for v in values):
        # The model keeps MAXVALUE only as a whole upper bound; a partial one has no representation.
        raise CatalogError("MAXVALUE is only supported as the whole upper bound of a partition")
    return [str(v) for v in values]


# ---------------------------------------------------------------- START / END / EVERY


_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y%m%d%H%M%S", "%Y%m%d")


def _parse_datetime(text: str) -> datetime:
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
    raise ValueError(text)


def _add_months(moment: datetime, months: int) -> datetime:
    """Java's LocalDateTime.plusMonths: the day is clamped to the target month's length."""
    total = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(total, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def _java_week_of_year(day: date) -> int:
    """java.util.Calendar WEEK_OF_YEAR in the en_US locale (weeks start on Sunday, week 1 holds Jan 1),
    plus StarRocks' fix-up that turns a late-December "week 1" into week 53 of the old year."""

    def sunday_on_or_before(d: date) -> date:
        return d - timedelta(days=(d.weekday() + 1) % 7)

    if day >= sunday_on_or_before(date(day.year + 1, 1, 1)):
        week = 1
    else:
        week = (day - sunday_on_or_before(date(day.year, 1, 1))).days // 7 + 1
    if week <= 1 and day.month == 12:
        week += 52
    return week


def expand_every(
    start: str,
    end: str,
    step: int,
    unit: str | None,
    column_type: str | None = None,
    properties: dict[str, str] | None = None,
) -> list[PartitionSpec]:
    """Expand `START (start) END (end) EVERY ([INTERVAL] step [unit])` like StarRocks'
    MultiRangePartitionDesc.convertToSingle. `column_type` is the first partition column's type; when it
    is unknown (ALTER TABLE parsed without the schema) the kind is guessed from EVERY and the START text.
    """
    properties = properties or {}
    base = _type_base(column_type) if column_type else None
    if base is None:
        is_date = unit is not None
        base = ("DATETIME" if ":" in start else "DATE") if is_date else "BIGINT"
    if base in ("DATE", "DATETIME"):
        return _expand_dates(start, end, step, unit, base == "DATETIME", properties)
    if base in _INTEGER_TYPES:
        return _expand_numbers(start, end, step, unit)
    raise CatalogError(f"Unsupported batch partition build type:{column_type}.")


def _expand_numbers(start: str, end: str, step: int, unit: str | None) -> list[PartitionSpec]:
    if unit is not None:
        raise CatalogError("Batch build partition EVERY is date type but START or END does not type match.")
    try:
        begin, stop = int(start), int(end)
    except ValueError:
        raise CatalogError(
            "Batch build partition EVERY is number type but START or END does not type match."
        ) from None
    if begin >= stop:
        raise CatalogError("Batch build partition start value should less then end value.")
    specs: list[PartitionSpec] = []
    while begin < stop:
        specs.append(PartitionSpec(name=f"p{begin}", lower=[str(begin)], upper=[str(begin + step)]))
        begin += step
        if len(specs) > MAX_PARTITIONS_IN_ONE_BATCH:
            raise CatalogError(
                f"The number of batch partitions should not exceed:{MAX_PARTITIONS_IN_ONE_BATCH}"
            )
    return specs


def _small_int_property(properties: dict[str, str], key: str) -> int:
    value = properties.get(key, "1").strip()
    if not re.fullmatch(r"[+-]?[0-9]{1,9}", value):
        raise CatalogError(f"Invalid properties: {key}")
    return int(value)


def _expand_dates(
    start: str, end: str, step: int, unit: str | None, is_datetime: bool, properties: dict[str, str]
) -> list[PartitionSpec]:
    try:
        begin, stop = _parse_datetime(start), _parse_datetime(end)
    except ValueError:
        raise CatalogError(
            "Batch build partition EVERY is date type but START or END does not type match."
        ) from None
    if not begin < stop:
        raise CatalogError("Batch build partition start date should less than end date.")
    if unit is None:
        raise CatalogError("Unknown timeunit for batch build partition.")
    if unit not in ("HOUR", "DAY", "WEEK", "MONTH", "YEAR"):
        raise CatalogError(f"Batch build partition does not support time interval type: {unit}")
    day_of_week = _small_int_property(properties, "dynamic_partition.start_day_of_week")  # 1 = Monday, as Java
    day_of_month = _small_int_property(properties, "dynamic_partition.start_day_of_month")
    prefix = properties.get("dynamic_partition.prefix", "p")
    out_format = "%Y-%m-%d %H:%M:%S" if is_datetime else "%Y-%m-%d"

    specs: list[PartitionSpec] = []
    while begin < stop:
        lower = begin.strftime(out_format)
        # The name comes from the (possibly unaligned) begin; the next begin is aligned to the unit.
        if unit == "HOUR":
            name = prefix + begin.strftime("%Y%m%d%H")
            begin = begin.replace(minute=0, second=0, microsecond=0) + timedelta(hours=step)
        elif unit == "DAY":
            name = prefix + begin.strftime("%Y%m%d")
            begin = begin.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=step)
        elif unit == "WEEK":
            begin = begin - timedelta(days=(begin.weekday() + 1 - day_of_week) % 7)
            name = f"{prefix}{begin.year}_{_java_week_of_year(begin.date()):02d}"
            begin = begin + timedelta(weeks=step)
        elif unit == "MONTH":
            name = prefix + begin.strftime("%Y%m")
            begin = _add_months(begin.replace(day=day_of_month), step)
        else:  # YEAR
            name = prefix + begin.strftime("%Y")
            begin = begin.replace(month=1, day=1)
            begin = begin.replace(year=begin.year + step)
        # StarRocks clips every unit but DAY to END (a DAY step may overshoot it).
        if unit != "DAY" and begin > stop:
            begin = stop
        specs.append(PartitionSpec(name=name, lower=[lower], upper=[begin.strftime(out_format)]))
        if len(specs) > MAX_PARTITIONS_IN_ONE_BATCH:
            raise CatalogError(
                f"The number of batch partitions should not exceed:{MAX_PARTITIONS_IN_ONE_BATCH}"
            )
    return specs


# ---------------------------------------------------------------- CREATE TABLE


def parse_create_table(sql: str) -> tuple[str | None, TableSpec, bool]:
    """`CREATE TABLE [IF NOT EXISTS] [db.]t (...) ...` -> (db or None, spec, if_not_exists)."""
    parsed: dict[str, Any] = _parse(sql, "create_table")
    table: str = parsed["table"]
    drafts: list[_ColumnDraft] = parsed["columns"]
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
    partitioning: _Partitioning | None = parsed.get("partitioning")
    if partitioning is not None:
        partition_columns = resolve(partitioning.columns, "Partition")
        partition_type = "LIST" if partitioning.kind == "LIST" else "RANGE"
        first_type = by_lower[partition_columns[0].lower()].type
        partitions = _partition_specs(partitioning, first_type, properties)

    dist: _Distribution | None = parsed.get("distribution")
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
    keys: tuple[str, list[str]] | None, drafts: list[_ColumnDraft], resolve: Any
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


def _default_short_key(drafts: list[_ColumnDraft]) -> list[str]:
    """StarRocks' default DUPLICATE KEY: the short-key prefix (CreateTableAnalyzer)."""
    keys: list[str] = []
    key_length = 0
    for d in drafts:
        base = _type_base(d.type)
        key_length += _index_size(d.type)
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


def _finish_columns(drafts: list[_ColumnDraft], keys_type: str, key_columns: list[str]) -> list[Column]:
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
    partitioning: _Partitioning, first_type: str, properties: dict[str, str]
) -> list[PartitionSpec]:
    specs: list[PartitionSpec] = []
    width = len(partitioning.columns)
    for item in partitioning.items:
        if isinstance(item, _Every):
            if width != 1:
                raise CatalogError("Batch build partition only support single range column.")
            specs.extend(expand_every(item.start, item.end, item.step, item.unit, first_type, properties))
        elif isinstance(item, _RangeItem):
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
        every: _Every = parsed["every"]
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
