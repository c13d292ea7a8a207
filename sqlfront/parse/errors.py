"""The parse package's errors and its one syntax-error text.

Every grammar (the lark files beside `grammar.py`, the DDL statement forms, sqlglot for INSERT/SELECT) reports
a statement it cannot read as StarRocks does: "Getting syntax error at line L, column C. Detail message: ..."
(line from 1, column from 0, as ANTLR counts), built by `syntax_error_text`.
"""

from __future__ import annotations

from typing import Any

from events.errors import ERR_SYNTAX


class StatementError(Exception):
    """Base class; ``message`` is the text sent to the client."""

    code = 5064

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class StatementSyntaxError(StatementError):
    """Malformed statement (MySQL error 1064)."""

    code = ERR_SYNTAX


class StatementSemanticError(StatementError):
    """Analyzer error detectable without catalog access."""


def syntax_error_text(line: int, column: int, detail: str) -> str:
    """StarRocks' syntax error message; `detail` is what follows "Detail message: " (without its final '.')."""
    return f"Getting syntax error at line {line}, column {column}. Detail message: {detail}."


def unexpected(found: str, expected: str | None = None) -> str:
    """The detail of an unexpected token: `Unexpected input 'x', the most similar input is {...}`."""
    detail = f"Unexpected input '{found}'"
    if expected:
        detail += f", the most similar input is {{{expected}}}"
    return detail


def line_col(text: str, pos: int) -> tuple[int, int]:
    """The 1-based line and 0-based column of offset `pos` in `text`."""
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1)
    return line, col


def error_at(token: Any, detail: str) -> StatementSyntaxError:
    """A syntax error at a lark token (its line from 1, its column from 1, shown from 0)."""
    return StatementSyntaxError(syntax_error_text(token.line or 1, (token.column or 1) - 1, detail))
