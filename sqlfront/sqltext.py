"""The text of one statement before any parser sees it: comments, hints and the input no parser should get.

``prepare(stmt)`` scans the statement once (strings, quoted identifiers, ``$$`` bodies and comments
aware) and returns

* ``text``: the statement with every comment (``/* ... */``, ``-- ...``, ``# ...``) and optimizer hint
  (``/*+ ... */``) replaced by spaces, newlines kept, so that every parser and every handler's pattern
  sees the statement itself, and positions in syntax errors are still those of what the client sent;
* ``hints``: the ``SET_VAR(k = v, ...)`` assignments of StarRocks' ``/*+ SET_VAR(...) */`` hints, which
  the session applies for that statement only.

It refuses, with a :class:`SqlTextError` (MySQL 1064, StarRocks' ``Getting syntax error at line L,
column C`` prefix), what no parser should ever be given: a NUL character, an unterminated string, quoted
identifier, ``$$`` body or comment, parentheses nested deeper than :data:`MAX_NESTING`, a numeric literal
longer than :data:`MAX_NUMBER_DIGITS` digits, a malformed SET_VAR hint.

``split_statements(sql)`` cuts a multi-statement string on the semicolons outside quotes, comments and
``$$`` function bodies (the first step, before ``prepare`` runs on each piece).

The other helpers keep what leaves the session readable and bounded: :func:`clean_message` for the
client, :func:`excerpt` for the daemon log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Deeper nesting is refused before parsing: sqlglot and lark recurse per level, and Python's recursion
# limit would otherwise surface as an internal error. StarRocks has no documented limit; 200 is far beyond
# what generated SQL nests.
MAX_NESTING = 200
# No column type holds a literal this long (DOUBLE's range ends near 309 digits); Python's int() refuses
# strings over 4,300 digits.
MAX_NUMBER_DIGITS = 400
# What an error message or log line may show of the client's input.
MAX_ECHO = 200
MAX_MESSAGE = 1000


class SqlTextError(Exception):
    """A statement refused before parsing; ``message`` is the client's text, ``code`` the MySQL code."""

    def __init__(self, message: str, code: int = 1064) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass
class Prepared:
    text: str
    hints: dict[str, str] = field(default_factory=dict)


_TOKEN = re.compile(
    r"""
      (?P<sq>'(?:[^'\\]++|\\.|'')*+)(?P<sq_end>')?
    | (?P<dq>"(?:[^"\\]++|\\.|"")*+)(?P<dq_end>")?
    | (?P<bq>`(?:[^`]++|``)*+)(?P<bq_end>`)?
    | (?P<dollar>\$\$)
    | (?P<hint>/\*\+)
    | (?P<block>/\*)
    | (?P<line>(?:--|\#)[^\n]*+)
    | (?P<open>[(\[])
    | (?P<close>[)\]])
    | (?P<other>[^'"`$/\-#()\[\]]++|.)
    """,
    re.S | re.X,
)


_LONG_NUMBER = re.compile(rf"[0-9]{{{MAX_NUMBER_DIGITS + 1},}}")


def line_col(text: str, pos: int) -> tuple[int, int]:
    """1-based line and 0-based column of ``pos``, as StarRocks reports them."""
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1)
    return line, col


def syntax_error(text: str, pos: int, detail: str) -> SqlTextError:
    line, col = line_col(text, pos)
    return SqlTextError(f"Getting syntax error at line {line}, column {col}. Detail message: {detail}.")


def _blank(chunk: str) -> str:
    """Spaces for a comment, keeping its newlines (so later positions keep their line and column)."""
    return re.sub(r"[^\n]", " ", chunk)


