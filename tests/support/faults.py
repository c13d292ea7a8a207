"""Fault injection as decorators of the real interfaces (test equipment, never product code).

- `FaultyStorage` decorates a `RepoStorage` (storage/repo/base.py): transient and permanent errors, slow
  calls (the `sleep` it is given: virtual time in the simulator, real sleep for a daemon), disk full
  (OSError ENOSPC), repository files deleted behind the job's back, a transfer log (one line per file
  actually uploaded or downloaded), and crash points (raise `SimulatedCrash` just after a chosen call).
- `FaultyStorageFactory` is what a `BackendWorker` (or `Daemon`) takes as its `storage_factory`: it opens
  the real storage and wraps it, one shared fault plan and random stream for every backend.
- `SlowTabletStore` slows snapshot making, so a real daemon can be held in SNAPSHOTING.
- `FaultyTransport` decorates a runtime's `tell`: it loses and duplicates messages between actors.

Every decision comes from the `random.Random` passed in, so a simulation with one seed injects the same
faults at the same calls.
"""

from __future__ import annotations

import errno
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from actors.messages import Report, Task
from actors.sim import SimulatedCrash
from storage.repo import ObjectInfo, ReadStream, RepoStorage, StorageError, TransientStorageError
from storage.repo_access import open_repository
from storage.tablet_store import TabletStore

# Operations that move file data (the ones a transfer log records and disk-full can hit).
WRITES = ("put_file", "put_bytes")
READS = ("open_read", "get_file", "get_bytes")
DATA_FILE = re.compile(r"/__ss_content/")


@dataclass
class StorageFaults:
    """Per-call probabilities of each storage fault (0 = off)."""

    transient: float = 0.0  # TransientStorageError before the call
    permanent: float = 0.0  # StorageError before the call
    slow: float = 0.0  # the call takes `slow_s` longer
    slow_s: float = 0.0
    disk_full: float = 0.0  # OSError ENOSPC before a put or a get
    delete: float = 0.0  # after a data-file put: an earlier data file of the same snapshot vanishes
    # Only calls whose key matches are slowed (e.g. r"__info_" holds a job in UPLOAD_INFO); None = all.
    slow_keys: str | None = None
    slow_ops: tuple[str, ...] | None = None  # only these operations are slowed; None = all

    def off(self) -> StorageFaults:
        return StorageFaults()

    def any(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self) if f.name not in ("slow_s", "slow_keys", "slow_ops"))


