"""INSERT: route rows to partitions and buckets, write one rowset per touched tablet replica, publish.

The rows come from a DuckDB query (VALUES, a SELECT over tablets, or FILES() over Parquet/CSV files) and
are streamed in record batches, so memory does not grow with the size of the load. Each touched tablet
gets one Parquet file written once, by storage/tablet_store.py's `RowsetWriter`, and hard-linked into
every replica's backend directory; nothing is visible until the frontend commits the load as one event,
which advances each touched partition's version. A row that fits no partition fails the whole load and the written files are removed.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from engine.types import duck_type, quote
from events.commands import CommitLoad
from events.errors import CatalogError
from events.queries import LoadLayout
from storage.tablet_store import RowsetWriter, remove_rowset

BATCH_ROWS = 65536
Ask = Callable[[Any], Any]


def _literal(value: str, sr_type: str) -> str:
    return f"CAST('{value.replace(chr(39), chr(39) * 2)}' AS {duck_type(sr_type)})"


def _tuple(cols: list[str], types: list[str], values: list[str] | None) -> tuple[str, str]:
    assert values is not None
    if len(cols) == 1:
        return quote(cols[0]), _literal(values[0], types[0])
    return (
        "row(" + ", ".join(quote(c) for c in cols) + ")",
        "row(" + ", ".join(_literal(v, t) for v, t in zip(values, types, strict=False)) + ")",
    )


def partition_expr(table: dict[str, Any], partitions: list[dict[str, Any]]) -> str:
    """A DuckDB expression giving each row's partition ordinal, or -1 when no partition takes it."""
    ptype = table["partition_type"]
    if ptype == "UNPARTITIONED":
        return "0"
    cols = table["partition_columns"]
    types = [next(c["type"] for c in table["columns"] if c["name"].lower() == col.lower()) for col in cols]
    whens = []
    for i, p in enumerate(partitions):
        conds = []
        if ptype == "RANGE":
            if p["lower"] is not None:
                left, right = _tuple(cols, types, p["lower"])
                conds.append(f"{left} >= {right}")
            else:
                conds.append("true")
            if p["upper"] is not None:
                left, right = _tuple(cols, types, p["upper"])
                conds.append(f"{left} < {right}")
            cond = " AND ".join(conds)
            if p["lower"] is None:
                cond = f"({cond}) OR {quote(cols[0])} IS NULL"
        else:
            items = [_tuple(cols, types, v) for v in p["values"] or []]
            if not items:
                continue
            cond = f"{items[0][0]} IN ({', '.join(r for _, r in items)})"
        whens.append(f"WHEN {cond} THEN {i}")
    if not whens:
        return "-1"
    return "CASE " + " ".join(whens) + " ELSE -1 END"


def bucket_expr(table: dict[str, Any], partitions: list[dict[str, Any]]) -> str:
    if table["distribution"] == "RANDOM" or not table["distribution_columns"]:
        inner = "CAST(floor(random() * {b}) AS INTEGER)"
    else:
        inner = "CAST(hash(" + ", ".join(quote(c) for c in table["distribution_columns"]) + ") % {b} AS INTEGER)"
    whens = " ".join(f"WHEN {i} THEN {inner.format(b=p['buckets'])}" for i, p in enumerate(partitions))
    return f"CASE __p {whens} ELSE 0 END" if whens else "0"