def prepare(stmt: str) -> Prepared:
    nul = stmt.find("\x00")
    if nul >= 0:
        raise syntax_error(stmt, nul, "a NUL character (\\0) is not allowed in a statement")
    out: list[str] = []
    hints: dict[str, str] = {}
    depth = 0
    pos, n = 0, len(stmt)
    while pos < n:
        m = _TOKEN.match(stmt, pos)
        assert m is not None  # the last alternative matches any character
        kind = m.lastgroup if m.lastgroup not in ("sq_end", "dq_end", "bq_end") else m.lastgroup[:2]
        end = m.end()
        if kind in ("sq", "dq", "bq"):
            if m.group(kind + "_end") is None:
                what = "identifier" if kind == "bq" else "string"
                raise syntax_error(stmt, pos, f"unterminated quoted {what} starting here: "
                                              f"{excerpt(stmt[pos:], 40)}")
            out.append(m.group(0))
        elif kind == "dollar":
            close = stmt.find("$$", end)
            if close < 0:
                raise syntax_error(stmt, pos, "unterminated $$ body")
            out.append(stmt[pos : close + 2])
            end = close + 2
        elif kind in ("hint", "block"):
            close = stmt.find("*/", pos + 2)
            if close < 0:
                raise syntax_error(stmt, pos, "unterminated comment (/* without */)")
            end = close + 2
            chunk = stmt[pos:end]
            if kind == "hint":
                hints.update(_hint_assignments(stmt, pos, chunk[3:-2]))
            out.append(_blank(chunk))
        elif kind == "line":
            out.append(_blank(m.group(0)))
        elif kind == "open":
            depth += 1
            if depth > MAX_NESTING:
                raise syntax_error(stmt, pos, f"the statement nests parentheses more than {MAX_NESTING} levels deep")
            out.append(m.group(0))
        elif kind == "close":
            depth = max(0, depth - 1)
            out.append(m.group(0))
        else:
            if end - pos > MAX_NUMBER_DIGITS:
                long_number = _LONG_NUMBER.search(stmt, pos, end)
                if long_number is not None:
                    raise syntax_error(stmt, long_number.start(), f"a numeric literal of {len(long_number.group(0))} "
                                       f"digits is out of range (at most {MAX_NUMBER_DIGITS})")
            out.append(m.group(0))
        pos = end
    return Prepared("".join(out), hints)


def placeholders(stmt: str) -> list[int]:
    """Positions of the `?` parameter markers of a prepared statement: those outside strings, quoted
    identifiers, `$$` bodies and comments (mysql-mimic's pattern counted a `?` in a comment and missed
    one after a quote in a comment)."""
    out: list[int] = []
    pos, n = 0, len(stmt)
    while pos < n:
        m = _TOKEN.match(stmt, pos)
        assert m is not None
        kind = m.lastgroup if m.lastgroup not in ("sq_end", "dq_end", "bq_end") else m.lastgroup[:2]
        end = m.end()
        if kind == "dollar":
            close = stmt.find("$$", end)
            end = n if close < 0 else close + 2
        elif kind in ("hint", "block"):
            close = stmt.find("*/", pos + 2)
            end = n if close < 0 else close + 2
        elif kind in ("other", "open", "close"):
            out.extend(pos + i for i, ch in enumerate(m.group(0)) if ch == "?")
        pos = end
    return out


