"""Tiny socket-level HTTP servers on 127.0.0.1 for what respx cannot fake.

respx replaces the transport, so it cannot show what happens on a real socket:
a refused connection, a server that reads a request and hangs up, a server that
never answers.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from types import TracebackType
from typing import Literal, Self

Mode = Literal["close_after_read", "hang", "ok"]


class SocketServer:
    """Accepts connections on a thread; counts the requests it fully reads."""

    def __init__(self, mode: Mode, body: bytes = b"[]", delay: float = 0.0) -> None:
        self.mode = mode
        self.body = body
        self.delay = delay
        self.requests = 0
        self.received: list[bytes] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}/"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        self._acceptor = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> Self:
        self._acceptor.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._acceptor.join(5)
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.close()
        for thread in self._threads:
            thread.join(5)
        self._sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._conns.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(0.1)
        buffer = b""
        with contextlib.suppress(OSError):
            while not self._stop.is_set():
                request = _read_request(conn, buffer, self._stop)
                if request is None:
                    return
                received, buffer = request
                with self._lock:
                    self.requests += 1
                    self.received.append(received)
                    self.in_flight += 1
                    self.max_in_flight = max(self.max_in_flight, self.in_flight)
                if self.mode == "close_after_read":
                    conn.close()
                    return
                if self.mode == "hang":
                    self._stop.wait()
                    return
                self._stop.wait(self.delay)
                head = (
                    f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(self.body)}\r\n\r\n"
                ).encode()
                with self._lock:
                    self.in_flight -= 1
                conn.sendall(head + self.body)


def _read_request(
    conn: socket.socket, buffer: bytes, stop: threading.Event
) -> tuple[bytes, bytes] | None:
    """Read one request (head and Content-Length body); return it and what is left over."""
    while b"\r\n\r\n" not in buffer:
        chunk = _recv(conn, stop)
        if not chunk:
            return None
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        chunk = _recv(conn, stop)
        if not chunk:
            return None
        rest += chunk
    return head + b"\r\n\r\n" + rest[:length], rest[length:]


def _recv(conn: socket.socket, stop: threading.Event) -> bytes:
    while not stop.is_set():
        try:
            return conn.recv(65536)
        except TimeoutError:
            continue
    return b""


@contextlib.contextmanager
def refused_port() -> Iterator[str]:
    """A base URL on 127.0.0.1 where nothing listens."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    yield f"http://127.0.0.1:{port}/"