def routed_sql(layout: dict[str, Any], source_sql: str, source_width: int, target_columns: list[str] | None) -> str:
    table = layout["table"]
    columns = table["columns"]
    names = [c["name"] for c in columns]
    lowered = {n.lower(): n for n in names}
    if target_columns:
        unknown = [c for c in target_columns if c.lower() not in lowered]
        if unknown:
            raise CatalogError(f"Unknown column '{unknown[0]}' in '{table['name']}'", 1054)
        targets = [lowered[c.lower()] for c in target_columns]
    else:
        targets = names
    if len(targets) != source_width:
        raise CatalogError(
            f"Inserted target column count: {len(targets)} doesn't match select/value column count: {source_width}"
        )
    src_alias = ", ".join(f"__c{i}" for i in range(source_width))
    by_target = {t: f"__c{i}" for i, t in enumerate(targets)}
    casts = []
    for c in columns:
        src = by_target.get(c["name"])
        if src is None:
            default = c.get("default")
            if default is None and not c.get("nullable", True):
                raise CatalogError(f"'{c['name']}' must be explicitly mentioned in column permutation")
            src = "NULL" if default is None or default.upper() == "CURRENT_TIMESTAMP" else _literal(default, c["type"])
            if default and default.upper() == "CURRENT_TIMESTAMP":
                src = "current_timestamp"
        casts.append(f"CAST({src} AS {duck_type(c['type'])}) AS {quote(c['name'])}")
    routed = f"SELECT {', '.join(casts)} FROM ({source_sql}) AS __src({src_alias})"
    partitions = layout["partitions"]
    return (
        f"SELECT *, {bucket_expr(table, partitions)} AS __b FROM "
        f"(SELECT *, {partition_expr(table, partitions)} AS __p, {null_violation_expr(columns)} AS __nn "
        f"FROM ({routed}))"
    )


def null_violation_expr(columns: list[dict[str, Any]]) -> str:
    """A DuckDB expression naming the first NOT NULL column (key columns of PRIMARY KEY and UNIQUE tables
    are NOT NULL unless declared otherwise) that a row leaves NULL, else NULL."""
    checks = [f"WHEN {quote(c['name'])} IS NULL THEN '{c['name'].replace(chr(39), chr(39) * 2)}'"
              for c in columns if not c.get("nullable", True)]
    return f"CASE {' '.join(checks)} END" if checks else "CAST(NULL AS VARCHAR)"


def _sample(batch: pa.RecordBatch, mask: Any) -> str:
    """The first refused row as SQL shows values, `(k=NULL, d=2020-01-01, v='x')`: not Python's repr
    (`{'d': datetime.date(2020, 1, 1)}`, `Decimal('1.50')`), each value cut to a bounded length."""
    row = batch.filter(mask).slice(0, 1).to_pylist()[0]
    return "(" + ", ".join(f"{k}={_sql_value(v)}" for k, v in row.items() if not k.startswith("__")) + ")"


def _sql_value(value: Any) -> str:
    if value is None:
        text = "NULL"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (bytes, bytearray)):
        text = "x'" + bytes(value[:30]).hex() + "'"
    elif isinstance(value, str):
        text = "'" + value.replace("'", "''") + "'"
    elif isinstance(value, (datetime.date, datetime.time)):
        text = value.isoformat(sep=" ") if isinstance(value, datetime.datetime) else value.isoformat()
    else:
        text = str(value)
    return text if len(text) <= 60 else text[:60] + "..."


def write_routed(con: Any, layout: dict[str, Any], sql: str, index_id: int, file: str,
                 strict: bool = True) -> dict[int, dict[int, Any]]:
    """Stream the routed query into tablets of one index; returns partition ordinal -> {tablet id: rowset}.

    A row that fits no partition, or leaves a NOT NULL column NULL, fails the whole load (StarRocks'
    strict mode, `enable_insert_strict`, the default); with `strict=False` such rows are left out."""
    partitions = layout["partitions"]
    writers: dict[int, RowsetWriter] = {}
    placement: dict[int, int] = {}
    try:
        reader = con.execute(sql).to_arrow_reader(BATCH_ROWS)
        for raw in reader:
            batch = _admitted(raw, layout["table"]["name"], strict)
            if batch is None:
                continue
            p_col = batch.column(batch.schema.get_field_index("__p"))
            b_col = batch.column(batch.schema.get_field_index("__b"))
            data = pa.Table.from_batches([batch]).drop_columns([c for c in ("__p", "__b", "__nn")
                                                                if batch.schema.get_field_index(c) >= 0])
            combo = pc.add(pc.multiply(pc.cast(p_col, pa.int64()), 1 << 20), pc.cast(b_col, pa.int64()))
            for key in pc.unique(combo).to_pylist():
                p_idx, b_idx = divmod(key, 1 << 20)
                tablet = partitions[p_idx]["tablets"][str(index_id)][b_idx]
                w = writers.get(tablet["id"])
                if w is None:
                    w = writers[tablet["id"]] = RowsetWriter(tablet["dirs"], file, data.schema)
                    placement[tablet["id"]] = p_idx
                w.write(data.filter(pc.equal(combo, key)))
        result: dict[int, dict[int, Any]] = {}
        for tid, w in writers.items():
            done = w.finish()
            result.setdefault(placement[tid], {})[tid] = {"tablet_id": tid, "file": file, "rows": done.rows,
                                                          "size": done.size, "md5": done.md5, "xxh3": done.xxh3}
        return result
    except BaseException:
        for w in writers.values():
            w.abort()
        raise


