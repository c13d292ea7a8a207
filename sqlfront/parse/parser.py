"""The one entry of the parse stage: statement text (comments and hints already blanked by sqltext.prepare)
to a typed statement, or a syntax error.

Tried in order, each by its statement's leading words: the lark statement grammar (BACKUP/RESTORE,
repositories, views, MVs, functions, catalogs, ADMIN: sqlfront.parse.statements), the database and table
forms (sqlfront.parse.ddl, with the table grammar), then SELECT, INSERT and mysql-mimic's own statements
(sqlfront.parse.sql, sqlglot). StarRocks statements starbackup does not run are refused as unsupported;
anything else is a syntax error.
"""

from __future__ import annotations

from sqlfront.parse import ddl, sql, statements
from sqlfront.parse.ast import Statement
from sqlfront.parse.errors import StatementError, StatementSyntaxError, syntax_error_text, unexpected

# StarRocks statements starbackup does not run: refused as unsupported rather than as a syntax error.
_UNSUPPORTED_FIRST_WORDS = {
    "UPDATE", "DELETE", "EXPLAIN", "ANALYZE", "LOAD", "EXPORT", "GRANT", "REVOKE", "SUBMIT", "PAUSE", "RESUME",
    "STOP", "RECOVER", "INSTALL", "UNINSTALL", "SYNC", "EXECUTE", "PREPARE", "DEALLOCATE", "TRACE", "CLEAN",
    "UNSET", "CALL", "REPLACE", "LOCK", "UNLOCK", "FLUSH", "OPTIMIZE", "HELP",
}


class UnsupportedStatement(StatementError):
    """A StarRocks statement starbackup does not run (5064)."""


def parse(text: str) -> Statement:
    """The typed statement `text` is; raises StatementError (or CatalogError from sqlglot's errors)."""
    for parse_kind in (statements.parse_statement, ddl.parse_catalog_statement, sql.parse_sql_statement):
        stmt = parse_kind(text)
        if stmt is not None:
            return stmt
    words = text.split()
    word = words[0] if words else text
    if word.upper() in _UNSUPPORTED_FIRST_WORDS:
        raise UnsupportedStatement(f"{word.upper()} statements are not supported by starbackup")
    raise StatementSyntaxError(syntax_error_text(1, 0, unexpected(word[:40], "a legal statement")))
