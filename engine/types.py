"""StarRocks column types as DuckDB types (tablets are Parquet files written and read through DuckDB)."""

from __future__ import annotations

import re

_SIMPLE = {
    "TINYINT": "TINYINT",
    "SMALLINT": "SMALLINT",
    "INT": "INTEGER",
    "INTEGER": "INTEGER",
    "BIGINT": "BIGINT",
    "LARGEINT": "HUGEINT",
    "FLOAT": "FLOAT",
    "DOUBLE": "DOUBLE",
    "BOOLEAN": "BOOLEAN",
    "BOOL": "BOOLEAN",
    "DATE": "DATE",
    "DATETIME": "TIMESTAMP",
    "STRING": "VARCHAR",
    "VARCHAR": "VARCHAR",
    "CHAR": "VARCHAR",
    "JSON": "VARCHAR",
    "DECIMALV2": "DECIMAL(27,9)",
    "DECIMAL32": "DECIMAL(9,0)",
    "DECIMAL64": "DECIMAL(18,0)",
    "DECIMAL128": "DECIMAL(38,0)",
    "BITMAP": "VARCHAR",
    "HLL": "VARCHAR",
}


def duck_type(sr_type: str) -> str:
    text = sr_type.strip().upper()
    m = re.match(r"^(DECIMAL(?:V3|32|64|128)?)\s*\(\s*(\d+)\s*(?:,\s*(\d+))?\s*\)$", text)
    if m:
        precision = min(int(m.group(2)), 38)
        return f"DECIMAL({precision},{int(m.group(3) or 0)})"
    if text in {"DECIMAL", "DECIMALV3"}:
        return "DECIMAL(38,9)"
    base = re.split(r"[\s(<]", text, maxsplit=1)[0]
    if base.startswith("ARRAY"):
        inner = text[text.index("<") + 1 : text.rindex(">")]
        return duck_type(inner) + "[]"
    return _SIMPLE.get(base, "VARCHAR")


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
