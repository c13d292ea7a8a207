"""SELECT, INSERT and mysql-mimic's own statements: parsed once with sqlglot into typed statements.

mysql-mimic receives a statement only as a `MimicStatement`, chosen here by an allow-list (`_MIMIC_STATEMENTS`
and the SELECT forms in `_select`), never because nothing else took it: what it does not know it would answer
with an empty OK.
"""

from __future__ import annotations

import re
from typing import cast

import sqlglot
from sqlglot import exp

from engine.query import SQLGLOT_TRIPPED, parse, sqlglot_message
from events.errors import ERR_SYNTAX, CatalogError
from sqlfront.parse.ast import Statement
from sqlfront.parse.ast_query import Insert, MimicStatement, Select
from sqlfront.parse.errors import StatementSyntaxError, syntax_error_text, unexpected

_SELECT = re.compile(r"^\s*(select|with)\b", re.I)
_INSERT = re.compile(r"^\s*insert\s+(into|overwrite)\b", re.I)
_MIMIC_STATEMENTS = re.compile(
    r"^\s*(set\b|show\s+(session\s+|global\s+)?(variables|status|warnings|errors)\b|begin\b|"
    r"start\s+transaction\b|commit\b|rollback\b|kill\b)",
    re.I,
)
_PASSTHROUGH_FUNCS = re.compile(r"@@|\b(database|schema|user|current_user|connection_id|version)\s*\(", re.I)
_MIMIC_TREES = (exp.Set, exp.Show, exp.Transaction, exp.Commit, exp.Rollback, exp.Kill, exp.Select)
_MIMIC_SHOWS = ("VARIABLES", "STATUS", "WARNINGS", "ERRORS")


def parse_sql_statement(sql: str) -> Statement | None:
    """The typed statement of a SELECT, an INSERT or one of mysql-mimic's own statements; None otherwise."""
    if _SELECT.match(sql):
        return _select(sql)
    m = _INSERT.match(sql)
    if m:
        return _insert(sql, m.group(1).lower() == "overwrite")
    if _MIMIC_STATEMENTS.match(sql):
        return MimicStatement(sql, _mimic_trees(sql))
    return None


def _select(sql: str) -> Statement:
    tree = parse(sql)
    has_tables = any(isinstance(t.this, exp.Identifier) for t in tree.find_all(exp.Table))
    if not has_tables and _PASSTHROUGH_FUNCS.search(sql):
        return MimicStatement(sql, (tree,))  # `SELECT @@version_comment`, `SELECT database()`
    if any((t.db or "").lower() == "information_schema" for t in tree.find_all(exp.Table)):
        return MimicStatement(sql)
    return Select(tree)


def _insert(sql: str, overwrite: bool) -> Insert:
    if overwrite:
        return Insert(None, overwrite=True)
    tree = parse(sql)
    if not isinstance(tree, exp.Insert) or tree.expression is None:
        raise CatalogError("Getting syntax error at line 1, column 0. Detail message: INSERT needs a target table "
                           "and VALUES or a query.", ERR_SYNTAX)
    return Insert(tree)


def _mimic_trees(stmt: str) -> tuple[exp.Expression, ...]:
    """The statement as sqlglot reads it, refused when mysql-mimic would answer it with an empty OK without
    doing it: a statement its parser keeps only as an opaque command (`SET SNAPSHOT ...`, `SET CATALOG ...`)
    or of a kind it does not handle."""
    try:
        # (sqlglot types what parse returns as its Expr base; every statement tree is an Expression)
        trees = [cast(exp.Expression, t) for t in sqlglot.parse(stmt, read="mysql") if t is not None]
    except sqlglot.errors.SqlglotError as e:
        raise CatalogError(sqlglot_message(e), ERR_SYNTAX) from None
    except (IndexError, KeyError, AttributeError, TypeError, ValueError, AssertionError):
        raise CatalogError(SQLGLOT_TRIPPED, ERR_SYNTAX) from None
    for tree in trees:
        if not _answered(tree):
            words = stmt.split()
            shown = words[1] if len(words) > 1 else words[0] if words else stmt
            col = stmt.find(shown)
            raise StatementSyntaxError(syntax_error_text(1, max(col, 0), unexpected(shown[:40], "a legal statement")))
    return tuple(trees)


def _answered(tree: exp.Expression) -> bool:
    answered = isinstance(tree, _MIMIC_TREES) and not (isinstance(tree, exp.Show) and tree.name.upper() not in
                                                        _MIMIC_SHOWS)
    if isinstance(tree, exp.Set):  # SET alone, SET SESSION, SET TRANSACTION: nothing to set
        answered = answered and bool(tree.expressions) and all(
            isinstance(i, exp.SetItem) and (i.this is not None or i.expressions) for i in tree.expressions)
    return answered
