"""Column types of the table grammar: StarRocks' names and arguments normalized, and their key index sizes."""

from __future__ import annotations

from lark import Token

from sqlfront.parse.lexical import unquote_ident


def unquote_token(token: Token) -> str:
    """A name token as written (a back-quoted one unquoted)."""
    return unquote_ident(str(token))


INTEGER_TYPES = ("TINYINT", "SMALLINT", "INT", "BIGINT", "LARGEINT")
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
        if args and (canonical not in INTEGER_TYPES or len(args) > 1):
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


def type_base(type_text: str) -> str:
    return type_text.split("(")[0].upper()


def index_size(type_text: str) -> int:
    """Bytes a column adds to StarRocks' short key (PrimitiveType.getOlapColumnIndexSize)."""
    base = type_base(type_text)
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
