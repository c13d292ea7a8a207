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
from typing import Any, NoReturn

import urllib3
from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.error import InvalidResponseError, S3Error, ServerError

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
from storage.repo.s3_credentials import credentials, http_client
from storage.repo.s3_settings import s3_settings

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


class _S3Reader:
    """A streaming object body; errors in the middle of a read become storage errors."""

    def __init__(self, storage: S3RepoStorage, key: str, response: Any) -> None:
        self._storage = storage
        self._key = key
        self._response = response

    def read(self, n: int = -1, /) -> bytes:
        try:
            data: bytes = self._response.read(None if n is None or n < 0 else n)
            return data
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
        http = http_client(connect_timeout, read_timeout)
        self._client = Minio(
            self.settings.endpoint,
            secure=self.settings.secure,
            region=self.settings.region,
            credentials=credentials(self.settings, http),
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
