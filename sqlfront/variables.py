"""Session variables: StarRocks' names and defaults next to MySQL's, and the checks mysql-mimic's variables
lack (values it would store and then fail on, unknown names, SHOW VARIABLES ... LIKE/WHERE)."""

from __future__ import annotations

import re
from typing import Any

from mysql_mimic.charset import Collation
from mysql_mimic.errors import ErrorCode, MysqlError
from mysql_mimic.variables import (
    SYSTEM_VARIABLES,
    SessionVariables,
    Variables,
    VariableSchema,
    parse_timezone,
)
from sqlglot import exp

from events.errors import CatalogError
from sqlfront import sqltext

# StarRocks session variables clients and hints set, next to MySQL's: (type, default, dynamic).
# query_timeout bounds a SELECT and insert_timeout an INSERT, enable_insert_strict = false leaves out the rows
# a load would refuse; the others are accepted and shown, and change nothing here.
SESSION_VARIABLES: dict[str, VariableSchema] = {
    **SYSTEM_VARIABLES,
    "query_timeout": (int, 300, True),
    "insert_timeout": (int, 14400, True),
    "query_mem_limit": (int, 0, True),
    "load_mem_limit": (int, 0, True),
    "exec_mem_limit": (int, 2147483648, True),
    "enable_insert_strict": (bool, True, True),
    "pipeline_dop": (int, 0, True),
    "parallel_fragment_exec_instance_num": (int, 1, True),
    "enable_profile": (bool, False, True),
    "enable_spill": (bool, False, True),
    "new_planner_optimize_timeout": (int, 3000, True),
    "batch_size": (int, 4096, True),
    "sql_dialect": (str, "StarRocks", True),
    "resource_group": (str, "", True),
    "tx_isolation": (str, "REPEATABLE-READ", True),
    "query_cache_size": (int, 1048576, True),
    "query_cache_type": (str, "OFF", True),
}


class StarRocksVariables(SessionVariables):
    """mysql-mimic's session variables with StarRocks' names and its message for an unknown one."""

    def get_schema(self, name: str) -> VariableSchema:
        schema = self.schema.get(name.lower())
        if not schema:
            raise MysqlError(f"Unknown system variable '{name}'", code=ErrorCode.UNKNOWN_SYSTEM_VARIABLE)
        return schema

    def set(self, name: str, value: Any, force: bool = False) -> None:
        """mysql-mimic's set, refusing values it would store and then fail on in every later statement (or
        while writing a result, which drops the connection): unusable time zones and character sets,
        text for numbers."""
        lowered = name.lower()
        type_, _, _ = self.get_schema(lowered)
        if type_ is str and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)  # SET time_zone = 5 is checked as the text it becomes
        if isinstance(value, str):
            if type_ in (int, bool):
                value = coerce_variable(self, lowered, value)
            elif lowered == "time_zone":
                try:
                    parse_timezone(value)
                except (MysqlError, ValueError, OverflowError):
                    raise MysqlError(f"Unknown or incorrect time zone: '{sqltext.excerpt(value, 60)}'",
                                     code=1298) from None
            elif lowered.startswith("character_set_"):
                check_charset(value)
                value = value.lower()  # mysql-mimic looks the name up as it is stored
            elif lowered.startswith("collation_"):
                if value.lower() not in _COLLATIONS:
                    raise MysqlError(f"Unknown collation: '{sqltext.excerpt(value, 60)}'", code=1273)
                value = value.lower()
        elif type_ is bool and isinstance(value, int) and not isinstance(value, bool) and value not in (0, 1):
            raise MysqlError(f"Variable '{name}' can't be set to the value of '{value}'",
                             code=ErrorCode.WRONG_VALUE_FOR_VAR)
        elif isinstance(value, float) and type_ is int:
            raise MysqlError(f"Incorrect argument type to variable '{name}'", code=1232)
        elif type_ is int and isinstance(value, int) and not -2**63 <= value < 2**63:  # StarRocks' are Java longs
            raise MysqlError(f"Variable '{name}' can't be set to the value of '{sqltext.excerpt(str(value), 60)}'",
                             code=ErrorCode.WRONG_VALUE_FOR_VAR)
        try:
            super().set(lowered, value, force)
        except (ValueError, TypeError, OverflowError):
            raise MysqlError(f"Variable '{name}' can't be set to the value of '{sqltext.excerpt(str(value), 60)}'",
                             code=ErrorCode.WRONG_VALUE_FOR_VAR) from None


