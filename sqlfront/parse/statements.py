"""Parser for the StarRocks statements sqlglot cannot handle (grammar: ``statements.lark``).

``parse_statement(sql)``:

* returns ``None`` when the statement is not one of ours (decided cheaply from its leading keywords,
  before lark runs) -- the caller falls back to sqlglot;
* returns a :class:`sqlfront.parse.ast.Statement` on success;
* raises :class:`StatementSyntaxError` (the caller reports MySQL error 1064) for a statement that
  starts like ours but does not match the grammar;
* raises :class:`StatementSemanticError` for the analyzer errors StarRocks raises that can be detected
  without catalog access (property validation, duplicated tables/aliases, SHOW SNAPSHOT WHERE shape,
  missing ``backup_timestamp``...).
"""

from __future__ import annotations

import re

from lark import Token, Tree
from lark.exceptions import UnexpectedInput

from sqlfront.parse import ast, grammar
from sqlfront.parse.build_jobs import JobStatements
from sqlfront.parse.build_objects import ObjectStatements
from sqlfront.parse.errors import StatementSemanticError, StatementSyntaxError

__all__ = ["StatementSemanticError", "StatementSyntaxError", "parse_statement", "is_our_statement"]


# ---------------------------------------------------------------------------------------- cheap dispatch

_LEAD_RE = re.compile(r"\s+|--[^\n]*|/\*.*?\*/|([A-Za-z_][A-Za-z0-9_]*)|.", re.S)


def _leading_words(sql: str, n: int = 4) -> list[str]:
    words: list[str] = []
    for m in _LEAD_RE.finditer(sql):
        word = m.group(1)
        if word is None:
            if m.group(0)[0].isspace() or m.group(0).startswith(("--", "/*")):
                continue
            break
        words.append(word.upper())
        if len(words) == n:
            break
    return words


_CREATE_SECOND = {"REPOSITORY", "READ", "VIEW", "MATERIALIZED", "FUNCTION", "GLOBAL", "AGGREGATE"}
_DROP_SECOND = {"REPOSITORY", "VIEW", "MATERIALIZED", "FUNCTION", "CATALOG"}
_SHOW_SECOND = {"REPOSITORIES", "BACKUP", "RESTORE", "SNAPSHOT", "CATALOGS", "FUNCTIONS", "MATERIALIZED"}


def is_our_statement(sql: str) -> bool:
    """True when ``sql`` starts with the leading keywords of a statement this module parses."""
    w = _leading_words(sql) + ["", "", "", ""]
    first, second, third, fourth = w[0], w[1], w[2], w[3]
    if first in ("BACKUP", "RESTORE"):
        return True
    if first == "CANCEL":
        return second in ("BACKUP", "RESTORE")
    if first == "CREATE":
        return (
            second in _CREATE_SECOND
            or (second == "OR" and third == "REPLACE" and fourth == "VIEW")
            or (second == "TABLE" and third == "FUNCTION")
            or (second == "EXTERNAL" and third == "CATALOG")
        )
    if first == "DROP":
        return second in _DROP_SECOND or (second == "GLOBAL" and third == "FUNCTION")
    if first == "SHOW":
        return (
            second in _SHOW_SECOND
            or (second == "CREATE" and third in ("VIEW", "MATERIALIZED", "CATALOG"))
            or (second == "FULL" and (third == "FUNCTIONS" or (third == "GLOBAL" and fourth == "FUNCTIONS")))
            or (second == "GLOBAL" and third == "FUNCTIONS")
        )
    if first == "ALTER":
        return second in ("VIEW", "MATERIALIZED")
    if first == "REFRESH":
        return second == "MATERIALIZED"
    if first == "ADMIN":
        return second in ("SET", "SHOW") and third == "FRONTEND"
    return False


# ---------------------------------------------------------------------------------------- trailing ';'

_SIGNIFICANT_RE = re.compile(
    r"""\s+|--[^\n]*|/\*.*?(?:\*/|\Z)|'(?:[^'\\]|\\.|'')*'?|"(?:[^"\\]|\\.|"")*"?|`(?:[^`]|``)*`?"""
    r"""|\$\$.*?(?:\$\$|\Z)|[^\s'"`$;/-]+|.""",
    re.S,
)


def _strip_terminator(sql: str) -> str:
    """Drop one trailing ``;`` and any whitespace/comments around it (strings and comments aware)."""
    last_end = 0
    last_semicolon: tuple[int, int] | None = None  # (start, end of significant text before it)
    for m in _SIGNIFICANT_RE.finditer(sql):
        tok = m.group(0)
        if tok[0].isspace() or tok.startswith(("--", "/*")):
            continue
        if tok == ";":
            last_semicolon = (m.start(), last_end)
        else:
            last_semicolon = None
        last_end = m.end()
    if last_semicolon is not None:
        return sql[: last_semicolon[1]]
    return sql[:last_end]


# ---------------------------------------------------------------------------------------- public API


def parse_statement(sql: str) -> ast.Statement | None:
    """Parse one statement; see the module docstring for the contract."""
    if not is_our_statement(sql):
        return None
    text = _strip_terminator(sql)
    lark = grammar.parser("statements", propagate_positions=True)
    try:
        tree = lark.parse(text)
    except UnexpectedInput as exc:
        raise grammar.syntax_error(lark, text, exc) from None
    first = tree.children[0]
    assert isinstance(first, Tree)  # the grammar's start rule is one statement rule
    return _Builder(text).build(first)


class _Builder(JobStatements, ObjectStatements):
    """One method per statement rule of statements.lark, named after it (`_backup` builds `backup`)."""

    def build(self, node: Tree[Token]) -> ast.Statement:
        method = getattr(self, "_" + str(node.data))
        statement: ast.Statement = method(node)
        return statement
