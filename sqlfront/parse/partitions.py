"""START (..) END (..) EVERY (..): one PartitionSpec per step, named as StarRocks names them."""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta

from events.catalog import PartitionSpec
from events.errors import CatalogError
from sqlfront.parse.table_types import INTEGER_TYPES, type_base

# StarRocks' Config.max_partitions_in_one_batch default.
MAX_PARTITIONS_IN_ONE_BATCH = 4096

_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y%m%d%H%M%S", "%Y%m%d")


def parse_datetime(text: str) -> datetime:
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
    base = type_base(column_type) if column_type else None
    if base is None:
        is_date = unit is not None
        base = ("DATETIME" if ":" in start else "DATE") if is_date else "BIGINT"
    if base in ("DATE", "DATETIME"):
        return _expand_dates(start, end, step, unit, base == "DATETIME", properties)
    if base in INTEGER_TYPES:
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


def small_int_property(properties: dict[str, str], key: str) -> int:
    value = properties.get(key, "1").strip()
    if not re.fullmatch(r"[+-]?[0-9]{1,9}", value):
        raise CatalogError(f"Invalid properties: {key}")
    return int(value)


def _expand_dates(
    start: str, end: str, step: int, unit: str | None, is_datetime: bool, properties: dict[str, str]
) -> list[PartitionSpec]:
    try:
        begin, stop = parse_datetime(start), parse_datetime(end)
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
    day_of_week = small_int_property(properties, "dynamic_partition.start_day_of_week")  # 1 = Monday, as Java
    day_of_month = small_int_property(properties, "dynamic_partition.start_day_of_month")
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
