"""One backend's tablet files on local disk: rowsets as Parquet, hard-link snapshots, download staging.

Layout under the backend's directory:
  tablets/<tablet_id>/<rowset file>.parquet          live rowsets (named by the catalog's Rowset.file)
  snapshots/<job_id>/<tablet_id>.<file>              hard links made for a backup (frozen at a version)
A restore downloads into the directories of new tablets, which no reader knows before its COMMIT.
A rowset file is written under a temporary name and renamed after fsync, so a crash never leaves a
half-written file under a name the catalog could refer to.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from storage.fsutil import fsync_dir


class TabletStore:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._tablets = str(self.root / "tablets")
        self._snapshots = str(self.root / "snapshots")
        for sub in ("tablets", "snapshots"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def tablet_dir(self, tablet_id: int) -> Path:
        return self.root / "tablets" / str(tablet_id)

    def write_rowset(self, tablet_id: int, file: str, batches: Iterable[pa.RecordBatch], schema: pa.Schema) -> tuple[int, int]:
        """Write batches as one Parquet file; returns (rows, bytes). Durable and atomic on return."""
        directory = self.tablet_dir(tablet_id)
        directory.mkdir(parents=True, exist_ok=True)
        final = directory / file
        tmp = directory / (file + ".tmp")
        rows = 0
        with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
            for batch in batches:
                writer.write_batch(batch)
                rows += batch.num_rows
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
        fsync_dir(directory)
        return rows, final.stat().st_size

    def link_rowset(self, tablet_id: int, file: str, source: str | os.PathLike[str], new_dir: bool = False) -> None:
        """Place an existing, complete file (another replica's copy) as this backend's rowset: a hard link
        appears whole under its name at once; a copy (across file systems) goes through a temporary name.
        `new_dir`: the tablet's directory is most likely missing (a restore's new tablet), so make it first
        instead of failing a link. (String paths: this runs once per file and replica of a restore.)"""
        directory = os.path.join(self._tablets, str(tablet_id))
        final = os.path.join(directory, file)
        if new_dir:
            try:
                os.mkdir(directory)
            except FileExistsError:
                pass
        try:
            os.link(source, final)
            return
        except FileExistsError:
            return
        except FileNotFoundError:
            os.makedirs(directory, exist_ok=True)
            try:
                os.link(source, final)
                return
            except FileExistsError:
                return
            except OSError:
                pass
        except OSError:
            pass
        tmp = final + ".tmp"
        shutil.copyfile(source, tmp)
        os.replace(tmp, final)

    def remove_tablet(self, tablet_id: int) -> None:
        shutil.rmtree(self.tablet_dir(tablet_id), ignore_errors=True)

    def snapshot_path(self, job_id: int, tablet_id: int, file: str) -> str:
        """Where a backup's hard link of one rowset file lives: flat in the job's directory, because a
        directory per tablet made a 10,000-tablet snapshot cost 10,000 mkdirs (~300 us each on ext4 here,
        against ~50 us for a link)."""
        return os.path.join(self._snapshots, str(job_id), f"{tablet_id}.{file}")

    def snapshot_file(self, job_id: int, tablet_id: int, file: str) -> str:
        """The snapshot link to upload: `snapshot_path`, or `<job>/<tablet>/<file>` for a job whose snapshot
        an earlier version made (one directory per tablet) before a restart into this one."""
        path = self.snapshot_path(job_id, tablet_id, file)
        if not os.path.exists(path):
            legacy = os.path.join(self._snapshots, str(job_id), str(tablet_id), file)
            if os.path.exists(legacy):
                return legacy
        return path

    def make_snapshot(self, job_id: int, tablet_id: int, files: list[str]) -> None:
        """Hard-link the rowsets visible at the snapshot version; later loads add files, never change these."""
        source = os.path.join(self._tablets, str(tablet_id))
        for f in files:
            target = self.snapshot_path(job_id, tablet_id, f)
            try:
                os.link(os.path.join(source, f), target)
            except FileExistsError:
                pass  # made before a restart
            except FileNotFoundError:
                if not os.path.exists(os.path.join(source, f)):
                    raise
                os.makedirs(os.path.dirname(target), exist_ok=True)  # the job's first tablet on this backend
                try:
                    os.link(os.path.join(source, f), target)
                except FileExistsError:
                    pass

    def release_snapshots(self, job_id: int) -> None:
        shutil.rmtree(self.root / "snapshots" / str(job_id), ignore_errors=True)
