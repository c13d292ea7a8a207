"""Names and checksums of a StarRocks repository on remote storage (semantics §4).

```
<location>/__starrocks_repository_<repo>/            (or an existing __palo_repository_<repo>/)
  __repo_info                                        {"name": ..., "create_time": "yyyy-MM-dd HH:mm:ss"}
  __ss_<label>/__meta.<md5>
  __ss_<label>/__info_<yyyy-MM-dd-HH-mm-ss-SSS>.<md5>
  __ss_<label>/__ss_content/__db_<id>/__tbl_<id>/__part_<id>/__idx_<id>/__<tablet>/<file>.<md5>
```
Every data, meta and info file carries the md5 of its content as a suffix; a download is verified
against it. Uploads are idempotent: a file already present under the same name and size is skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
from dataclasses import dataclass

from events.layout import snapshot_dir  # (the one home of the repository's names)
from storage.repo.base import CHUNK_SIZE, RepoStorage, StorageError
from storage.repo.base import (
    md5_file as md5_file,  # re-exported: hashing a file is part of the layout's checksums
)

STARROCKS_PREFIX = "__starrocks_repository_"
PALO_PREFIX = "__palo_repository_"
REPO_INFO = "__repo_info"
SNAPSHOT_PREFIX = "__ss_"
INFO_PREFIX = "__info_"

_MD5_RE = re.compile(r"[0-9a-fA-F]{32}")


class ChecksumMismatch(StorageError):
    """A downloaded file's md5 differs from the one in its name (StarRocks Status BAD_FILE)."""


class SourceDamaged(StorageError):
    """A tablet file to back up is not the size or the bytes it had when it was written: the replica is
    damaged. `reason` says how, without the path."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"tablet file {path} {reason}: the replica is damaged")
        self.reason = reason


# -- roots and names ---------------------------------------------------------------------------------
def repo_root(name: str, storage: RepoStorage) -> str:
    """The repository's top directory: an existing Doris/Palo one wins, as in StarRocks."""
    palo = PALO_PREFIX + name
    return palo if palo in storage.list_dirs("") else STARROCKS_PREFIX + name


def repo_info_bytes(name: str, create_time: str) -> bytes:
    return json.dumps({"name": name, "create_time": create_time}).encode()


def read_or_create_repo_info(storage: RepoStorage, root: str, name: str, create_time: str) -> dict[str, str]:
    """CREATE REPOSITORY: adopt an existing `__repo_info` (name, create_time), else write ours."""
    key = f"{root}/{REPO_INFO}"
    if storage.exists(key):
        try:
            info = json.loads(storage.get_bytes(key))
            return {"name": str(info["name"]), "create_time": str(info["create_time"])}
        except (ValueError, KeyError, TypeError) as exc:
            raise StorageError(f"invalid repository info file: {key}") from exc
    if storage.list_objects(key + "/"):
        raise StorageError("the existing repo info is not a file")
    storage.put_bytes(key, repo_info_bytes(name, create_time))
    return {"name": name, "create_time": create_time}


def checksummed_name(name: str, md5hex: str) -> str:
    return f"{name}.{md5hex}"


def split_checksum(filename: str) -> tuple[str, str | None]:
    """'x.dat.<32 hex>' -> ('x.dat', md5); a name without such a suffix -> (filename, None)."""
    name, dot, suffix = filename.rpartition(".")
    if not dot or not _MD5_RE.fullmatch(suffix):
        return filename, None
    return name, suffix


# -- checksummed transfer -----------------------------------------------------------------------------
@dataclass(frozen=True)
class UploadResult:
    """Where a file went. Falsy when nothing was sent because it was already there (idempotent retry)."""

    key: str
    md5: str
    size: int
    uploaded: bool

    def __bool__(self) -> bool:
        return self.uploaded


def upload_checksummed(storage: RepoStorage, remote_dir: str, local_path: str, name: str,
                       durable: bool = True) -> UploadResult:
    """Upload `local_path` as `<remote_dir>/<name>.<md5>`, skipping it if already present with that size.

    With `durable=False` the caller must call `storage.sync()` before it relies on the upload."""
    if storage.capabilities.one_pass_checksum and not storage.has_checksummed(
            remote_dir, name, os.path.getsize(local_path)):
        key, md5, size = storage.put_file_checksummed(remote_dir, local_path, name, durable)
        return UploadResult(key, md5, size, uploaded=True)
    # Hash first: the name (and so the presence check) needs the md5 before anything is sent.
    md5, size = md5_file(local_path)
    key = f"{remote_dir}/{checksummed_name(name, md5)}"
    existing = storage.stat(key)
    if existing is not None and existing.size == size:
        return UploadResult(key, md5, size, uploaded=False)
    storage.put_file(key, local_path, durable)
    return UploadResult(key, md5, size, uploaded=True)


