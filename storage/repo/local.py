"""`file:///abs/path` repositories: the embedded default, and the model the other backends match."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
from collections.abc import Callable, Iterator
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from storage.fsutil import fsync_dir, syncfs
from storage.repo.base import (
    CHUNK_SIZE,
    Capabilities,
    NotFound,
    ObjectInfo,
    RepoStorage,
    StorageError,
    TransientStorageError,
    check_key,
    check_prefix,
    dir_prefix,
)

# Temporary name while a put is in progress; readers never list it (StarRocks uses the same suffix).
PART_SUFFIX = ".part"


def parse_file_location(location: str) -> str:
    parts = urlsplit(location)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
        raise StorageError(f"invalid file location (expected file:///absolute/path): {location}")
    return os.path.normpath(unquote(parts.path))


def copy_file_data(src: BinaryIO, out: BinaryIO) -> None:
    """Copy the rest of `src` to `out` inside the kernel (copy_file_range, else sendfile): no pass through
    Python's memory, so a copy costs the page cache and the disk only. Falls back to read/write where
    neither works (another file system type, an old kernel). Works on the descriptors: `src` must not have
    been read through its buffer."""
    try:
        src_fd, out_fd = src.fileno(), out.fileno()
    except (AttributeError, OSError):  # not a real file (io.UnsupportedOperation is an OSError)
        shutil.copyfileobj(src, out, CHUNK_SIZE)
        return
    out.flush()
    for step in (_copy_range, _sendfile, _read_write):
        try:
            while step(src_fd, out_fd):
                pass
            return
        except OSError as exc:
            if step is _read_write or exc.errno not in _NO_KERNEL_COPY:
                raise


_NO_KERNEL_COPY = (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ETXTBSY)
_KERNEL_STEP = 1 << 30


def _copy_range(src_fd: int, out_fd: int) -> int:
    return os.copy_file_range(src_fd, out_fd, _KERNEL_STEP)


def _sendfile(src_fd: int, out_fd: int) -> int:
    return os.sendfile(out_fd, src_fd, None, _KERNEL_STEP)


def _read_write(src_fd: int, out_fd: int) -> int:
    chunk = os.read(src_fd, CHUNK_SIZE)
    view = memoryview(chunk)
    while view:
        view = view[os.write(out_fd, view):]
    return len(chunk)


def _discard(tmp: str) -> None:
    """Remove a failed put's temporary file, if it got that far (best effort: the put already failed)."""
    try:
        os.unlink(tmp)
    except OSError:
        pass


def _os_error(exc: OSError, what: str) -> StorageError:
    if isinstance(exc, FileNotFoundError):
        return NotFound(f"not found: {what}")
    reason = exc.strerror or type(exc).__name__
    if exc.errno in (errno.EAGAIN, errno.EINTR, errno.EBUSY):
        return TransientStorageError(f"{reason}: {what}")
    return StorageError(f"{reason}: {what}")


