"""The frontend's one command table: each command or query type, and the function that answers it.

Built explicitly from functions (nothing registers itself on import). A command's entry returns
(events, reply); a query's entry returns its answer. An entry that only calls a decide function with the
command's fields is a one-line adapter here; what needs the shell (the data directory, the secret box, the
clock, the job engine) is in `actors/fe_commands.py`, `fe_jobs.py` and `fe_objects.py`; pure reads are in
`events/reads.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from actors import fe_commands, fe_jobs, fe_objects
from actors.fe_shell import Handler, HandlerTable, Shell
from events import backup_job, catalog, loads, objects, reads, repositories, restore_job
from events import commands as c
from events import queries as q
from events.catalog import PartitionSpec, TableSpec
from events.event import Event
from events.model import Column, Function, MvInfo
from events.plain import load
from events.state import ClusterState

C = TypeVar("C", bound=c.Command[Any])
Q = TypeVar("Q", bound=q.Query[Any])
Decision = tuple[list[Event], Any]  # the events to append, and the reply (a callable runs after they apply)


def _command(kind: type[C], fn: Callable[[Shell, ClusterState, C], Decision]) -> tuple[type, Handler]:
    """A command whose handler needs the shell (actors/fe_*.py)."""
    return kind, fn


def _decide(kind: type[C], decide: Callable[[ClusterState, C], list[Event]]) -> tuple[type, Handler]:
    """A command that is its decide function called with the command's fields; the reply is None."""
    return kind, lambda fe, s, m: (decide(s, m), None)


def _decide_at(kind: type[C], decide: Callable[[ClusterState, C, int], list[Event]]) -> tuple[type, Handler]:
    """The same, for a decide function that is given the time (the frontend's clock, read here)."""
    return kind, lambda fe, s, m: (decide(s, m, fe.runtime.clock.now_ns()), None)


def _query(kind: type[Q], fn: Callable[[Shell, ClusterState, Q], Any]) -> tuple[type, Handler]:
    """A query whose answer needs the shell (actors/fe_*.py)."""
    return kind, fn


def _pure(kind: type[Q], fn: Callable[[ClusterState, Q], Any]) -> tuple[type, Handler]:
    """A query answered from the state alone (events/reads.py)."""
    return kind, lambda fe, s, query: fn(s, query)


def _columns(plain: list[dict[str, Any]]) -> list[Column]:
    return [load(Column, col) for col in plain]


