"""The one write path of rowset files (storage/tablet_store.py RowsetWriter), which loads, sync MV builds
and MV refreshes go through: streamed, hashed while written, published whole under its final name and
hard-linked into every replica; an aborted or unpublished write leaves nothing behind."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

from storage.tablet_store import RowsetWriter, TabletStore, remove_rowset

SCHEMA = pa.schema([("k", pa.int64()), ("v", pa.string())])


def _batch(start: int, n: int) -> pa.RecordBatch:
    return pa.record_batch([pa.array(range(start, start + n)), pa.array([f"v{i}" for i in range(n)])], schema=SCHEMA)


def _replicas(tmp_path: Path, tablet_id: int, n: int) -> list[Path]:
    return [TabletStore(tmp_path / f"be{b}").tablet_dir(tablet_id) for b in range(1, n + 1)]


def test_streamed_rowset_is_hashed_published_and_linked_into_replicas(tmp_path: Path) -> None:
    dirs = _replicas(tmp_path, 7, 3)
    w = RowsetWriter(dirs, "t1.parquet", SCHEMA)
    w.write(_batch(0, 5))
    w.write(pa.Table.from_batches([_batch(5, 4)]))
    assert not (dirs[0] / "t1.parquet").exists()  # not under its final name before finish
    done = w.finish()
    data = (dirs[0] / "t1.parquet").read_bytes()
    assert (done.rows, done.size) == (9, len(data))
    assert done.md5 == hashlib.md5(data).hexdigest()
    assert done.xxh3 == xxhash.xxh3_64(data).hexdigest()
    assert pq.read_table(dirs[0] / "t1.parquet").column("k").to_pylist() == list(range(9))
    inode = os.stat(dirs[0] / "t1.parquet").st_ino
    assert [os.stat(d / "t1.parquet").st_ino for d in dirs] == [inode] * 3
    assert not any(p.name.endswith(".tmp") for d in dirs for p in d.iterdir())


def test_abort_and_remove_leave_nothing_behind(tmp_path: Path) -> None:
    dirs = _replicas(tmp_path, 8, 2)
    w = RowsetWriter(dirs, "t2.parquet", SCHEMA)
    w.write(_batch(0, 3))
    w.abort()
    assert [p for d in dirs if d.exists() for p in d.iterdir()] == []
    w = RowsetWriter(dirs, "t3.parquet", SCHEMA)
    w.write(_batch(0, 3))
    w.finish()
    remove_rowset(dirs, "t3.parquet")
    assert not any((d / "t3.parquet").exists() for d in dirs)
