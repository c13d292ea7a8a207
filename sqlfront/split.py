"""Split a multi-statement string on semicolons outside quotes, comments and $$ function bodies."""

from __future__ import annotations


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
