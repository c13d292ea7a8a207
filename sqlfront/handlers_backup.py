"""BACKUP, RESTORE, CANCEL, SHOW BACKUP / RESTORE / SNAPSHOT.

Remote reads that a statement needs before its job exists (does the label exist, the snapshot's info and
meta files) happen here, in the session's thread, so the frontend actor never waits on remote storage.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from events.commands import CancelBackup, CancelRestore, SubmitBackup, SubmitRestore
from events.errors import CatalogError
from events.layout import snapshot_dir
from events.queries import RepositoryForJob, ShowBackup, ShowRestore
from sqlfront.handler_base import HandlerSession, Result
from sqlfront.parse import ast as ast
from storage.repo import StorageError
from storage.repo_access import open_repository
from storage.repo_layout import download_verified, find_checksummed, list_info_files, list_snapshots
from storage.snapshot_files import brief_info


def _repository(s: HandlerSession, name: str) -> tuple[dict[str, Any], Any]:
    try:
        repo = s.cluster.read(RepositoryForJob(name=name))
    except CatalogError:
        raise CatalogError(f"Repository [{name}] does not exist") from None
    try:
        storage = open_repository(repo, s.cluster.data_dir)
    except StorageError as e:
        raise CatalogError(f"Failed to open repository {name}: {e}") from None
    return repo, storage


def _objects(objects: tuple[ast.BackupObject, ...]) -> list[dict[str, Any]]:
    return [asdict(o) for o in objects]


def backup(s: HandlerSession, b: ast.Backup) -> Result:
    catalogs = b.external_catalogs
    db = None if catalogs is not None else (b.db or s.db)
    if catalogs is None and not db:
        raise CatalogError("No database selected", 1046)
    repo, storage = _repository(s, b.repo)
    if repo["read_only"]:
        raise CatalogError(f"Repository {b.repo} is read only")
    try:
        exists = b.snapshot in list_snapshots(storage, repo["root"])
    except StorageError as e:
        raise CatalogError(f"Failed to list snapshots of repository {b.repo}: {e}") from None
    if exists:
        if b.type == "INCREMENTAL":
            raise CatalogError("Currently does not support incremental backup")
        raise CatalogError(f"Snapshot with name '{b.snapshot}' already exist in repository")
    s.cluster.cmd(SubmitBackup(
        db=db, db_given=bool(b.db) and catalogs is not None, label=b.snapshot, repo=b.repo,
        objects=_objects(b.objects), external_catalogs=list(catalogs) if isinstance(catalogs, tuple) else catalogs,
        timeout_s=b.timeout_s, type=b.type,
    ))
    return [], []


def read_snapshot_files(storage: Any, root: str, label: str, timestamp: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Download and verify a snapshot's info and meta files; errors name the snapshot as StarRocks does."""
    sdir = snapshot_dir(root, label)
    try:
        info = _read_verified_json(storage, f"{sdir}/__info_{timestamp}")
    except (StorageError, ValueError) as e:
        raise CatalogError(
            f"Failed to get info of snapshot '{label}' because: {e}. Maybe specified wrong backup timestamp"
        ) from None
    try:
        meta = _read_verified_json(storage, f"{sdir}/__meta")
    except (StorageError, ValueError) as e:
        raise CatalogError(f"Failed to read backup meta from file: {e}") from None
    return info, meta


def _read_verified_json(storage: Any, prefix: str) -> Any:
    """The one file named `<prefix>.<md5>`, downloaded, checked against its md5 and parsed as JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        local = str(Path(tmp) / "file")
        download_verified(storage, find_checksummed(storage, prefix), local)
        return json.loads(Path(local).read_bytes())


def meta_problem(storage: Any, root: str, label: str) -> str | None:
    """Why a snapshot's meta file would not be found by a RESTORE (missing, or more than one: two backups
    wrote this label), or None. One listing; its content is verified by the RESTORE that downloads it."""
    try:
        find_checksummed(storage, f"{snapshot_dir(root, label)}/__meta")
    except StorageError as e:
        return f"Failed to get meta: {e}"
    return None


def info_problem(storage: Any, root: str, label: str, timestamp: str) -> str | None:
    """Why a snapshot's info file for `timestamp` does not verify (missing, more than one, checksum in its
    name not its content's, not JSON), or None if it does. SHOW SNAPSHOT says OK only then."""
    if timestamp.startswith("Invalid: "):
        return f"invalid info file name: {timestamp[len('Invalid: '):]}"
    try:
        info = _read_verified_json(storage, f"{snapshot_dir(root, label)}/__info_{timestamp}")
    except (StorageError, ValueError) as e:
        return f"Failed to get info of {timestamp}: {e}"
    if not isinstance(info, dict) or info.get("name") != label:
        return f"info file of {timestamp} is not this snapshot's"
    return None