@dataclass
class FaultLog:
    """What was injected, for reports and for tests that assert a fault really happened."""

    counts: dict[str, int] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)

    def add(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1


CrashAfter = Callable[[str, str], bool]  # (operation, key) -> crash just after this call?


class TransferLog:
    """One line per file actually moved: `upload <key>` / `download <key>` (appended, flushed at once)."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = None if path is None else str(path)
        self.lines: list[str] = []
        self._lock = threading.Lock()

    def add(self, line: str) -> None:
        with self._lock:
            self.lines.append(line)
            if self.path is not None:
                with open(self.path, "a") as fh:
                    fh.write(line + "\n")


class FaultyStorage(RepoStorage):
    """A `RepoStorage` that injects faults around every call of the one it wraps.

    Faults are drawn per `put_file`, so it passes on the inner capabilities except the one-pass checksummed
    upload: a checksummed upload through it takes the interface's default (hash, then a faulted
    `put_file`), and the presence check the default listing (a faulted `list_objects`)."""

    def __init__(self, inner: RepoStorage, rng: random.Random, faults: StorageFaults,
                 sleep: Callable[[float], None] = time.sleep, log: FaultLog | None = None,
                 transfers: TransferLog | None = None, crash_after: CrashAfter | None = None,
                 written: list[str] | None = None, lock: threading.Lock | None = None) -> None:
        self.inner = inner
        self.location = inner.location
        self.capabilities = replace(inner.capabilities, one_pass_checksum=False)
        self.rng = rng
        self.faults = faults
        self.sleep = sleep
        self.log = log if log is not None else FaultLog()
        self.transfers = transfers
        self.crash_after = crash_after
        self.written = written if written is not None else []  # data files put, candidates for deletion
        self._lock = lock or threading.Lock()

    # ------------------------------------------------------------ the faults

    def _before(self, op: str, key: str) -> None:
        f = self.faults
        with self._lock:  # one random stream for all threads: draws in a fixed order per call
            slow = (f.slow and self.rng.random() < f.slow and (f.slow_keys is None or re.search(f.slow_keys, key))
                    and (f.slow_ops is None or op in f.slow_ops))
            transient = f.transient and self.rng.random() < f.transient
            permanent = f.permanent and self.rng.random() < f.permanent
            full = f.disk_full and op in WRITES + READS and self.rng.random() < f.disk_full
        if slow:
            self.log.add("slow")
            self.sleep(f.slow_s)
        if transient:
            self.log.add("transient")
            raise TransientStorageError(f"injected transient error at {op} {key}")
        if permanent:
            self.log.add("permanent")
            raise StorageError(f"injected permanent error at {op} {key}")
        if full:
            self.log.add("disk_full")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), key)

    def _after(self, op: str, key: str) -> None:
        if self.transfers is not None:
            if op in WRITES:
                self.transfers.add(f"upload {key}")
            elif op in ("open_read", "get_file"):
                self.transfers.add(f"download {key}")
        if op in WRITES and DATA_FILE.search(key):
            victim = None
            snapshot = key.split("/__ss_content/", 1)[0] + "/"
            with self._lock:
                if self.faults.delete and self.rng.random() < self.faults.delete:
                    # A file of the snapshot being written (one written before this one): the job that
                    # writes it can still notice; a file of an earlier, FINISHED snapshot it could not.
                    mine = [i for i, k in enumerate(self.written) if k.startswith(snapshot)]
                    if mine:
                        victim = self.written.pop(mine[self.rng.randrange(len(mine))])
                self.written.append(key)
            if victim is not None:
                self.log.add("delete")
                self.log.deleted.append(victim)
                self.inner.delete(victim)
        if self.crash_after is not None and self.crash_after(op, key):
            raise SimulatedCrash(f"crash after {op} {key}")

    # ------------------------------------------------------------ the interface

    def put_file(self, key: str, local_path: str, durable: bool = True) -> None:
        self._before("put_file", key)
        self.inner.put_file(key, local_path, durable)
        self._after("put_file", key)

    def sync(self) -> None:
        self.inner.sync()

    def put_bytes(self, key: str, data: bytes) -> None:
        self._before("put_bytes", key)
        self.inner.put_bytes(key, data)
        self._after("put_bytes", key)

    def open_read(self, key: str) -> ReadStream:
        self._before("open_read", key)
        stream = self.inner.open_read(key)
        self._after("open_read", key)
        return stream

    def get_file(self, key: str, local_path: str) -> None:
        self._before("get_file", key)
        self.inner.get_file(key, local_path)
        self._after("get_file", key)

    def get_bytes(self, key: str) -> bytes:
        self._before("get_bytes", key)
        data = self.inner.get_bytes(key)
        self._after("get_bytes", key)
        return data

    def list_objects(self, prefix: str) -> list[ObjectInfo]:
        self._before("list_objects", prefix)
        return self.inner.list_objects(prefix)

    def list_dirs(self, prefix: str) -> list[str]:
        self._before("list_dirs", prefix)
        return self.inner.list_dirs(prefix)

    def stat(self, key: str) -> ObjectInfo | None:
        self._before("stat", key)
        return self.inner.stat(key)

    def delete(self, key: str) -> None:
        self._before("delete", key)
        self.inner.delete(key)

    def delete_prefix(self, prefix: str) -> None:
        self._before("delete_prefix", prefix)
        self.inner.delete_prefix(prefix)


class FaultyStorageFactory:
    """A `storage_factory` for BackendWorker/Daemon: the real storage of a repository, decorated."""

    def __init__(self, faults: StorageFaults | None = None, rng: random.Random | None = None,
                 sleep: Callable[[float], None] = time.sleep, transfers: TransferLog | None = None,
                 crash_after: CrashAfter | None = None,
                 opener: Callable[[Mapping[str, Any], Path], RepoStorage] = open_repository) -> None:
        self.faults = faults or StorageFaults()
        self.rng = rng or random.Random(0)
        self.sleep = sleep
        self.transfers = transfers
        self.crash_after = crash_after
        self.opener = opener
        self.log = FaultLog()
        self.written: list[str] = []
        self._lock = threading.Lock()
        self.opened: list[FaultyStorage] = []

    def __call__(self, repo: Mapping[str, Any], data_dir: Path) -> RepoStorage:
        storage = FaultyStorage(self.opener(repo, data_dir), self.rng, self.faults, self.sleep, self.log,
                                self.transfers, self._crash_after, self.written, self._lock)
        self.opened.append(storage)
        return storage

    def _crash_after(self, op: str, key: str) -> bool:
        return self.crash_after is not None and self.crash_after(op, key)

    def set_faults(self, faults: StorageFaults) -> None:
        """Change the plan of every storage opened so far and later (e.g. faults off for the end checks)."""
        self.faults = faults
        for s in self.opened:
            s.faults = faults

    def quiet(self) -> None:
        self.set_faults(replace(self.faults, transient=0.0, permanent=0.0, slow=0.0, disk_full=0.0, delete=0.0))
        self.crash_after = None


class SlowTabletStore(TabletStore):
    """A tablet store whose snapshots take `delay_s` per tablet (holds a real daemon in SNAPSHOTING)."""

    def __init__(self, root: str | os.PathLike[str], delay_s: float, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(root)
        self.delay_s = delay_s
        self._sleep = sleep

    def make_snapshot(self, job_id: int, tablet_id: int, files: list[str]) -> None:
        self._sleep(self.delay_s)
        super().make_snapshot(job_id, tablet_id, files)


@dataclass
class TransportFaults:
    lose: float = 0.0  # a message is never delivered
    duplicate: float = 0.0  # a message is delivered twice


class FaultyTransport:
    """Decorates a runtime's `tell`: loses and duplicates messages of the given types (seeded).

    Install with `runtime.tell = FaultyTransport(runtime.tell, rng, faults)`; timers (`schedule`) and
    a process's own pool results are not messages on a wire and are left alone.
    """

    def __init__(self, tell: Callable[[str, Any], None], rng: random.Random, faults: TransportFaults,
                 kinds: Iterable[type] = (Task, Report)) -> None:
        self.inner = tell
        self.rng = rng
        self.faults = faults
        self.kinds = tuple(kinds)
        self.log = FaultLog()

    def __call__(self, to: str, message: Any) -> None:
        if isinstance(message, self.kinds) and (self.faults.lose or self.faults.duplicate):
            r = self.rng.random()
            if r < self.faults.lose:
                self.log.add("lost")
                return
            if r < self.faults.lose + self.faults.duplicate:
                self.log.add("duplicated")
                self.inner(to, message)
        self.inner(to, message)


class HeldMessages:
    """Decorates a threaded runtime's `tell`: messages that `hold` picks are delivered `delay_s` later (on
    a timer that calls the undecorated tell). The real daemon uses it to stay in a job state that is left by
    a self-message (backup UPLOAD_SNAPSHOT, restore SNAPSHOTING, DOWNLOAD, COMMIT) long enough to kill it."""

    def __init__(self, tell: Callable[[str, Any], None], hold: Callable[[Any], bool], delay_s: float) -> None:
        self.inner = tell
        self.hold = hold
        self.delay_s = delay_s
        self.timers: list[threading.Timer] = []

    def __call__(self, to: str, message: Any) -> None:
        if not self.hold(message):
            self.inner(to, message)
            return
        timer = threading.Timer(self.delay_s, self.inner, args=(to, message))
        timer.daemon = True
        self.timers.append(timer)
        timer.start()
