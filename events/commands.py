"""The commands a SQL session (or the engine, or an actor) sends to the frontend: one frozen value per kind.

A command asks for a change: the frontend looks its handler up by the command's type in one table
(`actors/fe_table.py`), which decides the events, appends and applies them, and replies. The values hold
plain data only (str, int, bool, lists and dicts of them), like every message between actors.

They live in `events` because every layer that builds one may import `events` (the SQL front, the engine's
loads, the actors) and `events` imports none of them; the decide functions keep their own signatures and
the table adapts each command to its decide function in one line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

Plain = dict[str, Any]  # a `to_plain` value: TableSpec, PartitionSpec, Column, MvInfo, Function, rowset lists

# A `db` of None is the session's "no database selected": the decide function refuses it, as before.


R = TypeVar("R", covariant=True)


@dataclass(frozen=True)
class Command(Generic[R]):
    """Base of every command value (the frontend's dispatch tells commands from queries by it). `R` is the
    type of its reply, so `ClusterClient.cmd(SubmitBackup(...))` is known to answer the job id."""


# ------------------------------------------------------------------ databases, tables, settings


@dataclass(frozen=True)
class CreateDatabase(Command[None]):
    name: str
    if_not_exists: bool = False


@dataclass(frozen=True)
class DropDatabase(Command[None]):
    name: str
    if_exists: bool = False


@dataclass(frozen=True)
class CreateTable(Command[None]):
    db: str | None
    spec: Plain  # to_plain(TableSpec)
    if_not_exists: bool = False


@dataclass(frozen=True)
class DropTable(Command[None]):
    db: str | None
    name: str
    if_exists: bool = False
    kind: str = "OLAP"  # the table kind this DROP may remove ("ANY": whatever the name is)


@dataclass(frozen=True)
class AddPartitions(Command[None]):
    db: str | None
    table: str
    partitions: list[Plain]  # to_plain(PartitionSpec) each
    if_not_exists: bool = False


@dataclass(frozen=True)
class DropPartition(Command[None]):
    db: str | None
    table: str
    partition: str
    if_exists: bool = False


@dataclass(frozen=True)
class Truncate(Command[None]):
    db: str | None
    table: str
    partitions: list[str] | None = None  # None: every partition


@dataclass(frozen=True)
class SetConfig(Command[None]):
    key: str
    value: str


@dataclass(frozen=True)
class CommitLoad(Command[int]):
    """Publish a load: `partitions` is [{"partition_id", "rowsets": [{tablet_id, file, rows, size, ...}]}]."""

    db: str | None
    table: str
    table_id: int
    txn: str
    partitions: list[Plain]


# ------------------------------------------------------------------ backup and restore jobs


@dataclass(frozen=True)
class SubmitBackup(Command[int]):
    """BACKUP; the fields are those `events.backup_job.submit` reads."""

    db: str | None
    label: str
    repo: str
    objects: list[Plain] = field(default_factory=list)
    external_catalogs: list[str] | str | None = None  # names, "ALL", or None for a database backup
    timeout_s: int | None = None
    type: str = "FULL"
    db_given: bool = False


@dataclass(frozen=True)
class SubmitRestore(Command[int]):
    """RESTORE with the snapshot's `info` and `meta` (downloaded and verified by the session) and the
    repository `root`; the fields are those `events.restore_job.submit` reads."""

    label: str
    repo: str
    timestamp: str
    root: str
    info: Plain
    meta: Plain
    database: str | None = None
    database_alias: str | None = None
    snapshot_db_prefix: str | None = None
    objects: list[Plain] = field(default_factory=list)
    external_catalogs: list[list[str | None]] | str | None = None  # [[name, alias or None]...], "ALL", None
    replication_num: int | None = None
    timeout_s: int | None = None
    allow_load: bool = False


@dataclass(frozen=True)
class CancelBackup(Command[None]):
    db: str | None
    catalog: bool = False


@dataclass(frozen=True)
class CancelRestore(Command[None]):
    db: str | None
    catalog: bool = False


@dataclass(frozen=True)
class StartJobs(Command[None]):
    """Sent once the backends are up: re-derive the effects of every unfinished job."""


# ------------------------------------------------------------------ views, materialized views, functions


@dataclass(frozen=True)
class CreateView(Command[None]):
    db: str | None
    name: str
    query: str
    column_defs: list[Plain] = field(default_factory=list)  # to_plain(Column) each
    view_columns: list[str] = field(default_factory=list)
    comment: str = ""
    if_not_exists: bool = False
    or_replace: bool = False


@dataclass(frozen=True)
class AlterView(Command[None]):
    db: str | None
    name: str
    query: str
    column_defs: list[Plain] = field(default_factory=list)
    view_columns: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DropView(Command[None]):
    db: str | None
    name: str
    if_exists: bool = False


@dataclass(frozen=True)
class CreateSyncMv(Command[Plain | None]):
    """A synchronous MV (a rollup index); the reply is the base table's layout, or None if it existed."""

    db: str | None
    name: str
    base_table: str
    definition: str
    schema: list[Plain]  # to_plain(Column) each
    keys_type: str
    if_not_exists: bool = False


@dataclass(frozen=True)
class CreateAsyncMv(Command[None]):
    db: str | None
    spec: Plain  # to_plain(TableSpec)
    mv: Plain  # to_plain(MvInfo)
    if_not_exists: bool = False


@dataclass(frozen=True)
class DropMv(Command[None]):
    db: str | None
    name: str
    if_exists: bool = False


@dataclass(frozen=True)
class AlterMvActive(Command[None]):
    db: str | None
    name: str
    active: bool


@dataclass(frozen=True)
class MvRefreshStart(Command[Plain]):
    """Begin a refresh; the reply is its plan with the new tablets' layout."""

    db: str | None
    name: str


@dataclass(frozen=True)
class MvRefreshFinish(Command[str]):
    db: str | None
    name: str
    table_id: int
    start_ns: int
    partitions: list[Plain]


@dataclass(frozen=True)
class MvRefreshFailed(Command[None]):
    db: str | None
    name: str
    table_id: int
    start_ns: int
    error: str


@dataclass(frozen=True)
class CreateFunction(Command[None]):
    db: str | None
    function: Plain  # to_plain(Function)
    if_not_exists: bool = False


@dataclass(frozen=True)
class DropFunction(Command[None]):
    db: str | None
    name: str
    arg_types: list[str]
    if_exists: bool = False


# ------------------------------------------------------------------ external catalogs and repositories


@dataclass(frozen=True)
class CreateCatalog(Command[None]):
    """CREATE EXTERNAL CATALOG; `properties` in the clear: the frontend seals the secret ones."""

    name: str
    properties: dict[str, str]
    comment: str = ""
    if_not_exists: bool = False


@dataclass(frozen=True)
class DropCatalog(Command[None]):
    name: str
    if_exists: bool = False


@dataclass(frozen=True)
class CreateRepository(Command[None]):
    """CREATE REPOSITORY once the session has checked the location; `properties` are already sealed."""

    name: str
    location: str
    read_only: bool
    broker: str | None
    properties: dict[str, Any]
    create_time_ns: int
    root: str


@dataclass(frozen=True)
class DropRepository(Command[None]):
    name: str


@dataclass(frozen=True)
class RepositoryStatus(Command[None]):
    """The repository checker's finding: `error` None when the repository answers again."""

    name: str
    id: int
    error: str | None
    at: str
