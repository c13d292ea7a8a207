"""Frozen dataclass ASTs for the StarRocks statements parsed by :mod:`sqlfront.parse.parser` and :mod:`sqlfront.parse.ddl`.

Conventions
-----------
* Identifiers keep their spelling (back-quotes removed, ``````` unescaped); strings are unescaped.
* ``db`` fields are ``None`` when the statement did not name a database (the caller then uses the
  session database).
* Sequences are tuples.  ``properties`` is a plain ``dict`` in the order written (a repeated key keeps
  the last value, as StarRocks' map does); treat it as read-only.
* Raw SQL text (view/MV queries, WHERE/ORDER BY clauses, MV partition expressions) is the exact
  substring of the input, with no trailing ``;``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ObjectKind = Literal["TABLE", "MATERIALIZED_VIEW", "VIEW", "FUNCTION"]


@dataclass(frozen=True)
class Statement:
    """Base class of every statement AST."""


# ---------------------------------------------------------------------------------------- repositories


@dataclass(frozen=True)
class CreateRepository(Statement):
    name: str
    read_only: bool
    broker: str | None  # None: broker-less ("WITH BROKER" alone)
    location: str
    properties: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DropRepository(Statement):
    name: str


@dataclass(frozen=True)
class ShowRepositories(Statement):
    pass


# ---------------------------------------------------------------------------------------- BACKUP / RESTORE


@dataclass(frozen=True)
class BackupObject:
    """One element of an ``ON ( ... )`` list.

    ``name`` is None for the ``ALL ...`` forms.  A ``db.`` qualifier on an object name is dropped
    (StarRocks overrides it with the statement's database).  ``partitions``/``temporary`` only
    occur for TABLE objects.  ``alias`` is the ``AS`` target (RESTORE only; BACKUP rejects it).
    """

    kind: ObjectKind
    name: str | None
    partitions: tuple[str, ...] = ()
    temporary: bool = False
    alias: str | None = None

    @property
    def is_all(self) -> bool:
        return self.name is None


@dataclass(frozen=True)
class Backup(Statement):
    db: str | None  # from DATABASE db or the db. prefix of the snapshot name
    snapshot: str
    repo: str
    objects: tuple[BackupObject, ...]  # empty: no ON clause
    external_catalogs: None | Literal["ALL"] | tuple[str, ...]
    properties: dict[str, str]
    type: Literal["FULL", "INCREMENTAL"]  # 'FULL' when not given
    type_given: bool
    timeout_s: int | None  # None: not given (use backup_job_default_timeout_ms)


@dataclass(frozen=True)
class Restore(Statement):
    snapshot_db_prefix: str | None  # `db` of `RESTORE SNAPSHOT db.label` (legacy form)
    label: str
    repo: str
    database: str | None  # DATABASE <db_in_snapshot>
    database_alias: str | None  # ... AS <target_db>
    objects: tuple[BackupObject, ...]
    external_catalogs: None | Literal["ALL"] | tuple[tuple[str, str | None], ...]
    properties: dict[str, str]
    backup_timestamp: str
    replication_num: int | None
    timeout_s: int | None
    allow_load: bool
    meta_version: int | None
    starrocks_meta_version: int | None


@dataclass(frozen=True)
class CancelBackup(Statement):
    db: str | None
    external_catalog: bool = False  # CANCEL BACKUP FOR EXTERNAL CATALOG


@dataclass(frozen=True)
class CancelRestore(Statement):
    db: str | None
    external_catalog: bool = False


@dataclass(frozen=True)
class ShowBackup(Statement):
    db: str | None
    where: str | None = None  # raw text after WHERE
    order_by: str | None = None  # raw text after ORDER BY
    limit: int | None = None
    offset: int | None = None


@dataclass(frozen=True)
class ShowRestore(Statement):
    db: str | None
    where: str | None = None
    order_by: str | None = None
    limit: int | None = None
    offset: int | None = None


@dataclass(frozen=True)
class ShowSnapshot(Statement):
    repo: str
    snapshot_names: tuple[str, ...] = ()  # empty: all snapshots
    timestamp: str | None = None
    where: str | None = None  # raw text after WHERE (already validated)
    order_by: str | None = None
    limit: int | None = None
    offset: int | None = None


# ---------------------------------------------------------------------------------------- views


@dataclass(frozen=True)
class ViewColumn:
    name: str
    comment: str | None = None


@dataclass(frozen=True)
class CreateView(Statement):
    db: str | None
    name: str
    query: str  # raw SELECT text after AS
    columns: tuple[ViewColumn, ...] = ()
    comment: str | None = None
    if_not_exists: bool = False
    or_replace: bool = False


@dataclass(frozen=True)
class AlterView(Statement):
    db: str | None
    name: str
    query: str
    columns: tuple[ViewColumn, ...] = ()


@dataclass(frozen=True)
class DropView(Statement):
    db: str | None
    name: str
    if_exists: bool = False


@dataclass(frozen=True)
class ShowCreateView(Statement):
    db: str | None
    name: str


# ---------------------------------------------------------------------------------------- materialized views


@dataclass(frozen=True)
class MvDistribution:
    kind: Literal["HASH", "RANDOM"]
    columns: tuple[str, ...] = ()
    buckets: int | None = None


@dataclass(frozen=True)
class MvRefresh:
    moment: Literal["IMMEDIATE", "DEFERRED"] | None
    kind: Literal["ASYNC", "MANUAL", "INCREMENTAL"] | None
    start: str | None = None  # ASYNC START ('<datetime>')
    every_value: int | None = None  # ASYNC EVERY (INTERVAL <n> <unit>)
    every_unit: str | None = None  # upper-cased unit, e.g. 'DAY'


@dataclass(frozen=True)
class CreateMaterializedView(Statement):
    db: str | None
    name: str
    query: str  # raw SELECT text after AS
    if_not_exists: bool = False
    columns: tuple[ViewColumn, ...] = ()
    comment: str | None = None
    distribution: MvDistribution | None = None
    partition_by: str | None = None  # raw expression text
    refresh: MvRefresh | None = None  # None: no REFRESH clause
    order_by: tuple[str, ...] = ()
    properties: dict[str, str] = field(default_factory=dict)
    synchronous: bool = False  # no REFRESH, no DISTRIBUTED BY, no PARTITION BY


@dataclass(frozen=True)
class DropMaterializedView(Statement):
    db: str | None
    name: str
    if_exists: bool = False


@dataclass(frozen=True)
class AlterMaterializedView(Statement):
    db: str | None
    name: str
    active: bool  # ACTIVE -> True, INACTIVE -> False


@dataclass(frozen=True)
class RefreshMaterializedView(Statement):
    db: str | None
    name: str
    sync_mode: bool = False  # WITH SYNC MODE
    force: bool = False


@dataclass(frozen=True)
class ShowMaterializedViews(Statement):
    db: str | None
    like: str | None = None
    where_name: str | None = None  # WHERE NAME = 'x'
    where: str | None = None  # raw WHERE text (any shape)


@dataclass(frozen=True)
class ShowCreateMaterializedView(Statement):
    db: str | None
    name: str


# ---------------------------------------------------------------------------------------- functions


@dataclass(frozen=True)
class CreateFunction(Statement):
    db: str | None
    name: str
    arg_types: tuple[str, ...]  # normalised: upper-cased, no spaces, e.g. 'DECIMAL(10,2)'
    return_type: str
    is_global: bool = False
    kind: Literal["SCALAR", "AGGREGATE", "TABLE"] = "SCALAR"
    if_not_exists: bool = False
    varargs: bool = False  # trailing `...`
    intermediate_type: str | None = None
    properties: dict[str, str] = field(default_factory=dict)
    body: str | None = None  # text between $$ and $$, verbatim


@dataclass(frozen=True)
class DropFunction(Statement):
    db: str | None
    name: str
    arg_types: tuple[str, ...]
    is_global: bool = False
    if_exists: bool = False
    varargs: bool = False


@dataclass(frozen=True)
class ShowFunctions(Statement):
    db: str | None
    full: bool = False
    is_global: bool = False
    like: str | None = None


# ---------------------------------------------------------------------------------------- catalogs


@dataclass(frozen=True)
class CreateExternalCatalog(Statement):
    name: str
    properties: dict[str, str]
    if_not_exists: bool = False
    comment: str | None = None

    @property
    def catalog_type(self) -> str | None:
        return self.properties.get("type")


@dataclass(frozen=True)
class DropCatalog(Statement):
    name: str
    if_exists: bool = False


@dataclass(frozen=True)
class ShowCatalogs(Statement):
    pass


@dataclass(frozen=True)
class ShowCreateCatalog(Statement):
    name: str


# ---------------------------------------------------------------------------------------- FE config


@dataclass(frozen=True)
class AdminSetFrontendConfig(Statement):
    key: str
    value: str


@dataclass(frozen=True)
class AdminShowFrontendConfig(Statement):
    like: str | None = None