def restore(s: HandlerSession, r: ast.Restore) -> Result:
    repo, storage = _repository(s, r.repo)
    info, meta = read_snapshot_files(storage, repo["root"], r.label, r.backup_timestamp)
    catalogs = r.external_catalogs
    s.cluster.cmd(SubmitRestore(
        label=r.label, repo=r.repo, timestamp=r.backup_timestamp, root=repo["root"],
        database=r.database, database_alias=r.database_alias, snapshot_db_prefix=r.snapshot_db_prefix,
        objects=_objects(r.objects),
        external_catalogs=[list(c) for c in catalogs] if isinstance(catalogs, tuple) else catalogs,
        replication_num=r.replication_num, timeout_s=r.timeout_s, allow_load=r.allow_load, info=info, meta=meta,
    ))
    return [], []


def cancel_backup(s: HandlerSession, c: ast.CancelBackup) -> Result:
    s.cluster.cmd(CancelBackup(db=c.db or s.db, catalog=c.external_catalog))
    return [], []


def cancel_restore(s: HandlerSession, c: ast.CancelRestore) -> Result:
    s.cluster.cmd(CancelRestore(db=c.db or s.db, catalog=c.external_catalog))
    return [], []


def _limit(rows: list[Any], limit: int | None, offset: int | None) -> list[Any]:
    start = offset or 0
    return rows[start : start + limit] if limit is not None else rows[start:]


def show_backup(s: HandlerSession, st: ast.ShowBackup) -> Result:
    shown = s.cluster.read(ShowBackup(db=st.db))
    return _limit(shown.rows, st.limit, st.offset), list(shown.columns)


def show_restore(s: HandlerSession, st: ast.ShowRestore) -> Result:
    shown = s.cluster.read(ShowRestore(db=st.db))
    return _limit(shown.rows, st.limit, st.offset), list(shown.columns)


def show_snapshot(s: HandlerSession, st: ast.ShowSnapshot) -> Result:
    """Read from the repository itself, so a second cluster sees what the first one wrote (§2.4)."""
    try:
        repo = s.cluster.read(RepositoryForJob(name=st.repo))
    except CatalogError:
        raise CatalogError(f"Repository {st.repo} does not exist") from None
    _, storage = _repository(s, st.repo)
    root = repo["root"]
    if st.snapshot_names and st.timestamp is not None:
        label, ts = st.snapshot_names[0], st.timestamp
        try:
            info, _ = read_snapshot_files(storage, root, label, ts)
        except CatalogError as e:
            return [(label, ts, None, None, f"Failed to get info: {e.message}")], [
                "Snapshot", "Timestamp", "Database", "Details", "Status"]
        return [(label, ts, info.get("database"), brief_info(info), "OK")], [
            "Snapshot", "Timestamp", "Database", "Details", "Status"]
    try:
        labels = list_snapshots(storage, root)
    except StorageError as e:
        raise CatalogError(f"Failed to list snapshots of repository {st.repo}: {e}") from None
    if st.snapshot_names:
        if len(st.snapshot_names) == 1 and not re.search(r"\bIN\s*\(", st.where or "", re.I):
            labels = [st.snapshot_names[0]]
        else:
            labels = [lb for lb in labels if lb in st.snapshot_names]
    rows: list[tuple[str, str | None, str]] = []
    for label in labels:
        try:
            stamps = list_info_files(storage, root, label)
        except StorageError as e:
            rows.append((label, None, f"ERROR: Failed to get info: {e}"))
            continue
        if not stamps:
            rows.append((label, "", "ERROR: no snapshot"))
            continue
        # StarRocks says OK when an info file is listed; we say it only when every one verifies.
        problems = [p for ts in dict.fromkeys(stamps) if (p := info_problem(storage, root, label, ts))]
        if not problems and (p := meta_problem(storage, root, label)):
            problems.append(p)
        rows.append((label, "\n".join(stamps), f"ERROR: {problems[0]}" if problems else "OK"))
    return _limit(rows, st.limit, st.offset), ["Snapshot", "Timestamp", "Status"]
