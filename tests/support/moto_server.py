"""moto's S3 + STS server, in-process on 127.0.0.1, for tests that talk real HTTP to "S3"."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

from minio import Minio

ACCESS_KEY = "testing-access-key"
SECRET_KEY = "testing-secret-key-0123456789"
REGION = "us-east-1"


@dataclass
class MotoS3:
    """A running moto server: its endpoint, a key pair it accepts, and a bucket factory."""

    host: str
    port: int
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    region: str = REGION
    _server: object | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        """The endpoint as a URL (what `aws.s3.endpoint` takes)."""
        return f"http://{self.host}:{self.port}"

    @property
    def hostport(self) -> str:
        return f"{self.host}:{self.port}"

    def client(self) -> Minio:
        return Minio(self.hostport, access_key=self.access_key, secret_key=self.secret_key,
                     secure=False, region=self.region)

    def new_bucket(self, prefix: str = "repo") -> str:
        """A fresh bucket per test, so tests never see each other's objects."""
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.client().make_bucket(name)
        return name

    def properties(self, **extra: str) -> dict[str, str]:
        """CREATE REPOSITORY properties that reach this server with access keys."""
        props = {
            "aws.s3.access_key": self.access_key,
            "aws.s3.secret_key": self.secret_key,
            "aws.s3.endpoint": self.endpoint,
            "aws.s3.region": self.region,
        }
        props.update(extra)
        return props

    @contextlib.contextmanager
    def iam_authentication(self) -> Iterator[None]:
        """Make moto check signatures against its IAM users (none exist: every key is refused).

        moto's switch is process-global; tests run one at a time, so this is safe within a test.
        """
        from moto.core.authorization import enable_iam_authentication

        with enable_iam_authentication():
            yield

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()  # type: ignore[attr-defined]
            self._server = None


def start_moto_server() -> MotoS3:
    from moto.server import ThreadedMotoServer

    # moto's werkzeug server logs every request; that would drown test output.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return MotoS3(host=host, port=port, _server=server)
