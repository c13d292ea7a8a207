"""SELECT over tablet data: sqlglot finds the tables, DuckDB reads their visible rowsets and runs the query.

Each table becomes a DuckDB view named `"<db>"."<table>"` over its Parquet rowsets, with the table's key
model applied on read: AGGREGATE tables re-aggregate by key, UNIQUE and PRIMARY KEY tables keep the row
of the newest version per key. Logical views become DuckDB views over those.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

from engine.types import duck_type, quote
from events.errors import ERR_SYNTAX, CatalogError

Resolver = Callable[[list[tuple[str, str]], list[str]], dict[str, Any]]

_AGG_ON_READ = {
    "SUM": "sum({c})",
    "MAX": "max({c})",
    "MIN": "min({c})",
    "REPLACE": "arg_max({c}, __ord)",
    "REPLACE_IF_NOT_NULL": "arg_max({c}, __ord) FILTER (WHERE {c} IS NOT NULL)",
    "COUNT": "sum({c})",
}


def new_duckdb() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:", config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    con.execute("SET threads TO 2")
    return con


def parse(sql: str, dialect: str = "starrocks") -> exp.Expression:
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except sqlglot.errors.SqlglotError as e:
        raise CatalogError(sqlglot_message(e), ERR_SYNTAX) from None
    except (IndexError, KeyError, AttributeError, TypeError, ValueError, AssertionError):
        # sqlglot's parser trips on some malformed input (`SET character`): a syntax error all the same
        raise CatalogError(SQLGLOT_TRIPPED, ERR_SYNTAX) from None
    if not isinstance(tree, exp.Expression):  # (None for an empty statement)
        raise CatalogError("Getting syntax error: empty statement", ERR_SYNTAX)
    return tree


SQLGLOT_TRIPPED = "Getting syntax error at line 1, column 0. Detail message: the statement is malformed"


def sqlglot_message(e: Exception) -> str:
    """sqlglot's errors as StarRocks' syntax error text, without their ANSI underlines or Python context."""
    errors = getattr(e, "errors", None) or []
    if errors:
        err = errors[0]
        description = str(err.get("description") or "invalid syntax")
        if "<class" in description or "Required keyword" in description:  # sqlglot's own words for "incomplete"
            description = "the statement is incomplete here"
        return (f"Getting syntax error at line {err.get('line', 1)}, column {err.get('col', 0)}. "
                f"Detail message: {description}")
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).split("\n")[0]
    return f"Getting syntax error at line 1, column 0. Detail message: {text}"


def table_refs(tree: exp.Expression, default_db: str | None) -> list[tuple[str, str]]:
    ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
    refs: list[tuple[str, str]] = []
    for t in tree.find_all(exp.Table):
        if not isinstance(t.this, exp.Identifier):
            continue
        name = t.name
        if not t.db and name in ctes:
            continue
        db = t.db or default_db
        if not db:
            raise CatalogError("No database selected", 1046)
        if db.lower() == "information_schema":
            continue
        if (db, name) not in refs:
            refs.append((db, name))
    return refs


def relation_sql(layout: dict[str, Any]) -> str:
    """SQL text producing a table's (or sync MV index's) visible rows with its key model applied."""
    table = layout["table"]
    index_id = layout.get("index_id") or table["base_index_id"]
    if index_id != table["base_index_id"]:
        index = table["indexes"][str(index_id)] if str(index_id) in table["indexes"] else table["indexes"][index_id]
        columns = index["schema"]
        keys_type = "DUP_KEYS" if index.get("keys_type") == "DUP_KEYS" else "AGG_KEYS"
        keys = [c["name"] for c in columns if c["is_key"]]
    else:
        columns = table["columns"]
        keys_type = table["keys_type"]
        keys = table["key_columns"]
    files: list[tuple[str, int]] = []
    for p in layout["partitions"]:
        for tablet in p["tablets"].get(str(index_id), []):
            files.extend((f, v) for f, v in tablet["files"])
    select_cols = ", ".join(f"CAST({quote(c['name'])} AS {duck_type(c['type'])}) AS {quote(c['name'])}" for c in columns)
    if not files:
        nulls = ", ".join(f"CAST(NULL AS {duck_type(c['type'])}) AS {quote(c['name'])}" for c in columns)
        return f"SELECT {nulls} WHERE false"
    file_list = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f, _ in files) + "]"
    if keys_type == "DUP_KEYS":
        return f"SELECT {select_cols} FROM read_parquet({file_list}, union_by_name=true)"
    versions = ", ".join(f"('{f.replace(chr(39), chr(39) * 2)}', {v})" for f, v in files)
    ordered = (
        f"SELECT src.*, (v.version::BIGINT << 32) + src.file_row_number AS __ord "
        f"FROM read_parquet({file_list}, union_by_name=true, filename=true, file_row_number=true) AS src "
        f"JOIN (VALUES {versions}) AS v(fname, version) ON src.filename = v.fname"
    )
    key_list = ", ".join(quote(k) for k in keys)
    if keys_type == "AGG_KEYS":
        parts = []
        for c in columns:
            if c["is_key"]:
                parts.append(f"CAST({quote(c['name'])} AS {duck_type(c['type'])}) AS {quote(c['name'])}")
            else:
                agg = _AGG_ON_READ.get((c.get("aggregation") or "REPLACE").upper(), "arg_max({c}, __ord)")
                parts.append(f"CAST({agg.format(c=quote(c['name']))} AS {duck_type(c['type'])}) AS {quote(c['name'])}")
        return f"SELECT {', '.join(parts)} FROM ({ordered}) GROUP BY {key_list}"
    # UNIQUE and PRIMARY KEY: the newest row per key wins.
    return (
        f"SELECT {select_cols} FROM (SELECT *, row_number() OVER (PARTITION BY {key_list} ORDER BY __ord DESC) "
        f"AS __rn FROM ({ordered})) WHERE __rn = 1"
    )


class QueryEngine:
    """One per SQL session: a private in-memory DuckDB whose views are refreshed before each query."""

    def __init__(self, resolve: Resolver, functions: Callable[[duckdb.DuckDBPyConnection, dict[str, Any]], None] | None = None) -> None:
        self.con = new_duckdb()
        self._resolve = resolve
        self._functions = functions
        self._schemas: set[str] = set()

    def _ensure_schema(self, db: str) -> None:
        if db not in self._schemas:
            self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(db)}")
            self._schemas.add(db)

    def use_schema(self, db: str) -> None:
        """Make `db` the connection's current schema (so its UDFs resolve unqualified), creating it if new."""
        self._ensure_schema(db)
        self.con.execute(f"SET schema = {sql_string(db)}")

    def prepare(self, tree: exp.Expression, default_db: str | None, depth: int = 0) -> None:
        """Create or refresh DuckDB views for every table and view the statement reads, recursively."""
        if depth > 16:
            raise CatalogError("View nesting is too deep (or recursive)")
        refs = table_refs(tree, default_db)
        dbs = sorted({d for d, _ in refs} | ({default_db} if default_db else set()))
        resolved = self._resolve(refs, dbs)
        if self._functions is not None:
            self._functions(self.con, resolved["functions"])
        for (db, name), key in zip(refs, [f"{d}.{n}" for d, n in refs], strict=True):
            info = resolved["tables"][key]
            self._ensure_schema(db)
            if "view_sql" in info:
                body = parse(info["view_sql"])
                self.prepare(body, db, depth + 1)
                sql = to_duckdb(body, db)
                cols = info.get("view_columns") or []
                if cols:
                    sql = f"SELECT * FROM ({sql}) AS __v({', '.join(quote(c) for c in cols)})"
            else:
                sql = relation_sql(info)
            self.con.execute(f"CREATE OR REPLACE VIEW {quote(db)}.{quote(name)} AS {sql}")

    def select(self, query: str | exp.Expression, default_db: str | None) -> tuple[list[tuple[Any, ...]], list[str]]:
        """Run a SELECT given as text or as the tree the SQL front parsed (then it is not parsed again)."""
        tree = parse(query) if isinstance(query, str) else query
        self.prepare(tree, default_db)
        rows, names = self.run(to_duckdb(tree, default_db), default_db)
        labels = column_labels(tree)
        return rows, labels if labels is not None and len(labels) == len(names) else names

    def run(self, duck_sql: str, default_db: str | None) -> tuple[list[tuple[Any, ...]], list[str]]:
        try:
            if default_db:
                self._ensure_schema(default_db)
                self.con.execute(f"SET schema = {sql_string(default_db)}")
            # Bound, not run: the column types decide the query that runs, so it runs once.
            rel = self.con.sql(duck_sql)
            types = [str(t) for t in rel.types]
            names = list(rel.columns)
            if "TIMESTAMP WITH TIME ZONE" in types:
                # StarRocks' DATETIME has no zone (now(), to_timestamp() ...); Python would need pytz for it
                picks = ", ".join(f"CAST(#{i + 1} AS TIMESTAMP)" if t == "TIMESTAMP WITH TIME ZONE"
                                  else f"#{i + 1}" for i, t in enumerate(types))
                rows = self.con.execute(f"SELECT {picks} FROM ({duck_sql})").fetchall()
            else:
                rows = rel.fetchall()
        except duckdb.Error as e:
            raise CatalogError(clean_duckdb_error(e)) from None
        return rows, names


