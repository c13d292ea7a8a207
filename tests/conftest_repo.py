"""Pytest fixtures for repository storage (loaded by tests/conftest.py as a plugin)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.support.moto_server import MotoS3, start_moto_server


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[MotoS3]:
    """One in-process moto S3+STS server for the session; use `new_bucket()` per test."""
    server = start_moto_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening (connections are refused at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
