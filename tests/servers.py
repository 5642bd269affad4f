"""Tiny socket-level HTTP servers on 127.0.0.1 for what respx cannot fake.

respx replaces the transport, so it cannot show what happens on a real socket:
a refused connection, a server that reads a request and hangs up, a server that
never answers.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Literal, Self

import orjson

from .payloads import OES as _OES_TEMPLATE

Mode = Literal["close_after_read", "hang", "ok"]


class SocketServer:
    """Accepts connections on a thread; counts the requests it fully reads."""

    def __init__(
        self,
        mode: Mode,
        body: bytes = b"[]",
        delay: float = 0.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.mode = mode
        self.tls = tls
        self.connections = 0
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
        self.base_url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}/"
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
            with self._lock:
                self.connections += 1
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        if self.tls is not None:
            conn.settimeout(5)
            try:
                conn = self.tls.wrap_socket(conn, server_side=True)
            except OSError:  # the client refused the certificate, or hung up
                conn.close()
                return
            self._conns.append(conn)
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
                if not self._answer(conn, received):
                    return

    def _answer(self, conn: socket.socket, request: bytes) -> bool:
        """Answer one request; return whether to keep the connection open."""
        if self.mode == "close_after_read":
            conn.close()
            return False
        if self.mode == "hang":
            self._stop.wait()
            return False
        self._stop.wait(self.delay)
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(self.body)}\r\n\r\n"
        ).encode()
        with self._lock:
            self.in_flight -= 1
        conn.sendall(head + self.body)
        return True


#: The bytes answering one request (given the request's bytes), sent chunk by chunk.
RawAnswer = Callable[[bytes], Iterable[bytes]]


class RawServer(SocketServer):
    """Answers every request with whatever bytes ``answer`` writes, then hangs up.

    For answers no HTTP server library would send: malformed status lines and
    headers, broken framing and encodings, endless or trickling bodies.
    """

    def __init__(self, answer: RawAnswer) -> None:
        super().__init__("ok")
        self.answer = answer

    def _answer(self, conn: socket.socket, request: bytes) -> bool:
        conn.settimeout(2.0)
        with contextlib.suppress(OSError):
            for chunk in self.answer(request):
                if self._stop.is_set():
                    break
                conn.sendall(chunk)
        with self._lock:
            self.in_flight -= 1
        conn.close()
        return False


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


def http_head(*headers: bytes, status: bytes = b"HTTP/1.1 200 OK") -> bytes:
    """A response head: the status line, the headers, ``Connection: close``, the blank line.

    ``RawServer`` hangs up after each answer: saying so keeps a client from sending
    its next request on the dead connection (a reset, which would hide the case).
    """
    lines = [*headers, b"Connection: close"]
    return status + b"\r\n" + b"".join(h + b"\r\n" for h in lines) + b"\r\n"


def answer_json(body: bytes) -> bytes:
    """A well-formed 200 answer carrying ``body`` (``RawServer`` hangs up after it)."""
    return http_head(b"Content-Type: application/json", b"Content-Length: %d" % len(body)) + body


_GZIPPED = gzip.compress(b"[" + b"1," * 500 + b"1]")
_HALF = len(_GZIPPED) // 2

#: Answers that break HTTP/1.1 or a content encoding, by name: each must become a
#: MalformedResponseError (some transports accept a few of them, noted where used).
MALFORMED: dict[str, bytes] = {
    "broken_gzip": http_head(b"Content-Encoding: gzip", b"Content-Length: 10") + b"not gzip!!",
    "broken_deflate": http_head(b"Content-Encoding: deflate", b"Content-Length: 10")
    + b"not zlib!!",
    "bad_status_line": http_head(b"Content-Length: 2", status=b"HTTP/1.1 OK") + b"[]",
    "non_numeric_status": http_head(b"Content-Length: 2", status=b"HTTP/1.1 2x0 OK") + b"[]",
    "negative_content_length": http_head(b"Content-Length: -1") + b"[]",
    "duplicated_content_length": http_head(b"Content-Length: 2", b"Content-Length: 3") + b"[] ",
    "bad_chunk_size": http_head(b"Transfer-Encoding: chunked") + b"zz\r\n[]\r\n0\r\n\r\n",
    "bad_second_chunk_size": http_head(b"Transfer-Encoding: chunked") + b"1\r\n[\r\nzz\r\n]\r\n",
    "header_without_colon": http_head(b"Content-Length: 2", b"X-Broken header") + b"[]",
    "header_of_100_kb": http_head(b"Content-Length: 2", b"X-Big: " + b"a" * 100_000) + b"[]",
    "header_of_200_kb": http_head(b"Content-Length: 2", b"X-Big: " + b"a" * 200_000) + b"[]",
    "non_http_bytes": b"\x00\x01\x02garbage\xff\xfe\r\n\r\n",
}

#: Answers cut off by a dropped connection: an APIConnectionError, not malformed.
CUT_OFF: dict[str, bytes] = {
    "nothing": b"",
    "half_a_head": b"HTTP/1.1 200 OK\r\nContent-Len",
    "half_a_body": http_head(b"Content-Length: 100") + b"[1,",
    "half_a_chunk": http_head(b"Transfer-Encoding: chunked") + b"10\r\n[1,",
}


#: The kinds of fault ``FaultyServer`` injects, each equally likely among faulted requests.
FAULT_KINDS = (
    "500",
    "503",
    "429",
    "drop",
    "reset",
    "half_body",
    "slow_body",
    "malformed",
)
#: The malformed answers every transport refuses (httpcore reads a 100 KB head).
_REFUSED = sorted(name for name in MALFORMED if name != "header_of_100_kb")


class FaultyServer(RawServer):
    """Answers ``GET /oes/<id>`` with an OES result for that id, or with a fault.

    Whether attempt ``n`` for an id is faulted, and how, is a function of the id
    and ``n`` (a hash), so a run is reproducible whatever the order of requests.
    ``wire`` counts the requests per id.
    """

    def __init__(self, fault_rate: float, *, retry_after: float = 0.01) -> None:
        super().__init__(self._answer_for)
        self.fault_rate = fault_rate
        self.retry_after = retry_after
        self.wire: dict[str, int] = {}
        self.rate_limited: dict[str, int] = {}
        self.faults: dict[str, int] = dict.fromkeys(FAULT_KINDS, 0)

    def _answer_for(self, request: bytes) -> Iterable[bytes]:
        target = request.split(b" ", 2)[1].decode()
        data_id = target.rsplit("/", 1)[-1]
        with self._lock:
            attempt = self.wire.get(data_id, 0)
            self.wire[data_id] = attempt + 1
        digest = hashlib.sha256(f"{data_id}:{attempt}".encode()).digest()
        roll = int.from_bytes(digest[:4], "big") / 2**32
        body = orjson.dumps({**_OES_TEMPLATE, "data_id": data_id})
        if roll >= self.fault_rate:
            return [answer_json(body)]
        kind = FAULT_KINDS[digest[4] % len(FAULT_KINDS)]
        with self._lock:
            self.faults[kind] += 1
            if kind == "429":
                self.rate_limited[data_id] = self.rate_limited.get(data_id, 0) + 1
        return self._fault(kind, body, digest[5])

    def _fault(self, kind: str, body: bytes, pick: int) -> Iterable[bytes]:
        if kind in ("500", "503"):
            return [http_head(b"Content-Length: 0", status=b"HTTP/1.1 %s Oops" % kind.encode())]
        if kind == "429":
            return [
                http_head(
                    b"Content-Length: 0",
                    b"Retry-After: %g" % self.retry_after,
                    status=b"HTTP/1.1 429 Too Many Requests",
                )
            ]
        if kind == "drop":
            return []
        if kind == "reset":
            raise _Reset
        if kind == "half_body":
            return [answer_json(body)[: -len(body) // 2]]
        if kind == "slow_body":
            return _slowly(answer_json(body))
        return [MALFORMED[_REFUSED[pick % len(_REFUSED)]]]

    def _answer(self, conn: socket.socket, request: bytes) -> bool:
        try:
            return super()._answer(conn, request)
        except _Reset:
            # SO_LINGER 0: close with a TCP reset instead of a FIN.
            with contextlib.suppress(OSError):
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
            with self._lock:
                self.in_flight -= 1
            return False


class _Reset(Exception):
    """Raised by an answer to hang up with a reset."""


def _slowly(answer: bytes) -> Iterator[bytes]:
    step = max(1, len(answer) // 4)
    for start in range(0, len(answer), step):
        time.sleep(0.005)
        yield answer[start : start + step]
