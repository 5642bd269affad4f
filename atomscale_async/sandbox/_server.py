"""Serving the sandbox with uvicorn: `SandboxServer` (a thread or a process) and `serve`.

`SandboxServer(process=True)` runs uvicorn in a child Python process, so that the server
and a client in the calling process do not share one GIL. The child reads its settings
and then commands (new faults) as JSON lines on its stdin, and answers on its stdout;
when its stdin closes (the parent stopped it, or died), it shuts down.

Dropped connections: an ASGI app cannot close its connection, so the server runs
uvicorn's httptools protocol extended with the `atomscale.sandbox.drop` scope extension.
When the fault injector decides to drop a request, the app calls the extension, which
aborts the TCP connection before any byte of a response is written; the client sees the
server disconnect (httpx raises `RemoteProtocolError` or `ReadError`).
"""

from __future__ import annotations

import contextlib
import queue
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final, Self

import attrs
import orjson
import uvicorn
from starlette.applications import Starlette
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from atomscale_async.sandbox._app import (
    SandboxState,
    ServerStats,
    create_app,
    sandbox_files,
    sandbox_state,
)
from atomscale_async.sandbox._config import SandboxConfig
from atomscale_async.sandbox._data import warm_up
from atomscale_async.sandbox._faults import DROP_EXTENSION, Faults

# Appended to sys.path, the parent's package root is found only when nothing else is.
_CHILD: Final = (
    "import sys; sys.path.append(sys.argv[1]); "
    "from atomscale_async.sandbox._server import _child_main; _child_main()"
)


class DroppingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, offering the app a way to drop the connection."""

    def on_headers_complete(self) -> None:
        """Start the request as uvicorn does, with the drop extension in its scope."""
        super().on_headers_complete()
        extension: dict[object, object] = {"drop": self._drop}
        self.scope.setdefault("extensions", {})[DROP_EXTENSION] = extension

    def _drop(self) -> None:
        if not self.transport.is_closing():
            self.transport.abort()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # With proto left at 0, asyncio would not set TCP_NODELAY on accepted connections,
    # and Nagle's algorithm would hold every response body back ~40 ms.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


def _server(app: Starlette, *, quiet_logging: bool) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        http=DroppingHttpToolsProtocol,
        ws="none",
        lifespan="off",
        loop="asyncio",
        log_level="warning",
        # Leave the logging configuration of the host process (e.g. pytest) alone.
        log_config=None if quiet_logging else uvicorn.config.LOGGING_CONFIG,
        access_log=False,
        timeout_graceful_shutdown=2,
    )
    return uvicorn.Server(config)


def _base_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


class SandboxServer:
    """A sandbox served by uvicorn on 127.0.0.1 from a background thread or process.

    By default the server runs in a thread of the calling process, where its app and
    state can be reached directly. With `process=True` it runs in a child process, so
    that a client in this process does not compete with it for the GIL (a bulk fetch
    runs several times faster); `state` is then a copy built here from the same seed:
    its catalogue and ids match the server's, but samples created through the API exist
    only in the server. Assigning `faults` reaches the server in either mode.

    Args:
        app: The app to serve (thread mode only); when given, `config` and `options`
            are ignored.
        config: The sandbox's options (entries, seed, key, faults...); the defaults when None.
        host: Address to listen on.
        port: Port to listen on; 0 picks a free one.
        startup_timeout: Seconds to wait for the server to listen.
        process: Serve from a child process instead of a thread.
        **options: Options to change by name, as `SandboxConfig.replace` takes them
            (e.g. ``entries=100, latency_ms=20``).

    Raises:
        ValueError: `app` was given with `process=True`.

    Example:
        >>> import httpx
        >>> with SandboxServer(entries=10, process=True) as server:
        ...     answer = httpx.get(
        ...         server.base_url + "instruments/synthesis/",
        ...         headers={"X-API-KEY": server.api_key},
        ...     )
        >>> answer.status_code
        200
    """

    def __init__(
        self,
        app: Starlette | None = None,
        *,
        config: SandboxConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout: float = 10.0,
        process: bool = False,
        **options: Any,
    ) -> None:
        if app is not None and process:
            msg = "process=True builds its app in the child process: pass its options, not app"
            raise ValueError(msg)
        # In process mode, this app is never served: it answers `state` and `data_ids`.
        self.app = app if app is not None else create_app(config, **options)
        self.host = host
        self.startup_timeout = startup_timeout
        self.process = process
        self._requested_port = port
        self._port: int | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._child: _Child | None = None

    @property
    def state(self) -> SandboxState:
        """The served app's catalogue, materials and faults (a copy with `process=True`)."""
        return sandbox_state(self.app)

    @property
    def api_key(self) -> str | None:
        """The key clients must send in `X-API-KEY` (None: any request is accepted)."""
        return self.state.api_key

    @property
    def data_ids(self) -> list[str]:
        """Every data id of the catalogue."""
        return self.state.data_ids

    @property
    def faults(self) -> Faults:
        """The faults injected now; assign a new `Faults` to change them while serving."""
        return self.state.faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        if self._child is not None:
            self._child.set_faults(faults, self.startup_timeout)
        self.state.faults = faults

    def stats(self) -> ServerStats:
        """What the server has answered so far: requests, and bytes of response bodies.

        Example:
            >>> with SandboxServer(entries=10) as server:
            ...     _ = httpx.get(server.base_url, headers={"X-API-KEY": server.api_key})
            ...     server.stats().requests
            1
        """
        if self._child is not None:
            return self._child.stats(self.startup_timeout)
        stats = self.state.stats
        return attrs.evolve(stats, statuses=dict(stats.statuses))

    @property
    def running(self) -> bool:
        """Whether the server thread or process is serving."""
        if self._child is not None:
            return self._child.running
        return self._thread is not None and self._thread.is_alive()

    @property
    def port(self) -> int:
        """The port listened on (known once started)."""
        if self._port is None:
            msg = "the sandbox server is not started"
            raise RuntimeError(msg)
        return self._port

    @property
    def base_url(self) -> str:
        """The URL to give a client, e.g. `http://127.0.0.1:54321/`."""
        return _base_url(self.host, self.port)

    def start(self) -> Self:
        """Listen and serve from a background thread or process; return once serving.

        Raises:
            RuntimeError: The server is already running or could not start.
            TimeoutError: It did not start within `startup_timeout` seconds.
            OSError: The address could not be bound (e.g. the port is in use).
        """
        if self._thread is not None or self._child is not None:
            msg = "the sandbox server is already running"
            raise RuntimeError(msg)
        if self.process:
            config = attrs.evolve(self.state.config, faults=self.faults)
            self._child = _Child.start(
                self.host, self._requested_port, config, self.startup_timeout
            )
            self._port = self._child.port
            return self
        sock = _bind(self.host, self._requested_port)
        self._port = sock.getsockname()[1]
        server = _server(self.app, quiet_logging=True)
        self._server = server
        self._error = None
        thread = threading.Thread(
            target=self._run, args=(server, sock), name=f"sandbox-{self._port}", daemon=True
        )
        self._thread = thread
        thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not server.started:
            if not thread.is_alive():
                self._thread = None
                msg = "the sandbox server failed to start"
                raise RuntimeError(msg) from self._error
            if time.monotonic() > deadline:
                self.stop()
                msg = f"the sandbox server did not start within {self.startup_timeout} s"
                raise TimeoutError(msg)
            time.sleep(0.002)
        return self

    def _run(self, server: uvicorn.Server, sock: socket.socket) -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # reported by start()
            self._error = exc
        finally:
            sock.close()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving, close every connection and join the thread or process (idempotent).

        Args:
            timeout: Seconds to wait for a graceful shutdown before forcing it.
        """
        child, self._child = self._child, None
        if child is not None:
            child.stop(timeout)
            return
        thread, server = self._thread, self._server
        if thread is None or server is None:
            return
        server.should_exit = True
        thread.join(timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout)
        self._thread = None
        sandbox_files(self.app).close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.base_url if self._port is not None else "not started"
        mode = " process" if self.process else ""
        return f"<SandboxServer {where}{mode} entries={len(self.state.catalogue)}>"


def _package_root() -> str:
    return str(Path(__file__).resolve().parents[2])


class _Child:
    """A sandbox server in a child process, driven through its stdin and stdout."""

    def __init__(self, process: subprocess.Popen[bytes], errors: IO[bytes]) -> None:
        self.process = process
        self.errors = errors
        self.port = 0
        self.replies: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.reader = threading.Thread(target=self._read, name="sandbox-child-reader", daemon=True)
        self.reader.start()

    @classmethod
    def start(
        cls,
        host: str,
        port: int,
        config: SandboxConfig,
        timeout: float,
    ) -> _Child:
        # Read if the child fails to start; it outlives this function.
        errors = tempfile.TemporaryFile()  # noqa: SIM115
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", _CHILD, _package_root()],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                # Ctrl-C in a terminal reaches the parent only, which stops the child.
                start_new_session=True,
            )
        except BaseException:
            errors.close()
            raise
        child = cls(process, errors)
        try:
            child.send({"host": host, "port": port, "options": config.to_options()})
            reply = child.receive(timeout)
            if reply is None or "ready" not in reply:
                raise child.failure(reply)
            child.port = int(reply["ready"])
        except BaseException:
            child.stop(timeout=1.0)
            raise
        return child

    def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        with contextlib.suppress(ValueError, OSError):  # closed by stop()
            for line in stdout:
                with contextlib.suppress(orjson.JSONDecodeError):
                    self.replies.put(orjson.loads(line))
        self.replies.put(None)

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def send(self, message: dict[str, Any]) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(orjson.dumps(message) + b"\n")
        stdin.flush()

    def receive(self, timeout: float) -> dict[str, Any] | None:
        try:
            return self.replies.get(timeout=timeout)
        except queue.Empty:
            msg = f"the sandbox server process did not answer within {timeout} s"
            raise TimeoutError(msg) from None

    def set_faults(self, faults: Faults, timeout: float) -> None:
        if not self.running:
            msg = "the sandbox server process is not running"
            raise RuntimeError(msg)
        self.send({"faults": attrs.asdict(faults)})
        reply = self.receive(timeout)
        if reply is None or not reply.get("ok"):
            raise self.failure(reply)

    def stats(self, timeout: float) -> ServerStats:
        if not self.running:
            msg = "the sandbox server process is not running"
            raise RuntimeError(msg)
        self.send({"stats": True})
        reply = self.receive(timeout)
        if reply is None or "stats" not in reply:
            raise self.failure(reply)
        stats = reply["stats"]
        stats["statuses"] = {int(code): n for code, n in stats["statuses"].items()}
        return ServerStats(**stats)

    def failure(self, reply: dict[str, Any] | None) -> Exception:
        if reply is not None and reply.get("errno") is not None:
            return OSError(reply["errno"], reply.get("error", "could not listen"))
        detail = reply.get("error") if reply is not None else None
        if detail is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(1.0)
            self.errors.seek(0)
            lines = self.errors.read().decode(errors="replace").strip().splitlines()
            detail = lines[-1] if lines else f"exit status {self.process.poll()}"
        return RuntimeError(f"the sandbox server process failed: {detail}")

    def stop(self, timeout: float) -> None:
        process = self.process
        # End of input asks the child to shut down gracefully.
        with contextlib.suppress(OSError, ValueError):
            if process.stdin is not None:
                process.stdin.close()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.reader.join(timeout)
        if process.stdout is not None:
            process.stdout.close()
        self.errors.close()


def _child_main() -> None:
    """Serve one sandbox in this (child) process, as `SandboxServer(process=True)` asks."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    lock = threading.Lock()

    def say(message: dict[str, Any]) -> None:
        with lock:
            stdout.write(orjson.dumps(message) + b"\n")
            stdout.flush()

    settings = orjson.loads(stdin.readline())
    try:
        app = create_app(**settings["options"])
        sock = _bind(settings["host"], settings["port"])
    except OSError as exc:
        say({"error": str(exc), "errno": exc.errno})
        raise SystemExit(1) from None
    except Exception as exc:
        say({"error": f"{type(exc).__name__}: {exc}"})
        raise SystemExit(1) from None
    warm_up(sandbox_state(app).config.oes_points)
    server = _server(app, quiet_logging=True)
    state = sandbox_state(app)

    def control() -> None:
        while not server.started:
            if server.should_exit:
                return
            time.sleep(0.002)
        say({"ready": sock.getsockname()[1]})
        for line in stdin:
            command = orjson.loads(line)
            if "faults" in command:
                state.faults = Faults(**command["faults"])
                say({"ok": True})
            elif "stats" in command:
                stats = attrs.asdict(state.stats)
                stats["statuses"] = {str(code): n for code, n in stats["statuses"].items()}
                say({"stats": stats})
        server.should_exit = True  # stdin closed: the parent stopped us (or died)

    threading.Thread(target=control, name="sandbox-control", daemon=True).start()
    # uvicorn handles SIGTERM (SandboxServer.stop's fallback) with a graceful shutdown too.
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


