"""Synchronous materialized views: keep each MV index's tablets up to date on every load.

A sync MV is an extra index of its base table (StarRocks' rollup): in every partition it has its own
tablets. A load into the base table writes base rowsets; this module runs the MV's SELECT over exactly
those new rows, partition by partition, and writes the result into the MV index's tablets of the same
partition under the same transaction, so one `load.committed` event publishes both. Aggregates are
partial per load; the index is read with the AGGREGATE model (sum of sums, min of mins, count as a sum of
counts), which is how StarRocks merges rollup rows too. The same code builds the MV from the existing base
rows at CREATE time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

from engine.load import write_routed
from engine.query import parse
from engine.types import duck_type, quote
from events.errors import CatalogError

AGGREGATES: dict[type, str] = {exp.Sum: "SUM", exp.Min: "MIN", exp.Max: "MAX", exp.Count: "COUNT"}


def mv_select(definition: str) -> tuple[exp.Select, list[dict[str, Any]]]:
    """Parse a sync MV's SELECT; give every output an alias and describe each output column.

    Returns (select with aliases, [{"name", "aggregation" (None for a key), "arg" (column name or None)}]).
    """
    tree = parse(definition)
    if not isinstance(tree, exp.Select):
        raise CatalogError("A synchronous materialized view must be a single SELECT over one table")
    tables = list(tree.find_all(exp.Table))
    if len(tables) != 1 or tree.args.get("joins") or any(isinstance(s, exp.Subquery) for s in tree.find_all(exp.Subquery)):
        raise CatalogError("A synchronous materialized view selects from exactly one table (no joins or "
                           "subqueries); use REFRESH ASYNC for an asynchronous materialized view")
    for bad in ("having", "order", "limit", "distinct"):
        if tree.args.get(bad):
            raise CatalogError(f"{bad.upper()} is not supported in a synchronous materialized view")
    outputs: list[dict[str, Any]] = []
    new_exprs = []
    for e in tree.expressions:
        inner = e.this if isinstance(e, exp.Alias) else e
        if isinstance(inner, exp.Star):
            raise CatalogError("SELECT * is not supported in a synchronous materialized view; name the columns")
        agg_name = next((n for t, n in AGGREGATES.items() if isinstance(inner, t)), None)
        if agg_name is None and inner.find(exp.AggFunc) is not None:
            raise CatalogError(f"Unsupported aggregate in a synchronous materialized view: {inner.sql()}; "
                               "only sum, min, max and count are supported")
        arg = None
        if agg_name is not None:
            target = inner.this
            if isinstance(target, exp.Distinct):
                raise CatalogError("count(DISTINCT ...) is not supported in a synchronous materialized view")
            arg = target.name if isinstance(target, exp.Column) else None
        if isinstance(e, exp.Alias):
            name = e.alias
        elif isinstance(inner, exp.Column):
            name = inner.name
        elif agg_name is not None:
            col = arg or ("star" if isinstance(inner.this, exp.Star) else "expr")
            name = f"mv_{agg_name.lower()}_{col}"
        else:
            raise CatalogError(f"Give the expression {inner.sql()} an alias in the materialized view")
        outputs.append({"name": name, "aggregation": agg_name, "arg": arg})
        new_exprs.append(exp.alias_(inner.copy(), name, quoted=True))
    names = [o["name"].lower() for o in outputs]
    if len(set(names)) != len(names):
        raise CatalogError("Duplicate column name in the materialized view")
    has_agg = any(o["aggregation"] for o in outputs)
    if has_agg and not tree.args.get("group") and any(not o["aggregation"] for o in outputs):
        raise CatalogError("A materialized view with aggregates needs GROUP BY on its other columns")
    tree = tree.copy()
    tree.set("expressions", new_exprs)
    return tree, outputs


def base_table_of(definition: str) -> tuple[str | None, str]:
    tree, _ = mv_select(definition)
    t = next(iter(tree.find_all(exp.Table)))
    return (t.db or None), t.name


def over_source(tree: exp.Select, source_sql: str) -> str:
    """The MV's SELECT in DuckDB SQL, reading its one table from `source_sql` instead."""
    tree = tree.copy()
    t = next(iter(tree.find_all(exp.Table)))
    alias = t.alias or t.name
    source = sqlglot.parse_one(source_sql, read="duckdb")
    assert isinstance(source, exp.Query)  # (`_source_sql` builds a SELECT)
    sub = source.subquery(exp.to_identifier(alias, quoted=True))
    t.replace(sub)
    return tree.sql(dialect="duckdb")


