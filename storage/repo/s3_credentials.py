"""Where an S3 repository's credentials come from: a static key pair, the instance profile, or an STS
role assumed with either; and the HTTP client they and the storage share (no retries of its own)."""

from __future__ import annotations

import os
from typing import Any

import certifi
import urllib3
from minio.credentials.providers import (  # pinned minio==7.2.20 (two private helpers)
    AssumeRoleProvider,
    IamAwsProvider,
    Provider,
    StaticProvider,
    _parse_credentials,
    _urlopen,
)
from minio.signer import sign_v4_sts
from minio.time import to_amz_date, utcnow

from storage.repo.base import StorageError, TransientStorageError
from storage.repo.s3_settings import S3Settings


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


def http_client(connect_timeout: float, read_timeout: float) -> urllib3.PoolManager:
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


def credentials(s: S3Settings, http: urllib3.PoolManager) -> Provider:
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
