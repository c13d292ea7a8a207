"""One MySQL connection: split statements, route each to its handler, turn refusals into MySQL errors.

Our statements run on a worker thread (sqlfront.interrupt) so a slow load never blocks other clients, and
KILL, a client that goes away and shutdown interrupt them.
Statements we do not own (SET, SHOW VARIABLES, SELECT @@version_comment, ...) go to mysql-mimic's own
middlewares, which is what MySQL clients expect when they connect.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import duckdb
from mysql_mimic import Session
from mysql_mimic.errors import MysqlError
from mysql_mimic.results import ResultColumn
from mysql_mimic.types import ColumnType
from sqlglot import exp

from events.errors import CatalogError
from sqlfront.cluster import ClusterClient
from sqlfront.interrupt import run_interruptible
from sqlfront.query import QueryEngine, clean_duckdb_error, parse
from sqlfront.split import split_statements

log = logging.getLogger("starbackup.sql")

Result = Any
Handler = Callable[["StarSession", str, re.Match[str]], Result]
_HANDLERS: list[tuple[re.Pattern[str], Handler]] = []
AstHandler = Callable[["StarSession", Any], Result]
AST_HANDLERS: dict[type, AstHandler] = {}

NOT_OURS = object()
# Session-level statements that MySQL clients send and mysql-mimic answers well.
_MIMIC_STATEMENTS = re.compile(
    r"^\s*(set|show\s+(session\s+|global\s+)?(variables|status|warnings|errors|engines|charset|collation|"
    r"character\s+set|processlist|grants|privileges|plugins)|begin|start\s+transaction|commit|rollback|kill|"
    r"select|/\*)",
    re.I,
)
_PASSTHROUGH_FUNCS = re.compile(r"@@|\b(database|schema|user|current_user|connection_id|version)\s*\(", re.I)


def statement(pattern: str) -> Callable[[Handler], Handler]:
    """Register a handler for statements matching `pattern` (case-insensitive, from the start)."""

    def register(fn: Handler) -> Handler:
        _HANDLERS.append((re.compile(r"^\s*" + pattern, re.I | re.S), fn))
        return fn

    return register


def ast_statement(cls: type) -> Callable[[AstHandler], AstHandler]:
    def register(fn: AstHandler) -> AstHandler:
        AST_HANDLERS[cls] = fn
        return fn

    return register


class StarSession(Session):
    def __init__(self, cluster: ClusterClient) -> None:
        super().__init__()
        # What `mysql` prints on connect and what `SELECT @@version_comment` answers.
        self.variables.set("version_comment", "starbackup (StarRocks-compatible BACKUP/RESTORE)", force=True)
        self.cluster = cluster
        self._engine: QueryEngine | None = None
        self.last_affected_rows = 0

    @property
    def engine(self) -> QueryEngine:
        if self._engine is None:
            from sqlfront.functions import register_functions

            self._engine = QueryEngine(self.cluster.resolve, register_functions)
        return self._engine

    @property
    def db(self) -> str | None:
        return self.database

    async def handle_query(self, sql: str, attrs: dict[str, str]) -> Result:
        result: Result = None
        for stmt in split_statements(sql):
            result = await self._one(stmt, attrs)
        return result if result is not None else ([], [])

    async def _one(self, stmt: str, attrs: dict[str, str]) -> Result:
        try:
            result = await run_interruptible(self, self.execute, stmt)
            if result is NOT_OURS:
                return await super().handle_query(stmt, attrs)
            return result
        except duckdb.Error as e:
            message = clean_duckdb_error(e)
            log.info("statement refused (1064): %s", message)
            raise MysqlError(message, code=1064) from None  # type: ignore[arg-type]
        except CatalogError as e:
            log.info("statement refused (%s): %s", e.code, e.message)
            raise MysqlError(e.message, code=e.code) from None  # type: ignore[arg-type]
        except MysqlError as e:
            log.info("statement refused (%s): %s", e.code, e.msg)
            raise
        except Exception as e:  # never a traceback to the client, never a dropped connection
            log.exception("internal error on statement")
            raise MysqlError(f"Internal error: {type(e).__name__}: {e}", code=1105) from None  # type: ignore[arg-type]

    def execute(self, stmt: str) -> Result:
        """Run one statement synchronously; NOT_OURS hands it to mysql-mimic."""
        from sqlfront import stmt_parser

        try:
            ast = stmt_parser.parse_statement(stmt)
        except stmt_parser.StatementSyntaxError as e:
            raise CatalogError(_mask_secret_echo(stmt, str(e)), 1064) from None
        except stmt_parser.StatementError as e:
            raise CatalogError(str(e)) from None
        if ast is not None:
            handler = AST_HANDLERS.get(type(ast))
            if handler is None:
                raise CatalogError(f"Statement {type(ast).__name__} is not supported yet")
            return handler(self, ast)
        for pattern, fn in _HANDLERS:
            m = pattern.match(stmt)
            if m:
                return fn(self, stmt, m)
        if _MIMIC_STATEMENTS.match(stmt):
            return NOT_OURS
        word = stmt.split(None, 1)[0] if stmt.split() else stmt
        raise CatalogError(
            f"Getting syntax error at line 1, column 0. Detail message: Unexpected input '{word}', "
            "the most similar input is {a legal statement}.",
            1064,
        )

    async def use(self, database: str) -> None:
        if database and database.lower() != "information_schema":
            await run_interruptible(self, self.cluster.require_database, database)
        self.database = database


# ---------------------------------------------------------------------------- SELECT


@statement(r"(select|with)\b")
def _select(s: StarSession, sql: str, m: re.Match[str]) -> Result:
    tree = parse(sql)
    has_tables = any(isinstance(t.this, exp.Identifier) for t in tree.find_all(exp.Table))
    if not has_tables and _PASSTHROUGH_FUNCS.search(sql):
        return NOT_OURS
    if any((t.db or "").lower() == "information_schema" for t in tree.find_all(exp.Table)):
        return NOT_OURS
    rows, names = s.engine.select(sql, s.db)
    return rows, typed_columns(rows, names)


def typed_columns(rows: list[tuple[Any, ...]], names: list[str]) -> list[str | ResultColumn]:
    """Column definitions for a result: DECIMAL columns are declared NEWDECIMAL, as StarRocks sends them, so
    clients get decimals and not text (mysql-mimic would infer VARCHAR for a Decimal); the rest is inferred."""
    columns: list[str | ResultColumn] = list(names)
    for i, name in enumerate(names):
        first = next((row[i] for row in rows if row[i] is not None), None)
        if isinstance(first, Decimal):
            columns[i] = ResultColumn(name=name, type=ColumnType.NEWDECIMAL)
    return columns


_SECRET_PROPERTY = re.compile(r"(secret|password|access[._]key|token)", re.I)


def _mask_secret_echo(stmt: str, message: str) -> str:
    """A syntax error quotes the unexpected input; in a statement holding credentials that input could be
    a secret, so it is not echoed (to the client or the log)."""
    if _SECRET_PROPERTY.search(stmt) and re.search(r"\bproperties\b", stmt, re.I):
        return re.sub(r"Unexpected input '[^']*'", "Unexpected input '******'", message)
    return message


def load_modules() -> None:
    """Import the modules that register statement handlers."""
    import sqlfront.handlers_ddl  # noqa: F401
    import sqlfront.handlers_dml  # noqa: F401

    for optional in ("sqlfront.handlers_objects", "sqlfront.handlers_repo", "sqlfront.handlers_backup"):
        try:
            __import__(optional)
        except ModuleNotFoundError as e:
            if e.name != optional:
                raise