def sql_literal(value: object) -> str:
    """A prepared statement's parameter as a SQL literal. Strings are quoted with every quote doubled and
    every backslash escaped (mysql-mimic put them between quotes as they were: a parameter
    `x'; DROP DATABASE d; --` ran the DROP)."""
    import datetime
    import decimal
    import math

    if value is None:
        return "NULL"
    if value is True or value is False:
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SqlTextError(f"A parameter of the prepared statement is not a finite number: {value}", 1210)
        return repr(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("utf-8")  # invalid UTF-8 is refused by the caller (UnicodeDecodeError)
    if isinstance(value, (datetime.date, datetime.time, datetime.timedelta)):
        value = str(value)
    text = str(value)
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def bind_parameters(stmt: str, values: list[object]) -> str:
    """`stmt` with each `?` marker replaced by its parameter's literal."""
    marks = placeholders(stmt)
    if len(marks) != len(values):
        raise SqlTextError(f"Incorrect arguments to mysqld_stmt_execute: {len(marks)} parameter marker(s), "
                           f"{len(values)} value(s)", 1210)
    out, last = [], 0
    for mark, value in zip(marks, values, strict=True):
        out.append(stmt[last:mark])
        out.append(sql_literal(value))
        last = mark + 1
    out.append(stmt[last:])
    return "".join(out)


_SET_VAR = re.compile(r"\s*SET_VAR\s*\((?P<body>.*)\)\s*", re.I | re.S)
_ASSIGNMENT = re.compile(
    r"""\s*(?P<key>[A-Za-z_][A-Za-z0-9_.]*)\s*=\s*
        (?P<value>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*"|[^,'"\s()]+)\s*(?P<sep>,|$)""",
    re.S | re.X,
)


def _hint_assignments(stmt: str, pos: int, body: str) -> dict[str, str]:
    """``SET_VAR(k = v, k2 = 'v2')`` -> {k: v, k2: v2}; other hints (optimizer hints) change nothing here."""
    m = _SET_VAR.fullmatch(body)
    if m is None:
        if re.match(r"\s*SET_VAR\b", body, re.I):
            raise syntax_error(stmt, pos, "malformed SET_VAR hint, expected /*+ SET_VAR(name = value, ...) */")
        return {}
    inner = m.group("body")
    out: dict[str, str] = {}
    i = 0
    while i < len(inner):
        a = _ASSIGNMENT.match(inner, i)
        if a is None or (a.group("sep") == "" and a.end() < len(inner)):
            raise syntax_error(stmt, pos, "malformed SET_VAR hint, expected /*+ SET_VAR(name = value, ...) */")
        value = a.group("value")
        if value[0] in "'\"":
            value = value[1:-1].replace(value[0] * 2, value[0])
        out[a.group("key").lower()] = value
        i = a.end()
    if not out:
        raise syntax_error(stmt, pos, "empty SET_VAR hint")
    return out


# ---------------------------------------------------------------------------------------- output

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _escape_control(m: re.Match[str]) -> str:
    return f"\\x{ord(m.group(0)):02x}"


def clean_message(message: str) -> str:
    """A message fit for a client: control characters (ANSI escapes among them) shown as ``\\xNN``,
    bounded in length."""
    message = _CONTROL.sub(_escape_control, message)
    if len(message) > MAX_MESSAGE:
        message = message[:MAX_MESSAGE] + f"... ({len(message)} characters)"
    return message


def excerpt(text: str, limit: int = MAX_ECHO) -> str:
    """One line of at most ``limit`` characters of ``text`` (newlines and control characters escaped),
    with the full length when it was cut."""
    head = text[:limit]
    shown = _CONTROL.sub(_escape_control, head.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
                         .replace("\t", "\\t"))
    if len(shown) > limit or len(text) > limit:  # escapes may have made it longer: the bound holds for the line
        shown = shown[:limit] + f"... ({len(text)} characters)"
    return shown


def split_statements(sql: str) -> list[str]:
    out: list[str] = []
    buf: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        two = sql[i : i + 2]
        if ch in ("'", '"', "`"):
            j = i + 1
            while j < n:
                if sql[j] == "\\" and ch != "`":
                    j += 2
                    continue
                if sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:  # doubled quote inside a string
                        j += 2
                        continue
                    break
                j += 1
            buf.append(sql[i : j + 1])
            i = j + 1
        elif two == "$$":
            j = sql.find("$$", i + 2)
            j = n if j < 0 else j + 2
            buf.append(sql[i:j])
            i = j
        elif two == "--" or ch == "#":
            j = sql.find("\n", i)
            j = n if j < 0 else j
            buf.append(sql[i:j])
            i = j
        elif two == "/*":
            j = sql.find("*/", i + 2)
            j = n if j < 0 else j + 2
            buf.append(sql[i:j])
            i = j
        elif ch == ";":
            out.append("".join(buf))
            buf = []
            i += 1
        else:
            buf.append(ch)
            i += 1
    out.append("".join(buf))
    return [s.strip() for s in out if _has_code(s)]


def _has_code(stmt: str) -> bool:
    """True when the piece holds more than whitespace and comments. Scans by index: slicing the rest after
    each comment made a statement of many comment lines quadratic (2 MB of `-- x` lines held the event loop,
    every client and SIGTERM, for 11 s)."""
    i, n = 0, len(stmt)
    while i < n:
        ch = stmt[i]
        if ch.isspace():
            i += 1
        elif stmt.startswith("--", i) or ch == "#":
            nl = stmt.find("\n", i)
            i = n if nl < 0 else nl + 1
        elif stmt.startswith("/*", i):
            end = stmt.find("*/", i + 2)
            i = n if end < 0 else end + 2
        else:
            return True
    return False
