"""S3-family repositories (`s3a://bucket/path`, `s3://bucket/path`) through the minio client.

Properties (StarRocks names, CREATE REPOSITORY ... PROPERTIES):

* AWS style: ``aws.s3.access_key``, ``aws.s3.secret_key``, ``aws.s3.region``, ``aws.s3.endpoint``,
  ``aws.s3.use_instance_profile`` ("true"/"false"), ``aws.s3.iam_role_arn``.
  ``aws.s3.endpoint`` may be ``http://host[:port]``, ``https://host[:port]`` or a bare ``host[:port]``,
  which means https. Without an endpoint the AWS endpoint for the region is used.
* GCS through S3A: ``fs.s3a.access.key``, ``fs.s3a.secret.key``, ``fs.s3a.endpoint``. StarRocks says
  "Do not specify https in the endpoint address", so an ``fs.s3a.endpoint`` that starts with ``http://``
  or ``https://`` is REJECTED with a clear error rather than silently rewritten; a bare host means https
  (``storage.googleapis.com``). As in Hadoop S3A, ``fs.s3a.connection.ssl.enabled = "false"`` switches
  a bare ``fs.s3a.endpoint`` to plain http (for S3-compatible test servers).

Credentials, in order: ``aws.s3.iam_role_arn`` assumes that role through STS (the STS endpoint is the S3
endpoint when one is given, else ``https://sts.<region>.amazonaws.com``), signing with the access key
pair if given, else with the instance profile; ``aws.s3.use_instance_profile`` reads the instance or
container credentials (``minio.credentials.IamAwsProvider``, which honours
``AWS_CONTAINER_CREDENTIALS_FULL_URI``); otherwise the access key pair is required.

Unknown property keys are refused, naming them, so a typo does not silently fall back to other
credentials. Secret values never appear in an error message or log line.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import urlsplit

import certifi
import urllib3
from minio import Minio
from minio.credentials import AssumeRoleProvider, IamAwsProvider, Provider, StaticProvider
from minio.credentials.providers import _parse_credentials, _urlopen  # pinned minio==7.2.20
from minio.deleteobjects import DeleteObject
from minio.error import InvalidResponseError, S3Error, ServerError
from minio.signer import sign_v4_sts
from minio.time import to_amz_date, utcnow

from storage.repo.base import (
    CHUNK_SIZE,
    NotFound,
    ObjectInfo,
    RepoStorage,
    StorageError,
    TransientStorageError,
    check_key,
    check_prefix,
    dir_prefix,
)

AWS_KEYS = {
    "aws.s3.access_key",
    "aws.s3.secret_key",
    "aws.s3.region",
    "aws.s3.endpoint",
    "aws.s3.use_instance_profile",
    "aws.s3.iam_role_arn",
}
S3A_KEYS = {"fs.s3a.access.key", "fs.s3a.secret.key", "fs.s3a.endpoint", "fs.s3a.connection.ssl.enabled"}
KNOWN_KEYS = AWS_KEYS | S3A_KEYS

# Bounded memory: minio buffers one part per upload thread. S3 allows 10,000 parts, so 16 MiB parts
# still reach 160 GB per object, far above any tablet file.
DEFAULT_PART_SIZE = 16 * 1024 * 1024
MIN_PART_SIZE = 5 * 1024 * 1024

# Error codes that mean "try again later"; everything else from S3 is permanent.
TRANSIENT_CODES = {
    "SlowDown",
    "InternalError",
    "ServiceUnavailable",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "OperationAborted",
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
}
NOT_FOUND_CODES = {"NoSuchKey", "NoSuchObject"}
CREDENTIAL_CODES = {
    "InvalidAccessKeyId": "invalid access key",
    "SignatureDoesNotMatch": "secret key does not match the access key",
    "AccessDenied": "access denied",
    "InvalidToken": "invalid session token",
    "ExpiredToken": "expired session token",
    "InvalidClientTokenId": "invalid access key",
}


@dataclass(frozen=True)
class S3Settings:
    bucket: str
    base: str  # '' or 'path/' inside the bucket
    endpoint: str  # host[:port], as minio wants it
    secure: bool
    endpoint_given: bool  # False: AWS's own endpoint (then STS is AWS's too)
    region: str | None
    access_key: str | None
    secret_key: str | None
    use_instance_profile: bool
    role_arn: str | None

    @property
    def endpoint_url(self) -> str:
        return ("https://" if self.secure else "http://") + self.endpoint

    def __repr__(self) -> str:
        return f"S3Settings(bucket={self.bucket!r}, base={self.base!r}, endpoint={self.endpoint_url!r})"


def parse_s3_location(location: str) -> tuple[str, str]:
    """`s3a://bucket/a/b/` -> ('bucket', 'a/b/')."""
    parts = urlsplit(location)
    if parts.scheme not in ("s3", "s3a") or not parts.netloc:
        raise StorageError(f"invalid S3 location (expected s3a://bucket/path): {location}")
    if parts.query or parts.fragment:
        raise StorageError(f"invalid S3 location (no query or fragment allowed): {location}")
    path = parts.path.strip("/")
    base = path + "/" if path else ""
    if base:
        check_prefix(base)
    return parts.netloc, base


def _parse_bool(key: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered not in ("true", "false"):
        raise StorageError(f'invalid value for {key}: "{value}" (expected "true" or "false")')
    return lowered == "true"


def _split_endpoint(key: str, value: str, default_secure: bool) -> tuple[str, bool]:
    """Return (host[:port], secure) from a URL or a bare host."""
    value = value.strip()
    if "://" in value:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https"):
            raise StorageError(f"invalid {key} (expected http://, https:// or a bare host): {value}")
        secure = parts.scheme == "https"
        host, rest = parts.netloc, parts.path
    else:
        secure = default_secure
        host, _, rest = value.partition("/")
    if not host or rest.strip("/"):
        raise StorageError(f"invalid {key} (expected host[:port] with no path): {value}")
    return host, secure


def s3_settings(location: str, properties: dict[str, str]) -> S3Settings:
    bucket, base = parse_s3_location(location)
    unknown = sorted(set(properties) - KNOWN_KEYS)
    if unknown:
        raise StorageError(f"unknown properties for S3 repository: {', '.join(unknown)}")
    p = {k: v for k, v in properties.items()}

    # Accept one naming style per credential so that two different keys cannot silently compete.
    for aws_key, s3a_key in (("aws.s3.access_key", "fs.s3a.access.key"), ("aws.s3.secret_key", "fs.s3a.secret.key"),
                             ("aws.s3.endpoint", "fs.s3a.endpoint")):
        if aws_key in p and s3a_key in p:
            raise StorageError(f"give either {aws_key} or {s3a_key}, not both")

    if "fs.s3a.endpoint" in p:
        raw = p["fs.s3a.endpoint"].strip()
        if raw.lower().startswith(("http://", "https://")):
            raise StorageError(
                f"fs.s3a.endpoint must not include the scheme (http:// or https://): {raw}; "
                'give the bare host, e.g. "storage.googleapis.com"'
            )
        ssl = _parse_bool("fs.s3a.connection.ssl.enabled", p.get("fs.s3a.connection.ssl.enabled", "true"))
        endpoint, secure = _split_endpoint("fs.s3a.endpoint", raw, default_secure=ssl)
    elif "aws.s3.endpoint" in p:
        if "fs.s3a.connection.ssl.enabled" in p:
            raise StorageError("fs.s3a.connection.ssl.enabled applies only to fs.s3a.endpoint")
        endpoint, secure = _split_endpoint("aws.s3.endpoint", p["aws.s3.endpoint"], default_secure=True)
    else:
        endpoint, secure = "s3.amazonaws.com", True

    access_key = p.get("aws.s3.access_key", p.get("fs.s3a.access.key")) or None
    secret_key = p.get("aws.s3.secret_key", p.get("fs.s3a.secret.key")) or None
    if (access_key is None) != (secret_key is None):
        raise StorageError("an access key needs its secret key: give both or neither")
    use_profile = _parse_bool("aws.s3.use_instance_profile", p.get("aws.s3.use_instance_profile", "false"))
    role_arn = p.get("aws.s3.iam_role_arn") or None
    if access_key is None and not use_profile and role_arn is None:
        raise StorageError(
            "no S3 credentials: give aws.s3.access_key and aws.s3.secret_key, "
            'or aws.s3.use_instance_profile = "true"'
        )
    return S3Settings(
        bucket=bucket,
        base=base,
        endpoint=endpoint,
        secure=secure,
        endpoint_given="fs.s3a.endpoint" in p or "aws.s3.endpoint" in p,
        region=(p.get("aws.s3.region") or "").strip() or None,
        access_key=access_key,
        secret_key=secret_key,
        use_instance_profile=use_profile,
        role_arn=role_arn,
    )


class _AssumeRoleProvider(AssumeRoleProvider):
    """minio's AssumeRoleProvider, signing with credentials from another provider.

    minio's class takes a static key pair only; instance-profile credentials also carry a session token,
    which must be sent (and signed) as X-Amz-Security-Token.
    """

    def __init__(self, *, base: Provider, **kwargs: Any) -> None:
        super().__init__(access_key="", secret_key="", **kwargs)
        self._base = base

    def retrieve(self) -> Any:
        if self._credentials and not self._credentials.is_expired():
            return self._credentials
        creds = self._base.retrieve()
        utctime = utcnow()
        headers: dict[str, Any] = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Host": self._host,
            "X-Amz-Date": to_amz_date(utctime),
        }
        if creds.session_token:
            headers["X-Amz-Security-Token"] = creds.session_token
        headers = sign_v4_sts(
            method="POST",
            url=self._url,
            region=self._region,
            headers=headers,
            credentials=creds,
            content_sha256=self._content_sha256,
            date=utctime,
        )
        res = _urlopen(self._http_client, "POST", self._sts_endpoint, body=self._body, headers=headers)
        self._credentials = _parse_credentials(res.data.decode(), "AssumeRoleResult")
        return self._credentials


def _http_client(connect_timeout: float, read_timeout: float) -> urllib3.PoolManager:
    # No urllib3 retries: RetryingStorage owns retrying, so a dead endpoint fails once, fast.
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
        maxsize=16,
        cert_reqs="CERT_REQUIRED",
        ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
        retries=False,
    )


class _NamedProvider(Provider):
    """Turns a credential provider's failure into a StorageError that says where credentials come from.

    Without this a dead credentials endpoint would read like a dead S3 endpoint.
    """

    def __init__(self, inner: Provider, source: str) -> None:
        self._inner = inner
        self._source = source

    def retrieve(self) -> Any:
        try:
            return self._inner.retrieve()
        except StorageError:
            raise
        except (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError) as exc:
            raise TransientStorageError(f"cannot get S3 credentials from {self._source}: {type(exc).__name__}") from None
        except (ValueError, KeyError) as exc:
            # minio's providers report HTTP failures as ValueError(url + status): no secrets in it.
            raise StorageError(f"cannot get S3 credentials from {self._source}: {exc}") from None


def _credentials(s: S3Settings, http: urllib3.PoolManager) -> Provider:
    base: Provider
    if s.access_key is not None and s.secret_key is not None:
        base = StaticProvider(s.access_key, s.secret_key)
    else:
        base = _NamedProvider(IamAwsProvider(http_client=http), "the instance profile")
    if s.role_arn is None:
        return base
    if s.endpoint_given:
        sts_endpoint = s.endpoint_url
    else:
        sts_endpoint = f"https://sts.{s.region}.amazonaws.com" if s.region else "https://sts.amazonaws.com"
    assume = _AssumeRoleProvider(
        base=base,
        sts_endpoint=sts_endpoint,
        role_arn=s.role_arn,
        role_session_name="starbackup",
        region=s.region,
        http_client=http,
    )
    return _NamedProvider(assume, f"STS at {sts_endpoint} (role {s.role_arn})")


class _S3Reader:
    """A streaming object body; errors in the middle of a read become storage errors."""

    def __init__(self, storage: S3RepoStorage, key: str, response: Any) -> None:
        self._storage = storage
        self._key = key
        self._response = response

    def read(self, n: int = -1, /) -> bytes:
        try:
            return self._response.read(None if n is None or n < 0 else n)
        except Exception as exc:  # urllib3 raises a family of errors mid-stream
            self._storage._raise(exc, self._key)

    def close(self) -> None:
        self._response.close()
        self._response.release_conn()

    def __enter__(self) -> _S3Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class S3RepoStorage(RepoStorage):
    def __init__(
        self,
        location: str,
        properties: dict[str, str],
        *,
        part_size: int = DEFAULT_PART_SIZE,
        connect_timeout: float = 10.0,
        # Silence for this long on one request is an outage, retried as transient: an endpoint that stops
        # answering without closing the connection must not hold a job for minutes (issue 10, item 2).
        read_timeout: float = 30.0,
    ) -> None:
        if part_size < MIN_PART_SIZE:
            raise StorageError(f"S3 part size must be at least {MIN_PART_SIZE} bytes")
        self.location = location.rstrip("/")
        self.settings = s3_settings(location, properties)
        # Values to scrub from any message we build from a server's or library's text.
        # (Very short values would turn every message into asterisks and protect nothing.)
        self._secrets = [v for v in (self.settings.access_key, self.settings.secret_key) if v and len(v) >= 4]
        self.part_size = part_size
        http = _http_client(connect_timeout, read_timeout)
        self._client = Minio(
            self.settings.endpoint,
            secure=self.settings.secure,
            region=self.settings.region,
            credentials=_credentials(self.settings, http),
            http_client=http,
        )

    # -- errors --------------------------------------------------------------------------------
    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "******")
        return text

    def _raise(self, exc: BaseException, key: str | None) -> NoReturn:
        raise self._map(exc, key) from None

    def _map(self, exc: BaseException, key: str | None) -> StorageError:
        bucket = self.settings.bucket
        where = f"s3://{bucket}/{self.settings.base}{key}" if key is not None else f"s3://{bucket}"
        if isinstance(exc, StorageError):
            return exc
        if isinstance(exc, S3Error):
            code = exc.code or "unknown"
            status = exc.response.status if exc.response is not None else 0
            detail = self._redact(f"{code}: {exc.message}" if exc.message else code)
            if code in NOT_FOUND_CODES:
                return NotFound(f"not found: {where}")
            if code == "NoSuchBucket":
                return StorageError(f"bucket does not exist: {bucket} ({detail})")
            if code in CREDENTIAL_CODES:
                return StorageError(f"{CREDENTIAL_CODES[code]} for {where} at {self.settings.endpoint_url} ({detail})")
            if code in TRANSIENT_CODES or status >= 500:
                return TransientStorageError(f"S3 error at {where}: {detail}")
            return StorageError(f"S3 error at {where}: {detail}")
        if isinstance(exc, ServerError):
            cls = TransientStorageError if exc.status_code >= 500 else StorageError
            return cls(f"S3 server error at {where}: HTTP {exc.status_code}")
        if isinstance(exc, InvalidResponseError):
            status = getattr(exc, "_code", 0) or 0
            cls = TransientStorageError if status >= 500 or status in (408, 429) else StorageError
            return cls(self._redact(f"S3 server gave an invalid response at {where}: HTTP {status}"))
        if isinstance(exc, urllib3.exceptions.HTTPError | ConnectionError | TimeoutError):
            reason = getattr(exc, "reason", None) or exc
            return TransientStorageError(
                self._redact(f"cannot reach S3 endpoint {self.settings.endpoint_url}: {type(reason).__name__}: {reason}")
            )
        if isinstance(exc, ValueError):
            # minio's credential providers report failures (HTTP status, bad JSON) as ValueError.
            return StorageError(self._redact(f"cannot get S3 credentials: {exc}"))
        raise exc

    def _object(self, key: str) -> str:
        return self.settings.base + check_key(key)

    # -- writes --------------------------------------------------------------------------------
    def put_file(self, key: str, local_path: str, durable: bool = True) -> None:
        name = self._object(key)
        try:
            size = os.path.getsize(local_path)
            src = open(local_path, "rb")
        except OSError as exc:
            raise StorageError(f"{exc.strerror or exc}: {local_path}") from exc
        with src:
            try:
                # One PUT, or a multipart upload completed in one call: either way S3 makes the
                # object visible only when it is whole. One upload thread keeps memory at one part.
                self._client.put_object(
                    self.settings.bucket, name, src, size, part_size=self.part_size, num_parallel_uploads=1
                )
            except Exception as exc:
                self._raise(exc, key)

    def put_bytes(self, key: str, data: bytes) -> None:
        name = self._object(key)
        try:
            self._client.put_object(self.settings.bucket, name, io.BytesIO(data), len(data), part_size=self.part_size)
        except Exception as exc:
            self._raise(exc, key)

    # -- reads ---------------------------------------------------------------------------------
    def open_read(self, key: str) -> _S3Reader:
        name = self._object(key)
        try:
            response = self._client.get_object(self.settings.bucket, name)
        except Exception as exc:
            self._raise(exc, key)
        return _S3Reader(self, key, response)

    def get_file(self, key: str, local_path: str) -> None:
        with self.open_read(key) as src:
            try:
                out = open(local_path, "wb")
            except OSError as exc:
                raise StorageError(f"{exc.strerror or exc}: {local_path}") from exc
            with out:
                while chunk := src.read(CHUNK_SIZE):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())

    # -- listing -------------------------------------------------------------------------------
    def _iter(self, full_prefix: str, recursive: bool) -> Iterator[Any]:
        try:
            yield from self._client.list_objects(self.settings.bucket, prefix=full_prefix, recursive=recursive)
        except Exception as exc:
            self._raise(exc, full_prefix[len(self.settings.base):] or None)

    def list_objects(self, prefix: str) -> list[ObjectInfo]:
        full = self.settings.base + check_prefix(prefix)
        base_len = len(self.settings.base)
        found = [
            ObjectInfo(obj.object_name[base_len:], int(obj.size or 0))
            for obj in self._iter(full, recursive=True)
            if not obj.is_dir
        ]
        return sorted(found, key=lambda o: o.key)

    def list_dirs(self, prefix: str) -> list[str]:
        full = self.settings.base + dir_prefix(prefix)
        names = [obj.object_name[len(full):].rstrip("/") for obj in self._iter(full, recursive=False) if obj.is_dir]
        return sorted(n for n in names if n)

    def stat(self, key: str) -> ObjectInfo | None:
        name = self._object(key)
        try:
            st = self._client.stat_object(self.settings.bucket, name)
        except S3Error as exc:
            if exc.code in NOT_FOUND_CODES:
                return None
            self._raise(exc, key)
        except Exception as exc:
            self._raise(exc, key)
        return ObjectInfo(key, int(st.size or 0))

    # -- deletes -------------------------------------------------------------------------------
    def delete(self, key: str) -> None:
        name = self._object(key)
        try:
            self._client.remove_object(self.settings.bucket, name)
        except S3Error as exc:
            if exc.code in NOT_FOUND_CODES:
                return
            self._raise(exc, key)
        except Exception as exc:
            self._raise(exc, key)

    def delete_prefix(self, prefix: str) -> None:
        keys = [o.key for o in self.list_objects(prefix)]
        if not keys:
            return
        try:
            # remove_objects is lazy: the errors iterator must be consumed for deletes to happen.
            errors = list(
                self._client.remove_objects(
                    self.settings.bucket, (DeleteObject(self.settings.base + k) for k in keys)
                )
            )
        except Exception as exc:
            self._raise(exc, prefix)
        failed = [e for e in errors if e.code not in NOT_FOUND_CODES]
        if failed:
            first = failed[0]
            raise StorageError(
                self._redact(f"could not delete {len(failed)} object(s) under {prefix}: {first.code}: {first.message}")
            )
