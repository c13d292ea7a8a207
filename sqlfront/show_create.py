"""SHOW CREATE TABLE text for OLAP tables, formatted as StarRocks 3.x prints it (AstToStringBuilder.getDdlStmt).

The text parses back with sqlfront.parse.table.parse_create_table into an equivalent spec, with two
StarRocks-faithful differences the reader must allow for:

* RANGE partitions always print as fixed ranges `[lower, upper)`; a first partition whose lower bound is
  the minimum prints the column type's minimum value ("0000-01-01", "-2147483648", ...), so it parses
  back with that literal lower bound instead of None.
* A table without a comment prints `COMMENT "OLAP"` (StarRocks 3.x shows the engine name there), so it
  parses back with comment "OLAP".
"""

from __future__ import annotations

from events.catalog import bound_key
from events.model import Column, Table

_KEYS_SQL = {
    "DUP_KEYS": "DUPLICATE KEY",
    "AGG_KEYS": "AGGREGATE KEY",
    "UNIQUE_KEYS": "UNIQUE KEY",
    "PRIMARY_KEYS": "PRIMARY KEY",
}

# StarRocks prints integer types with MySQL display widths.
_TYPE_SQL = {
    "TINYINT": "tinyint(4)",
    "SMALLINT": "smallint(6)",
    "INT": "int(11)",
    "BIGINT": "bigint(20)",
    "LARGEINT": "largeint(40)",
}

# The minimum of each type: what StarRocks prints for an open lower bound (LiteralExpr.createInfinity).
_TYPE_MIN = {
    "TINYINT": "-128",
    "SMALLINT": "-32768",
    "INT": "-2147483648",
    "BIGINT": "-9223372036854775808",
    "LARGEINT": "-170141183460469231731687303715884105728",
    "DATE": "0000-01-01",
    "DATETIME": "0000-01-01 00:00:00",
}


def quote_ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _escape(text: str) -> str:
    """Escape for a double-quoted literal, the way the parser reads it back."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def render_type(type_text: str) -> str:
    """Catalog type text (INT, VARCHAR(64), DECIMAL(10,2)) -> StarRocks' display (int(11), varchar(64), decimal(10, 2))."""
    upper = type_text.upper()
    if upper in _TYPE_SQL:
        return _TYPE_SQL[upper]
    if "(" in upper:
        base, args = upper.split("(", 1)
        parts = [a.strip() for a in args.rstrip(")").split(",")]
        return f"{base.lower()}({', '.join(parts)})"
    return upper.lower()


def render_column(column: Column, keys_type: str) -> str:
    parts = [quote_ident(column.name), render_type(column.type)]
    # UNIQUE/PRIMARY value columns carry an implicit REPLACE that StarRocks does not print.
    if column.aggregation and keys_type == "AGG_KEYS":
        parts.append(column.aggregation)
    parts.append("NULL" if column.nullable else "NOT NULL")
    if column.default is not None:
        if column.default.upper() == "CURRENT_TIMESTAMP":
            parts.append("DEFAULT CURRENT_TIMESTAMP")
        else:
            parts.append(f'DEFAULT "{_escape(column.default)}"')
    parts.append(f'COMMENT "{_escape(column.comment)}"')
    return " ".join(parts)


def _bound_sql(values: list[str] | None, types: list[str], is_upper: bool) -> str | None:
    """`("v1", "v2")`, `(MAXVALUE)`; None when an open lower bound has no printable minimum."""
    if values is None:
        if is_upper:
            return "(MAXVALUE)"
        mins = [_TYPE_MIN.get(t.split("(")[0].upper()) for t in types]
        if any(m is None for m in mins):
            return None
        values = [m for m in mins if m is not None]
    return "(" + ", ".join(f'"{_escape(v)}"' for v in values) + ")"


def _render_range(table: Table, types: list[str]) -> str:
    parts = sorted(
        table.partitions.values(),
        key=lambda p: (bound_key(types, p.lower, False), bound_key(types, p.upper, True)),
    )
    lines = []
    for p in parts:
        lower = _bound_sql(p.lower, types, False)
        upper = _bound_sql(p.upper, types, True)
        if lower is None:
            # No printable minimum for this type (e.g. strings): the LESS THAN form means the same.
            lines.append(f"PARTITION {p.name} VALUES LESS THAN {upper}")
        else:
            lines.append(f"PARTITION {p.name} VALUES [{lower}, {upper})")
    columns = ", ".join(quote_ident(c) for c in table.partition_columns)
    return f"PARTITION BY RANGE({columns})\n(" + ",\n".join(lines) + ")"


def _render_list(table: Table) -> str:
    multi = len(table.partition_columns) > 1
    lines = []
    for p in sorted(table.partitions.values(), key=lambda p: p.id):
        tuples = p.values or []
        if multi:
            items = ",".join("(" + ",".join(f"'{_escape_single(v)}'" for v in t) + ")" for t in tuples)
        else:
            items = ",".join(f"'{_escape_single(t[0])}'" for t in tuples)
        lines.append(f"  PARTITION {p.name} VALUES IN ({items})")
    columns = ",".join(quote_ident(c) for c in table.partition_columns)
    return f"PARTITION BY LIST({columns})(\n" + ",\n".join(lines) + "\n)"


def _escape_single(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def _partition_types(table: Table) -> list[str]:
    types = {c.name.lower(): c.type for c in table.columns}
    return [types.get(c.lower(), "VARCHAR(65533)") for c in table.partition_columns]


def render_create_table(table: Table, tablets_per_partition_ignored: bool = True) -> str:
    """StarRocks' SHOW CREATE TABLE text for an OLAP table.

    Partition-level bucket counts are not printed (StarRocks prints only the table's default
    distribution), hence `tablets_per_partition_ignored`; it exists so callers state that they accept it.
    """
    del tablets_per_partition_ignored  # the only supported behaviour, see the docstring
    lines = [f"CREATE TABLE {quote_ident(table.name)} ("]
    lines.append(",\n".join("  " + render_column(c, table.keys_type) for c in table.columns))
    text = "\n".join(lines) + "\n) ENGINE=OLAP "
    keys = ", ".join(quote_ident(c) for c in table.key_columns)
    text += f"\n{_KEYS_SQL.get(table.keys_type, 'DUPLICATE KEY')}({keys})"
    text += f'\nCOMMENT "{_escape(table.comment or "OLAP")}"'
    if table.partition_type == "RANGE":
        text += "\n" + _render_range(table, _partition_types(table))
    elif table.partition_type == "LIST":
        text += "\n" + _render_list(table)
    if table.distribution == "HASH":
        columns = ", ".join(quote_ident(c) for c in table.distribution_columns)
        text += f"\nDISTRIBUTED BY HASH({columns})"
        if table.buckets > 0:
            text += f" BUCKETS {table.buckets} "  # StarRocks leaves this trailing space
    else:
        text += "\nDISTRIBUTED BY RANDOM"
        if table.buckets > 0:
            text += f" BUCKETS {table.buckets}"
    if table.properties:
        props = ",\n".join(f'"{_escape(k)}" = "{_escape(v)}"' for k, v in sorted(table.properties.items()))
        text += f"\nPROPERTIES (\n{props}\n)"
    return text + ";"
