"""One contract, every backend (restic's backend test suite, in spirit).

Backends: local (file://), s3 (minio client against an in-process moto server) and arrowfs (the HDFS
backend's logic on pyarrow's LocalFileSystem, since no HDFS exists here). The decorators run the same
contract around a local backend: RetryingStorage, and the tests' FaultyStorage configured with no faults
(tests/support/faults.py); a configured fault surfaces as the interface's declared error. The faulty
transport (the other test decorator) is checked here too: no faults, every message once.
"""

from __future__ import annotations

import builtins
import hashlib
import io
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs
import pytest

import storage.repo.hdfs as hdfs_mod
import storage.repo.local as local_mod
import storage.repo.s3 as s3_mod
from storage.repo import (
    NotFound,
    ObjectInfo,
    RepoStorage,
    RetryingStorage,
    StorageError,
    TransientStorageError,
    make_storage,
)
from storage.repo.hdfs import ArrowFsRepoStorage
from storage.repo.local import LocalRepoStorage
from storage.repo.s3 import MIN_PART_SIZE, S3RepoStorage
from storage.repo_layout import upload_checksummed
from tests.support.faults import FaultyStorage, FaultyTransport, StorageFaults, TransportFaults

BACKENDS = ["local", "s3", "arrowfs", "retrying-local", "faulty-local"]
MODULES = {"local": local_mod, "s3": s3_mod, "arrowfs": hdfs_mod, "retrying-local": local_mod,
           "faulty-local": local_mod}


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def repo(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[RepoStorage]:
    if backend == "local":
        yield LocalRepoStorage(f"file://{tmp_path}/repo")
    elif backend == "retrying-local":
        yield RetryingStorage(LocalRepoStorage(f"file://{tmp_path}/repo"), sleep=lambda s: None)
    elif backend == "faulty-local":
        yield FaultyStorage(LocalRepoStorage(f"file://{tmp_path}/repo"), random.Random(0), StorageFaults())
    elif backend == "s3":
        moto = request.getfixturevalue("moto_s3")
        bucket = moto.new_bucket()
        # A small part size makes the multipart path reachable with a ~12 MiB object.
        yield S3RepoStorage(f"s3a://{bucket}/backup", moto.properties(), part_size=MIN_PART_SIZE)
    else:
        root = tmp_path / "arrowfs"
        root.mkdir()
        yield ArrowFsRepoStorage(f"hdfs://fake:8020{root}", pafs.LocalFileSystem(), str(root))


def _file(tmp_path: Path, name: str, size: int, seed: int = 0) -> Path:
    path = tmp_path / name
    # Deterministic, incompressible-ish content without numpy.
    block = hashlib.sha256(f"{seed}".encode()).digest() * 2048  # 64 KiB
    with open(path, "wb") as f:
        left = size
        while left > 0:
            f.write(block[: min(left, len(block))])
            left -= len(block)
    return path


def test_put_get_bytes_roundtrip_and_overwrite(repo: RepoStorage) -> None:
    repo.put_bytes("a/b/c.txt", b"hello")
    assert repo.get_bytes("a/b/c.txt") == b"hello"
    repo.put_bytes("a/b/c.txt", b"second")
    assert repo.get_bytes("a/b/c.txt") == b"second"
    repo.put_bytes("empty", b"")
    assert repo.get_bytes("empty") == b""
    assert repo.stat("empty") == ObjectInfo("empty", 0)


def test_put_file_get_file(repo: RepoStorage, tmp_path: Path) -> None:
    src = _file(tmp_path, "src.bin", 1_500_000)
    repo.put_file("__ss_l/__ss_content/x.dat", str(src))
    dst = tmp_path / "dst.bin"
    repo.get_file("__ss_l/__ss_content/x.dat", str(dst))
    assert dst.read_bytes() == src.read_bytes()
    assert repo.stat("__ss_l/__ss_content/x.dat") == ObjectInfo("__ss_l/__ss_content/x.dat", 1_500_000)


def test_open_read_streams_in_chunks(repo: RepoStorage) -> None:
    data = bytes(range(256)) * 100
    repo.put_bytes("s/obj", data)
    stream = repo.open_read("s/obj")
    try:
        parts = []
        while chunk := stream.read(1000):
            assert len(chunk) <= 1000
            parts.append(chunk)
    finally:
        stream.close()
    assert b"".join(parts) == data
    assert len(parts) >= 25


def test_list_is_recursive_sorted_relative_and_prefix_is_a_string_prefix(repo: RepoStorage) -> None:
    for key in ["d/b/2", "d/a", "d/b/1", "db/x", "e/z", "top"]:
        repo.put_bytes(key, key.encode())
    assert [o.key for o in repo.list_objects("d/")] == ["d/a", "d/b/1", "d/b/2"]
    assert [o.key for o in repo.list_objects("d")] == ["d/a", "d/b/1", "d/b/2", "db/x"]
    assert [o.key for o in repo.list_objects("d/b/")] == ["d/b/1", "d/b/2"]
    assert [o.key for o in repo.list_objects("d/b/1")] == ["d/b/1"]
    assert repo.list_objects("d/a") == [ObjectInfo("d/a", 3)]
    assert [o.key for o in repo.list_objects("")] == ["d/a", "d/b/1", "d/b/2", "db/x", "e/z", "top"]
    assert repo.list_objects("nothing/") == []
    assert repo.list_objects("nothing") == []


def test_list_dirs_gives_immediate_subdirectory_names(repo: RepoStorage) -> None:
    for key in ["root/__ss_b/__meta", "root/__ss_a/x/y", "root/__repo_info", "root/__ss_c/z"]:
        repo.put_bytes(key, b"1")
    assert repo.list_dirs("root") == ["__ss_a", "__ss_b", "__ss_c"]
    assert repo.list_dirs("root/") == ["__ss_a", "__ss_b", "__ss_c"]
    assert repo.list_dirs("") == ["root"]
    assert repo.list_dirs("root/__ss_a") == ["x"]
    assert repo.list_dirs("root/__ss_b") == []
    assert repo.list_dirs("missing") == []


def test_stat_and_exists(repo: RepoStorage) -> None:
    assert repo.stat("k/v") is None
    assert not repo.exists("k/v")
    repo.put_bytes("k/v", b"12345")
    assert repo.stat("k/v") == ObjectInfo("k/v", 5)
    assert repo.exists("k/v")
    # A "directory" is not an object.
    assert repo.stat("k") is None
    assert not repo.exists("k")


def test_delete_is_idempotent_and_leaves_no_empty_dirs(repo: RepoStorage) -> None:
    repo.put_bytes("r/a/x", b"1")
    repo.put_bytes("r/b", b"2")
    repo.delete("r/a/x")
    repo.delete("r/a/x")
    repo.delete("never/was")
    assert not repo.exists("r/a/x")
    assert [o.key for o in repo.list_objects("r/")] == ["r/b"]
    assert repo.list_dirs("r") == []


def test_delete_prefix(repo: RepoStorage) -> None:
    for key in ["p/__ss_a/1", "p/__ss_a/sub/2", "p/__ss_ab/3", "p/keep"]:
        repo.put_bytes(key, b"x")
    repo.delete_prefix("p/__ss_a/")
    assert [o.key for o in repo.list_objects("p/")] == ["p/__ss_ab/3", "p/keep"]
    repo.delete_prefix("p/__ss")
    assert [o.key for o in repo.list_objects("p/")] == ["p/keep"]
    repo.delete_prefix("p/none/")
    repo.delete_prefix("zzz")
    assert repo.list_dirs("p") == []


def test_check_passes_and_leaves_nothing(repo: RepoStorage) -> None:
    repo.check()
    assert repo.list_objects("") == []


@pytest.mark.parametrize("op", ["open_read", "get_bytes", "get_file"])
def test_missing_key_is_not_found(repo: RepoStorage, op: str, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        if op == "get_file":
            repo.get_file("no/such/key", str(tmp_path / "out"))
        else:
            getattr(repo, op)("no/such/key")


@pytest.mark.parametrize("key", ["../escape", "/abs", "a//b", "a/./b", "a/", ""])
def test_invalid_keys_are_refused(repo: RepoStorage, key: str) -> None:
    with pytest.raises(StorageError, match="invalid"):
        repo.put_bytes(key, b"x")


def test_object_larger_than_multipart_threshold(repo: RepoStorage, tmp_path: Path, request: pytest.FixtureRequest,
                                                backend: str) -> None:
    size = 12 * 1024 * 1024 + 12345
    src = _file(tmp_path, "big.bin", size, seed=7)
    repo.put_file("big/file.dat", str(src))
    assert repo.stat("big/file.dat") == ObjectInfo("big/file.dat", size)
    dst = tmp_path / "big.out"
    repo.get_file("big/file.dat", str(dst))
    assert hashlib.md5(dst.read_bytes()).hexdigest() == hashlib.md5(src.read_bytes()).hexdigest()
    if backend == "s3":
        assert isinstance(repo, S3RepoStorage)
        moto = request.getfixturevalue("moto_s3")
        # A multipart ETag ends in -<parts>: proof the multipart path ran (3 parts of 5 MiB max).
        etag = moto.client().stat_object(repo.settings.bucket, "backup/big/file.dat").etag
        assert etag.endswith("-3"), etag


def test_checksummed_upload_names_the_object_by_its_md5(repo: RepoStorage, tmp_path: Path) -> None:
    src = _file(tmp_path, "r.dat", 300_000, seed=5)
    md5 = hashlib.md5(src.read_bytes()).hexdigest()
    assert not repo.has_checksummed("c/d", "r.dat", 300_000)
    key, got_md5, size = repo.put_file_checksummed("c/d", str(src), "r.dat")
    assert (key, got_md5, size) == (f"c/d/r.dat.{md5}", md5, 300_000)
    assert repo.get_bytes(key) == src.read_bytes()
    assert repo.has_checksummed("c/d", "r.dat", 300_000)
    assert not repo.has_checksummed("c/d", "r.dat", 300_001)  # another size is another file
    assert not repo.has_checksummed("c", "r.dat", 300_000)  # only directly in remote_dir
    assert [o.key for o in repo.list_objects("c/")] == [key]  # no temporary object left
    # Through the layout helper, whichever path the backend's capabilities choose: a retry sends nothing.
    again = upload_checksummed(repo, "c/d", str(src), "r.dat")
    assert not again and again.key == key


def test_decorators_declare_what_they_pass_on(tmp_path: Path) -> None:
    local = LocalRepoStorage(f"file://{tmp_path}/repo")
    assert local.capabilities.one_pass_checksum
    assert RetryingStorage(local).capabilities == local.capabilities
    # Faults are drawn per put_file: the faulty decorator uploads through the default hash-then-put.
    assert not FaultyStorage(local, random.Random(0), StorageFaults()).capabilities.one_pass_checksum


@pytest.mark.parametrize(("faults", "error"), [(StorageFaults(transient=1.0), TransientStorageError),
                                               (StorageFaults(permanent=1.0), StorageError)])
def test_a_configured_fault_surfaces_as_the_declared_error(tmp_path: Path, faults: StorageFaults,
                                                           error: type[StorageError]) -> None:
    local = LocalRepoStorage(f"file://{tmp_path}/repo")
    faulty = FaultyStorage(local, random.Random(0), faults)
    with pytest.raises(error, match="injected"):
        faulty.put_bytes("a/b", b"x")
    with pytest.raises(error, match="injected"):
        faulty.list_objects("")
    assert local.list_objects("") == []  # the fault came before the call: nothing was written
    assert faulty.log.counts == {"transient" if error is TransientStorageError else "permanent": 2}


def test_retrying_storage_rides_out_injected_transient_faults(tmp_path: Path) -> None:
    local = LocalRepoStorage(f"file://{tmp_path}/repo")
    faulty = FaultyStorage(local, random.Random(1), StorageFaults(transient=0.5))
    retrying = RetryingStorage(faulty, attempts=50, sleep=lambda s: None)
    for i in range(20):
        retrying.put_bytes(f"k/{i}", b"v")
    assert [o.key for o in retrying.list_objects("k/")] == sorted(f"k/{i}" for i in range(20))
    assert faulty.log.counts["transient"] > 0


def test_faulty_transport_without_faults_delivers_every_message_once() -> None:
    sent: list[tuple[str, Any]] = []
    # `kinds`: the message types on the wire (Task and Report by default); here two stand-ins.
    tell = FaultyTransport(lambda to, m: sent.append((to, m)), random.Random(0), TransportFaults(), kinds=(bytes,))
    messages: list[Any] = [b"task", b"report", "other"]
    for m in messages:
        tell("be1", m)
    assert sent == [("be1", m) for m in messages] and tell.log.counts == {}
    lossy = FaultyTransport(lambda to, m: sent.append((to, m)), random.Random(0), TransportFaults(lose=1.0),
                            kinds=(bytes,))
    sent.clear()
    for m in messages:
        lossy("be1", m)
    assert sent == [("be1", "other")] and lossy.log.counts == {"lost": 2}  # only the wire's kinds are lost


class _Crash(BaseException):
    """Stands for the process dying: no `except Exception` cleanup runs."""


def test_object_visible_only_when_complete(repo: RepoStorage, backend: str, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    size = 12 * 1024 * 1024
    src = _file(tmp_path, "crash.bin", size, seed=3)
    real_open = builtins.open

    class Dying(io.RawIOBase):
        def __init__(self, f: Any) -> None:
            self.f, self.done = f, 0

        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:
            if self.done > 7 * 1024 * 1024:
                raise _Crash()
            data = self.f.read(n)
            self.done += len(data)
            return data

        def readinto(self, b: Any) -> int:
            data = self.read(len(b))
            b[: len(data)] = data
            return len(data)

        def close(self) -> None:
            self.f.close()
            super().close()

    def dying_open(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        f = real_open(path, mode, *args, **kwargs)
        return Dying(f) if os.fspath(path) == str(src) else f

    monkeypatch.setattr(MODULES[backend], "open", dying_open, raising=False)
    with pytest.raises(_Crash):
        repo.put_file("v/obj", str(src))
    assert not repo.exists("v/obj")
    assert repo.list_objects("v/") == []
    if backend == "local":
        assert isinstance(repo, LocalRepoStorage)
        left = sorted(os.listdir(os.path.join(repo.root, "v")))
        assert left == ["obj.part"]  # only the temporary name exists after a crash
    monkeypatch.undo()
    repo.put_file("v/obj", str(src))  # a retry after the crash replaces the leftover
    assert repo.stat("v/obj") == ObjectInfo("v/obj", size)
    assert [o.key for o in repo.list_objects("v/")] == ["v/obj"]


def test_s3_keys_live_under_the_location_path(moto_s3: Any) -> None:
    bucket = moto_s3.new_bucket()
    repo = make_storage(f"s3a://{bucket}/backup/", moto_s3.properties())
    assert isinstance(repo, RetryingStorage)
    assert repo.location == f"s3a://{bucket}/backup"
    repo.put_bytes("__starrocks_repository_r/__repo_info", b"{}")
    names = [o.object_name for o in moto_s3.client().list_objects(bucket, recursive=True)]
    assert names == ["backup/__starrocks_repository_r/__repo_info"]
    # s3:// (MinIO style) and a bucket-root location address the same objects.
    whole = make_storage(f"s3://{bucket}", moto_s3.properties())
    assert [o.key for o in whole.list_objects("")] == ["backup/__starrocks_repository_r/__repo_info"]


def test_local_put_is_durable_rename(tmp_path: Path) -> None:
    repo = LocalRepoStorage(f"file://{tmp_path}")
    repo.put_bytes("x/y", b"data")
    assert (tmp_path / "x" / "y").read_bytes() == b"data"
    assert not (tmp_path / "x" / "y.part").exists()


def test_factory_rejects_unsupported_scheme() -> None:
    with pytest.raises(StorageError, match="unsupported storage location: ftp://host/x"):
        make_storage("ftp://host/x", {})
    with pytest.raises(StorageError, match="invalid file location"):
        make_storage("file://relative/path", {})