COMMANDS: list[tuple[type, Handler]] = [
    # databases, tables, settings, loads
    _decide(c.CreateDatabase, lambda s, m: catalog.create_database(s, m.name, m.if_not_exists)),
    _decide(c.DropDatabase, lambda s, m: catalog.drop_database(s, m.name, m.if_exists)),
    _decide(c.CreateTable, lambda s, m: catalog.create_table(s, m.db, load(TableSpec, m.spec), m.if_not_exists)),
    _decide(c.DropTable, lambda s, m: catalog.drop_table(s, m.db, m.name, m.if_exists, m.kind)),
    _decide(c.AddPartitions, lambda s, m: catalog.add_partitions(
        s, m.db, m.table, [load(PartitionSpec, p) for p in m.partitions], m.if_not_exists)),
    _decide(c.DropPartition, lambda s, m: catalog.drop_partition(s, m.db, m.table, m.partition, m.if_exists)),
    _decide(c.Truncate, lambda s, m: catalog.truncate(s, m.db, m.table, m.partitions)),
    _decide(c.SetConfig, lambda s, m: catalog.set_config(s, m.key, m.value)),
    _command(c.CommitLoad, lambda fe, s, m: loads.commit_load(s, m)),  # replies the rows loaded
    # jobs
    _command(c.SubmitBackup, fe_jobs.submit_backup),
    _command(c.SubmitRestore, fe_jobs.submit_restore),
    _decide_at(c.CancelBackup, lambda s, m, now: backup_job.cancel(s, m.db, m.catalog, now)),
    _decide_at(c.CancelRestore, lambda s, m, now: restore_job.cancel(s, m.db, m.catalog, now)),
    _command(c.StartJobs, fe_commands.start_jobs),
    # views, materialized views, functions
    _decide(c.CreateView, lambda s, m: objects.create_view(
        s, m.db, m.name, m.query, _columns(m.column_defs), m.view_columns, m.comment or "", m.if_not_exists,
        m.or_replace)),
    _decide(c.AlterView, lambda s, m: objects.alter_view(
        s, m.db, m.name, m.query, _columns(m.column_defs), m.view_columns)),
    _decide(c.DropView, lambda s, m: objects.drop_view(s, m.db, m.name, m.if_exists)),
    _command(c.CreateSyncMv, fe_objects.create_sync_mv),
    _decide(c.CreateAsyncMv, lambda s, m: objects.create_async_mv(
        s, m.db, load(TableSpec, m.spec), load(MvInfo, m.mv), m.if_not_exists)),
    _decide(c.DropMv, lambda s, m: objects.drop_mv(s, m.db, m.name, m.if_exists)),
    _decide(c.AlterMvActive, lambda s, m: objects.alter_mv_active(s, m.db, m.name, m.active)),
    _command(c.MvRefreshStart, fe_objects.mv_refresh_start),
    _command(c.MvRefreshFinish, lambda fe, s, m: objects.refresh_finish(  # replies SUCCESS or why not
        s, m.db, m.name, m.table_id, m.start_ns, m.partitions, fe.runtime.clock.now_ns())),
    _decide_at(c.MvRefreshFailed, lambda s, m, now: objects.refresh_failed(
        s, m.db, m.name, m.table_id, m.start_ns, m.error, now)),
    _decide(c.CreateFunction, lambda s, m: objects.create_function(
        s, m.db, load(Function, m.function), m.if_not_exists)),
    _decide(c.DropFunction, lambda s, m: objects.drop_function(s, m.db, m.name, m.arg_types, m.if_exists)),
    # external catalogs, repositories
    _command(c.CreateCatalog, fe_objects.create_catalog),
    _decide(c.DropCatalog, lambda s, m: objects.drop_catalog(s, m.name, m.if_exists)),
    _decide(c.CreateRepository, lambda s, m: repositories.create_repository(
        s, name=m.name, location=m.location, read_only=bool(m.read_only), broker=m.broker,
        properties=m.properties or {}, create_time_ns=int(m.create_time_ns), root=m.root)),
    _decide(c.DropRepository, lambda s, m: repositories.drop_repository(s, m.name)),
    _decide(c.RepositoryStatus, lambda s, m: repositories.repository_status(
        s, name=m.name, repo_id=int(m.id), error=m.error, at=m.at)),
]

QUERIES: list[tuple[type, Handler]] = [
    _pure(q.Databases, reads.databases),
    _pure(q.Tables, reads.tables),
    _query(q.TableLayout, fe_commands.table),
    _query(q.LoadLayout, fe_commands.load_layout),
    _query(q.Resolve, fe_commands.resolve),
    _pure(q.ObjectInfo, reads.object_info),
    _query(q.Backends, fe_commands.backends),
    _pure(q.Config, reads.config),
    _query(q.ShowBackup, fe_jobs.show_backup),
    _query(q.ShowRestore, fe_jobs.show_restore),
    _pure(q.MvList, reads.mv_list),
    _pure(q.MvSchedules, reads.mv_schedules),
    _query(q.MvDue, fe_objects.mv_due),
    _pure(q.Functions, reads.functions),
    _query(q.Catalogs, fe_objects.catalogs),
    _query(q.CatalogInfo, fe_objects.catalog),
    _pure(q.RepositoryPrecheck, reads.repository_precheck),
    _pure(q.Repositories, reads.repositories),
    _pure(q.RepositoryForJob, reads.repository_for_job),
    _pure(q.RepositoriesToCheck, reads.repositories_to_check),
]


def build_table(*entries: tuple[type, Handler]) -> HandlerTable:
    """The table as a mapping; a type listed twice is a mistake, refused here rather than shadowed."""
    table: dict[type, Handler] = {}
    for kind, fn in entries:
        if kind in table:
            raise ValueError(f"{kind.__name__} is in the frontend's table twice")
        table[kind] = fn
    return table


FRONTEND_TABLE: HandlerTable = build_table(*COMMANDS, *QUERIES)
