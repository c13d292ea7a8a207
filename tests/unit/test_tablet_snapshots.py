"""Backup snapshots on a backend: flat hard links per job, idempotent, released as one directory; a job
snapshotted by an earlier version (one directory per tablet) still finds its files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from storage.tablet_store import TabletStore


def _store_with_rowset(tmp_path: Path) -> TabletStore:
    store = TabletStore(tmp_path / "be1")
    store.tablet_dir(42).mkdir(parents=True)
    (store.tablet_dir(42) / "r1.parquet").write_bytes(b"rows")
    return store


def test_snapshot_links_are_flat_idempotent_and_released(tmp_path: Path) -> None:
    store = _store_with_rowset(tmp_path)
    store.make_snapshot(7, 42, ["r1.parquet"])
    store.make_snapshot(7, 42, ["r1.parquet"])  # again after a restart: nothing changes
    path = store.snapshot_file(7, 42, "r1.parquet")
    assert path == str(tmp_path / "be1" / "snapshots" / "7" / "42.r1.parquet")
    assert os.stat(path).st_ino == (store.tablet_dir(42) / "r1.parquet").stat().st_ino
    store.release_snapshots(7)
    assert not (tmp_path / "be1" / "snapshots" / "7").exists()


def test_a_missing_rowset_fails_the_snapshot(tmp_path: Path) -> None:
    store = _store_with_rowset(tmp_path)
    with pytest.raises(FileNotFoundError):
        store.make_snapshot(7, 42, ["gone.parquet"])


def test_snapshot_of_an_earlier_version_is_found(tmp_path: Path) -> None:
    store = _store_with_rowset(tmp_path)
    legacy = tmp_path / "be1" / "snapshots" / "7" / "42"
    legacy.mkdir(parents=True)
    os.link(store.tablet_dir(42) / "r1.parquet", legacy / "r1.parquet")
    assert store.snapshot_file(7, 42, "r1.parquet") == str(legacy / "r1.parquet")
