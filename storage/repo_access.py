"""From a registered repository (plain data, sealed properties) to a RepoStorage, and its health probe.

The SQL session (CREATE REPOSITORY), the repository checker and the backup/restore job engine all reach a
repository's storage through here, so credentials are opened in one place and never logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike
from typing import Any

from events.timefmt import display_time, parse_display_time
from storage.repo import RepoStorage, StorageError, make_storage
from storage.repo_layout import REPO_INFO
from storage.secrets import SecretBox, SecretError


def open_repository(repo_plain: Mapping[str, Any], data_dir: str | PathLike[str]) -> RepoStorage:
    """`repo_plain` is `to_plain(Repository)` (or an event's "repository" dict): location + sealed properties.

    Raises StorageError if the storage cannot be built (bad properties, no JVM for HDFS, ...) or the sealed
    properties do not open with this data directory's key.
    """
    try:
        props = SecretBox(str(data_dir)).open(repo_plain.get("properties") or {})
    except SecretError as exc:
        raise StorageError(str(exc)) from None
    return make_storage(str(repo_plain["location"]), props)


def normalize_location(location: str) -> str:
    """Newer StarRocks FE strips trailing '/' from the location (reference §1.1); 'file:///' stays."""
    stripped = location.strip().rstrip("/")
    return (
        stripped
        if stripped and not stripped.endswith(":") and not stripped.endswith(":/")
        else location.strip()
    )


def probe(storage: RepoStorage, root: str, read_only: bool) -> None:
    """The periodic check: can the repository still be used? Raises StorageError with the reason.

    The repository root is listed first (a missing bucket or an unreachable store fails here); a
    read-only repository is only listed. A writable one must still hold its `__repo_info` (a location
    wiped or replaced behind our back is broken even where a write would silently re-create it) and must
    pass the list/write/read/delete probe of `RepoStorage.check`.
    """
    storage.list_dirs(root)  # one level: reaching the store is what counts, not walking every snapshot
    if read_only:
        return
    info = f"{root}/{REPO_INFO}"
    if storage.stat(info) is None:
        raise StorageError(f"repository info file is missing: {storage.location}/{info}")
    storage.check()


def now_text(now_ns: int) -> str:
    """`yyyy-MM-dd HH:mm:ss` in the daemon's local time zone (StarRocks TimeUtils.longToTimeString)."""
    return display_time(now_ns)


def parse_repo_time(text: str) -> int | None:
    """A `__repo_info` create_time (local time, `yyyy-MM-dd HH:mm:ss`) as ns since the epoch; None if invalid."""
    return parse_display_time(text)
