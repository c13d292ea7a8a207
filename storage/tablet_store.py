"""One backend's tablet files on local disk: rowsets as Parquet, hard-link snapshots, download staging.

Layout under the backend's directory:
  tablets/<tablet_id>/<rowset file>.parquet          live rowsets (named by the catalog's Rowset.file)
  snapshots/<job_id>/<tablet_id>.<file>              hard links made for a backup (frozen at a version)
A restore downloads into the directories of new tablets, which no reader knows before its COMMIT.
A rowset file is written (by a load, through `RowsetWriter`) under a temporary name and renamed after
fsync, so a crash never leaves a half-written file under a name the catalog could refer to.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import xxhash


class HashingFile(io.RawIOBase):
    """A write-only file that hashes what passes through it: the rowset's md5 and xxh3-64 are known when it
    is written, without reading the file back (a backup later names the file with the md5 instead of
    hashing it again, and checks the bytes it copies against the fast xxh3)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._file = open(path, "wb")  # noqa: SIM115  (closed in close())
        self.md5 = hashlib.md5()
        self.xxh3 = xxhash.xxh3_64()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self.md5.update(view)
        self.xxh3.update(view)
        self._file.write(view)
        return view.nbytes

    def tell(self) -> int:
        return self._file.tell()

    def flush(self) -> None:
        if not self._file.closed:
            self._file.flush()

    def fsync(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()
        super().close()


@dataclass(frozen=True)
class WrittenRowset:
    """What a finished rowset file is recorded with in the catalog."""

    rows: int
    size: int
    md5: str
    xxh3: str


class RowsetWriter:
    """The one way a rowset file is written: streamed batch by batch (memory stays bounded by a batch) as
    Parquet into the tablet's first replica directory under a temporary name, hashed on the way; `finish`
    fsyncs it, renames it to its final name and hard-links it into the other replicas' directories
    (replicas of one machine share the bytes; see README). `abort` leaves nothing behind."""

    def __init__(self, replica_dirs: Sequence[str | os.PathLike[str]], file: str, schema: pa.Schema) -> None:
        self.dirs = [Path(d) for d in replica_dirs]
        self.dirs[0].mkdir(parents=True, exist_ok=True)
        self.tmp = self.dirs[0] / (file + ".tmp")
        self.final = self.dirs[0] / file
        self.sink = HashingFile(self.tmp)
        try:
            self.writer = pq.ParquetWriter(self.sink, schema, compression="zstd")
        except BaseException:
            self.sink.close()
            raise
        self.rows = 0

    def write(self, batch: pa.RecordBatch | pa.Table) -> None:
        self.writer.write(batch)
        self.rows += batch.num_rows

    def finish(self) -> WrittenRowset:
        """Close, fsync and publish the file under its final name in every replica directory."""
        self.writer.close()
        if self.sink.closed:  # (pyarrow closes a Python sink with the writer on some versions)
            with open(self.tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        else:
            self.sink.fsync()
            self.sink.close()
        os.replace(self.tmp, self.final)
        for other in self.dirs[1:]:
            other.mkdir(parents=True, exist_ok=True)
            target = other / self.final.name
            if not target.exists():
                os.link(self.final, target)
        return WrittenRowset(self.rows, self.final.stat().st_size, self.sink.md5.hexdigest(),
                             self.sink.xxh3.hexdigest())

    def abort(self) -> None:
        try:
            self.writer.close()
        except Exception:  # noqa: BLE001  (best effort while already failing)
            pass
        self.sink.close()
        self.tmp.unlink(missing_ok=True)
        remove_rowset(self.dirs, self.final.name)


def remove_rowset(replica_dirs: Iterable[str | os.PathLike[str]], file: str) -> None:
    """Delete a rowset file from every replica directory (a write that was not published)."""
    for d in replica_dirs:
        (Path(d) / file).unlink(missing_ok=True)


class TabletStore:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._tablets = str(self.root / "tablets")
        self._snapshots = str(self.root / "snapshots")
        for sub in ("tablets", "snapshots"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def tablet_dir(self, tablet_id: int) -> Path:
        return self.root / "tablets" / str(tablet_id)


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
