"""A backend worker actor: owns one backend's tablet directory and runs its tasks on bounded pools.

Tasks arrive as plain messages; each kind runs on its own pool sized by the settings of the reference
(`make_snapshot_worker_count`, `upload_worker_count`, `download_worker_count`,
`release_snapshot_worker_count`; 0 means the number of cores), which the frontend sends in a
ConfigChanged at start-up and on every change. Finished items go to an outbox (actors/outbox.py) that
reports to the frontend in batches. Every task is idempotent: a file already uploaded with the same
checksum is skipped, a snapshot link that exists is kept, a downloaded file is verified before it gets its
name.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from actors.messages import ConfigChanged, Report, Task
from actors.outbox import Flush, Outbox
from actors.runtime import Actor, Executor
from events.layout import tablet_remote_dir
from storage.fsutil import syncfs
from storage.repo import NotFound, RepoStorage, StorageError, TransientStorageError
from storage.repo_access import open_repository
from storage.repo_layout import (
    ChecksumMismatch,
    SourceDamaged,
    download_verified,
    md5_file,
    split_checksum,
    upload_checksummed,
    upload_known,
    xxh3_file,
)
from storage.secrets import SecretBox
from storage.snapshot_files import build_info, build_meta
from storage.tablet_store import TabletStore

POOL_SETTING = {
    "snapshot": "make_snapshot_worker_count",
    "upload": "upload_worker_count",
    "meta": "upload_worker_count",
    "info": "upload_worker_count",
    "verify": "upload_worker_count",
    "download": "download_worker_count",
    "release": "release_snapshot_worker_count",
    "drop": "release_snapshot_worker_count",
    "gc": "release_snapshot_worker_count",
}

# (registered repository as plain data, data directory) -> its storage. Tests pass a decorated one
# (tests/support/faults.py) to inject storage faults; the daemon uses storage.repo_access.open_repository.
StorageFactory = Callable[[Mapping[str, Any], Path], RepoStorage]
TabletStoreFactory = Callable[[Path], TabletStore]


def default_storage_factory(repo: Mapping[str, Any], data_dir: Path) -> RepoStorage:
    return open_repository(repo, data_dir)


def _already_verified(path: str, remote_name: str) -> bool:
    """A local file under its final name whose md5 equals the one in the remote name."""
    _, expected = split_checksum(remote_name)
    if expected is None or not os.path.exists(path):
        return False
    return md5_file(path)[0] == expected.lower()


class BackendWorker(Actor):
    def __init__(self, backend_id: int, data_dir: Path, config: dict[str, str],
                 storage_factory: StorageFactory | None = None,
                 tablet_store_factory: TabletStoreFactory | None = None) -> None:
        self.backend_id = backend_id
        self.data_dir = Path(data_dir)
        self.tablet_store_factory: TabletStoreFactory = tablet_store_factory or TabletStore
        self.store = self.tablet_store_factory(self.data_dir / f"be{backend_id}")
        self.config = dict(config)
        self.storage_factory: StorageFactory = storage_factory or default_storage_factory
        self._pools: dict[str, tuple[int, Executor]] = {}
        self._storages: dict[str, RepoStorage] = {}
        self._storage_lock = threading.Lock()
        self.outbox = Outbox(self)
        self.reply_to = "fe"
        # Jobs whose snapshots were released or whose downloads were dropped: their remaining upload and
        # download items stop at the next file (StarRocks' BEs likewise stop when the FE drops a job).
        self.ended_jobs: set[int] = set()
        self._replica_stores: dict[int, TabletStore] = {}
        # Items (job, tablet, file) some thread of this backend is transferring now. A task issued again
        # (its report was lost, or overlapping tasks after a retry) skips them: two writers of one file
        # would share its temporary name. The thread at work reports the item.
        self._active: set[tuple[int, str]] = set()
        self._active_lock = threading.Lock()

    # ------------------------------------------------------------ plumbing

    def receive(self, message: Any) -> Any:
        if isinstance(message, Flush):
            self.outbox.flush()
        elif isinstance(message, ConfigChanged):
            self.config.update(message.config)
        elif isinstance(message, Task):
            self.reply_to = message.reply_to
            if message.kind in ("release", "drop"):
                self.ended_jobs.add(message.job_id)
            runner = getattr(self, f"_run_{message.kind}")
            self._pool(message.kind).submit(lambda: self._guarded(runner, message))
        return None

    def _pool(self, kind: str) -> Executor:
        setting = POOL_SETTING[kind]
        size = int(self.config.get(setting, "0")) or (os.cpu_count() or 2)
        current = self._pools.get(setting)
        if current is None or current[0] != size:
            current = (size, self.runtime.executor(f"be{self.backend_id}-{setting}", size))
            self._pools[setting] = current
        return current[1]

    def report(self, report: Report) -> None:
        self.runtime.tell(self.reply_to, report)

    def schedule_flush(self, delay_s: float) -> None:
        self.runtime.schedule(delay_s, self.name, Flush())

    def _guarded(self, runner: Callable[[Task], None], task: Task) -> None:
        try:
            runner(task)
        except Exception as e:  # a bug or an unexpected failure: the job sees it and retries
            self.report(Report(kind=task.kind, job_id=task.job_id, backend_id=self.backend_id,
                               error=f"{type(e).__name__}: {e}", error_item={"key": task.key},
                               finished_keys=(task.key,)))

    def _storage(self, args: dict[str, Any]) -> RepoStorage:
        repo = args["repo"]
        key = f"{repo['name']}|{repo['location']}"
        with self._storage_lock:
            storage = self._storages.get(key)
            if storage is None:
                storage = self.storage_factory(repo, self.data_dir)
                self._storages[key] = storage
            return storage

    def _fail(self, task: Task, message: str, item_key: str, fatal: bool = False,
              damaged: dict[str, Any] | None = None) -> None:
        self.outbox.flush()  # items finished before the failure are reported first
        item: dict[str, Any] = {"key": item_key, "fatal": fatal}
        if damaged is not None:
            item["damaged"] = damaged
        self.report(Report(kind=task.kind, job_id=task.job_id, backend_id=self.backend_id, error=message,
                           error_item=item, finished_keys=(task.key,)))

    def _claim(self, job_id: int, key: str) -> bool:
        """Take an item for this thread; False if another thread is already at it."""
        with self._active_lock:
            if (job_id, key) in self._active:
                return False
            self._active.add((job_id, key))
            return True

    def _busy(self, job_id: int) -> bool:
        with self._active_lock:
            return any(j == job_id for j, _ in self._active)

    def _unclaim(self, job_id: int, key: str) -> None:
        with self._active_lock:
            self._active.discard((job_id, key))

    # ------------------------------------------------------------ backup

    def _run_snapshot(self, task: Task) -> None:
        for item in task.args["tablets"]:
            key = f"snap/{item['tablet_id']}"
            if not self._claim(task.job_id, key):
                continue
            try:
                if task.job_id in self.ended_jobs:
                    return  # released (cancelled, timed out): a link made now would outlive the release
                self.store.make_snapshot(task.job_id, item["tablet_id"], item["files"])
            finally:
                self._unclaim(task.job_id, key)
            self.outbox.add("snapshot", task.job_id, {"tablet_id": item["tablet_id"]})
        self.outbox.task_done("snapshot", task.job_id, task.key)

    def _run_upload(self, task: Task) -> None:
        storage = self._storage(task.args)
        root, label = task.args["root"], task.args["label"]
        for item in task.args["items"]:
            remote_dir = tablet_remote_dir(root, label, item["db_id"], item["table_id"], item["part_id"],
                                           item["index_id"], item["tablet_id"])
            known = item.get("known", {})
            if item.get("snapshot"):  # this replica took over from a damaged one: link its snapshot first
                try:
                    self.store.make_snapshot(task.job_id, item["tablet_id"], item["snapshot"])
                except OSError as e:
                    self._fail(task, f"snapshot of tablet {item['tablet_id']} on backend {self.backend_id} failed: {e}",
                               f"{item['tablet_id']}", fatal=True)
                    return
            for name in item["files"]:
                if task.job_id in self.ended_jobs:
                    return
                key = f"{item['tablet_id']}/{name}"
                if not self._claim(task.job_id, key):
                    continue
                try:
                    if not self._upload_one(task, storage, item, remote_dir, name, known, key):
                        return
                finally:
                    self._unclaim(task.job_id, key)
        self.outbox.task_done("upload", task.job_id, task.key)

    def _upload_one(self, task: Task, storage: RepoStorage, item: dict[str, Any], remote_dir: str, name: str,
                    known: dict[str, Any], key: str) -> bool:
        """Upload one snapshot file; False (after reporting the failure) if it failed."""
        tid = item["tablet_id"]
        local = self.store.snapshot_file(task.job_id, tid, name)
        if not os.path.exists(local):
            self._fail(task, f"snapshot file {name} of tablet {tid} is missing on backend {self.backend_id}", key,
                       fatal=True)
            return False
        try:
            if name in known:  # md5 recorded when the file was written: a plain copy, no hashing
                md5, size = known[name][0], known[name][1]
                xxh3 = known[name][2] if len(known[name]) > 2 else ""
                result = upload_known(storage, remote_dir, local, name, md5, size, durable=False, xxh3=xxh3)
            else:
                result = upload_checksummed(storage, remote_dir, local, name, durable=False)
        except SourceDamaged as e:
            self._fail(task, f"tablet file {name} of tablet {tid} on backend {self.backend_id} {e.reason}", key,
                       damaged={"tablet_id": tid, "file": name, "backend": self.backend_id})
            return False
        except (StorageError, OSError) as e:
            # (NotFound while writing: a repository directory removed behind our back; it is made again.)
            self._fail(task, f"upload of {name} (tablet {tid}) failed: {e}", key,
                       fatal=not isinstance(e, (TransientStorageError, OSError, NotFound)))
            return False
        self.outbox.add("upload", task.job_id, {"tablet_id": tid, "file": name, "md5": result.md5, "size": result.size},
                        sync=(f"repo:{task.args['repo']['name']}", storage.sync))
        return True

    def _run_meta(self, task: Task) -> None:
        # Catalog credentials travel in the meta file (as in StarRocks): opened with this data dir's key.
        box = SecretBox(str(self.data_dir))
        self._upload_blob(task, task.args["name"], build_meta(task.args["facts"], box.open))

    def _run_info(self, task: Task) -> None:
        self._upload_blob(task, task.args["name"], build_info(task.args["facts"], task.args["head_hash"]))

    def _upload_blob(self, task: Task, name: str, content: bytes) -> None:
        """Write a metadata file. Its bytes are a function of the task's facts: a retry writes the same file."""
        storage = self._storage(task.args)
        with tempfile.TemporaryDirectory(dir=self.store.root) as tmp:
            path = Path(tmp) / name
            path.write_bytes(content)
            try:
                result = upload_checksummed(storage, task.args["remote_dir"], str(path), name)
            except (StorageError, OSError) as e:
                self._fail(task, f"writing {name} failed: {e}", task.key)
                return
        self.outbox.add(task.kind, task.job_id, {"key": result.key, "size": result.size})
        self.outbox.task_done(task.kind, task.job_id, task.key)

    def _run_verify(self, task: Task) -> None:
        """Prove the snapshot complete: one listing of its directory against the job's manifest (every file
        under its final name with its size). Info files of this timestamp other than the job's own are left
        by an older version's retried write: they are removed, so exactly one remains."""
        storage = self._storage(task.args)
        expected = task.args["expected"]
        info_key = next((e["key"] for e in expected if e["what"] == "info"), None)  # None: before it is written
        try:
            listed = {o.key: o.size for o in storage.list_objects(task.args["remote_dir"] + "/")}
            strays = sorted(k for k in listed if info_key and k.startswith(task.args["info_prefix"]) and k != info_key)
            for k in strays:
                storage.delete(k)
        except (StorageError, OSError) as e:
            self._fail(task, f"verifying snapshot {task.args['label']} failed: {e}", task.key,
                       fatal=not isinstance(e, (TransientStorageError, OSError)))
            return
        problems = [{**e, "found": listed.get(e["key"])} for e in expected
                    if e["key"] not in listed or (e["size"] >= 0 and listed[e["key"]] != e["size"])]
        # A meta file other than the job's own was written by another backup of this label (another daemon
        # on the same repository): a RESTORE would find two and fail, so the snapshot is not restorable.
        meta_key = next(e["key"] for e in expected if e["what"] == "meta")
        meta_prefix = task.args["remote_dir"] + "/__meta."
        problems += [{"what": "foreign_meta", "key": k, "size": -1, "found": None} for k in sorted(listed)
                     if k.startswith(meta_prefix) and "/" not in k[len(meta_prefix):] and k != meta_key]
        self.outbox.add("verify", task.job_id, {"problems": problems[:1000], "problem_count": len(problems),
                                                "removed": strays, "with_info": info_key is not None})
        self.outbox.task_done("verify", task.job_id, task.key)

    def _run_release(self, task: Task) -> None:
        # The job is in ended_jobs (set on receipt): no new link is made; wait for the ones being made now.
        deadline = time.monotonic() + 30
        while self._busy(task.job_id) and time.monotonic() < deadline:
            time.sleep(0.01)
        self.store.release_snapshots(task.job_id)
        self.outbox.add("release", task.job_id, {"backend": self.backend_id})
        self.outbox.task_done("release", task.job_id, task.key)

    # ------------------------------------------------------------ restore

    def _run_download(self, task: Task) -> None:
        storage = self._storage(task.args)
        for item in task.args["items"]:
            tid = item["tablet_id"]
            target_dir = str(self.store.tablet_dir(tid))
            try:
                os.mkdir(target_dir)
                fresh = True  # a new directory holds nothing from before a crash: no file to re-verify
            except FileExistsError:
                fresh = False
            for remote_name in item["files"]:
                if task.job_id in self.ended_jobs:
                    return
                claim = f"{tid}/{remote_name}"
                if not self._claim(task.job_id, claim):
                    continue  # another thread downloads it now (a task issued again) and will report it
                try:
                    if not self._download_one(task, storage, item, target_dir, fresh, remote_name):
                        return
                finally:
                    self._unclaim(task.job_id, claim)
        self.outbox.task_done("download", task.job_id, task.key)

    def _download_one(self, task: Task, storage: RepoStorage, item: dict[str, Any], target_dir: str, fresh: bool,
                      remote_name: str) -> bool:
        """Download, verify and link one file of a new tablet; False (after reporting) if it failed."""
        tid = item["tablet_id"]
        name, _ = split_checksum(remote_name)
        key = f"{item['remote_dir']}/{remote_name}"
        local = os.path.join(target_dir, name)
        if not fresh and _already_verified(local, remote_name):
            xxh3 = xxh3_file(local)
        else:
            # (A file downloaded and verified before a crash but not yet recorded is kept as it is.)
            try:
                # The new tablet is invisible until COMMIT and a crash re-verifies the file, so it
                # can be written in place.
                xxh3 = download_verified(storage, key, local, durable=False, in_place=True)
            except ChecksumMismatch as e:
                self._fail(task, str(e), f"{tid}/{remote_name}", fatal=True)
                return False
            except TransientStorageError as e:
                self._fail(task, f"download of {key} failed: {e}", f"{tid}/{remote_name}")
                return False
            except (StorageError, OSError) as e:
                self._fail(task, f"download of {key} failed: {e}", f"{tid}/{remote_name}", fatal=True)
                return False
        for replica in item["replicas"]:
            # Replicas on this machine share the verified bytes (see README: single-host replicas).
            self._replica_store(replica).link_rowset(tid, name, local, new_dir=fresh)
        self.outbox.add("download", task.job_id, {"tablet_id": tid, "file": remote_name, "xxh3": xxh3},
                        sync=("tablets", self._sync_tablets))
        return True

    def _replica_store(self, backend_id: int) -> TabletStore:
        store = self._replica_stores.get(backend_id)
        if store is None:
            store = self._replica_stores[backend_id] = self.tablet_store_factory(self.data_dir / f"be{backend_id}")
        return store

    def _sync_tablets(self) -> None:
        syncfs(str(self.store.root))

    def _run_drop(self, task: Task) -> None:
        for tid in task.args["tablet_ids"]:
            self.store.remove_tablet(tid)
        self.outbox.add("drop", task.job_id, {"backend": self.backend_id})
        self.outbox.task_done("drop", task.job_id, task.key)

    def _run_gc(self, task: Task) -> None:
        for tid in task.args["tablet_ids"]:
            self.store.remove_tablet(tid)
        self.outbox.add("gc", task.job_id, {"backend": self.backend_id, "tablet_ids": task.args["tablet_ids"]})
        self.outbox.task_done("gc", task.job_id, task.key)
