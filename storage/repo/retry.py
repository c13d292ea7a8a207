"""Retrying decorator around any RepoStorage (restic's backend decorators, in spirit)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from storage.repo.base import Capabilities, ObjectInfo, ReadStream, RepoStorage, TransientStorageError

log = logging.getLogger(__name__)
T = TypeVar("T")


class RetryingStorage(RepoStorage):
    """Retries TransientStorageError with bounded exponential backoff; other errors pass at once.

    Every operation of the interface is idempotent (puts overwrite whole objects, deletes ignore
    absence), so re-running one after a transient failure is safe. `check()` is NOT retried: it
    answers CREATE REPOSITORY, where a dead endpoint must be reported in seconds, not minutes.
    A stream from open_read is not re-opened mid-read; the caller restarts the whole read.
    """

    def __init__(
        self,
        inner: RepoStorage,
        attempts: int = 5,
        base_delay: float = 0.05,
        max_delay: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be >= 1")
        self.inner = inner
        self.location = inner.location
        self.capabilities: Capabilities = inner.capabilities
        self.attempts = attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._sleep = sleep

    def _call(self, op: str, fn: Callable[[], T]) -> T:
        for attempt in range(1, self.attempts + 1):
            try:
                return fn()
            except TransientStorageError as exc:
                if attempt == self.attempts:
                    raise
                delay = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
                # The message is the backend's already-redacted reason: no secrets here.
                log.warning("%s on %s failed (attempt %d/%d), retrying in %.2fs: %s",
                            op, self.location, attempt, self.attempts, delay, exc)
                self._sleep(delay)
        raise AssertionError("unreachable")

    def put_file(self, key: str, local_path: str, durable: bool = True) -> None:
        self._call("put_file", lambda: self.inner.put_file(key, local_path, durable))

    def put_file_checksummed(self, remote_dir: str, local_path: str, name: str,
                             durable: bool = True) -> tuple[str, str, int]:
        return self._call("put_file_checksummed",
                          lambda: self.inner.put_file_checksummed(remote_dir, local_path, name, durable))

    def has_checksummed(self, remote_dir: str, name: str, size: int) -> bool:
        return self._call("has_checksummed", lambda: self.inner.has_checksummed(remote_dir, name, size))

    def sync(self) -> None:
        self._call("sync", self.inner.sync)

    def put_bytes(self, key: str, data: bytes) -> None:
        self._call("put_bytes", lambda: self.inner.put_bytes(key, data))

    def open_read(self, key: str) -> ReadStream:
        return self._call("open_read", lambda: self.inner.open_read(key))

    def get_file(self, key: str, local_path: str) -> None:
        self._call("get_file", lambda: self.inner.get_file(key, local_path))

    def get_bytes(self, key: str) -> bytes:
        return self._call("get_bytes", lambda: self.inner.get_bytes(key))

    def list_objects(self, prefix: str) -> list[ObjectInfo]:
        return self._call("list_objects", lambda: self.inner.list_objects(prefix))

    def list_dirs(self, prefix: str) -> list[str]:
        return self._call("list_dirs", lambda: self.inner.list_dirs(prefix))

    def stat(self, key: str) -> ObjectInfo | None:
        return self._call("stat", lambda: self.inner.stat(key))

    def exists(self, key: str) -> bool:
        return self._call("exists", lambda: self.inner.exists(key))

    def delete(self, key: str) -> None:
        self._call("delete", lambda: self.inner.delete(key))

    def delete_prefix(self, prefix: str) -> None:
        self._call("delete_prefix", lambda: self.inner.delete_prefix(prefix))

    def check(self) -> None:
        self.inner.check()

    def __repr__(self) -> str:
        return f"RetryingStorage({self.inner!r})"