def upload_known(storage: RepoStorage, remote_dir: str, local_path: str, name: str, md5: str, size: int,
                 durable: bool = True, xxh3: str = "") -> UploadResult:
    """Upload a file whose md5 and size were recorded when it was written, as `<remote_dir>/<name>.<md5>`;
    skipped if already present with that size.

    The bytes sent must be the bytes that were loaded: the size is checked first (one stat), then the
    content against the xxh3-64 recorded with the rowset (a fast hash: the file is read once more, from the
    page cache, before the copy), or against the md5 itself for rowsets recorded before xxh3 was. A
    mismatch raises SourceDamaged naming the file, before anything is written under the md5's name."""
    actual = os.path.getsize(local_path)
    if actual != size:
        raise SourceDamaged(local_path, f"is {actual} bytes but was written with {size}")
    key = f"{remote_dir}/{checksummed_name(name, md5)}"
    existing = storage.stat(key)
    if existing is not None and existing.size == size:
        return UploadResult(key, md5, size, uploaded=False)
    if xxh3:
        got, want, algo = xxh3_file(local_path), xxh3.lower(), "xxh3"
    else:
        got, want, algo = md5_file(local_path)[0], md5.lower(), "md5"
    if got != want:
        raise SourceDamaged(local_path, f"has {algo} {got} but was written with {want}")
    storage.put_file(key, local_path, durable)
    return UploadResult(key, md5, size, uploaded=True)


XXH3_WINDOW = 64 * 1024 * 1024  # bytes of a file mapped at a time while hashing


def xxh3_file(path: str) -> str:
    """xxh3-64 hex of a local file. Hashed straight from the page cache through read-only mappings of at
    most XXH3_WINDOW bytes (half the time of reading it into a buffer, and no buffer); read() where a
    file cannot be mapped."""
    import mmap

    import xxhash

    h = xxhash.xxh3_64()
    with open(path, "rb", buffering=0) as f:
        size = os.fstat(f.fileno()).st_size
        try:
            offset = 0
            while offset < size:
                length = min(XXH3_WINDOW, size - offset)
                flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
                with (mmap.mmap(f.fileno(), length, flags=flags, prot=mmap.PROT_READ, offset=offset) as m,
                      memoryview(m) as view):
                    h.update(view)
                offset += length
        except (OSError, ValueError):  # not mappable (a special file system): read it
            h.reset()
            f.seek(0)
            while chunk := f.read(CHUNK_SIZE):
                h.update(chunk)
    return h.hexdigest()


def download_verified(storage: RepoStorage, key: str, local_path: str, durable: bool = True,
                      in_place: bool = False) -> str:
    """Stream `key` to `local_path`, checking the md5 in its name; the file appears only if it matches.
    Returns the file's xxh3-64 (taken on the way: a restored rowset records it, as a load does).

    `in_place=True` writes straight to `local_path` (and removes it on a mismatch) for callers whose
    target nobody reads yet and who re-verify after a crash (restore's new tablets): one rename less."""
    _, expected = split_checksum(posixpath.basename(key))
    if expected is None:
        raise StorageError(f"file name should contains checksum: {key}")
    import xxhash

    tmp = local_path if in_place else local_path + ".part"
    h = hashlib.md5()
    fast = xxhash.xxh3_64()
    stream = storage.open_read(key)
    try:
        with open(tmp, "wb") as out:
            while chunk := stream.read(CHUNK_SIZE):
                h.update(chunk)
                fast.update(chunk)
                out.write(chunk)
            out.flush()
            if durable:
                os.fsync(out.fileno())
    except BaseException:
        _unlink(tmp)
        raise
    finally:
        stream.close()
    got = h.hexdigest()
    if got != expected.lower():
        _unlink(tmp)
        raise ChecksumMismatch(f"md5sum does not equal. local: {got}, remote: {expected}, file: {key}")
    if tmp != local_path:
        os.replace(tmp, local_path)
    return fast.hexdigest()


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


# -- discovery ----------------------------------------------------------------------------------------
def find_checksummed(storage: RepoStorage, prefix_with_name: str) -> str:
    """The single `<prefix_with_name>.<md5>` key (e.g. `<root>/__ss_l/__meta` -> its `__meta.<md5>`)."""
    parent = posixpath.dirname(prefix_with_name)
    matches = [
        o.key
        for o in storage.list_objects(prefix_with_name + ".")
        if posixpath.dirname(o.key) == parent
    ]
    if len(matches) != 1:
        raise StorageError(f"Expected one file with path: {prefix_with_name}. get: {len(matches)}")
    key = matches[0]
    if split_checksum(posixpath.basename(key))[1] is None:
        raise StorageError(f"file name should contains checksum: {key}")
    return key


def list_snapshots(storage: RepoStorage, root: str) -> list[str]:
    """Labels of the snapshots under a repository root (its `__ss_*` directories)."""
    return sorted(d[len(SNAPSHOT_PREFIX):] for d in storage.list_dirs(root) if d.startswith(SNAPSHOT_PREFIX))


def list_info_files(storage: RepoStorage, root: str, label: str) -> list[str]:
    """Backup timestamps of a snapshot, from its `__info_<ts>.<md5>` files.

    A file without a valid md5 suffix is reported as `Invalid: <filename>` (so SHOW SNAPSHOT can show it).
    """
    sdir = snapshot_dir(root, label)
    out = []
    for o in storage.list_objects(f"{sdir}/{INFO_PREFIX}"):
        filename = o.key[len(sdir) + 1:]
        if "/" in filename:
            continue
        name, md5 = split_checksum(filename)
        out.append(name[len(INFO_PREFIX):] if md5 is not None else f"Invalid: {filename}")
    return sorted(out)
