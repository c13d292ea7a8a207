"""One MySQL connection: split statements, route each to its handler, turn refusals into MySQL errors.

Our statements run on a worker thread (sqlfront.interrupt) so a slow load never blocks other clients, and
KILL, a client that goes away and shutdown interrupt them.
Statements we do not own (SET, SHOW VARIABLES, SELECT @@version_comment, ...) go to mysql-mimic's own
middlewares, which is what MySQL clients expect when they connect.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import duckdb
import sqlglot
from mysql_mimic import Session
from mysql_mimic.errors import MysqlError
from mysql_mimic.results import ensure_result_set
from mysql_mimic.schema import Column, InfoSchema, info_schema_tables
from mysql_mimic.variables import GlobalVariables
from sqlglot import exp

from actors.runtime import Runtime
from engine.functions import register_functions
from engine.query import QueryEngine
from events.commands import Command
from events.errors import CatalogError, unknown_database
from events.queries import Databases, Query, Resolve, TableLayout, Tables
from sqlfront import sqltext
from sqlfront.handler_base import Result
from sqlfront.handlers import HANDLERS, Handler, analyze
from sqlfront.handlers_select import NOT_OURS
from sqlfront.interrupt import on_daemon_thread, outcome_value, run_interruptible
from sqlfront.parse import parser
from sqlfront.parse.ast import Statement
from sqlfront.parse.ast_query import Insert, Select
from sqlfront.parse.errors import StatementError, StatementSyntaxError
from sqlfront.refusal import mask_secret_echo, refusal
from sqlfront.sqltext import split_statements
from sqlfront.variables import (
    SESSION_VARIABLES,
    StarRocksVariables,
    coerce_variable,
    like_regex,
    lowercase_names,
    show_condition,
)

T = TypeVar("T")
R = TypeVar("R")

# What a SQL session holds of the cluster: a way to ask the frontend actor and wait for the answer.
# Sessions are not actors, so they may wait (pykka's rule is only that actors never wait on each other).
# A command (`events/commands.py`) or query (`events/queries.py`) value is the message itself.
ASK_TIMEOUT_S = 3600.0


class ClusterClient:
    """The session's way to the frontend actor (handlers see it as sqlfront.handler_base.Cluster)."""

    def __init__(self, runtime: Runtime, data_dir: str, fe: str = "fe") -> None:
        self.runtime = runtime
        self.data_dir = data_dir
        self.fe = fe

    def ask(self, message: Any) -> Any:
        return self.runtime.ask(self.fe, message, timeout=ASK_TIMEOUT_S)

    def cmd(self, command: Command[R]) -> R:
        reply: R = self.ask(command)
        return reply

    def read(self, query: Query[R]) -> R:
        answer: R = self.ask(query)
        return answer

    def resolve(self, refs: list[tuple[str, str]], dbs: list[str]) -> dict[str, Any]:
        return self.read(Resolve(refs=[(r[0], r[1]) for r in refs], function_dbs=list(dbs)))

    def require_database(self, name: str) -> None:
        if name not in self.read(Databases()):
            raise unknown_database(name)


