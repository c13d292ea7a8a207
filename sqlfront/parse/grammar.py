"""The lark grammars of the SQL front, loaded from the `.lark` files beside this module, and lark's errors as
StarRocks' syntax error text.

- `statements.lark`: BACKUP/RESTORE, repositories, views, materialized views, functions, catalogs, ADMIN.
- `table.lark`: CREATE TABLE, ALTER TABLE ... PARTITION, TRUNCATE TABLE.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

from lark import Lark
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from sqlfront.parse.errors import StatementSyntaxError, line_col, syntax_error_text, unexpected

_HERE = Path(__file__).parent
_parsers: dict[str, Lark] = {}
_lock = threading.Lock()


def parser(name: str, **options: Any) -> Lark:
    """The LALR parser of grammar file `<name>.lark`, built once. Building the tables takes about a second;
    lark caches them in a file keyed by grammar, options and lark version (rebuilt when unusable)."""
    found = _parsers.get(name)
    if found is None:
        with _lock:
            found = _parsers.get(name)
            if found is None:
                found = Lark((_HERE / f"{name}.lark").read_text(encoding="utf-8"), parser="lalr", lexer="contextual",
                             maybe_placeholders=False, cache=True, **options)
                _parsers[name] = found
    return found


# How lark's terminal names read in "the most similar input is {...}".
_TERMINAL_DISPLAY = {
    "IDENT": "a legal identifier",
    "BQIDENT": "a legal identifier",
    "QUOTED_IDENT": "a legal identifier",
    "STRING": "a string",
    "INT": "an integer",
    "DECIMAL": "a number",
    "NUMBER": "a number",
    "QUERY": "a query",
    "DOLLAR_BODY": "'$$'",
    "COMPOP": "a comparison operator",
    "ARITHOP": "an operator",
    "AGG": "an aggregate type",
    "KEYS_TYPE": "DUPLICATE/AGGREGATE/UNIQUE/PRIMARY",
    "$END": "<EOF>",
}


def _display_expected(lark: Lark, names: set[str]) -> str:
    shown: set[str] = set()
    by_name = {t.name: t for t in lark.terminals}
    for name in names:
        if name in _TERMINAL_DISPLAY:
            shown.add(_TERMINAL_DISPLAY[name])
            continue
        term = by_name.get(name)
        if term is not None and term.pattern.type == "str":
            shown.add(f"'{term.pattern.value.upper()}'")
        else:
            shown.add(name)
    return ", ".join(sorted(shown, key=lambda s: (s.startswith("'") is False, s)))


_WORD = re.compile(r"[^\s(),;]+|.")


def syntax_error(lark: Lark, text: str, exc: UnexpectedInput) -> StatementSyntaxError:
    """lark's error for `text` as StarRocks' message: where, the unexpected input, what could come there."""
    expected: set[str] = set()
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        expected = set(exc.expected or ())
        if tok.type == "$END":
            pos, shown = len(text.rstrip()), "<EOF>"
        else:
            pos, shown = tok.start_pos or 0, str(tok.value)
    elif isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream or 0
        expected = set(exc.allowed or ())
        m = _WORD.match(text, pos)
        shown = m.group(0) if m else text[pos : pos + 1]
    elif isinstance(exc, UnexpectedEOF):
        pos, shown = len(text.rstrip()), "<EOF>"
        expected = set(exc.expected or ())
    else:  # pragma: no cover - other UnexpectedInput subclasses are Earley-only
        pos, shown = 0, text[:1]
    interactive = getattr(exc, "interactive_parser", None)
    if interactive is not None:
        try:  # the exact acceptable set (the LALR state's lookaheads over-approximate it)
            expected = set(interactive.accepts())
        except Exception:  # noqa: BLE001  (best effort only)  # pragma: no cover
            pass
    shown = shown.split()[0] if shown.strip() else shown
    line, col = line_col(text, pos)
    detail = unexpected(shown[:40], _display_expected(lark, expected) if expected else None)
    return StatementSyntaxError(syntax_error_text(line, col, detail))
