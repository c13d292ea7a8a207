"""SELECT over our tables, and what the session hands mysql-mimic (`MimicStatement`).

A SELECT's tree comes parsed from sqlfront.parse.sql: the session's @@variables and information functions
(DATABASE(), USER(), ...) become literals in it, and the query engine runs that tree (it is not parsed again).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from mysql_mimic.intercept import value_to_expression
from mysql_mimic.results import ResultColumn, infer_type
from mysql_mimic.session import mysql_function_mapping
from mysql_mimic.types import ColumnType
from sqlglot import exp

from sqlfront.handler_base import HandlerSession, Result
from sqlfront.parse.ast_query import MimicStatement, Select

NOT_OURS = object()  # a handler's answer: mysql-mimic runs the statement (sqlfront.session._mimic)

_INFO_FUNCTIONS = {"CONNECTION_ID", "USER", "CURRENT_USER", "VERSION", "DATABASE", "SYSTEM_USER", "SESSION_USER",
                   "SCHEMA", "CURRENT_SCHEMA", "CURRENT_VERSION"}
_INFO_NAMES = {exp.CurrentSchema: "database", exp.CurrentUser: "current_user", exp.SessionUser: "session_user",
               exp.CurrentVersion: "version"}


def select(s: HandlerSession, st: Select) -> Result:
    tree = st.tree
    params = list(tree.find_all(exp.SessionParameter))
    infos = [(f, name) for f in tree.find_all(exp.Func) if (name := _info_function(f)) is not None]
    if params or infos:
        _session_literals(s, params, infos)
    rows, names = s.engine.select(tree, s.db)
    return rows, typed_columns(rows, names)


def _session_literals(s: HandlerSession, params: list[exp.SessionParameter], infos: list[tuple[exp.Func, str]]) -> None:
    """`SELECT k, @@query_timeout, database() FROM t`: the session's values, as literals, for DuckDB (which
    answered database() with its own schema 'main' and user() with 'duckdb')."""
    functions = mysql_function_mapping(s)  # (it reads the session's variables only)
    for param in params:
        value = value_to_expression(s.variables.get_variable(param.name))
        if isinstance(param.parent, exp.Select) and param.arg_key == "expressions":
            value = exp.alias_(value, exp.to_identifier(param.sql()))
        param.replace(value)
    for func, name in infos:
        value = value_to_expression(functions[name]())
        if isinstance(func.parent, exp.Select) and func.arg_key == "expressions":
            value = exp.alias_(value, exp.to_identifier(f"{_INFO_NAMES.get(type(func), name.lower())}()"))
        func.replace(value)


def mimic(s: HandlerSession, st: MimicStatement) -> Result:
    """mysql-mimic's own statement: the analyzer checked it; the session hands it over."""
    return NOT_OURS


def _info_function(node: exp.Func) -> str | None:
    """The name mysql-mimic knows an information function by (DATABASE(), USER(), ...), or None."""
    name = node.name.upper() if isinstance(node, exp.Anonymous) else node.sql_name()
    if isinstance(node, exp.Anonymous) and node.expressions:
        return None
    return name if name in _INFO_FUNCTIONS else None


def typed_columns(rows: list[tuple[Any, ...]], names: list[str]) -> list[str | ResultColumn]:
    """Column definitions for a result: DECIMAL columns are declared NEWDECIMAL, as StarRocks sends them, so
    clients get decimals and not text (mysql-mimic would infer VARCHAR for a Decimal); the others get the
    type of their first non-NULL value. Every column is typed here, by position: mysql-mimic infers by
    name, and a result with two columns of one name (`SELECT k, k`, `SELECT * AS x`) broke it."""
    columns: list[str | ResultColumn] = []
    for i, name in enumerate(names):
        first = next((row[i] for row in rows if row[i] is not None), None)
        if isinstance(first, Decimal):
            type_ = ColumnType.NEWDECIMAL
        elif first is None:
            type_ = ColumnType.NULL
        else:
            type_ = infer_type(first)
        columns.append(ResultColumn(name=str(name), type=type_))
    return columns