class StarSession(Session):
    def __init__(self, cluster: ClusterClient) -> None:
        super().__init__(StarRocksVariables(GlobalVariables(SESSION_VARIABLES)))
        # What `mysql` prints on connect and what `SELECT @@version_comment` answers.
        self.variables.set("version_comment", "starbackup (StarRocks-compatible BACKUP/RESTORE)", force=True)
        self.cluster = cluster
        self._engine: QueryEngine | None = None
        self.last_affected_rows = 0

    @property
    def engine(self) -> QueryEngine:
        if self._engine is None:
            self._engine = QueryEngine(self.cluster.resolve, register_functions)
        return self._engine

    @property
    def db(self) -> str | None:
        return self.database

    async def handle_query(self, sql: str, attrs: dict[str, str]) -> Result:
        result: Result = None
        for stmt in await off_loop(split_statements, sql):
            result = await self._one(stmt, attrs)
        return result if result is not None else ([], [])

    async def _one(self, stmt: str, attrs: dict[str, str]) -> Result:
        """Run one statement. This is the one place a statement's errors leave the session: every refusal
        becomes a MySQL error with a code and a readable, bounded message, and one bounded log line."""
        try:
            prepared = await off_loop(sqltext.prepare, stmt)
            with self._statement_variables(prepared.hints):
                result = await run_interruptible(self, self.run, prepared.text)
                if result is NOT_OURS:
                    result = await self._mimic(prepared.text.strip(), attrs)
            return result
        except Exception as e:  # noqa: BLE001  (mapped, never a traceback to the client, never a dropped connection)
            raise refusal(stmt, e) from None

    async def _mimic(self, stmt: str, attrs: dict[str, str]) -> Result:
        """mysql-mimic answers a session statement, a static SELECT or a query of information_schema (with
        sqlglot's Python executor). What that executor cannot evaluate (a str + int, an unknown function,
        a join whose columns clash) is refused here, inside the boundary, and not half-way through
        writing a result."""
        try:
            result = await super().handle_query(stmt, attrs)
            return None if result is None else await ensure_result_set(result)
        except (MysqlError, CatalogError, sqlglot.errors.ParseError, sqlglot.errors.TokenError):
            raise
        except (sqlglot.errors.SqlglotError, TypeError, ValueError, KeyError, NameError, IndexError,
                AttributeError, ArithmeticError, AssertionError):
            raise CatalogError("This statement over session variables or information_schema uses an "
                               "expression, function or join that cannot be evaluated here", 5064) from None

    @contextmanager
    def _statement_variables(self, hints: dict[str, str]) -> Iterator[None]:
        """StarRocks' /*+ SET_VAR(k = v) */: the variables hold for this statement only."""
        values = {name: coerce_variable(self.variables, name, value) for name, value in hints.items()}
        saved = {name: self.variables.get_variable(name) for name in values}
        hinted: dict[str, Any] = {}
        try:
            for name, value in values.items():
                self.variables.set(name, value)
                hinted[name] = self.variables.get_variable(name)
            yield
        finally:
            for name, value in saved.items():
                # a statement that set the variable itself (`/*+ SET_VAR(x = 1) */ SET x = 2`) keeps its value
                if name not in hinted or self.variables.get_variable(name) == hinted[name]:
                    self.variables.set(name, value)

    def execute(self, stmt: str) -> Result:
        """Run one statement given as the client wrote it (comments and hints are blanked first)."""
        return self.run(sqltext.prepare(stmt).text)

    def run(self, stmt: str) -> Result:
        """Run one statement whose comments are blanked (sqltext.prepare): parse it into a typed statement,
        analyze it, run the handler its type names in sqlfront.handlers.HANDLERS; NOT_OURS hands it to
        mysql-mimic."""
        try:
            parsed = parser.parse(stmt)
        except StatementSyntaxError as e:
            raise CatalogError(mask_secret_echo(stmt, str(e)), 1064) from None
        except StatementError as e:
            raise CatalogError(e.message, e.code) from None
        analyze(self, parsed)
        handler = HANDLERS.get(type(parsed))
        if handler is None:
            raise CatalogError(f"Statement {type(parsed).__name__} is not supported yet")
        return self._timed(parsed, handler)

    def _timed(self, stmt: Statement, handler: Handler) -> Result:
        """The handler under StarRocks' timeouts: a SELECT still running after query_timeout seconds, an
        INSERT after insert_timeout seconds, is interrupted (an interrupted INSERT stores nothing)."""
        if not isinstance(stmt, (Select, Insert)):
            return handler(self, stmt)
        variable = "insert_timeout" if isinstance(stmt, Insert) else "query_timeout"
        timeout = int(self.variables.get(variable) or 0)
        if timeout <= 0 or timeout > MAX_TIMER_S:  # beyond what a timer can wait: no limit, as for 0
            return handler(self, stmt)
        con = self.engine.con
        fired = threading.Event()

        def interrupt() -> None:
            fired.set()
            con.interrupt()

        timer = threading.Timer(timeout, interrupt)
        timer.daemon = True
        timer.start()
        try:
            return handler(self, stmt)
        except (duckdb.Error, CatalogError):
            if fired.is_set():
                raise CatalogError(f"Query reached its timeout of {timeout} seconds, please increase the "
                                   f"'{variable}' session variable and retry", 5024) from None
            raise
        finally:
            timer.cancel()

    async def schema(self) -> InfoSchema:
        """What mysql-mimic's information_schema shows: our databases, tables and columns (without it, a
        query of information_schema.tables would answer that we have no tables). Built from columns, with
        databases and tables that have none added: mysql-mimic guessed the mapping's shape from its depth,
        and one database without tables made it read databases as tables (SCHEMATA listed '', not ours)."""
        catalog = await run_interruptible(self, self._catalog_schema)
        columns = [Column(name=c, type=t, table=table, schema=db, catalog="def")
                   for db, tables in catalog.items() for table, cols in tables.items() for c, t in cols.items()]
        data = info_schema_tables(columns)
        for db, tables in sorted(catalog.items()):
            if not any(tables.values()):
                data["information_schema"]["schemata"].append(("def", db, "utf8mb4", "utf8mb4_general_ci", None))
            for table, cols in sorted(tables.items()):
                if not cols:
                    data["information_schema"]["tables"].append(
                        ("def", db, table, "BASE TABLE", "StarRocks", "1.0", *([None] * 11), "utf8mb4_general_ci",
                         None, None, None))
        return InfoSchema(data)

    def _catalog_schema(self) -> dict[str, dict[str, dict[str, str]]]:
        out: dict[str, dict[str, dict[str, str]]] = {}
        for db in self.cluster.read(Databases()):
            tables: dict[str, dict[str, str]] = {}
            for t in self.cluster.read(Tables(db=db)):
                try:
                    layout = self.cluster.read(TableLayout(db=db, table=t["name"]))
                    columns = layout["table"].get("columns") or []
                    tables[t["name"]] = {c["name"]: c["type"] for c in columns}
                except CatalogError:
                    tables[t["name"]] = {}
            out[db] = tables
        return out

    def _show_variables(self, show: exp.Show) -> Result:
        """SHOW VARIABLES [LIKE 'p']: the pattern is SQL's LIKE (mysql-mimic compiles it as a regex, so
        `LIKE '(('` was an internal error)."""
        rows = [(k, None if v is None else str(v)) for k, v in self.variables.list()]
        like = show.text("like")
        if like:
            rx = like_regex(like)
            rows = [(k, v) for k, v in rows if rx.fullmatch(k)]
        where = show.args.get("where")
        if where is not None:  # mysql-mimic ignored it and listed every variable
            condition = where.this if isinstance(where, exp.Where) else where
            rows = [(k, v) for k, v in rows if show_condition(condition, {"variable_name": k, "value": v})]
        return rows, ["Variable_name", "Value"]

    def _set_names(self, item: exp.SetItem) -> None:
        lowercase_names(item)
        super()._set_names(item)

    def _set_charset(self, item: exp.SetItem) -> None:
        lowercase_names(item)
        super()._set_charset(item)

    async def use(self, database: str) -> None:
        try:
            if database and database.lower() != "information_schema":
                await run_interruptible(self, self.cluster.require_database, database)
        except Exception as e:  # noqa: BLE001  (COM_INIT_DB: the same errors as a USE statement)
            raise refusal(f"USE {database}", e) from None
        self.database = database


# A threading.Timer cannot wait longer than threading.TIMEOUT_MAX (about 292 years): its thread dies with an
# OverflowError. A timeout beyond a century bounds nothing anyway.
MAX_TIMER_S = 100 * 365 * 86400


OFF_LOOP_CHARS = 64 * 1024  # statements longer than this are scanned on a thread


async def off_loop(fn: Callable[[str], T], text: str) -> T:
    """fn(text), on a thread when the text is long: scanning megabytes of SQL in the event loop held every
    other client, and the SIGTERM handler, until it ended."""
    if len(text) < OFF_LOOP_CHARS:
        return fn(text)
    return outcome_value(await on_daemon_thread(fn, text, name="scan-statement"))  # type: ignore[no-any-return]


