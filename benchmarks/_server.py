"""The benchmarks' HTTP server: uvicorn + httptools in its own process, serving fixed bytes.

The parent (a benchmark) opens the listening socket on a free port of
127.0.0.1, writes each workload's body to a file and starts this module as a
separate process that inherits the socket. The server is a bare ASGI callable
with no framework and no per-request work beyond one dict look-up: every
``GET /<workload>/oes/<anything>`` or ``/<workload>/sims/<anything>`` gets the
workload's precomputed body (``application/json``), so a client's base URL is
``http://127.0.0.1:<port>/<workload>/``. The catalogue, ``GET
/<workload>/data_entries/?data_ids=...``, names every id it is asked for as of
the workload's kind (``sims`` when the body is a JSON array, else ``oes``).
Being another process, the server's CPU time is not counted in the client's
``time.process_time()``.

    with BenchServer({"w1": body1, "w2": body2}) as server:
        base_url = server.url("w2")

``BenchServer(bodies, faults=Faults(...))`` puts the sandbox's limits and fault
injection (``atomscale_async.sandbox.Faults``: latency, random 429s, a token
bucket per API key, a capacity) in front of the same bytes.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import importlib.util
import json
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl

__all__ = ["BenchServer", "event_loop_name"]

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Message, Receive, Send], Awaitable[None]]

_KINDS = ("oes", "sims")
_START_TIMEOUT = 30.0


def event_loop_name() -> str:
    """The server's event loop: uvloop when installed, else asyncio's own."""
    return "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"


def make_app(bodies: Mapping[str, bytes]) -> ASGIApp:
    """A bare ASGI app answering every ``/<name>/{oes,sims}/*`` with ``bodies[name]``."""
    responses: dict[tuple[str, str], tuple[Message, Message]] = {}
    for name, body in bodies.items():
        start: Message = {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode("ascii")),
            ],
        }
        message: Message = {"type": "http.response.body", "body": body, "more_body": False}
        for kind in _KINDS:
            responses[name, kind] = (start, message)
    not_found: tuple[Message, Message] = (
        {
            "type": "http.response.start",
            "status": 404,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"24")],
        },
        {"type": "http.response.body", "body": b'{"detail": "not served"}', "more_body": False},
    )

    kinds = {
        name: b"sims" if body.lstrip()[:1] == b"[" else b"oes" for name, body in bodies.items()
    }

    async def catalogue(name: str, query: bytes, send: Send) -> None:
        ids = [v.encode() for k, v in parse_qsl(query.decode()) if k == "data_ids"]
        entry = b'{"data_id":"%s","char_source_type":"' + kinds[name] + b'"}'
        body = b"[" + b",".join(entry % data_id for data_id in ids) + b"]"
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode("ascii")),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def app(scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        parts = scope["path"].split("/", 3)  # "", name, kind, rest
        if len(parts) == 4 and parts[2] == "data_entries" and parts[1] in kinds:
            await catalogue(parts[1], scope["query_string"], send)
            return
        answer = responses.get((parts[1], parts[2])) if len(parts) == 4 else None
        start, body = answer or not_found
        await send(start)
        await send(body)

    return app


def _serve(fd: int, bodies: Mapping[str, bytes], faults: str | None = None) -> None:
    import uvicorn

    app = make_app(bodies)
    if faults is not None:
        import json

        from atomscale_async.sandbox._faults import FaultInjector, FaultMiddleware, Faults

        injector = FaultInjector(Faults(**json.loads(faults)), seed=0)
        app = FaultMiddleware(app, injector=injector)
    sock = socket.socket(fileno=fd)
    config = uvicorn.Config(
        app,
        http="httptools",
        loop=event_loop_name(),
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_keep_alive=60,
        timeout_graceful_shutdown=2,
    )
    uvicorn.Server(config).run(sockets=[sock])


class BenchServer:
    """Runs the server process for the life of a ``with`` block."""

    def __init__(
        self, bodies: Mapping[str, bytes], faults: Mapping[str, Any] | None = None
    ) -> None:
        if not bodies:
            raise ValueError("give at least one body")
        for name in bodies:
            if not name or "/" in name:
                raise ValueError(f"bad workload name {name!r}")
        self._bodies = dict(bodies)
        self._faults = None if faults is None else json.dumps(dict(faults))
        self._proc: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.port = 0

    def url(self, name: str) -> str:
        """The base URL under which ``name``'s body is served (ends with ``/``)."""
        if name not in self._bodies:
            raise KeyError(name)
        return f"http://127.0.0.1:{self.port}/{name}/"

    @property
    def pid(self) -> int:
        """The server process's id."""
        if self._proc is None:
            raise RuntimeError("the server is not running")
        return self._proc.pid

    def __enter__(self) -> Self:
        self._tmp = tempfile.TemporaryDirectory(prefix="atomscale-bench-")
        args: list[str] = []
        for name, body in self._bodies.items():
            path = Path(self._tmp.name) / f"{name}.json"
            path.write_bytes(body)
            args.append(f"{name}={path}")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", 0))
            sock.listen(2048)
            self.port = sock.getsockname()[1]
            fd = sock.fileno()
            faults = [] if self._faults is None else ["--faults", self._faults]
            self._proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--fd", str(fd), *faults, *args],
                pass_fds=(fd,),
            )
        finally:
            sock.close()  # the child has its own copy
        try:
            self._wait_ready()
        except BaseException:
            self._stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self._proc is not None
        name = next(iter(self._bodies))
        deadline = time.monotonic() + _START_TIMEOUT
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(f"the benchmark server exited with {self._proc.returncode}")
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1.0)
            try:
                conn.request("GET", f"/{name}/{_KINDS[0]}/ready")
                response = conn.getresponse()
                body = response.read()
                if response.status == 200 and body == self._bodies[name]:
                    return
                if response.status in (429, 503):  # its faults: it is up
                    return
                raise RuntimeError(f"the benchmark server answered {response.status}")
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the benchmark server did not start in time") from None
                time.sleep(0.05)
            finally:
                conn.close()

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="The benchmarks' server (started by them).")
    parser.add_argument("--fd", type=int, required=True, help="an inherited listening socket")
    parser.add_argument("--faults", help="sandbox Faults options, as a JSON object")
    parser.add_argument("bodies", nargs="+", metavar="NAME=PATH", help="a workload's body file")
    args = parser.parse_args()
    bodies: dict[str, bytes] = {}
    for item in args.bodies:
        name, _, path = item.partition("=")
        bodies[name] = Path(path).read_bytes()
    with contextlib.suppress(KeyboardInterrupt):
        _serve(args.fd, bodies, args.faults)


if __name__ == "__main__":
    main()