def _admitted(batch: pa.RecordBatch, table: str, strict: bool) -> pa.RecordBatch | None:
    """The batch's rows that may be loaded (None when none are left): in strict mode a row that leaves a
    NOT NULL column NULL or fits no partition fails the load; otherwise such rows are dropped."""
    if batch.num_rows == 0:
        return None
    nn_index = batch.schema.get_field_index("__nn")
    if nn_index >= 0:
        nn_col = batch.column(nn_index)
        if nn_col.null_count < batch.num_rows:
            if not strict:
                batch = batch.filter(pc.is_null(nn_col))
                if batch.num_rows == 0:
                    return None
            else:
                bad_mask = pc.is_valid(nn_col)
                column = batch.filter(bad_mask).column(nn_index)[0].as_py()
                raise CatalogError(
                    f"Insert has filtered data in strict mode. Reason: NULL value in non-nullable column "
                    f"'{column}' of table {table}: {_sample(batch, bad_mask)}", 5025)
    p_col = batch.column(batch.schema.get_field_index("__p"))
    if pc.any(pc.equal(p_col, -1)).as_py():
        if not strict:
            batch = batch.filter(pc.not_equal(p_col, -1))
            if batch.num_rows == 0:
                return None
        else:
            raise CatalogError(
                f"Insert has filtered data in strict mode: a row is in no partition of table "
                f"{table}: {_sample(batch, pc.equal(p_col, -1))}"
            )
    return batch


def load(
    con: Any,
    ask: Ask,
    db: str,
    table: str,
    source_sql: str,
    source_width: int,
    target_columns: list[str] | None,
    sync_mv_hook: Callable[..., dict[int, list[dict[str, Any]]]] | None = None,
    internal: bool = False,
    txn: str | None = None,
    strict: bool = True,
) -> int:
    """Run one INSERT end to end; returns the number of rows loaded. `txn` names the rowset files (tests
    pass a seeded one so a simulated run is reproducible)."""
    layout = ask(LoadLayout(db=db, table=table, internal=internal))
    txn = txn or uuid.uuid4().hex
    file = f"{txn}.parquet"
    base = layout["table"]["base_index_id"]
    written = write_routed(con, layout, routed_sql(layout, source_sql, source_width, target_columns), base, file,
                           strict=strict)
    parts: dict[int, list[dict[str, Any]]] = {p: list(r.values()) for p, r in written.items()}
    if sync_mv_hook is not None:
        for p_idx, rowsets in sync_mv_hook(con, layout, written, txn).items():
            parts.setdefault(p_idx, []).extend(rowsets)
    partitions = layout["partitions"]
    payload = [{"partition_id": partitions[p]["id"], "rowsets": rs} for p, rs in sorted(parts.items())]
    if not payload:
        return 0
    try:
        return int(ask(CommitLoad(db=db, table=table, table_id=layout["table"]["id"], txn=txn, partitions=payload)))
    except BaseException:
        remove_rowsets(layout, parts)
        raise


def remove_rowsets(layout: dict[str, Any], parts: dict[int, list[dict[str, Any]]]) -> None:
    """Delete written rowset files (partition ordinal -> rowsets) from every replica: a load, MV build or
    refresh that was not published leaves nothing behind."""
    dirs = {t["id"]: t["dirs"] for p in layout["partitions"] for ts in p["tablets"].values() for t in ts}
    for rowsets in parts.values():
        for r in rowsets:
            remove_rowset(dirs.get(r["tablet_id"], []), r["file"])
