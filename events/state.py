"""The cluster's whole state: catalog, repositories, jobs and settings (the fold is events/fold.py).

Everything here changes only through events/fold.apply, which mutates the state in place (it is owned
by the single frontend actor; copying a large catalog per event would make replaying a million events slow).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from events.job_record import Job
from events.model import Backend, Database, ExternalCatalog, Repository, Tablet

# Settings of the reference (§7) with StarRocks' defaults; values are kept as text, as ADMIN SHOW shows.
DEFAULT_CONFIG: dict[str, str] = {
    "make_snapshot_worker_count": "5",
    "release_snapshot_worker_count": "5",
    "upload_worker_count": "0",
    "download_worker_count": "0",
    "backup_job_default_timeout_ms": "86400000",
    "max_upload_task_per_be": "0",
    "max_download_task_per_be": "0",
    "history_job_keep_max_second": "604800",
    "default_replication_num": "3",
}
# Settings of our own (StarRocks waits for the job timeout): a job with no progress for this long is
# CANCELLED with the storage's last reason; a task with no report for this long is issued again. Kept out
# of DEFAULT_CONFIG so a fold of an old log gives the same config; `config_int` falls back to them.
ENGINE_DEFAULTS: dict[str, str] = {
    "backup_job_no_progress_timeout_s": "300",
    "backup_task_reissue_s": "30",
}


@dataclass
class ClusterState:
    next_id: int = 10000
    backends: dict[int, Backend] = field(default_factory=dict)
    databases: dict[str, Database] = field(default_factory=dict)
    tablets: dict[int, Tablet] = field(default_factory=dict)
    repositories: dict[str, Repository] = field(default_factory=dict)
    catalogs: dict[str, ExternalCatalog] = field(default_factory=dict)
    config: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CONFIG))
    # root's password as mysql_native_password stores it ('*' + hex SHA1(SHA1(pw)), '' for none); never clear.
    root_password_hash: str = ""
    # Jobs are plain dicts typed by events/job_record.Job, keyed by job id.
    jobs: dict[int, Job] = field(default_factory=dict)
    # Tablets retired by a drop, truncate or restore commit whose files the backends may delete.
    garbage_tablets: list[int] = field(default_factory=list)
    last_seq: int = 0

    def database_by_id(self, db_id: int) -> Database | None:
        return next((d for d in self.databases.values() if d.id == db_id), None)

    def config_int(self, key: str) -> int:
        value = self.config.get(key)
        return int(value if value is not None else ENGINE_DEFAULTS[key])


# How one event type changes the state; each module defining appliers exports a table of them, and
# events/fold.py merges the tables.
Applier = Callable[[ClusterState, dict[str, Any]], None]
