"""The questions a SQL session (or the engine, or an actor) asks the frontend: one frozen value per kind.

A query changes nothing; the frontend looks its handler up by type in the same table as the commands
(`actors/fe_table.py`) and answers with plain data, never a live state object (the asking session runs on
another thread). Pure answers (the state alone) are in `events/reads.py`; those that need the shell (file
paths under the data directory, the secret box, the job engine's retry reasons) in `actors/fe_*.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

R = TypeVar("R", covariant=True)
Plain = dict[str, Any]


@dataclass(frozen=True)
class Query(Generic[R]):
    """Base of every query value (the frontend's dispatch tells queries from commands by it). `R` is the
    type of its answer, so `ClusterClient.read(Databases())` is known to answer a list of names."""


@dataclass(frozen=True)
class Shown:
    """A SHOW statement's answer: its column names and rows, built in one place."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


# ------------------------------------------------------------------ catalog


@dataclass(frozen=True)
class Databases(Query[list[str]]):
    """Sorted database names."""


@dataclass(frozen=True)
class Tables(Query[list[Plain]]):
    """[{"name", "kind"}] of a database, by name."""

    db: str | None


@dataclass(frozen=True)
class TableLayout(Query[Plain]):
    """A table's layout: plain table, partitions, tablets with absolute file paths."""

    db: str | None
    table: str


@dataclass(frozen=True)
class LoadLayout(Query[Plain]):
    """The layout of a table an INSERT writes into (refused for views, MVs unless `internal`, read-only)."""

    db: str | None
    table: str
    internal: bool = False


@dataclass(frozen=True)
class Resolve(Query[Plain]):
    """A query's table references [(db, name)]: layouts for tables and MVs, definitions for views; and the
    functions of `function_dbs`."""

    refs: list[tuple[str, str]]
    function_dbs: list[str] = field(default_factory=list)
    strict_mv: bool = False


@dataclass(frozen=True)
class ObjectInfo(Query[Plain]):
    """A table, view or MV by name, or a synchronous MV index with its base table's name."""

    db: str | None
    name: str


@dataclass(frozen=True)
class Backends(Query[list[Plain]]):
    """Every backend with its tablet count and directory."""


@dataclass(frozen=True)
class Config(Query[dict[str, str]]):
    """The cluster's settings."""


# ------------------------------------------------------------------ jobs


@dataclass(frozen=True)
class ShowBackup(Query[Shown]):
    """SHOW BACKUP [FROM db]: a `Shown`."""

    db: str | None = None


@dataclass(frozen=True)
class ShowRestore(Query[Shown]):
    """SHOW RESTORE [FROM db]: a `Shown`."""

    db: str | None = None


# ------------------------------------------------------------------ views, materialized views, functions


@dataclass(frozen=True)
class MvList(Query[list[Plain]]):
    """Both kinds of MV in a database, as plain rows for SHOW MATERIALIZED VIEWS."""

    db: str | None


@dataclass(frozen=True)
class MvSchedules(Query[list[Plain]]):
    """ASYNC MVs with a timed refresh: what the refresher needs to compute START times."""


@dataclass(frozen=True)
class MvDue(Query[list[list[str]]]):
    """[db, name] of the MVs due for a timed refresh at `now_ns` (0: the frontend's clock)."""

    now_ns: int = 0
    start_times: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Functions(Query[list[Plain]]):
    db: str | None


# ------------------------------------------------------------------ external catalogs and repositories


@dataclass(frozen=True)
class Catalogs(Query[list[Plain]]):
    """External catalogs with secret values masked."""


@dataclass(frozen=True)
class CatalogInfo(Query[Plain]):
    name: str


@dataclass(frozen=True)
class RepositoryPrecheck(Query[None]):
    """Refuses a CREATE REPOSITORY the catalog would refuse, before the session touches the location."""

    name: str
    broker: str | None = None


@dataclass(frozen=True)
class Repositories(Query[list[Plain]]):
    """Every repository without its properties (what SHOW REPOSITORIES may print)."""


@dataclass(frozen=True)
class RepositoryForJob(Query[Plain]):
    """One repository with its sealed properties, for BACKUP / RESTORE / SHOW SNAPSHOT; refused if unknown."""

    name: str


@dataclass(frozen=True)
class RepositoriesToCheck(Query[list[Plain]]):
    """Every repository with its sealed properties, for the checker's probes."""