def _source_sql(table: dict[str, Any], files: list[str]) -> str:
    cols = ", ".join(f"CAST({quote(c['name'])} AS {duck_type(c['type'])}) AS {quote(c['name'])}"
                     for c in table["columns"])
    file_list = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
    return f"SELECT {cols} FROM read_parquet({file_list}, union_by_name=true)"


def _index(table: dict[str, Any], index_id: Any) -> dict[str, Any]:
    indexes = table["indexes"]
    index: dict[str, Any] = indexes.get(index_id) or indexes.get(str(index_id)) or indexes[int(index_id)]
    return index


def sync_indexes(table: dict[str, Any]) -> list[dict[str, Any]]:
    base = table["base_index_id"]
    return sorted((i for i in table["indexes"].values() if i["id"] != base and i.get("definition")),
                  key=lambda i: i["id"])


def build_index(con: Any, layout: dict[str, Any], index: dict[str, Any], files_by_partition: dict[int, list[str]],
                file: str) -> dict[int, list[dict[str, Any]]]:
    """Run the MV over the given base files per partition; write into the index's tablets of each partition."""
    table = layout["table"]
    tree, _ = mv_select(index["definition"])
    schema = index["schema"]
    keys = [c["name"] for c in schema if c.get("is_key")]
    parts = []
    for p_idx, files in sorted(files_by_partition.items()):
        if not files:
            continue
        buckets = len(layout["partitions"][p_idx]["tablets"][str(index["id"])])
        if keys and buckets > 1:
            bucket = f"CAST(hash({', '.join(quote(k) for k in keys)}) % {buckets} AS INTEGER)"
        elif buckets > 1:
            bucket = f"CAST(floor(random() * {buckets}) AS INTEGER)"
        else:
            bucket = "0"
        casts = ", ".join(f"CAST({quote(c['name'])} AS {duck_type(c['type'])}) AS {quote(c['name'])}" for c in schema)
        query = over_source(tree, _source_sql(table, files))
        parts.append(f"SELECT *, {p_idx} AS __p, {bucket} AS __b FROM (SELECT {casts} FROM ({query}))")
    if not parts:
        return {}
    written = write_routed(con, layout, " UNION ALL ".join(parts), index["id"], file)
    return {p: [{**r, "base": False} for r in rs.values()] for p, rs in written.items()}


def sync_mv_rowsets(con: Any, layout: dict[str, Any], written: dict[int, dict[int, Any]], txn: str
                    ) -> dict[int, list[dict[str, Any]]]:
    """Rowsets for every sync MV index of the table, built from the base rowsets this load wrote."""
    table = layout["table"]
    indexes = sync_indexes(table)
    if not indexes or not written:
        return {}
    base = str(table["base_index_id"])
    files_by_partition: dict[int, list[str]] = {}
    for p_idx, rowsets in written.items():
        dirs = {t["id"]: t["dirs"][0] for t in layout["partitions"][p_idx]["tablets"][base]}
        files_by_partition[p_idx] = [str(Path(dirs[tid]) / r["file"]) for tid, r in sorted(rowsets.items())]
    out: dict[int, list[dict[str, Any]]] = {}
    for index in indexes:
        for p_idx, rs in build_index(con, layout, index, files_by_partition, f"{txn}.parquet").items():
            out.setdefault(p_idx, []).extend(rs)
    return out


def initial_rowsets(con: Any, layout: dict[str, Any], index_id: int, txn: str) -> dict[int, list[dict[str, Any]]]:
    """At CREATE time: the MV index built from every visible base row, per partition ordinal."""
    table = layout["table"]
    base = str(table["base_index_id"])
    files_by_partition = {
        i: [f for t in p["tablets"].get(base, []) for f, _ in t["files"]] for i, p in enumerate(layout["partitions"])
    }
    return build_index(con, layout, _index(table, index_id), files_by_partition, f"{txn}.parquet")
