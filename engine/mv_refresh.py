"""Recomputing an asynchronous materialized view: the work REFRESH MATERIALIZED VIEW and the timed
refresher (actors/mv_refresher.py) share.

The frontend hands out new, empty tablets for the MV (`mv_refresh_start`); the MV's query runs in the
caller's DuckDB, its rows are routed into those tablets through the load path, and one command swaps them
in (`mv_refresh_finish`) or records the failure (`mv_refresh_failed`). Written files of a refresh that is
not published are removed.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from engine.load import remove_rowsets, routed_sql, write_routed
from engine.query import QueryEngine, parse, to_duckdb
from events.commands import MvRefreshFailed, MvRefreshFinish, MvRefreshStart
from events.errors import CatalogError


def parse_start(text: str) -> int:
    """An MV's `START('yyyy-MM-dd HH:mm:ss')` as nanoseconds since the epoch (local time)."""
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return int(datetime.strptime(text, fmt).timestamp() * 1e9)
        except ValueError:
            continue
    raise CatalogError(f"Invalid START time '{text}': expected 'yyyy-MM-dd HH:mm:ss'")


def refresh_mv(cluster: Any, engine: QueryEngine, db: str, name: str) -> str:
    """Recompute an async MV into new tablets and swap them in with one event. Returns the refresh state."""
    plan = cluster.cmd(MvRefreshStart(db=db, name=name))
    layout = plan["layout"]
    written = _compute(cluster, engine, plan, db, name)
    partitions = _new_partitions(plan, written)
    try:
        result = cluster.cmd(MvRefreshFinish(db=db, name=name, table_id=plan["table_id"],
                                             start_ns=plan["start_ns"], partitions=partitions))
    except BaseException:
        remove_rowsets(layout, {i: list(r.values()) for i, r in written.items()})
        raise
    if result != "SUCCESS":
        remove_rowsets(layout, {i: list(r.values()) for i, r in written.items()})
    return str(result)


def _compute(cluster: Any, engine: QueryEngine, plan: dict[str, Any], db: str, name: str) -> dict[int, dict[int, Any]]:
    """Run the MV's query into its new tablets; a failure is recorded with the MV and raised."""
    layout = plan["layout"]
    base = str(layout["table"]["base_index_id"])
    file = f"{uuid.uuid4().hex}.parquet"
    try:
        tree = parse(plan["definition"])
        engine.prepare(tree, db)
        engine.use_schema(db)  # the session schema makes the db's UDFs resolvable
        source = to_duckdb(tree, db)
        width = len(layout["table"]["columns"])
        return write_routed(engine.con, layout, routed_sql(layout, source, width, None), int(base), file)
    except Exception as e:
        message = e.message if isinstance(e, CatalogError) else f"{type(e).__name__}: {e}"
        cluster.cmd(MvRefreshFailed(db=db, name=name, table_id=plan["table_id"], start_ns=plan["start_ns"],
                                    error=message))
        raise CatalogError(f"Refresh materialized view {name} failed: {message}") from None


def _new_partitions(plan: dict[str, Any], written: dict[int, dict[int, Any]]) -> list[dict[str, Any]]:
    """The new tablets of every partition, each with the rowset the refresh wrote into it (if any)."""
    partitions = []
    for i, p in enumerate(plan["layout"]["partitions"]):
        rowsets = written.get(i, {})
        tablets = []
        for t in plan["new_tablets"][str(p["id"])]:
            r = rowsets.get(t["id"])
            extra = [{"version": 0, "file": r["file"], "rows": r["rows"], "size": r["size"], "md5": r["md5"],
                      "xxh3": r["xxh3"]}] if r else []
            tablets.append({**t, "rowsets": extra})
        partitions.append({"partition_id": p["id"], "tablets": tablets})
    return partitions