def serve(
    config: SandboxConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    quiet: bool = False,
    show_key: bool = True,
    **options: Any,
) -> None:
    """Serve a sandbox in the foreground until interrupted.

    Ctrl+C (SIGINT) shuts the server down gracefully and returns; SIGTERM shuts it down
    and then ends the process as that signal does by default.

    Args:
        config: The sandbox's options (entries, seed, key, faults...); the defaults when None.
        host: Address to listen on.
        port: Port to listen on; 0 picks a free one.
        quiet: Do not print the URL and key on stderr once listening.
        show_key: Print the key itself (else only that one is required).
        **options: Options to change by name, as `SandboxConfig.replace` takes them.
    """
    app = create_app(config, **options)
    config = sandbox_state(app).config
    api_key, entries, seed = config.api_key, config.entries, config.seed
    files = sandbox_files(app)
    files.start()  # uploads and downloads work from the first request
    sock = _bind(host, port)
    try:
        if not quiet:
            key = "none (any request is accepted)" if api_key is None else api_key
            if api_key is not None and not show_key:
                key = "the key given"
            print(
                f"Atomscale sandbox on {_base_url(host, sock.getsockname()[1])} "
                f"({entries} entries, seed {seed}); X-API-KEY: {key}; "
                f"files on the S3 server {files.store.endpoint_url}/. Ctrl+C stops it.",
                file=sys.stderr,
                flush=True,
            )
        # uvicorn re-raises the signal it stopped on once shut down: for SIGINT, that is
        # a KeyboardInterrupt, which here only means "stopped".
        with contextlib.suppress(KeyboardInterrupt):
            _server(app, quiet_logging=False).run(sockets=[sock])
    finally:
        sock.close()
        files.close()
