"""One entry point from (location, properties) to a RepoStorage."""

from __future__ import annotations

from urllib.parse import urlsplit

from storage.repo.base import RepoStorage, StorageError
from storage.repo.local import LocalRepoStorage
from storage.repo.retry import RetryingStorage


def make_storage(location: str, properties: dict[str, str], *, retry: bool = True) -> RepoStorage:
    """Build the backend for a repository location; remote ones are wrapped in RetryingStorage.

    Raises StorageError for an unsupported scheme, a malformed location or bad properties. The remote
    backends are imported when first used: their client libraries (minio, pyarrow's HDFS) cost start-up
    time a daemon without such a repository need not pay.
    """
    scheme = urlsplit(location).scheme.lower()
    storage: RepoStorage
    if scheme == "file":
        if properties:
            raise StorageError(f"unknown properties for file repository: {', '.join(sorted(properties))}")
        # Local errors are never transient: no retry wrapper.
        return LocalRepoStorage(location)
    if scheme in ("s3", "s3a"):
        from storage.repo.s3 import S3RepoStorage

        storage = S3RepoStorage(location, properties)
    elif scheme == "hdfs":
        from storage.repo.hdfs import HdfsRepoStorage

        storage = HdfsRepoStorage(location, properties)
    else:
        raise StorageError(f"unsupported storage location: {location}")
    if retry:
        storage = RetryingStorage(storage)
    return storage
