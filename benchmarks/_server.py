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
import zlib
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl

import attrs

__all__ = ["DATA_ID_PLACEHOLDER", "BenchServer", "Mixed", "event_loop_name"]

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Message, Receive, Send], Awaitable[None]]

_KINDS = ("oes", "sims")
_START_TIMEOUT = 30.0
DATA_ID_PLACEHOLDER = b"@@DATA_ID@@"
"""Where a ``Mixed`` catalogue entry template takes the requested id."""


@attrs.frozen
class Mixed:
    """Several kinds under one workload name, bodies precomputed.

    Attributes:
        results: Kind -> the result bodies of that kind (an id gets one of them).
        entries: Kind -> a catalogue entry of that kind, ``DATA_ID_PLACEHOLDER`` for its id.
    """

    results: Mapping[str, tuple[bytes, ...]]
    entries: Mapping[str, bytes]

    def __attrs_post_init__(self) -> None:
        if not self.results or set(self.results) != set(self.entries):
            raise ValueError("give result bodies and a catalogue entry for the same kinds")
        for kind, template in self.entries.items():
            if not self.results[kind] or template.count(DATA_ID_PLACEHOLDER) != 1:
                raise ValueError(f"{kind}: give bodies and one placeholder in the entry")

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds, sorted: ``kind_of`` depends on this order."""
        return tuple(sorted(self.results))

    def kind_of(self, data_id: str) -> str:
        """The kind the server gives ``data_id`` (about as many ids of each)."""
        kinds = self.kinds
        return kinds[zlib.crc32(data_id.encode()) % len(kinds)]

    def index_of(self, data_id: str) -> int:
        """Which of its kind's bodies the server answers for ``data_id``."""
        bodies = self.results[self.kind_of(data_id)]
        return zlib.crc32(data_id.encode()) // len(self.kinds) % len(bodies)

    def body_of(self, data_id: str) -> bytes:
        """The result body the server answers for ``data_id``."""
        return self.results[self.kind_of(data_id)][self.index_of(data_id)]

    def write(self, folder: Path) -> None:
        """Write the bodies into ``folder`` (``<kind>.entry.json``, ``<kind>.<i>.json``)."""
        folder.mkdir()
        for kind, bodies in self.results.items():
            (folder / f"{kind}.entry.json").write_bytes(self.entries[kind])
            for index, body in enumerate(bodies):
                (folder / f"{kind}.{index}.json").write_bytes(body)

    @classmethod
    def read(cls, folder: Path) -> Mixed:
        """The workload ``write`` wrote into ``folder``."""
        entries = {
            path.name.removesuffix(".entry.json"): path.read_bytes()
            for path in folder.glob("*.entry.json")
        }
        results = {
            kind: tuple(
                (folder / f"{kind}.{i}.json").read_bytes()
                for i in range(len(list(folder.glob(f"{kind}.[0-9]*.json"))))
            )
            for kind in entries
        }
        return cls(results=results, entries=entries)


Served = bytes | Mixed


def event_loop_name() -> str:
    """The server's event loop: uvloop when installed, else asyncio's own."""
    return "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"


def _response(body: bytes, status: int = 200) -> tuple[Message, Message]:
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode("ascii")),
        ],
    }
    return start, {"type": "http.response.body", "body": body, "more_body": False}


def make_app(bodies: Mapping[str, Served]) -> ASGIApp:
    """A bare ASGI app: ``/<name>/{oes,sims}/*`` answers ``bodies[name]``; see ``Mixed``."""
    responses: dict[tuple[str, str], tuple[Message, Message]] = {}
    kinds: dict[str, bytes] = {}
    mixed: dict[str, Mixed] = {}
    # name -> kind -> one answer per body of that kind; name -> kind -> (before, after) the id
    mixed_responses: dict[str, dict[str, list[tuple[Message, Message]]]] = {}
    templates: dict[str, dict[str, tuple[bytes, bytes]]] = {}
    for name, workload in bodies.items():
        if isinstance(workload, Mixed):
            mixed[name] = workload
            mixed_responses[name] = {
                kind: [_response(body) for body in results]
                for kind, results in workload.results.items()
            }
            templates[name] = {}
            for kind, template in workload.entries.items():
                before, after = template.split(DATA_ID_PLACEHOLDER)
                templates[name][kind] = (before, after)
            continue
        answer = _response(workload)
        for kind in _KINDS:
            responses[name, kind] = answer
        kinds[name] = b"sims" if workload.lstrip()[:1] == b"[" else b"oes"
    not_found = _response(b'{"detail": "not served"}', 404)

    def catalogue_body(name: str, ids: list[str]) -> bytes:
        if name in mixed:
            workload, parts = mixed[name], templates[name]
            entries = []
            for data_id in ids:
                before, after = parts[workload.kind_of(data_id)]
                entries.append(before + data_id.encode() + after)
            return b"[" + b",".join(entries) + b"]"
        entry = b'{"data_id":"%s","char_source_type":"' + kinds[name] + b'"}'
        return b"[" + b",".join(entry % data_id.encode() for data_id in ids) + b"]"

    def mixed_answer(name: str, kind: str, data_id: str) -> tuple[Message, Message]:
        workload = mixed[name]
        if workload.kind_of(data_id) != kind:
            return not_found
        return mixed_responses[name][kind][workload.index_of(data_id)]

    async def app(scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        parts = scope["path"].split("/", 3)  # "", name, kind, rest
        if len(parts) == 4 and parts[2] == "data_entries" and parts[1] in bodies:
            query = scope["query_string"].decode()
            ids = [v for k, v in parse_qsl(query) if k == "data_ids"]
            start, body = _response(catalogue_body(parts[1], ids))
        elif len(parts) == 4 and parts[1] in mixed:
            start, body = mixed_answer(parts[1], parts[2], parts[3])
        else:
            answer = responses.get((parts[1], parts[2])) if len(parts) == 4 else None
            start, body = answer or not_found
        await send(start)
        await send(body)

    return app


def _serve(fd: int, bodies: Mapping[str, Served], faults: str | None = None) -> None:
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
        self, bodies: Mapping[str, Served], faults: Mapping[str, Any] | None = None
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
            if isinstance(body, Mixed):
                body.write(path)  # a folder
            else:
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
        name, workload = next(iter(self._bodies.items()))
        if isinstance(workload, Mixed):
            kind, expected = workload.kind_of("ready"), workload.body_of("ready")
        else:
            kind, expected = _KINDS[0], workload
        deadline = time.monotonic() + _START_TIMEOUT
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(f"the benchmark server exited with {self._proc.returncode}")
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1.0)
            try:
                conn.request("GET", f"/{name}/{kind}/ready")
                response = conn.getresponse()
                body = response.read()
                if response.status == 200 and body == expected:
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
    parser.add_argument(
        "bodies", nargs="+", metavar="NAME=PATH", help="a workload's body file (a Mixed's folder)"
    )
    args = parser.parse_args()
    bodies: dict[str, Served] = {}
    for item in args.bodies:
        name, _, path = item.partition("=")
        folder = Path(path)
        bodies[name] = Mixed.read(folder) if folder.is_dir() else folder.read_bytes()
    with contextlib.suppress(KeyboardInterrupt):
        _serve(args.fd, bodies, args.faults)


if __name__ == "__main__":
    main()
