"""The catalog's data model: what the frontend knows about databases, tables, partitions and tablets.

Everything here is folded from the event log (events/state.py). Ids are integers allocated by the
frontend from `ClusterState.next_id`; they appear inside events, so replay reproduces them exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# A partition bound value is kept as the literal text StarRocks shows ('2024-01-01', '100');
# MAXVALUE is None in an upper bound, and an absent lower bound is the type's minimum.
Bound = list[str]


@dataclass
class Column:
    name: str
    type: str  # StarRocks type text, upper case: INT, BIGINT, VARCHAR(64), DECIMAL(10,2), DATE, DATETIME ...
    is_key: bool = False
    aggregation: str | None = None  # SUM, MAX, MIN, REPLACE, REPLACE_IF_NOT_NULL for AGGREGATE tables
    nullable: bool = True
    default: str | None = None
    comment: str = ""


@dataclass
class Rowset:
    """One load's data for one tablet: the same Parquet file name on every replica's backend."""

    version: int
    file: str  # file name inside the tablet's directory on each replica's backend
    rows: int
    size: int
    # md5 of the file, taken while it was written (rowset files never change afterwards). A backup names the
    # uploaded file with it instead of hashing again; a restore verifies it, so the checksum covers the
    # bytes from load to restore. "" for rowsets loaded before checksums were recorded (hashed at backup).
    md5: str = ""
    # xxh3-64 of the file, taken with the md5: a backup checks the bytes it copies against it (fast), so a
    # changed replica is found during the backup. "" for rowsets recorded before it (the md5 is checked).
    xxh3: str = ""


@dataclass
class Tablet:
    id: int
    backends: list[int]  # one replica per backend id, distinct
    rowsets: list[Rowset] = field(default_factory=list)


@dataclass
class Index:
    """A materialized index of a table: the base index, or a synchronous materialized view (rollup)."""

    id: int
    name: str
    columns: list[str]  # column names of this index, in order (for a sync MV: its output columns)
    keys_type: str
    definition: str | None = None  # the sync MV's SELECT text; None for the base index
    schema: list[Column] = field(default_factory=list)  # output schema of a sync MV (empty for base)


@dataclass
class Partition:
    id: int
    name: str
    lower: Bound | None = None  # RANGE: inclusive lower bound (None = minimum)
    upper: Bound | None = None  # RANGE: exclusive upper bound (None = MAXVALUE)
    values: list[list[str]] | None = None  # LIST: the partition's value tuples
    visible_version: int = 1
    replication_num: int = 3
    buckets: int = 1
    tablets: dict[int, list[int]] = field(default_factory=dict)  # index id -> tablet ids in bucket order


@dataclass
class MvInfo:
    """An asynchronous materialized view's extra state (its rows live in its own tablets)."""

    definition: str  # SELECT text as written
    refresh: str  # ASYNC or MANUAL
    refresh_start: str | None = None
    refresh_interval_s: int | None = None
    base_tables: list[list[str]] = field(default_factory=list)  # [db, table] pairs
    is_active: bool = True
    inactive_reason: str = ""
    last_refresh_state: str = ""
    last_refresh_time_ns: int = 0
    last_refresh_start_ns: int = 0  # start of the latest refresh (RUNNING, SUCCESS or FAILED)
    last_refresh_error: str = ""
    partition_by: str | None = None  # PARTITION BY expression text as written (rows are not partitioned)


@dataclass
class Table:
    id: int
    name: str
    kind: str  # OLAP | VIEW | MATERIALIZED_VIEW
    columns: list[Column] = field(default_factory=list)
    keys_type: str = "DUP_KEYS"  # DUP_KEYS | AGG_KEYS | UNIQUE_KEYS | PRIMARY_KEYS
    key_columns: list[str] = field(default_factory=list)
    partition_type: str = "UNPARTITIONED"  # UNPARTITIONED | RANGE | LIST
    partition_columns: list[str] = field(default_factory=list)
    distribution: str = "HASH"  # HASH | RANDOM
    distribution_columns: list[str] = field(default_factory=list)
    buckets: int = 1
    properties: dict[str, str] = field(default_factory=dict)
    partitions: dict[str, Partition] = field(default_factory=dict)  # by name, in creation order
    base_index_id: int = 0
    indexes: dict[int, Index] = field(default_factory=dict)
    state: str = "NORMAL"  # NORMAL | RESTORE
    restore_job: int = 0  # the restore job holding this table while state == RESTORE
    comment: str = ""
    view_sql: str | None = None  # VIEW: the SELECT text
    view_columns: list[str] = field(default_factory=list)
    mv: MvInfo | None = None

    def column(self, name: str) -> Column | None:
        lowered = name.lower()
        return next((c for c in self.columns if c.name.lower() == lowered), None)

    def partition_by_id(self, pid: int) -> Partition | None:
        return next((p for p in self.partitions.values() if p.id == pid), None)


@dataclass
class Function:
    name: str
    arg_types: list[str]
    return_type: str
    properties: dict[str, str]
    body: str = ""  # Python source for "type"="Python", "file"="inline"
    global_: bool = False
    kind: str = "SCALAR"  # SCALAR | AGGREGATE | TABLE
    intermediate_type: str | None = None

    @property
    def signature(self) -> str:
        return f"{self.name}({', '.join(self.arg_types)})"


@dataclass
class Database:
    id: int
    name: str
    tables: dict[str, Table] = field(default_factory=dict)
    functions: list[Function] = field(default_factory=list)


@dataclass
class ExternalCatalog:
    name: str
    comment: str
    properties: dict[str, str]  # secret-looking values sealed by storage/secrets.py
    create_time_ns: int = 0


@dataclass
class Repository:
    id: int
    name: str
    location: str
    read_only: bool
    broker: str | None
    properties: dict[str, str]  # secret values sealed
    create_time_ns: int
    root: str = ""  # key prefix inside the location: __starrocks_repository_<name> (or __palo_...)
    err_msg: str | None = None


@dataclass
class Backend:
    id: int
    host: str
    port: int


JsonDict = dict[str, Any]
