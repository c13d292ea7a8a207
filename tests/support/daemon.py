"""Start the real daemon as a subprocess on a free 127.0.0.1 port, talk to it with PyMySQL, stop it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pymysql

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DaemonProcess:
    def __init__(self, data_dir: Path, port: int | None = None, backends: int = 3, password: str | None = None,
                 config: Path | None = None, extra_env: dict[str, str] | None = None,
                 faults: list[str] | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.backends = backends
        self.password = password
        self.config = config
        self.extra_env = extra_env or {}
        self.faults = faults  # options of tests/support/faulty_serve.py: run the daemon with decorated storage
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-daemon-{self.port}.out"

    def command(self) -> list[str]:
        entry = ["sqlfront.cli"] if self.faults is None else ["tests.support.faulty_serve", *self.faults]
        cmd = [sys.executable, "-m", *entry, "serve", "--data-dir", str(self.data_dir), "--host", "127.0.0.1",
               "--port", str(self.port), "--backends", str(self.backends)]
        if self.password is not None:
            cmd += ["--root-password", self.password]
        if self.config is not None:
            cmd += ["--config", str(self.config)]
        return cmd

    def start(self, timeout: float = 30.0) -> DaemonProcess:
        env = {**os.environ, **self.extra_env, "PYTHONPATH": str(ROOT)}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited with {self.proc.returncode}: {self.output()[-3000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"daemon did not start in {timeout}s: {self.output()[-3000:]}")

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def connect(self, db: str | None = None, **kw: Any) -> pymysql.connections.Connection:
        return pymysql.connect(host="127.0.0.1", port=self.port, user=kw.pop("user", "root"),
                               password=kw.pop("password", self.password or ""), database=db, autocommit=True,
                               read_timeout=600, **kw)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait: the daemon must exit 0 by itself."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError("daemon did not stop on SIGTERM") from None
        return int(self.proc.returncode)

    def kill(self) -> None:
        """kill -9: no clean-up at all, as a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> DaemonProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.stop()
            except RuntimeError:
                self.kill()


def query(conn: pymysql.connections.Connection, sql: str) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(sql)
        return list(cur.fetchall())


def columns(conn: pymysql.connections.Connection, sql: str) -> list[str]:
    with conn.cursor() as cur:
        cur.execute(sql)
        return [d[0] for d in cur.description or []]