def column_labels(tree: exp.Expression) -> list[str] | None:
    """The result's column names as StarRocks (and MySQL) give them: the alias, a column's own name, else
    the expression's text, so `count(*)` is `count(*)` and not DuckDB's `count_star()`. None when a `*`
    leaves the number of columns to the engine (its names are the columns' own then)."""
    node = tree
    while isinstance(node, exp.SetOperation):
        node = node.this  # a UNION's columns are named by its first SELECT
    if not isinstance(node, exp.Select):
        return None
    labels = []
    for e in node.expressions:
        if isinstance(e, exp.Star) or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star)):
            return None
        if isinstance(e, exp.Alias):
            labels.append(e.alias)
        elif isinstance(e, exp.Column):
            labels.append(e.name)
        else:
            labels.append(e.sql(dialect="starrocks", normalize_functions="lower"))
    return labels


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def to_duckdb(tree: exp.Expression, default_db: str | None) -> str:
    """Transpile to DuckDB, qualifying bare table names with the session database."""
    tree = tree.copy()
    ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
    for t in tree.find_all(exp.Table):
        if isinstance(t.this, exp.Identifier):
            if t.args.get("catalog") is not None:
                t.set("catalog", None)
            if not t.db and default_db and t.name not in ctes:
                t.set("db", exp.to_identifier(default_db, quoted=True))
    return tree.sql(dialect="duckdb")


def clean_duckdb_error(e: Exception) -> str:
    text = str(e).split("\n")[0]
    return re.sub(r"^[A-Za-z ]+Error: ", "", text)
