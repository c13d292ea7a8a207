"""An S3 repository's settings from its location and CREATE REPOSITORY properties (names and rules in
storage/repo/s3.py's docstring): bucket and base path, endpoint and scheme, credentials to use."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from storage.repo.base import StorageError, check_prefix

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
