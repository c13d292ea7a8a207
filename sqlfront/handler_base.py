"""What every statement handler needs, and nothing of the session's machinery: the session as handlers see
it (`HandlerSession`), the result shape, and small helpers. Handlers import this module, never
sqlfront.session (which imports the handler table)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from mysql_mimic.variables import Variables

from actors.runtime import Runtime
from engine.query import QueryEngine
from events.commands import Command
from events.errors import CatalogError
from events.queries import Query

# A handler's answer: (rows, columns) for a result set, ([], []) for an OK.
Result = Any
R = TypeVar("R")


class Cluster(Protocol):
    """What a handler holds of the cluster (sqlfront.session.ClusterClient): ask the frontend actor and wait."""

    runtime: Runtime
    data_dir: str

    def ask(self, message: Any) -> Any: ...

    def cmd(self, command: Command[R]) -> R: ...

    def read(self, query: Query[R]) -> R: ...

    def resolve(self, refs: list[tuple[str, str]], dbs: list[str]) -> dict[str, Any]: ...

    def require_database(self, name: str) -> None: ...


class HandlerSession(Protocol):
    """The parts of a StarSession a handler uses."""

    cluster: Cluster
    database: str | None
    last_affected_rows: int

    @property
    def db(self) -> str | None: ...

    @property
    def engine(self) -> QueryEngine: ...

    @property
    def variables(self) -> Variables: ...


def ok(affected: int = 0) -> Result:
    return [], []


def rows_affected(s: HandlerSession, n: int) -> Any:
    """An OK packet with the number of rows loaded (the connection reads it from the session)."""
    s.last_affected_rows = n
    return [], []


def like_pattern(pattern: str | None) -> re.Pattern[str] | None:
    """SHOW ... LIKE 'p' as a regex (% any run, _ one character), or None without a pattern."""
    if pattern is None:
        return None
    rx = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return re.compile(f"^{rx}$", re.I | re.S)


def need_db(s: HandlerSession, db: str | None) -> str:
    """The statement's database, else the session's; 1046 when there is none."""
    db = db or s.db
    if not db:
        raise CatalogError("No database selected", 1046)
    return db


def fmt_time(ns: int | None) -> str | None:
    if not ns or ns < 0:
        return None
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")
