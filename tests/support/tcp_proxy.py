"""A TCP proxy in front of a server (moto's S3) that a test can take down and bring back: an outage seen
from outside the daemon, with the server's state (buckets, objects) kept.

While down, open connections are cut (both ends closed) and new ones are accepted and closed at once, so a
client sees connection resets, as when an endpoint's process stops; `up()` serves again on the same port.
`pause()` is a network partition instead: nothing is forwarded, nothing is closed (clients wait on their
sockets, as TCP retransmits would), and `up()` lets the held bytes through.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server((host, 0))
        self.host, self.port = self._listener.getsockname()[:2]
        self._down = threading.Event()
        self._paused = threading.Event()
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self.refused = 0  # connections cut or refused while down
        self._thread = threading.Thread(target=self._accept_loop, name="tcp-proxy", daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def hostport(self) -> str:
        return f"{self.host}:{self.port}"

    # ------------------------------------------------------------ control

    def down(self) -> None:
        """Stop serving: cut every open connection; later ones are closed as soon as they arrive."""
        self._down.set()
        with self._lock:
            victims, self._open = list(self._open), set()
        for s in victims:
            self.refused += 1
            _close(s)

    def pause(self) -> None:
        """A partition: hold every byte (open and new connections), close nothing."""
        self._paused.set()

    def up(self) -> None:
        self._down.clear()
        self._paused.clear()

    @property
    def is_down(self) -> bool:
        return self._down.is_set()

    @contextlib.contextmanager
    def outage(self, partition: bool = False) -> Iterator[None]:
        if partition:
            self.pause()
        else:
            self.down()
        try:
            yield
        finally:
            self.up()

    def stop(self) -> None:
        self._stopped.set()
        self.down()
        _close(self._listener)

    # ------------------------------------------------------------ plumbing

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._down.is_set():
                self.refused += 1
                _close(client)
                continue
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _hold(self) -> None:
        while self._paused.is_set() and not self._stopped.is_set():
            self._stopped.wait(0.05)

    def _connect(self, client: socket.socket) -> None:
        self._hold()
        try:
            server = socket.create_connection(self.target, timeout=5)
        except OSError:
            _close(client)
            return
        server.settimeout(None)
        with self._lock:
            self._open.update((client, server))
        for src, dst in ((client, server), (server, client)):
            threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                self._hold()
                data = src.recv(65536)
                if not data or self._down.is_set():
                    break
                self._hold()
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(src)
                self._open.discard(dst)
            _close(src)
            _close(dst)


def _close(s: socket.socket) -> None:
    with contextlib.suppress(OSError):
        s.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        s.close()