# The character sets a session may use: StarRocks speaks UTF-8 only.
_CHARSETS = {"utf8", "utf8mb4"}
_COLLATIONS = {c for c in Collation.__members__ if c.startswith(("utf8_", "utf8mb4_"))}


def show_condition(node: exp.Expression, row: dict[str, str | None]) -> bool:
    """SHOW VARIABLES ... WHERE over Variable_name and Value: =, <>, IN, LIKE, AND, OR, NOT."""
    def value(n: exp.Expression) -> str | None:
        if isinstance(n, exp.Column) and n.name.lower() in row:
            return row[n.name.lower()]
        if isinstance(n, exp.Literal):
            return n.name
        raise CatalogError("SHOW VARIABLES ... WHERE compares Variable_name or Value with literals only", 5064)

    def text(n: exp.Expression) -> str:
        return (value(n) or "").lower()

    if isinstance(node, exp.Paren):
        return show_condition(node.this, row)
    if isinstance(node, exp.And):
        return show_condition(node.this, row) and show_condition(node.expression, row)
    if isinstance(node, exp.Or):
        return show_condition(node.this, row) or show_condition(node.expression, row)
    if isinstance(node, exp.Not):
        return not show_condition(node.this, row)
    if isinstance(node, exp.EQ):
        return text(node.this) == text(node.expression)
    if isinstance(node, exp.NEQ):
        return text(node.this) != text(node.expression)
    if isinstance(node, exp.In):
        return text(node.this) in {text(e) for e in node.expressions}
    if isinstance(node, exp.Like):
        return bool(like_regex(value(node.expression) or "").fullmatch(value(node.this) or ""))
    raise CatalogError("SHOW VARIABLES ... WHERE supports =, <>, IN, LIKE, AND, OR and NOT", 5064)


def like_regex(pattern: str) -> re.Pattern[str]:
    """SQL LIKE as a regex: % any run, _ one character, backslash escapes, case-insensitive."""
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.I | re.S)


def lowercase_names(item: exp.SetItem) -> None:
    """SET NAMES UTF8 COLLATE UTF8_GENERAL_CI: mysql-mimic looks charset and collation names up as written."""
    for key in ("this", "collate"):
        node = item.args.get(key)
        if isinstance(node, exp.Var) and node.name.upper() != "DEFAULT":
            item.set(key, exp.var(node.name.lower()))


def check_charset(value: str) -> None:
    if value.lower() not in _CHARSETS:
        raise MysqlError(f"Unknown character set: '{sqltext.excerpt(value, 60)}'", code=1115)


def coerce_variable(variables: Variables, name: str, value: str) -> Any:
    """A hint's text value as the variable's type; a value that does not fit is refused (1231)."""
    type_, _, dynamic = variables.get_schema(name)
    if not dynamic:
        raise MysqlError(f"Variable '{name}' is a read only variable", code=1238)
    if type_ is bool:
        lowered = value.lower()
        if lowered in ("true", "on", "1"):
            return True
        if lowered in ("false", "off", "0"):
            return False
    elif type_ is int:
        if re.fullmatch(r"[+-]?[0-9]{1,19}", value):
            return int(value)
    else:
        return value
    raise MysqlError(f"Variable '{name}' can't be set to the value of '{sqltext.excerpt(value, 60)}'",
                     code=ErrorCode.WRONG_VALUE_FOR_VAR)
