"""The small shared utilities: one time-format module, one durability module, one secret-name rule."""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path

import pytest

from events.timefmt import display_time, iso_utc, parse_display_time, snapshot_timestamp
from storage.fsutil import fsync_dir, link_new_private_file, replace_private_file, syncfs
from storage.secrets import is_secret_key, mentions_secret

NS = 1_714_838_708_042_123_456  # 2024-05-04 16:05:08.042123456 UTC


def test_display_time_in_a_zone_and_locally() -> None:
    assert display_time(NS, dt.UTC) == "2024-05-04 16:05:08"
    assert display_time(NS, dt.timezone(dt.timedelta(hours=8))) == "2024-05-05 00:05:08"
    local = display_time(NS)
    assert local == dt.datetime.fromtimestamp(NS / 1e9).strftime("%Y-%m-%d %H:%M:%S")
    assert parse_display_time(local) == NS // 1_000_000_000 * 1_000_000_000  # whole seconds, local time
    assert parse_display_time("not a time") is None


def test_snapshot_timestamp_truncates_to_milliseconds() -> None:
    assert snapshot_timestamp(NS) == "2024-05-04-16-05-08-042"
    assert snapshot_timestamp(NS, dt.timezone(dt.timedelta(hours=8))) == "2024-05-05-00-05-08-042"


def test_iso_utc_keeps_microseconds_and_names_an_impossible_time() -> None:
    assert iso_utc(NS) == "2024-05-04T16:05:08.042123Z"
    assert iso_utc(10**30) == f"<time_ns {10**30}>"


def test_private_file_is_linked_once_with_mode_0600(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        path = str(tmp_path / "k")
        assert link_new_private_file(path, b"first")
        assert not link_new_private_file(path, b"second")  # the first one wins, unchanged
    finally:
        os.umask(old)
    assert Path(path).read_bytes() == b"first"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.listdir(tmp_path) == ["k"]  # no temporary file left


def test_private_file_is_replaced_whole(tmp_path: Path) -> None:
    path = str(tmp_path / "anchor")
    replace_private_file(path, b"one")
    replace_private_file(path, b"two")
    assert Path(path).read_bytes() == b"two" and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.listdir(tmp_path) == ["anchor"]
    fsync_dir(tmp_path)
    syncfs(str(tmp_path))


@pytest.mark.parametrize("name", ["aws.s3.secret_key", "fs.s3a.access.key", "password", "Session_Token",
                                  "azure.blob.shared_key", "api_KEY", "monkey", "gcp.credentials.json",
                                  "ssl.private.pem", "kerberos_keytab"])
def test_one_rule_names_secrets_for_every_user(name: str) -> None:
    assert is_secret_key(name)


@pytest.mark.parametrize("name", ["aws.s3.region", "aws.s3.endpoint", "username", "hive.metastore.uris",
                                  "aws.s3.use_instance_profile", "type"])
def test_the_rule_leaves_plain_settings_alone(name: str) -> None:
    assert not is_secret_key(name)


def test_statement_text_is_searched_for_credentials_not_for_sql_keys() -> None:
    assert mentions_secret('CREATE REPOSITORY r ... PROPERTIES ("aws.s3.access_key" = "AK")')
    assert mentions_secret("SET PASSWORD = 'x'")
    assert not mentions_secret("CREATE TABLE t (k INT) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k)")
