"""The one unquoting routine for string literals and back-quoted identifiers, used by every grammar.

MySQL's (and StarRocks') rules: inside '...' or "...", a doubled enclosing quote is one quote, and a backslash
escapes the next character: \\0 NUL, \\b backspace, \\n newline, \\r carriage return, \\t tab, \\Z ASCII 26
(Ctrl-Z); any other escaped character is itself (\\' is ', \\\\ is \\, \\x is x).
"""

from __future__ import annotations

import re

_ESCAPES = {"0": "\0", "b": "\b", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a"}
_ESCAPE = {"'": re.compile(r"\\(.)|('')", re.S), '"': re.compile(r'\\(.)|("")', re.S)}


def unquote_string(raw: str) -> str:
    """The value of a quoted string literal `raw` (its quotes included)."""
    quote, body = raw[0], raw[1:-1]

    def repl(m: re.Match[str]) -> str:
        escaped = m.group(1)
        return quote if escaped is None else _ESCAPES.get(escaped, escaped)

    return _ESCAPE[quote].sub(repl, body)


def unquote_ident(text: str) -> str:
    """An identifier as written: a back-quoted one without its quotes and with `` as one `."""
    text = text.strip()
    if len(text) >= 2 and text.startswith("`") and text.endswith("`"):
        return text[1:-1].replace("``", "`")
    return text
