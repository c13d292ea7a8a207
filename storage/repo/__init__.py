"""Remote repository storage behind one small interface (see base.RepoStorage)."""

from storage.repo.base import (
    Capabilities,
    NotFound,
    ObjectInfo,
    ReadStream,
    RepoStorage,
    StorageError,
    TransientStorageError,
)
from storage.repo.factory import make_storage
from storage.repo.retry import RetryingStorage

__all__ = [
    "Capabilities",
    "NotFound",
    "ObjectInfo",
    "ReadStream",
    "RepoStorage",
    "RetryingStorage",
    "StorageError",
    "TransientStorageError",
    "make_storage",
]
