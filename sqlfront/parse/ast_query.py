"""Typed statements that carry a sqlglot tree, parsed once by sqlfront.parse.sql and handed to their handler
(and, for SELECT and INSERT ... SELECT, to the query engine) without being parsed again."""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from sqlfront.parse.ast import Statement


@dataclass(frozen=True, eq=False)
class Select(Statement):
    """A SELECT (or WITH ... SELECT, a UNION) over our tables."""

    tree: exp.Expression


@dataclass(frozen=True, eq=False)
class Insert(Statement):
    """INSERT INTO t [(cols)] VALUES ... | SELECT ...; ``tree`` is None for INSERT OVERWRITE (refused)."""

    tree: exp.Insert | None
    overwrite: bool = False


@dataclass(frozen=True, eq=False)
class MimicStatement(Statement):
    """What mysql-mimic answers itself: session variables (SET, SHOW VARIABLES/STATUS/WARNINGS/ERRORS),
    transactions (BEGIN/COMMIT/ROLLBACK: every statement commits on its own), KILL, SELECTs of @@variables and
    information functions without tables, and SELECTs of information_schema. ``trees`` are the parsed
    statements whose @@variables and character sets the analyzer checks against the session."""

    text: str
    trees: tuple[exp.Expression, ...] = ()
