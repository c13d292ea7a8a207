"""SHOW CREATE text for views and materialized views, and the SHOW rows about them (StarRocks 3.x forms)."""

from __future__ import annotations

from typing import Any

from events.model import Index, Table
from events.model import Table as TableModel
from events.plain import load
from sqlfront.show_create import quote_ident

_UNITS = (("WEEK", 604800), ("DAY", 86400), ("HOUR", 3600), ("MINUTE", 60), ("SECOND", 1))


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def render_create_view(table: Table) -> str:
    """`CREATE VIEW `v` (`a` COMMENT "c", `b`) COMMENT "..." AS <query>;`"""
    comments = {c.name: c.comment for c in table.columns}
    names = table.view_columns or [c.name for c in table.columns]
    cols = []
    for n in names:
        comment = comments.get(n) or ""
        cols.append(quote_ident(n) + (f' COMMENT "{_esc(comment)}"' if comment else ""))
    text = f"CREATE VIEW {quote_ident(table.name)}"
    if cols:
        text += " (" + ", ".join(cols) + ")"
    if table.comment:
        text += f'\nCOMMENT "{_esc(table.comment)}"'
    return text + f"\nAS {(table.view_sql or '').strip()};"


def every_text(seconds: int) -> str:
    for unit, size in _UNITS:
        if seconds % size == 0:
            return f"INTERVAL {seconds // size} {unit}"
    return f"INTERVAL {seconds} SECOND"


def refresh_text(table: Table) -> str:
    mv = table.mv
    assert mv is not None
    if mv.refresh == "MANUAL":
        return "REFRESH MANUAL"
    text = "REFRESH ASYNC"
    if mv.refresh_start:
        text += f' START("{mv.refresh_start}")'
    if mv.refresh_interval_s:
        text += f" EVERY({every_text(mv.refresh_interval_s)})"
    return text


def render_create_mv(table: Table) -> str:
    """SHOW CREATE MATERIALIZED VIEW text of an asynchronous MV."""
    mv = table.mv
    assert mv is not None
    text = f"CREATE MATERIALIZED VIEW {quote_ident(table.name)} ("
    text += ", ".join(quote_ident(c.name) for c in table.columns) + ")"
    if table.comment:
        text += f'\nCOMMENT "{_esc(table.comment)}"'
    if mv.partition_by:
        text += f"\nPARTITION BY {mv.partition_by}"
    if table.distribution == "HASH":
        text += f"\nDISTRIBUTED BY HASH({', '.join(quote_ident(c) for c in table.distribution_columns)})"
    else:
        text += "\nDISTRIBUTED BY RANDOM"
    text += f" BUCKETS {table.buckets}"
    text += "\n" + refresh_text(table)
    if table.properties:
        props = ",\n".join(f'"{_esc(k)}" = "{_esc(v)}"' for k, v in sorted(table.properties.items()))
        text += f"\nPROPERTIES (\n{props}\n)"
    return text + f"\nAS {mv.definition.strip()};"


def render_create_sync_mv(index: Index) -> str:
    return f"CREATE MATERIALIZED VIEW {quote_ident(index.name)} AS {(index.definition or '').strip()};"


MV_COLUMNS = [
    "id", "database_name", "name", "refresh_type", "is_active", "inactive_reason", "partition_type", "task_id",
    "task_name", "last_refresh_start_time", "last_refresh_finished_time", "last_refresh_duration",
    "last_refresh_state", "last_refresh_force_refresh", "last_refresh_start_partition",
    "last_refresh_end_partition", "last_refresh_base_refresh_partitions", "last_refresh_mv_refresh_partitions",
    "last_refresh_error_code", "last_refresh_error_message", "rows", "text",
]


def mv_row(db: str, item: dict[str, Any], fmt_time: Any) -> tuple[Any, ...]:
    """One SHOW MATERIALIZED VIEWS row (StarRocks 3.x column order)."""
    if item["sync"]:
        index = load(Index, item["index"])
        return (str(item["id"]), db, item["name"], "ROLLUP", "true", "", "UNPARTITIONED", "", "", None, None, "0.000",
                "", "false", "", "", "{}", "[]", "0", "", str(item["rows"]), render_create_sync_mv(index))
    table = load(TableModel, item["table"])
    mv = table.mv
    assert mv is not None
    start, end = mv.last_refresh_start_ns, mv.last_refresh_time_ns
    finished = end if mv.last_refresh_state in ("SUCCESS", "FAILED") else 0
    duration = f"{(finished - start) / 1e9:.3f}" if finished and start and finished >= start else "0.000"
    failed = mv.last_refresh_state == "FAILED"
    return (
        str(table.id), db, table.name, mv.refresh, "true" if mv.is_active else "false", mv.inactive_reason,
        "UNPARTITIONED", str(table.id), f"mv-{table.id}", fmt_time(start), fmt_time(finished), duration,
        mv.last_refresh_state, "false", "", "", "{}", "[]", "-1" if failed else "0", mv.last_refresh_error,
        str(item["rows"]), render_create_mv(table),
    )
