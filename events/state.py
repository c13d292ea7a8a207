"""The cluster's whole state and the fold that builds it from events.

One state, one fold: catalog, repositories, jobs and settings all change only through `apply`. The fold
mutates the state in place (it is owned by the single frontend actor; copying a large catalog per event
would make replaying a million events slow) but reads nothing besides the event: no clock, no
randomness, no I/O, so the same log always folds to byte-identical state (see `digest`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgpack

from events.model import Backend, Database, ExternalCatalog, Repository, Tablet
from events.plain import load, to_plain

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
    # Jobs are plain dicts shaped by events/backup_job.py and events/restore_job.py, keyed by job id.
    jobs: dict[int, dict[str, Any]] = field(default_factory=dict)
    # Tablets retired by a drop, truncate or restore commit whose files the backends may delete.
    garbage_tablets: list[int] = field(default_factory=list)
    last_seq: int = 0

    def database_by_id(self, db_id: int) -> Database | None:
        return next((d for d in self.databases.values() if d.id == db_id), None)

    def config_int(self, key: str) -> int:
        value = self.config.get(key)
        return int(value if value is not None else ENGINE_DEFAULTS[key])


Applier = Callable[[ClusterState, dict[str, Any]], None]
APPLIERS: dict[str, Applier] = {}


def applies(event_type: str) -> Callable[[Applier], Applier]:
    def register(fn: Applier) -> Applier:
        APPLIERS[event_type] = fn
        return fn

    return register


def apply(state: ClusterState, event_type: str, data: dict[str, Any], seq: int = 0) -> None:
    """Fold one event into the state. Unknown types are an error: a log must never outrun its code."""
    applier = APPLIERS.get(event_type)
    if applier is None:
        raise KeyError(f"no applier for event type {event_type!r}")
    if "next_id" in data:
        state.next_id = max(state.next_id, int(data["next_id"]))
    applier(state, data)
    if seq:
        state.last_seq = seq


def snapshot(state: ClusterState) -> dict[str, Any]:
    return to_plain(state)


def restore_snapshot(data: dict[str, Any]) -> ClusterState:
    from events.job_common import compact_if_done

    state = load(ClusterState, data)
    if data.get("root_password") and not state.root_password_hash:  # a snapshot from before the hash
        from events.password import native_password_hash

        state.root_password_hash = native_password_hash(data["root_password"])
    for job in state.jobs.values():
        compact_if_done(job)  # snapshots taken before ended jobs were compacted in the fold
    return state


def digest(state: ClusterState) -> str:
    """A stable hash of the whole state, to prove that two folds agree."""
    plain = to_plain(state)
    plain.pop("last_seq", None)
    return hashlib.sha256(msgpack.packb(_sorted(plain), use_bin_type=True)).hexdigest()


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _sorted(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def fold(events: Any, state: ClusterState | None = None) -> ClusterState:
    """Fold an iterable of (type, data[, seq]) tuples or StoredEvent-like objects."""
    # `import events.appliers` here would rebind the parameter `events` to the package.
    import events.appliers as _appliers  # noqa: F401  (registers the appliers)

    state = state or ClusterState()
    for ev in events:
        if isinstance(ev, tuple):
            apply(state, ev[0], ev[1], ev[2] if len(ev) > 2 else 0)
        else:
            apply(state, ev.type, ev.data, ev.seq)
    return state
