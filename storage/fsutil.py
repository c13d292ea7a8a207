"""Durability helpers for local files, shared by the event log, the key files, the tablet store, a file://
repository and the backends: fsync of a directory, one flush of a whole file system, and the two ways a
small private file is put in place whole."""

from __future__ import annotations

import ctypes
import os
import secrets
import threading

_LIBC = ctypes.CDLL(None, use_errno=True)


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make a rename or create inside directory `path` durable ('' means the current directory)."""
    fd = os.open(os.fspath(path) or ".", os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _SyncGate:
    """Coalesces concurrent syncs: a caller whose writes finished before a sync *started* needs no sync of
    its own (several backends flushing every 50 ms would otherwise queue one syncfs behind another)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counter_lock = threading.Lock()
        self.requested = 0
        self.completed = 0

    def sync(self, path: str) -> None:
        with self.counter_lock:
            self.requested += 1
            ticket = self.requested
        with self.lock:
            if self.completed >= ticket:
                return  # a sync that started after our writes has already finished
            with self.counter_lock:
                covered = self.requested
            _syncfs_now(path)
            self.completed = covered


_GATE = _SyncGate()


def _syncfs_now(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        if not hasattr(_LIBC, "syncfs") or _LIBC.syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


def syncfs(path: str) -> None:
    """Flush the file system holding `path` (all files, directories and renames) with one call; sync(2) if
    syncfs is not available. Concurrent callers share one flush. (This daemon keeps its data and a file://
    repository on local file systems; the gate assumes the callers' paths share one, and where they do
    not, a shared flush is still a flush of every file system by sync(2) semantics or a redundant one.)"""
    _GATE.sync(path)


def link_new_private_file(path: str, data: bytes) -> bool:
    """Create `path` holding `data`, mode 0600 from the start (never a window where others could read it),
    written and synced under a temporary name, then hard-linked into place: a crash never leaves a short
    file, and of two processes racing here exactly one wins. False if `path` already existed (nothing
    changed); the directory entry is durable on return either way."""
    tmp = f"{path}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    created = True
    try:
        os.link(tmp, path)
    except FileExistsError:
        created = False
    finally:
        os.unlink(tmp)
    fsync_dir(os.path.dirname(path))
    return created


def replace_private_file(path: str, data: bytes) -> None:
    """Create or replace `path` (mode 0600) with `data`: temporary file, fsync, rename, fsync the directory."""
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(os.path.dirname(path))
