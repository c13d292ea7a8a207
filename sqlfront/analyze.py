"""The analyze stage: the checks of a parsed statement that need the session (its variables), apart from
parsing. Checks that need only the statement's text are the parser's (StatementSemanticError); checks that
need the catalog are the frontend's."""

from __future__ import annotations

from sqlglot import exp

from events.errors import CatalogError
from sqlfront.handler_base import HandlerSession
from sqlfront.parse.ast import Statement
from sqlfront.parse.ast_query import Insert, MimicStatement
from sqlfront.variables import check_charset


def analyze(s: HandlerSession, stmt: Statement) -> None:
    """Refuse what the session's state makes wrong before the handler runs."""
    if isinstance(stmt, MimicStatement):
        _mimic(s, stmt)
    elif isinstance(stmt, Insert) and stmt.overwrite:
        raise CatalogError("INSERT OVERWRITE is not supported")


def _mimic(s: HandlerSession, stmt: MimicStatement) -> None:
    """@@variables nobody defines are an error (mysql-mimic would answer NULL), and so are character sets a
    session may not use."""
    for tree in stmt.trees:
        for param in tree.find_all(exp.SessionParameter):
            s.variables.get_schema(param.name)
        if isinstance(tree, exp.Set):
            for item in tree.expressions:
                if isinstance(item, exp.SetItem) and item.text("kind").upper() in ("NAMES", "CHARACTER SET") \
                        and item.name.upper() != "DEFAULT":
                    check_charset(item.name)
