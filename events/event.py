"""The event envelope used by the pure core, and the registry of stable event type names.

A stored event never changes meaning: a new meaning gets a new type name or a new version. So far every
new version only added fields, and the appliers read older versions by defaulting them (the golden logs in
tests/golden fold a v1 log); a change that cannot be read that way would need an upcaster. The names
below are what `starbackup audit` prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# type name -> current version. Adding a type is free; changing the shape of one needs a new version.
EVENT_TYPES: dict[str, int] = {
    "cluster.initialized": 2,  # v2 holds root_password_hash; v1 held root_password in clear
    "root_password.set": 1,  # a start with another root password (the hash only)
    "config.set": 1,
    "database.created": 1,
    "database.dropped": 1,
    "table.created": 1,
    "table.dropped": 1,
    "table.altered": 1,
    "partition.added": 1,
    "partition.dropped": 1,
    "partition.truncated": 1,
    "load.committed": 3,  # v2 rowsets carry the md5 of their file; v1 have none (hashed at backup); v3 + xxh3
    "index.added": 1,
    "index.dropped": 1,
    "mv.state_changed": 1,
    "mv.refreshed": 3,  # v2 rowsets of the new tablets carry md5; v1 have none; v3 + xxh3
    "function.created": 1,
    "function.dropped": 1,
    "catalog.created": 1,
    "catalog.dropped": 1,
    "repository.created": 1,
    "repository.dropped": 1,
    "repository.status": 1,
    "backup.submitted": 3,  # v2 tablets carry "known" {file: [md5, size]}; v1 hash every file; v3 [md5, size, xxh3]
    # and "replicas"
    "backup.state": 1,
    "backup.snapshot_made": 1,
    "backup.file_uploaded": 1,
    "backup.snapshot_released": 2,  # v2 names the backend; v1 (no backend) meant "all released"
    "backup.task_error": 1,
    "backup.repair": 1,  # the verification found files missing from the repository: they are written again
    "backup.replica_damaged": 1,  # a tablet file's copy is not what was loaded: the next replica serves it
    "restore.submitted": 2,  # v2 tablets' rowsets carry md5; v1 have none
    "restore.state": 1,
    "restore.prepared": 1,
    "restore.file_downloaded": 2,  # v2 carries the file's xxh3 (taken while downloading)
    "restore.task_error": 1,
    "restore.committed": 1,
    "restore.rolled_back": 1,
    "tablets.garbage_collected": 1,
}


@dataclass(frozen=True)
class Event:
    """An event decided by the core, before the log assigns its sequence number and time."""

    type: str
    data: dict[str, Any]
    stream: str = "catalog"
    key: str | None = None  # idempotency key: the log stores an event with a given key once
    version: int = field(default=0)

    def __post_init__(self) -> None:
        if self.type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {self.type!r}")
        if self.version == 0:
            object.__setattr__(self, "version", EVENT_TYPES[self.type])