class LocalRepoStorage(RepoStorage):
    capabilities = Capabilities(one_pass_checksum=True)

    def __init__(self, location: str) -> None:
        self.location = location.rstrip("/") if location != "file:///" else location
        self.root = parse_file_location(location)

    # -- paths ---------------------------------------------------------------------------------
    def _path(self, key: str) -> str:
        return os.path.join(self.root, *check_key(key).split("/"))

    def _ensure_parent(self, path: str) -> None:
        parent = os.path.dirname(path)
        try:
            os.mkdir(parent)  # the common case: one level is missing, or none (cheaper than makedirs)
            return
        except FileExistsError:
            if os.path.isdir(parent):
                return
        except FileNotFoundError:
            pass
        except OSError:
            pass
        try:
            os.makedirs(parent, exist_ok=True)
        except FileExistsError as exc:
            raise StorageError(f"a file is in the way of directory {parent}") from exc
        except OSError as exc:
            raise _os_error(exc, parent) from exc

    # -- writes --------------------------------------------------------------------------------
    def _write_atomically(self, key: str, fill: Callable[[BinaryIO], object], durable: bool = True) -> None:
        path = self._path(key)
        self._ensure_parent(path)
        tmp = path + PART_SUFFIX
        try:
            with open(tmp, "wb") as out:
                fill(out)
                out.flush()
                if durable:
                    os.fsync(out.fileno())
            # The rename is the commit point: readers see the old object or the whole new one.
            os.replace(tmp, path)
            if durable:
                fsync_dir(os.path.dirname(path))
        except OSError as exc:
            _discard(tmp)
            raise _os_error(exc, key) from exc

    def put_file(self, key: str, local_path: str, durable: bool = True) -> None:
        try:
            src = open(local_path, "rb")
        except OSError as exc:
            raise _os_error(exc, local_path) from exc
        with src:
            self._write_atomically(key, lambda out: copy_file_data(src, out), durable)

    def put_file_checksummed(self, remote_dir: str, local_path: str, name: str, durable: bool = True) -> tuple[str, str, int]:
        """One pass over the file: copy it to a temporary object while hashing, then rename it to
        `<remote_dir>/<name>.<md5>`. Returns (key, md5, size). Halves the reads of hash-then-put."""
        h = hashlib.md5()
        size = 0
        tmp_key = f"{remote_dir}/{name}{PART_SUFFIX}"
        tmp = self._path(tmp_key)
        self._ensure_parent(tmp)
        try:
            with open(local_path, "rb") as src, open(tmp, "wb") as out:
                while chunk := src.read(CHUNK_SIZE):
                    h.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                if durable:
                    out.flush()
                    os.fsync(out.fileno())
            md5 = h.hexdigest()
            key = f"{remote_dir}/{name}.{md5}"
            os.replace(tmp, self._path(key))
            if durable:
                fsync_dir(os.path.dirname(tmp))
        except OSError as exc:
            _discard(tmp)
            raise _os_error(exc, tmp_key) from exc
        return key, md5, size

    def has_checksummed(self, remote_dir: str, name: str, size: int) -> bool:
        """Is a complete `<name>.<md5>` of `size` bytes already in `remote_dir`? (One directory read.)"""
        try:
            entries = os.scandir(self._path(remote_dir))
        except (FileNotFoundError, NotADirectoryError):
            return False
        with entries:
            return any(
                e.name.startswith(name + ".") and not e.name.endswith(PART_SUFFIX) and e.stat().st_size == size
                for e in entries
            )

    def sync(self) -> None:
        """syncfs(2) on the repository's file system: one flush for every file written since the last."""
        syncfs(self.root)

    def put_bytes(self, key: str, data: bytes) -> None:
        self._write_atomically(key, lambda out: out.write(data))

    # -- reads ---------------------------------------------------------------------------------
    def open_read(self, key: str) -> BinaryIO:
        path = self._path(key)
        try:
            return open(path, "rb")
        except IsADirectoryError as exc:
            raise StorageError(f"is a directory: {key}") from exc
        except OSError as exc:
            raise _os_error(exc, key) from exc

    def get_file(self, key: str, local_path: str) -> None:
        with self.open_read(key) as src:
            try:
                with open(local_path, "wb") as out:
                    shutil.copyfileobj(src, out, CHUNK_SIZE)
                    out.flush()
                    os.fsync(out.fileno())
            except OSError as exc:
                raise _os_error(exc, local_path) from exc

    def get_bytes(self, key: str) -> bytes:
        with self.open_read(key) as src:
            return src.read()

    # -- listing -------------------------------------------------------------------------------
    def _walk(self, start: str, prefix: str = "") -> Iterator[tuple[str, int]]:
        for dirpath, dirs, files in os.walk(start):
            if prefix:
                # Descend only where the prefix can still match: listing `<snapshot>/__meta.` must not walk
                # the snapshot's whole content tree.
                rel = os.path.relpath(dirpath, self.root).replace(os.sep, "/")
                base = "" if rel == "." else rel + "/"
                dirs[:] = [d for d in dirs if (base + d + "/").startswith(prefix) or prefix.startswith(base + d + "/")]
            for name in files:
                if name.endswith(PART_SUFFIX):
                    continue  # an unfinished put is not an object
                full = os.path.join(dirpath, name)
                try:
                    size = os.stat(full).st_size
                except FileNotFoundError:
                    continue  # deleted while we walked
                yield os.path.relpath(full, self.root).replace(os.sep, "/"), size

    def list_objects(self, prefix: str) -> list[ObjectInfo]:
        prefix = check_prefix(prefix)
        # Walk only the deepest directory the prefix names, then filter by the string prefix.
        start_rel = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = os.path.join(self.root, *start_rel.split("/")) if start_rel else self.root
        if not os.path.isdir(start):
            return []
        found = [ObjectInfo(k, size) for k, size in self._walk(start, prefix) if k.startswith(prefix)]
        return sorted(found, key=lambda o: o.key)

    def list_dirs(self, prefix: str) -> list[str]:
        prefix = dir_prefix(prefix)
        path = os.path.join(self.root, *prefix.rstrip("/").split("/")) if prefix else self.root
        try:
            entries = list(os.scandir(path))
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            raise _os_error(exc, prefix) from exc
        # A directory left empty (e.g. by a crash between deletes) is not a "subdirectory" in S3 terms.
        return sorted(e.name for e in entries if e.is_dir() and any(True for _ in self._walk(e.path)))

    def stat(self, key: str) -> ObjectInfo | None:
        try:
            st = os.stat(self._path(key))
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise _os_error(exc, key) from exc
        if not stat.S_ISREG(st.st_mode):
            return None
        return ObjectInfo(key, st.st_size)

    # -- deletes -------------------------------------------------------------------------------
    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            os.unlink(path)
        except (FileNotFoundError, NotADirectoryError):
            return
        except IsADirectoryError as exc:
            raise StorageError(f"is a directory: {key}") from exc
        except OSError as exc:
            raise _os_error(exc, key) from exc
        self._prune_empty_dirs(os.path.dirname(path))

    def delete_prefix(self, prefix: str) -> None:
        prefix = check_prefix(prefix)
        if prefix.endswith("/") or not prefix:
            # Whole directory: one rmtree instead of a walk (also removes stray .part files).
            path = os.path.join(self.root, *prefix.rstrip("/").split("/")) if prefix else None
            if path is not None:
                try:
                    shutil.rmtree(path)
                except (FileNotFoundError, NotADirectoryError):
                    pass
                except OSError as exc:
                    raise _os_error(exc, prefix) from exc
                self._prune_empty_dirs(os.path.dirname(path))
                return
        for info in self.list_objects(prefix):
            self.delete(info.key)

    def _prune_empty_dirs(self, path: str) -> None:
        # Directories are an artefact of this backend; remove the ones a delete emptied so that
        # list_dirs and the layout look the same as on S3.
        while path != self.root and path.startswith(self.root + os.sep):
            try:
                os.rmdir(path)
            except OSError:
                return
            path = os.path.dirname(path)
