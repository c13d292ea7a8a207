"""Uploads of files whose md5 was recorded when they were written: a kernel copy, no hashing, the size
checked first; and the kernel copy's fall-backs and failure path."""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import pytest

import storage.repo.local as local_mod
from storage.repo import StorageError
from storage.repo.local import LocalRepoStorage
from storage.repo_layout import SourceDamaged, upload_known, xxh3_file
from storage.tablet_store import HashingFile


def _file(tmp: Path, size: int) -> tuple[Path, bytes]:
    data = os.urandom(size)
    path = tmp / "rowset.parquet"
    path.write_bytes(data)
    return path, data


def test_known_md5_names_the_upload_and_is_not_recomputed(tmp_path: Path) -> None:
    src, data = _file(tmp_path, 3 * 1024 * 1024 + 17)
    repo = LocalRepoStorage(f"file://{tmp_path / 'repo'}")
    recorded = hashlib.md5(data).hexdigest()
    result = upload_known(repo, "d", str(src), "rowset.parquet", recorded, len(data), durable=False)
    assert result.uploaded and result.key == f"d/rowset.parquet.{recorded}"
    assert (tmp_path / "repo" / result.key).read_bytes() == data
    # Present under that name and size: nothing is sent again.
    assert not upload_known(repo, "d", str(src), "rowset.parquet", recorded, len(data))
    # Without a recorded xxh3 the md5 itself is checked on the copy path: a wrong one is refused, named.
    with pytest.raises(SourceDamaged, match=r"rowset\.parquet has md5 .* but was written with 0{32}"):
        upload_known(repo, "d", str(src), "rowset.parquet", "0" * 32, len(data))
    # With one, the (fast) xxh3 is checked and the recorded md5 names the upload without being recomputed.
    other = upload_known(repo, "d", str(src), "rowset.parquet", "0" * 32, len(data), xxh3=xxh3_file(str(src)))
    assert other.key.endswith("." + "0" * 32)


def test_same_size_change_is_caught_by_the_recorded_xxh3(tmp_path: Path) -> None:
    src, data = _file(tmp_path, 2 * 1024 * 1024 + 3)
    recorded_xxh3, recorded_md5 = xxh3_file(str(src)), hashlib.md5(data).hexdigest()
    changed = bytearray(data)
    changed[len(changed) // 2] ^= 0xFF
    src.write_bytes(bytes(changed))
    repo = LocalRepoStorage(f"file://{tmp_path / 'repo'}")
    with pytest.raises(SourceDamaged, match=r"rowset\.parquet has xxh3 .* the replica is damaged"):
        upload_known(repo, "d", str(src), "rowset.parquet", recorded_md5, len(data), xxh3=recorded_xxh3)
    assert repo.list_objects("d/") == []


def test_a_file_of_another_size_is_refused_and_named(tmp_path: Path) -> None:
    src, data = _file(tmp_path, 1000)
    repo = LocalRepoStorage(f"file://{tmp_path / 'repo'}")
    with pytest.raises(SourceDamaged, match=r"rowset\.parquet is 1000 bytes but was written with 2000"):
        upload_known(repo, "d", str(src), "rowset.parquet", hashlib.md5(data).hexdigest(), 2000)
    assert repo.list_objects("d/") == []


@pytest.mark.parametrize("broken", [["_copy_range"], ["_copy_range", "_sendfile"]])
def test_kernel_copy_falls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, broken: list[str]) -> None:
    def unsupported(src_fd: int, out_fd: int) -> int:
        raise OSError(errno.EXDEV, "cross-device")

    for name in broken:
        monkeypatch.setattr(local_mod, name, unsupported)
    src, data = _file(tmp_path, 2 * 1024 * 1024 + 5)
    repo = LocalRepoStorage(f"file://{tmp_path / 'repo'}")
    repo.put_file("x/y.bin", str(src))
    assert (tmp_path / "repo" / "x" / "y.bin").read_bytes() == data


def test_a_copy_failing_midway_leaves_no_object(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def dying(src_fd: int, out_fd: int) -> int:
        if calls:
            raise OSError(errno.EIO, "I/O error")
        calls.append(1)
        return os.copy_file_range(src_fd, out_fd, 1024 * 1024)

    monkeypatch.setattr(local_mod, "_copy_range", dying)
    src, _ = _file(tmp_path, 3 * 1024 * 1024)
    repo = LocalRepoStorage(f"file://{tmp_path / 'repo'}")
    with pytest.raises(StorageError, match="I/O error"):
        repo.put_file("x/y.bin", str(src))
    assert repo.list_objects("x/") == [] and not list((tmp_path / "repo").rglob("*.part"))


def test_hashing_file_hashes_what_it_writes(tmp_path: Path) -> None:
    sink = HashingFile(tmp_path / "f")
    chunks = [os.urandom(n) for n in (0, 1, 4096, 100_001)]
    for c in chunks:
        assert sink.write(memoryview(c)) == len(c)
    assert sink.tell() == sum(map(len, chunks))
    sink.fsync()
    sink.close()
    assert sink.md5.hexdigest() == hashlib.md5((tmp_path / "f").read_bytes()).hexdigest()


def test_xxh3_file_hashes_across_mapping_windows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import xxhash

    import storage.repo_layout as layout

    monkeypatch.setattr(layout, "XXH3_WINDOW", 3 * 65536)  # a multiple of the mapping granularity
    for size in (0, 1, 3 * 65536, 3 * 65536 + 1, 1_000_003):
        data = os.urandom(size)
        path = tmp_path / f"f{size}"
        path.write_bytes(data)
        assert xxh3_file(str(path)) == xxhash.xxh3_64(data).hexdigest(), size
