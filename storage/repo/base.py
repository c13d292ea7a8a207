"""The small interface every repository backend implements (restic's `Backend`, in spirit).

Keys are '/'-separated and relative to the repository location; backends map them to their own
namespace (a directory, a bucket prefix, an HDFS path). Prefixes in `list_objects`/`delete_prefix` are
plain string prefixes, as in S3, so `list_objects("a/b")` also returns `a/bc`; pass `"a/b/"` to mean a
directory.

What a caller may need to know about a backend beyond the interface is declared in its `capabilities`
(class-level, never probed with getattr); decorators (RetryingStorage, the tests' FaultyStorage) forward
every method and declare what they pass on.
"""

from __future__ import annotations

import abc
import hashlib
import posixpath
import uuid
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

# Reads and copies go through buffers of this size so memory never depends on object size.
CHUNK_SIZE = 1024 * 1024


class StorageError(Exception):
    """A permanent storage failure; the message is the storage's own reason (never a secret)."""


class TransientStorageError(StorageError):
    """A failure worth retrying: connection errors, timeouts, 5xx, SlowDown."""


class NotFound(StorageError):
    """The object does not exist."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int


@dataclass(frozen=True)
class Capabilities:
    """What a backend does beyond the interface's contract, for callers that choose a strategy by it."""

    # put_file_checksummed hashes while it writes (one read of the file) instead of the default hash-then-put
    # (two reads): worth a presence check by listing first, before any hashing.
    one_pass_checksum: bool = False


def md5_file(path: str) -> tuple[str, int]:
    """(md5 hex, size) of a local file, streamed."""
    h = hashlib.md5()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_SIZE):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


@runtime_checkable
class ReadStream(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


def check_key(key: str) -> str:
    """Refuse keys that could escape the repository root or that backends would map differently."""
    if not key or key.startswith("/") or key.endswith("/"):
        raise StorageError(f"invalid object key: {key!r}")
    _check_parts(key)
    return key


def check_prefix(prefix: str) -> str:
    """A prefix may be '' (the whole repository) and may end with '/' (a directory)."""
    if prefix.startswith("/"):
        raise StorageError(f"invalid key prefix: {prefix!r}")
    if prefix:
        _check_parts(prefix.rstrip("/") if prefix.endswith("/") else prefix, allow_empty_last=True)
    return prefix


def _check_parts(key: str, allow_empty_last: bool = False) -> None:
    parts = key.split("/")
    for i, part in enumerate(parts):
        if part in (".", "..") or "\\" in part or "\x00" in part:
            raise StorageError(f"invalid object key: {key!r}")
        if part == "" and not (allow_empty_last and i == len(parts) - 1):
            raise StorageError(f"invalid object key: {key!r}")


def dir_prefix(prefix: str) -> str:
    """'' stays '' (the root); 'a' and 'a/' both become 'a/'."""
    prefix = check_prefix(prefix)
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


class RepoStorage(abc.ABC):
    """Object storage for one repository location. All methods are blocking and thread-safe."""

    location: str
    capabilities: Capabilities = Capabilities()

    @abc.abstractmethod
    def put_file(self, key: str, local_path: str, durable: bool = True) -> None:
        """Upload a local file, streamed; the object is visible under `key` only once complete.

        `durable=False` lets a caller that uploads many files pay for durability once, with `sync()`,
        before it records any of them as uploaded (where a completed put is durable anyway, it is ignored).
        """

    def put_file_checksummed(self, remote_dir: str, local_path: str, name: str,
                             durable: bool = True) -> tuple[str, str, int]:
        """Upload a local file as `<remote_dir>/<name>.<md5 of its content>`; returns (key, md5, size).

        The default hashes the file, then `put_file`s it (two reads); a backend that can hash while it
        writes overrides it and declares `capabilities.one_pass_checksum`.
        """
        md5, size = md5_file(local_path)
        key = f"{remote_dir}/{name}.{md5}"
        self.put_file(key, local_path, durable)
        return key, md5, size

    def has_checksummed(self, remote_dir: str, name: str, size: int) -> bool:
        """Is some complete `<remote_dir>/<name>.<md5>` of `size` bytes already there? (One listing.)"""
        return any(
            posixpath.dirname(o.key) == remote_dir and o.size == size
            for o in self.list_objects(f"{remote_dir}/{name}.")
        )

    def sync(self) -> None:  # noqa: B027  (deliberately a no-op by default)
        """Make every put completed so far durable. A no-op where a completed put already is (S3)."""

    @abc.abstractmethod
    def put_bytes(self, key: str, data: bytes) -> None:
        """Store a small object; same visibility rule as put_file."""

    @abc.abstractmethod
    def open_read(self, key: str) -> ReadStream:
        """A streaming reader with read(n) and close(); NotFound if the object is absent."""

    @abc.abstractmethod
    def get_file(self, key: str, local_path: str) -> None:
        """Copy an object to a local file, streamed, and fsync it."""

    def get_bytes(self, key: str) -> bytes:
        stream = self.open_read(key)
        try:
            chunks = []
            while chunk := stream.read(CHUNK_SIZE):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            stream.close()

    @abc.abstractmethod
    def list_objects(self, prefix: str) -> list[ObjectInfo]:
        """Every object whose key starts with `prefix`, recursively, sorted by key."""

    @abc.abstractmethod
    def list_dirs(self, prefix: str) -> list[str]:
        """Names (not keys) of the immediate 'subdirectories' of directory `prefix`, sorted."""

    @abc.abstractmethod
    def stat(self, key: str) -> ObjectInfo | None:
        """Size of an object, or None if absent."""

    def exists(self, key: str) -> bool:
        return self.stat(key) is not None

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove an object; no error if it is absent."""

    @abc.abstractmethod
    def delete_prefix(self, prefix: str) -> None:
        """Remove every object whose key starts with `prefix`."""

    def check(self) -> None:
        """Prove the location is usable: list, write, read back and delete a probe object.

        Raises StorageError with the storage's reason; used by CREATE REPOSITORY.
        """
        # Unique so that two clusters checking the same location at once do not collide.
        probe = f"__starbackup_probe_{uuid.uuid4().hex}"
        self.list_objects(probe)
        self.put_bytes(probe, b"probe")
        if self.get_bytes(probe) != b"probe":
            raise StorageError(f"probe object read back differently at {self.location}")
        self.delete(probe)

    def __repr__(self) -> str:
        # Only the location: properties may hold secrets.
        return f"{type(self).__name__}({self.location!r})"
