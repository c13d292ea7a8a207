"""Typed statements about databases, tables, partitions, tablets and backends (parsed by sqlfront.parse.ddl).

As in sqlfront.parse.ast: identifiers keep their spelling (back-quotes removed), ``db`` is None when the
statement names no database (the handler uses the session's).
"""

from __future__ import annotations

from dataclasses import dataclass

from events.catalog import TableSpec
from sqlfront.parse.ast import Statement
from sqlfront.parse.table import AlterTable


@dataclass(frozen=True)
class CreateDatabase(Statement):
    name: str
    if_not_exists: bool


@dataclass(frozen=True)
class DropDatabase(Statement):
    name: str
    if_exists: bool


@dataclass(frozen=True)
class ShowDatabases(Statement):
    pass


@dataclass(frozen=True)
class ShowTables(Statement):
    db: str | None
    full: bool
    like: str | None


@dataclass(frozen=True)
class Use(Statement):
    name: str


@dataclass(frozen=True)
class ShowBackends(Statement):
    pass


@dataclass(frozen=True)
class TableStatement(Statement):
    """A statement about one table: ``db.name`` or ``name``."""

    db: str | None
    name: str


@dataclass(frozen=True)
class DropTable(TableStatement):
    if_exists: bool


@dataclass(frozen=True)
class ShowCreateTable(TableStatement):
    pass


@dataclass(frozen=True)
class ShowPartitions(TableStatement):
    pass


@dataclass(frozen=True)
class ShowTablets(TableStatement):
    partition: str | None


@dataclass(frozen=True)
class Describe(TableStatement):
    pass


@dataclass(frozen=True)
class CreateTable(Statement):
    db: str | None
    spec: TableSpec
    if_not_exists: bool


@dataclass(frozen=True)
class AlterTablePartitions(Statement):
    alter: AlterTable


@dataclass(frozen=True)
class Truncate(Statement):
    db: str | None
    table: str
    partitions: list[str] | None
