"""How a repository gets its credentials and endpoint, and how each failure reads."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from minio.error import InvalidResponseError, S3Error, ServerError

from storage.repo import NotFound, RetryingStorage, StorageError, TransientStorageError, make_storage
from storage.repo.base import Capabilities
from storage.repo.hdfs import missing_hdfs_requirements
from storage.repo.s3 import S3RepoStorage
from storage.repo.s3_credentials import credentials as _credentials
from storage.repo.s3_credentials import http_client as _http_client
from storage.repo.s3_settings import s3_settings
from tests.support.credentials_server import CredentialsServer
from tests.support.moto_server import MotoS3

ROLE = "arn:aws:iam::123456789012:role/backup"
AWS_CREDENTIAL_ENV = [
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_REGION",
]


@pytest.fixture
def clean_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # Never let a stray variable send minio to a link-local metadata address.
    for name in AWS_CREDENTIAL_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def creds_server(clean_aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[CredentialsServer]:
    with CredentialsServer("ASIAPROFILEKEY", "profile-secret-value") as server:
        monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url)
        yield server


# -- credential methods that work ------------------------------------------------------------------
def test_access_keys(moto_s3: MotoS3) -> None:
    bucket = moto_s3.new_bucket()
    repo = make_storage(f"s3a://{bucket}/backup", moto_s3.properties())
    repo.check()
    repo.put_bytes("k", b"v")
    assert repo.get_bytes("k") == b"v"


def test_instance_profile_reads_container_credentials(moto_s3: MotoS3, creds_server: CredentialsServer) -> None:
    bucket = moto_s3.new_bucket()
    props = {"aws.s3.use_instance_profile": "true", "aws.s3.endpoint": moto_s3.endpoint, "aws.s3.region": "us-east-1"}
    repo = make_storage(f"s3a://{bucket}/backup", props)
    repo.check()
    assert creds_server.requests >= 1


def test_assumed_role_with_access_keys_through_moto_sts(moto_s3: MotoS3, clean_aws_env: None) -> None:
    bucket = moto_s3.new_bucket()
    repo = S3RepoStorage(f"s3a://{bucket}/b", moto_s3.properties(**{"aws.s3.iam_role_arn": ROLE}))
    repo.check()
    creds = repo._client._provider.retrieve()  # type: ignore[union-attr]
    # Temporary credentials from STS, not the base key pair.
    assert creds.access_key != moto_s3.access_key
    assert creds.session_token


def test_assumed_role_with_instance_profile_base(moto_s3: MotoS3, creds_server: CredentialsServer) -> None:
    bucket = moto_s3.new_bucket()
    props = {
        "aws.s3.use_instance_profile": "true",
        "aws.s3.iam_role_arn": ROLE,
        "aws.s3.endpoint": moto_s3.endpoint,
        "aws.s3.region": "us-east-1",
    }
    repo = S3RepoStorage(f"s3a://{bucket}/b", props)
    repo.check()
    assert creds_server.requests >= 1
    assert repo._client._provider.retrieve().access_key != "ASIAPROFILEKEY"  # type: ignore[union-attr]


def test_sts_endpoint_is_the_s3_endpoint_or_the_regional_aws_one() -> None:
    http = _http_client(1, 1)
    given = s3_settings("s3a://b/p", {"aws.s3.access_key": "a", "aws.s3.secret_key": "s",
                                      "aws.s3.endpoint": "http://minio:9000", "aws.s3.iam_role_arn": ROLE})
    assert _credentials(given, http)._inner._sts_endpoint == "http://minio:9000"  # type: ignore[attr-defined]
    aws = s3_settings("s3a://b/p", {"aws.s3.access_key": "a", "aws.s3.secret_key": "s",
                                    "aws.s3.region": "eu-west-3", "aws.s3.iam_role_arn": ROLE})
    assert _credentials(aws, http)._inner._sts_endpoint == "https://sts.eu-west-3.amazonaws.com"  # type: ignore[attr-defined]


def test_gcs_style_keys_against_bare_host_with_ssl_disabled(moto_s3: MotoS3) -> None:
    bucket = moto_s3.new_bucket()
    props = {
        "fs.s3a.access.key": moto_s3.access_key,
        "fs.s3a.secret.key": moto_s3.secret_key,
        "fs.s3a.endpoint": moto_s3.hostport,
        # As in Hadoop S3A: a bare endpoint means https unless SSL is switched off.
        "fs.s3a.connection.ssl.enabled": "false",
    }
    repo = make_storage(f"s3a://{bucket}/gcs", props)
    repo.check()


# -- endpoint and property parsing -----------------------------------------------------------------
def test_bare_endpoints_mean_https() -> None:
    gcs = s3_settings("s3a://bucket_gcs/backup", {"fs.s3a.access.key": "a", "fs.s3a.secret.key": "s",
                                                  "fs.s3a.endpoint": "storage.googleapis.com"})
    assert (gcs.endpoint, gcs.secure, gcs.bucket, gcs.base) == ("storage.googleapis.com", True, "bucket_gcs", "backup/")
    aws = s3_settings("s3a://b", {"aws.s3.access_key": "a", "aws.s3.secret_key": "s", "aws.s3.endpoint": "minio:9000"})
    assert (aws.endpoint_url, aws.base) == ("https://minio:9000", "")
    plain = s3_settings("s3://b/x/y/", {"aws.s3.access_key": "a", "aws.s3.secret_key": "s",
                                        "aws.s3.endpoint": "http://minio:9000"})
    assert (plain.endpoint_url, plain.base) == ("http://minio:9000", "x/y/")
    default = s3_settings("s3a://b", {"aws.s3.use_instance_profile": "true", "aws.s3.region": "us-west-2"})
    assert (default.endpoint_url, default.region) == ("https://s3.amazonaws.com", "us-west-2")


@pytest.mark.parametrize("endpoint", ["https://storage.googleapis.com", "http://storage.googleapis.com"])
def test_fs_s3a_endpoint_with_scheme_is_rejected(endpoint: str) -> None:
    with pytest.raises(StorageError, match=r"fs.s3a.endpoint must not include the scheme"):
        make_storage("s3a://b/p", {"fs.s3a.access.key": "a", "fs.s3a.secret.key": "s", "fs.s3a.endpoint": endpoint})


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"aws.s3.access_key": "a", "aws.s3.secret_key": "s", "aws.s3.acess_key": "typo", "x": "1"},
         "unknown properties for S3 repository: aws.s3.acess_key, x"),
        ({"aws.s3.access_key": "a"}, "an access key needs its secret key"),
        ({}, "no S3 credentials"),
        ({"aws.s3.use_instance_profile": "yes"}, 'invalid value for aws.s3.use_instance_profile: "yes"'),
        ({"aws.s3.access_key": "a", "fs.s3a.access.key": "b", "aws.s3.secret_key": "s"},
         "give either aws.s3.access_key or fs.s3a.access.key"),
        ({"aws.s3.access_key": "a", "aws.s3.secret_key": "s", "aws.s3.endpoint": "ftp://h"}, "invalid aws.s3.endpoint"),
        ({"aws.s3.access_key": "a", "aws.s3.secret_key": "s", "aws.s3.endpoint": "http://h/path"},
         "invalid aws.s3.endpoint"),
    ],
)
def test_bad_properties_are_refused(props: dict[str, str], message: str) -> None:
    with pytest.raises(StorageError, match=message):
        make_storage("s3a://b/p", props)


def test_bad_locations() -> None:
    with pytest.raises(StorageError, match="invalid S3 location"):
        make_storage("s3a:///nobucket", {"aws.s3.use_instance_profile": "true"})
    with pytest.raises(StorageError, match="unsupported storage location: gs://b/p"):
        make_storage("gs://b/p", {})


# -- failures, each with a clear message and no secret --------------------------------------------
def test_bad_credentials(moto_s3: MotoS3) -> None:
    bucket = moto_s3.new_bucket()
    props = moto_s3.properties(**{"aws.s3.access_key": "AKIANOTAKEY", "aws.s3.secret_key": "very-secret-value"})
    repo = make_storage(f"s3a://{bucket}/b", props)
    with moto_s3.iam_authentication(), pytest.raises(StorageError) as err:
        repo.check()
    assert not isinstance(err.value, TransientStorageError)
    assert "invalid access key" in str(err.value)
    assert "InvalidAccessKeyId" in str(err.value)
    assert "very-secret-value" not in str(err.value) and "AKIANOTAKEY" not in str(err.value)
    assert "very-secret-value" not in repr(repo)


def test_missing_bucket(moto_s3: MotoS3) -> None:
    repo = make_storage("s3a://no-such-bucket-here/backup", moto_s3.properties())
    with pytest.raises(StorageError, match="bucket does not exist: no-such-bucket-here") as err:
        repo.check()
    assert not isinstance(err.value, TransientStorageError)


def test_unreachable_endpoint_fails_fast(closed_port: int) -> None:
    props = {"aws.s3.access_key": "a", "aws.s3.secret_key": "s", "aws.s3.endpoint": f"http://127.0.0.1:{closed_port}",
             "aws.s3.region": "us-east-1"}
    repo = make_storage("s3a://bucket/backup", props)
    start = time.monotonic()
    with pytest.raises(TransientStorageError, match=f"cannot reach S3 endpoint http://127.0.0.1:{closed_port}"):
        repo.check()
    assert time.monotonic() - start < 2.0


def test_unreachable_credentials_endpoint(clean_aws_env: None, closed_port: int,
                                          monkeypatch: pytest.MonkeyPatch, moto_s3: MotoS3) -> None:
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", f"http://127.0.0.1:{closed_port}/creds")
    repo = make_storage(f"s3a://{moto_s3.new_bucket()}/b",
                        {"aws.s3.use_instance_profile": "true", "aws.s3.endpoint": moto_s3.endpoint})
    with pytest.raises(StorageError, match="cannot get S3 credentials from the instance profile"):
        repo.check()


def test_hdfs_without_jvm_fails_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("JAVA_HOME", "ARROW_LIBHDFS_DIR", "HADOOP_HOME", "CLASSPATH"):
        monkeypatch.delenv(name, raising=False)
    start = time.monotonic()
    with pytest.raises(StorageError) as err:
        make_storage("hdfs://namenode:8020/repo_dir/backup", {"username": "hdfs", "password": "pw"})
    msg = str(err.value)
    assert msg.startswith("HDFS support needs a Java runtime (JAVA_HOME) and libhdfs (ARROW_LIBHDFS_DIR); not found:")
    assert "JAVA_HOME is not set" in msg and "libhdfs.so" in msg and "pw" not in msg
    assert time.monotonic() - start < 1.0


def test_hdfs_requirement_probe(tmp_path: Any) -> None:
    java = tmp_path / "jdk"
    (java / "lib" / "server").mkdir(parents=True)
    libdir = tmp_path / "native"
    libdir.mkdir()
    env = {"JAVA_HOME": str(java), "ARROW_LIBHDFS_DIR": str(libdir), "CLASSPATH": "/x.jar"}
    assert missing_hdfs_requirements(env) == [
        f"a Java runtime (no libjvm.so under JAVA_HOME={java})",
        f"libhdfs.so ({libdir})",
    ]
    (java / "lib" / "server" / "libjvm.so").write_bytes(b"")
    (libdir / "libhdfs.so").write_bytes(b"")
    assert missing_hdfs_requirements(env) == []


def test_hdfs_unknown_property() -> None:
    with pytest.raises(StorageError, match="unknown properties for HDFS repository: aws.s3.access_key"):
        make_storage("hdfs://nn:8020/x", {"aws.s3.access_key": "a"})


# -- mapping of S3 errors to permanent / transient -------------------------------------------------
class _Resp:
    def __init__(self, status: int) -> None:
        self.status = status


def _s3_error(code: str, status: int, message: str = "m") -> S3Error:
    return S3Error(_Resp(status), code, message, "/b/k", "req", "host", "b", "k")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (_s3_error("SlowDown", 503), TransientStorageError),
        (_s3_error("InternalError", 500), TransientStorageError),
        (_s3_error("WhoKnows", 502), TransientStorageError),
        (ServerError("server failed with HTTP status code 503", 503), TransientStorageError),
        (InvalidResponseError(502, "text/html", "bad gateway"), TransientStorageError),
        (_s3_error("AccessDenied", 403), StorageError),
        (_s3_error("InvalidAccessKeyId", 403), StorageError),
        (_s3_error("SignatureDoesNotMatch", 403), StorageError),
        (_s3_error("NoSuchBucket", 404), StorageError),
        (_s3_error("NoSuchKey", 404), NotFound),
        (ServerError("server failed with HTTP status code 418", 418), StorageError),
    ],
)
def test_s3_error_mapping(exc: Exception, kind: type) -> None:
    repo = S3RepoStorage("s3a://b/p", {"aws.s3.access_key": "AKIASECRETISH", "aws.s3.secret_key": "sk-123",
                                       "aws.s3.endpoint": "http://127.0.0.1:9"})
    mapped = repo._map(exc, "k")
    assert type(mapped) is kind


def test_secrets_are_scrubbed_from_server_messages() -> None:
    repo = S3RepoStorage("s3a://b/p", {"aws.s3.access_key": "AKIASECRETISH", "aws.s3.secret_key": "sk-123",
                                       "aws.s3.endpoint": "http://127.0.0.1:9"})
    mapped = repo._map(_s3_error("SignatureDoesNotMatch", 403, "key AKIASECRETISH with sk-123 failed"), "k")
    assert "AKIASECRETISH" not in str(mapped) and "sk-123" not in str(mapped)
    assert "secret key does not match" in str(mapped)


# -- retry wrapper -----------------------------------------------------------------------------------
class _Flaky:
    """A fake backend whose list() fails `failures` times with the given error first."""

    location = "mem://flaky"
    capabilities = Capabilities()

    def __init__(self, failures: int, error: StorageError) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    def list_objects(self, prefix: str) -> list[Any]:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return []

    def check(self) -> None:
        self.calls += 1
        raise self.error


def test_retry_backs_off_exponentially_then_succeeds(caplog: pytest.LogCaptureFixture) -> None:
    sleeps: list[float] = []
    inner = _Flaky(4, TransientStorageError("SlowDown"))
    with caplog.at_level(logging.WARNING):
        assert RetryingStorage(inner, attempts=5, sleep=sleeps.append).list_objects("") == []  # type: ignore[arg-type]
    assert sleeps == [0.05, 0.1, 0.2, 0.4]
    assert inner.calls == 5
    assert "SlowDown" in caplog.text


def test_retry_delay_is_bounded_and_gives_up() -> None:
    sleeps: list[float] = []
    inner = _Flaky(100, TransientStorageError("503"))
    with pytest.raises(TransientStorageError, match="503"):
        RetryingStorage(inner, attempts=8, base_delay=0.5, max_delay=2.0,  # type: ignore[arg-type]
                        sleep=sleeps.append).list_objects("")
    assert sleeps == [0.5, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0]
    assert inner.calls == 8


def test_permanent_errors_and_check_are_not_retried() -> None:
    sleeps: list[float] = []
    inner = _Flaky(100, StorageError("access denied"))
    with pytest.raises(StorageError, match="access denied"):
        RetryingStorage(inner, sleep=sleeps.append).list_objects("")  # type: ignore[arg-type]
    assert inner.calls == 1 and sleeps == []
    inner = _Flaky(100, TransientStorageError("cannot reach"))
    with pytest.raises(TransientStorageError):
        RetryingStorage(inner, sleep=sleeps.append).check()  # type: ignore[arg-type]
    assert inner.calls == 1 and sleeps == []
