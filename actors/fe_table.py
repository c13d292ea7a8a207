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
from events import backup_job, catalog, objects, reads, repositories, restore_job
from events import commands as c
from events import queries as q
from events.catalog import PartitionSpec, TableSpec
from events.model import Column, Function, MvInfo
from events.plain import load
from events.state import ClusterState

M = TypeVar("M")


def _entry(kind: type[M], fn: Callable[[Shell, ClusterState, M], Any]) -> tuple[type, Handler]:
    return kind, fn


def _pure(kind: type[M], fn: Callable[[ClusterState, M], Any]) -> tuple[type, Handler]:
    """A query answered from the state alone."""
    return kind, lambda fe, s, query: fn(s, query)


def _now(fe: Shell) -> int:
    return fe.runtime.clock.now_ns()


def _columns(plain: list[dict[str, Any]]) -> list[Column]:
    return [load(Column, col) for col in plain]


COMMANDS: list[tuple[type, Handler]] = [
    # databases, tables, settings, loads
    _entry(c.CreateDatabase, lambda fe, s, m: (catalog.create_database(s, m.name, m.if_not_exists), None)),
    _entry(c.DropDatabase, lambda fe, s, m: (catalog.drop_database(s, m.name, m.if_exists), None)),
    _entry(c.CreateTable, lambda fe, s, m: (catalog.create_table(s, m.db, load(TableSpec, m.spec), m.if_not_exists),
                                            None)),
    _entry(c.DropTable, lambda fe, s, m: (catalog.drop_table(s, m.db, m.name, m.if_exists, m.kind), None)),
    _entry(c.AddPartitions, lambda fe, s, m: (catalog.add_partitions(
        s, m.db, m.table, [load(PartitionSpec, p) for p in m.partitions], m.if_not_exists), None)),
    _entry(c.DropPartition, lambda fe, s, m: (catalog.drop_partition(s, m.db, m.table, m.partition, m.if_exists),
                                              None)),
    _entry(c.Truncate, lambda fe, s, m: (catalog.truncate(s, m.db, m.table, m.partitions), None)),
    _entry(c.SetConfig, lambda fe, s, m: (catalog.set_config(s, m.key, m.value), None)),
    _entry(c.CommitLoad, fe_commands.commit_load),
    # jobs
    _entry(c.SubmitBackup, fe_jobs.submit_backup),
    _entry(c.SubmitRestore, fe_jobs.submit_restore),
    _entry(c.CancelBackup, lambda fe, s, m: (backup_job.cancel(s, m.db, m.catalog, _now(fe)), None)),
    _entry(c.CancelRestore, lambda fe, s, m: (restore_job.cancel(s, m.db, m.catalog, _now(fe)), None)),
    _entry(c.StartJobs, fe_commands.start_jobs),
    # views, materialized views, functions
    _entry(c.CreateView, lambda fe, s, m: (objects.create_view(
        s, m.db, m.name, m.query, _columns(m.column_defs), m.view_columns, m.comment or "", m.if_not_exists,
        m.or_replace), None)),
    _entry(c.AlterView, lambda fe, s, m: (objects.alter_view(
        s, m.db, m.name, m.query, _columns(m.column_defs), m.view_columns), None)),
    _entry(c.DropView, lambda fe, s, m: (objects.drop_view(s, m.db, m.name, m.if_exists), None)),
    _entry(c.CreateSyncMv, fe_objects.create_sync_mv),
    _entry(c.CreateAsyncMv, lambda fe, s, m: (objects.create_async_mv(
        s, m.db, load(TableSpec, m.spec), load(MvInfo, m.mv), m.if_not_exists), None)),
    _entry(c.DropMv, lambda fe, s, m: (objects.drop_mv(s, m.db, m.name, m.if_exists), None)),
    _entry(c.AlterMvActive, lambda fe, s, m: (objects.alter_mv_active(s, m.db, m.name, m.active), None)),
    _entry(c.MvRefreshStart, fe_objects.mv_refresh_start),
    _entry(c.MvRefreshFinish, lambda fe, s, m: objects.refresh_finish(
        s, m.db, m.name, m.table_id, m.start_ns, m.partitions, _now(fe))),
    _entry(c.MvRefreshFailed, lambda fe, s, m: (objects.refresh_failed(
        s, m.db, m.name, m.table_id, m.start_ns, m.error, _now(fe)), None)),
    _entry(c.CreateFunction, lambda fe, s, m: (objects.create_function(
        s, m.db, load(Function, m.function), m.if_not_exists), None)),
    _entry(c.DropFunction, lambda fe, s, m: (objects.drop_function(s, m.db, m.name, m.arg_types, m.if_exists),
                                             None)),
    # external catalogs, repositories
    _entry(c.CreateCatalog, fe_objects.create_catalog),
    _entry(c.DropCatalog, lambda fe, s, m: (objects.drop_catalog(s, m.name, m.if_exists), None)),
    _entry(c.CreateRepository, lambda fe, s, m: (repositories.create_repository(
        s, name=m.name, location=m.location, read_only=bool(m.read_only), broker=m.broker,
        properties=m.properties or {}, create_time_ns=int(m.create_time_ns), root=m.root), None)),
    _entry(c.DropRepository, lambda fe, s, m: (repositories.drop_repository(s, m.name), None)),
    _entry(c.RepositoryStatus, lambda fe, s, m: (repositories.repository_status(
        s, name=m.name, repo_id=int(m.id), error=m.error, at=m.at), None)),
]

QUERIES: list[tuple[type, Handler]] = [
    _pure(q.Databases, reads.databases),
    _pure(q.Tables, reads.tables),
    _entry(q.TableLayout, fe_commands.table),
    _entry(q.LoadLayout, fe_commands.load_layout),
    _entry(q.Resolve, fe_commands.resolve),
    _pure(q.ObjectInfo, reads.object_info),
    _entry(q.Backends, fe_commands.backends),
    _pure(q.Config, reads.config),
    _entry(q.ShowBackup, fe_jobs.show_backup),
    _entry(q.ShowRestore, fe_jobs.show_restore),
    _pure(q.MvList, reads.mv_list),
    _pure(q.MvSchedules, reads.mv_schedules),
    _entry(q.MvDue, fe_objects.mv_due),
    _pure(q.Functions, reads.functions),
    _entry(q.Catalogs, fe_objects.catalogs),
    _entry(q.CatalogInfo, fe_objects.catalog),
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
