"""Repository names, checksum naming and verified transfer (semantics §4)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest

from events.layout import snapshot_dir, tablet_remote_dir
from events.timefmt import display_time, snapshot_timestamp
from storage.repo import RepoStorage, StorageError
from storage.repo.local import LocalRepoStorage
from storage.repo_layout import (
    REPO_INFO,
    ChecksumMismatch,
    checksummed_name,
    download_verified,
    find_checksummed,
    list_info_files,
    list_snapshots,
    read_or_create_repo_info,
    repo_root,
    split_checksum,
    upload_checksummed,
)

MD5 = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def repo(tmp_path: Path) -> RepoStorage:
    return LocalRepoStorage(f"file://{tmp_path}/remote")


def test_repo_root_prefers_existing_palo_dir(repo: RepoStorage) -> None:
    assert repo_root("r", repo) == "__starrocks_repository_r"
    repo.put_bytes("__palo_repository_other/__repo_info", b"{}")
    assert repo_root("r", repo) == "__starrocks_repository_r"
    repo.put_bytes("__palo_repository_r/__repo_info", b"{}")
    assert repo_root("r", repo) == "__palo_repository_r"


def test_repo_info_created_once_then_adopted(repo: RepoStorage) -> None:
    created = display_time(1_700_000_000_000_000_000, dt.UTC)
    assert created == "2023-11-14 22:13:20"
    info = read_or_create_repo_info(repo, "__starrocks_repository_r", "r", created)
    assert info == {"name": "r", "create_time": created}
    assert json.loads(repo.get_bytes(f"__starrocks_repository_r/{REPO_INFO}")) == info
    again = read_or_create_repo_info(repo, "__starrocks_repository_r", "r", "2030-01-01 00:00:00")
    assert again == info  # an existing repository keeps its creation time


def test_names() -> None:
    root = "__starrocks_repository_r"
    assert snapshot_dir(root, "snap1") == "__starrocks_repository_r/__ss_snap1"
    assert checksummed_name("__meta", MD5) == f"__meta.{MD5}"
    assert tablet_remote_dir(root, "l", 1, 2, 3, 4, 5) == (
        "__starrocks_repository_r/__ss_l/__ss_content/__db_1/__tbl_2/__part_3/__idx_4/__5"
    )


def test_split_checksum_at_last_dot_with_exactly_32_hex() -> None:
    assert split_checksum(f"0_0.dat.{MD5}") == ("0_0.dat", MD5)
    assert split_checksum(f"__meta.{MD5}") == ("__meta", MD5)
    assert split_checksum("0_0.dat") == ("0_0.dat", None)
    assert split_checksum(f"x.{MD5}0") == (f"x.{MD5}0", None)  # 33 chars
    assert split_checksum(f"x.{MD5[:-1]}") == (f"x.{MD5[:-1]}", None)
    assert split_checksum("x." + "g" * 32) == ("x." + "g" * 32, None)  # not hex
    assert split_checksum(MD5) == (MD5, None)  # no dot


def test_backup_timestamp_format_with_millis_in_the_given_zone() -> None:
    ms = 1_714_838_708_042  # 2024-05-04 16:05:08.042 UTC
    assert snapshot_timestamp(ms * 1_000_000, dt.UTC) == "2024-05-04-16-05-08-042"
    tz = dt.timezone(dt.timedelta(hours=8))
    assert snapshot_timestamp(ms * 1_000_000, tz) == "2024-05-05-00-05-08-042"


def test_upload_is_checksummed_and_idempotent(repo: RepoStorage, tmp_path: Path) -> None:
    src = tmp_path / "0_0.dat"
    src.write_bytes(b"segment data")
    md5 = hashlib.md5(b"segment data").hexdigest()
    first = upload_checksummed(repo, "root/__ss_l/__ss_content/t", str(src), "0_0.dat")
    assert first.key == f"root/__ss_l/__ss_content/t/0_0.dat.{md5}"
    assert first and first.uploaded and first.md5 == md5 and first.size == 12
    second = upload_checksummed(repo, "root/__ss_l/__ss_content/t", str(src), "0_0.dat")
    assert not second and second.key == first.key  # already there: nothing sent
    assert repo.get_bytes(first.key) == b"segment data"


def test_upload_replaces_a_truncated_leftover(repo: RepoStorage, tmp_path: Path) -> None:
    src = tmp_path / "f"
    src.write_bytes(b"full content")
    md5 = hashlib.md5(b"full content").hexdigest()
    repo.put_bytes(f"d/f.{md5}", b"full")  # wrong size under the right name
    assert upload_checksummed(repo, "d", str(src), "f")
    assert repo.get_bytes(f"d/f.{md5}") == b"full content"


def test_download_verified_roundtrip(repo: RepoStorage, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.write_bytes(b"x" * 3_000_000)
    key = upload_checksummed(repo, "d", str(src), "data").key
    out = tmp_path / "out"
    download_verified(repo, key, str(out))
    assert out.read_bytes() == src.read_bytes()


def test_corrupt_download_is_detected_and_names_the_file(repo: RepoStorage, tmp_path: Path) -> None:
    good = hashlib.md5(b"good").hexdigest()
    key = f"root/__ss_l/__ss_content/__db_1/__tbl_2/__part_3/__idx_4/__5/0_0.dat.{good}"
    repo.put_bytes(key, b"bad!")  # bit rot / truncated upload under a valid name
    out = tmp_path / "out"
    with pytest.raises(ChecksumMismatch) as err:
        download_verified(repo, key, str(out))
    bad = hashlib.md5(b"bad!").hexdigest()
    assert str(err.value) == f"md5sum does not equal. local: {bad}, remote: {good}, file: {key}"
    assert isinstance(err.value, StorageError)
    assert not out.exists() and not (tmp_path / "out.part").exists()  # no corrupt file left behind


def test_download_needs_checksum_in_name(repo: RepoStorage, tmp_path: Path) -> None:
    repo.put_bytes("d/plain", b"x")
    with pytest.raises(StorageError, match="file name should contains checksum: d/plain"):
        download_verified(repo, "d/plain", str(tmp_path / "o"))


def test_find_checksummed_requires_exactly_one(repo: RepoStorage) -> None:
    sdir = "root/__ss_l"
    with pytest.raises(StorageError, match=r"Expected one file with path: root/__ss_l/__meta\. get: 0"):
        find_checksummed(repo, f"{sdir}/__meta")
    repo.put_bytes(f"{sdir}/__meta.{MD5}", b"m")
    repo.put_bytes(f"{sdir}/__meta_other.{MD5}", b"m")  # a different name sharing the prefix
    repo.put_bytes(f"{sdir}/__meta.x/nested.{MD5}", b"m")  # deeper, not a sibling
    assert find_checksummed(repo, f"{sdir}/__meta") == f"{sdir}/__meta.{MD5}"
    repo.put_bytes(f"{sdir}/__meta.{'f' * 32}", b"m")
    with pytest.raises(StorageError, match="get: 2"):
        find_checksummed(repo, f"{sdir}/__meta")
    repo.put_bytes(f"{sdir}/__info_x.nochecksum", b"i")
    with pytest.raises(StorageError, match="file name should contains checksum"):
        find_checksummed(repo, f"{sdir}/__info_x")


def test_list_snapshots_and_info_files(repo: RepoStorage) -> None:
    root = "__starrocks_repository_r"
    repo.put_bytes(f"{root}/__repo_info", b"{}")
    repo.put_bytes(f"{root}/__ss_b/__info_2024-01-01-00-00-00-001.{MD5}", b"i")
    repo.put_bytes(f"{root}/__ss_b/__info_2018-05-04-16-45-08.{MD5}", b"i")
    repo.put_bytes(f"{root}/__ss_b/__info_broken", b"i")
    repo.put_bytes(f"{root}/__ss_b/__meta.{MD5}", b"m")
    repo.put_bytes(f"{root}/__ss_a/__ss_content/x", b"c")
    repo.put_bytes(f"{root}/not_a_snapshot/x", b"c")
    assert list_snapshots(repo, root) == ["a", "b"]
    assert list_info_files(repo, root, "b") == [
        "2018-05-04-16-45-08",
        "2024-01-01-00-00-00-001",
        "Invalid: __info_broken",
    ]
    assert list_info_files(repo, root, "a") == []
    assert list_snapshots(repo, "__starrocks_repository_none") == []
