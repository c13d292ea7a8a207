"""How a refused statement leaves the session: one MySQL error with a code and a bounded message, one bounded
log line, and no secret echoed to either."""

from __future__ import annotations

import logging
import re
import uuid

import duckdb
import sqlglot
from mysql_mimic.errors import ErrorCode, MysqlError

from engine.query import clean_duckdb_error, sqlglot_message
from events.errors import CatalogError
from sqlfront import sqltext
from sqlfront.parse.errors import StatementError, StatementSyntaxError, syntax_error_text

log = logging.getLogger("starbackup.sql")


def invalid_text(data: bytes, e: UnicodeDecodeError) -> MysqlError:
    """A COM_QUERY whose bytes are not valid in the client's character set (utf8mb4): refused with the
    position of the first bad byte, before any parser sees it."""
    text = e.object[: e.start].decode("utf-8", errors="replace") if isinstance(e.object, bytes) else ""
    line, col = sqltext.line_col(text, len(text))
    bad = e.object[e.start : e.start + 4].hex(" ") if isinstance(e.object, bytes) else "?"
    message = syntax_error_text(line, col, f"the statement is not valid UTF-8 (bytes {bad})")
    log.info("statement refused (1064): %s | %s", message,
             logged_statement(data.decode("utf-8", errors="backslashreplace")))
    err = MysqlError(message, code=ErrorCode.PARSE_ERROR)
    err.logged = True
    return err


def refusal(stmt: str, e: BaseException) -> MysqlError:
    """The MySQL error for a statement that failed with `e`, logged as one bounded line. A user's mistake
    is never logged with a traceback; an internal error is, and the client is told no Python text."""
    code: int
    if isinstance(e, sqltext.SqlTextError):
        code, message = e.code, e.message
    elif isinstance(e, CatalogError):
        code, message = e.code, e.message
    elif isinstance(e, MysqlError):
        code, message = int(e.code), e.msg
    elif isinstance(e, StatementSyntaxError):
        code, message = 1064, e.message
    elif isinstance(e, StatementError):
        code, message = 5064, e.message
    elif isinstance(e, duckdb.Error):
        code, message = 1064, clean_duckdb_error(e)
    elif isinstance(e, sqlglot.errors.SqlglotError):
        code, message = 1064, sqlglot_message(e)
    elif isinstance(e, RecursionError):
        code, message = 1064, syntax_error_text(1, 0, "the statement nests too deeply to be analysed (more than "
                                                      f"{sqltext.MAX_NESTING} levels)")
    else:
        ref = uuid.uuid4().hex[:12]
        log.exception("internal error %s on statement: %s", ref, logged_statement(stmt))
        err = MysqlError(f"Internal error {ref} while running the statement; the daemon log has the details",
                         code=1105)
        err.logged = True
        return err
    message = sqltext.clean_message(mask_secret_echo(stmt, message))
    log.info("statement refused (%s): %s | %s", code, sqltext.excerpt(message, 300), logged_statement(stmt))
    err = MysqlError(message, code=code)
    err.logged = True
    return err


class _MimicRefusals(logging.Filter):
    """mysql-mimic logs every error it sends; ours are logged already (one bounded line), and its own are
    cut to one bounded line too."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, MysqlError):
            if getattr(record.msg, "logged", False):
                return False
            record.msg = f"refused ({record.msg.code}): {sqltext.excerpt(record.msg.msg, 300)}"
            record.args = ()
        return True


def quiet_mimic_refusals() -> None:
    logger = logging.getLogger("mysql_mimic.connection")
    if not any(isinstance(f, _MimicRefusals) for f in logger.filters):
        logger.addFilter(_MimicRefusals())
    # sqlglot warns, quoting the whole statement, when it keeps one as an opaque command: we refuse those.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)


_SECRET_PROPERTY = re.compile(r"(secret|password|access[._]key|token)", re.I)


def _holds_secrets(stmt: str) -> bool:
    return bool(_SECRET_PROPERTY.search(stmt))


def mask_secret_echo(stmt: str, message: str) -> str:
    """A syntax error quotes the unexpected input; in a statement holding credentials that input could be
    a secret, so it is not echoed (to the client or the log)."""
    if _holds_secrets(stmt):
        message = re.sub(r"Unexpected input '.*?'(?=, the most similar|\.$|$)", "Unexpected input '******'", message,
                         flags=re.S)
        message = re.sub(r"starting here: .*", "starting here.", message, flags=re.S)
    return message


def logged_statement(stmt: str) -> str:
    """What the log keeps of a refused statement: its first 200 characters, or only its first words when it
    may hold credentials (secrets never reach the log)."""
    if _holds_secrets(stmt):
        words = " ".join(stmt.split()[:3])
        return f"{sqltext.excerpt(words, 60)} ... (may hold credentials: not shown, {len(stmt)} characters)"
    return sqltext.excerpt(stmt)
