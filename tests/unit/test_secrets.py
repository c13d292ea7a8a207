"""Sealing repository credentials at rest."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import msgpack
import pytest

from storage.secrets import MASK, SecretBox, SecretError, is_secret_key, mask_props

PROPS = {
    "aws.s3.access_key": "AKIAEXAMPLEACCESS",
    "aws.s3.secret_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "aws.s3.region": "us-east-1",
    "aws.s3.endpoint": "http://minio:9000",
    "fs.s3a.access.key": "GOOGACCESS",
    "fs.s3a.secret.key": "googsecret",
    "password": "hdfs-pass",
    "username": "hdfs",
    "Session_Token": "tok",
}


def test_secret_looking_keys() -> None:
    assert [k for k in PROPS if is_secret_key(k)] == [
        "aws.s3.access_key", "aws.s3.secret_key", "fs.s3a.access.key", "fs.s3a.secret.key", "password",
        "Session_Token",
    ]


def test_key_file_is_created_0600_with_32_bytes(tmp_path: Path) -> None:
    old = os.umask(0)  # even with a permissive umask
    try:
        box = SecretBox(str(tmp_path / "data"))
        box.seal(PROPS)
    finally:
        os.umask(old)
    key = tmp_path / "data" / "secret.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(key.read_bytes()) == 32
    assert sorted(os.listdir(tmp_path / "data")) == ["secret.key"]  # no temp file left


def test_seal_hides_every_secret_and_open_reverses(tmp_path: Path) -> None:
    box = SecretBox(str(tmp_path))
    sealed = box.seal(PROPS)
    encoded = json.dumps(sealed) + msgpack.packb(sealed).hex()
    for k, v in PROPS.items():
        if is_secret_key(k):
            assert v not in encoded
            assert isinstance(sealed[k], dict) and set(sealed[k]) == {"enc"}  # type: ignore[arg-type]
        else:
            assert sealed[k] == v
    assert box.open(sealed) == PROPS
    # A fresh box on the same directory (a restarted daemon) opens it too.
    assert SecretBox(str(tmp_path)).open(sealed) == PROPS


def test_nonces_are_random(tmp_path: Path) -> None:
    box = SecretBox(str(tmp_path))
    assert box.seal({"password": "p"}) != box.seal({"password": "p"})


def test_wrong_key_tamper_and_moved_values_fail(tmp_path: Path) -> None:
    sealed = SecretBox(str(tmp_path / "a")).seal({"password": "hunter2-value", "aws.s3.secret_key": "s"})
    with pytest.raises(SecretError, match="cannot open sealed value of password") as err:
        SecretBox(str(tmp_path / "b")).open(sealed)
    assert "hunter2" not in str(err.value)
    box = SecretBox(str(tmp_path / "a"))
    swapped = {"password": sealed["aws.s3.secret_key"], "aws.s3.secret_key": sealed["password"]}
    with pytest.raises(SecretError):
        box.open(swapped)  # bound to the property name
    with pytest.raises(SecretError, match="not base64"):
        box.open({"password": {"enc": "***"}})


def test_loosened_key_file_is_tightened(tmp_path: Path) -> None:
    box = SecretBox(str(tmp_path))
    sealed = box.seal({"password": "p"})
    os.chmod(tmp_path / "secret.key", 0o644)
    assert SecretBox(str(tmp_path)).open(sealed) == {"password": "p"}
    assert stat.S_IMODE((tmp_path / "secret.key").stat().st_mode) == 0o600


def test_corrupt_key_file(tmp_path: Path) -> None:
    (tmp_path / "secret.key").write_bytes(b"short")
    with pytest.raises(SecretError, match="corrupt"):
        SecretBox(str(tmp_path)).seal({"password": "p"})


def test_mask_for_display(tmp_path: Path) -> None:
    masked = mask_props(PROPS)
    assert masked["aws.s3.secret_key"] == MASK and masked["password"] == MASK
    assert masked["aws.s3.region"] == "us-east-1" and masked["username"] == "hdfs"
    box = SecretBox(str(tmp_path))
    assert box.mask(box.seal(PROPS)) == masked
    fresh = SecretBox(str(tmp_path / "fresh"))
    assert fresh.mask(PROPS) == masked
    assert not (tmp_path / "fresh").exists()  # masking needs no key
