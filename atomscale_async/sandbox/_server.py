"""Serving the sandbox with uvicorn: `SandboxServer` (a background thread) and `serve`.

Dropped connections: an ASGI app cannot close its connection, so the server runs
uvicorn's httptools protocol extended with the `atomscale.sandbox.drop` scope extension.
When the fault injector decides to drop a request, the app calls the extension, which
aborts the TCP connection before any byte of a response is written; the client sees the
server disconnect (httpx raises `RemoteProtocolError` or `ReadError`).
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from types import TracebackType
from typing import Self

import uvicorn
from starlette.applications import Starlette
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from atomscale_async.sandbox._app import SandboxState, create_app, sandbox_state
from atomscale_async.sandbox._faults import DROP_EXTENSION, Faults


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
    """A sandbox served by uvicorn on 127.0.0.1 from a background thread.

    Args:
        app: The app to serve; when given, the data and fault options below are ignored.
        host: Address to listen on.
        port: Port to listen on; 0 picks a free one.
        entries: Number of catalogue entries.
        seed: Seed of the data and of the faults.
        api_key: Key expected in `X-API-KEY`; None accepts any request.
        latency_ms: Delay added to every request, in milliseconds.
        error_rate: Fraction of requests answered 500 or 503.
        rate_limit: Fraction of requests answered 429 with `Retry-After`.
        retry_after: Seconds sent in `Retry-After`.
        drop_rate: Fraction of requests whose connection is closed without a response.
        oes_points: Number of points of each OES spectrum.
        startup_timeout: Seconds to wait for the server to listen.

    Example:
        >>> import httpx
        >>> with SandboxServer(entries=10) as server:
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
        host: str = "127.0.0.1",
        port: int = 0,
        entries: int = 1000,
        seed: int = 0,
        api_key: str | None = "sandbox-key",
        latency_ms: float = 0,
        error_rate: float = 0,
        rate_limit: float = 0,
        retry_after: float = 1,
        drop_rate: float = 0,
        oes_points: int = 2048,
        startup_timeout: float = 10.0,
    ) -> None:
        if app is None:
            app = create_app(
                entries=entries,
                seed=seed,
                api_key=api_key,
                latency_ms=latency_ms,
                error_rate=error_rate,
                rate_limit=rate_limit,
                retry_after=retry_after,
                drop_rate=drop_rate,
                oes_points=oes_points,
            )
        self.app = app
        self.host = host
        self.startup_timeout = startup_timeout
        self._requested_port = port
        self._port: int | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def state(self) -> SandboxState:
        """The served app's catalogue, materials and faults."""
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
        self.state.faults = faults

    @property
    def running(self) -> bool:
        """Whether the server thread is serving."""
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
        """Listen and serve from a background thread; return once requests are accepted.

        Raises:
            RuntimeError: The server is already running or could not start.
            TimeoutError: It did not start within `startup_timeout` seconds.
        """
        if self._thread is not None:
            msg = "the sandbox server is already running"
            raise RuntimeError(msg)
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
        """Stop serving, close every connection and join the thread (idempotent).

        Args:
            timeout: Seconds to wait for a graceful shutdown before forcing it.
        """
        thread, server = self._thread, self._server
        if thread is None or server is None:
            return
        server.should_exit = True
        thread.join(timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout)
        self._thread = None

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
        return f"<SandboxServer {where} entries={len(self.state.catalogue)}>"


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    entries: int = 1000,
    seed: int = 0,
    api_key: str | None = "sandbox-key",
    latency_ms: float = 0,
    error_rate: float = 0,
    rate_limit: float = 0,
    retry_after: float = 1,
    drop_rate: float = 0,
    oes_points: int = 2048,
    quiet: bool = False,
) -> None:
    """Serve a sandbox in the foreground until interrupted.

    Ctrl+C (SIGINT) shuts the server down gracefully and returns; SIGTERM shuts it down
    and then ends the process as that signal does by default.

    Args:
        host: Address to listen on.
        port: Port to listen on; 0 picks a free one.
        entries: Number of catalogue entries.
        seed: Seed of the data and of the faults.
        api_key: Key expected in `X-API-KEY`; None accepts any request.
        latency_ms: Delay added to every request, in milliseconds.
        error_rate: Fraction of requests answered 500 or 503.
        rate_limit: Fraction of requests answered 429 with `Retry-After`.
        retry_after: Seconds sent in `Retry-After`.
        drop_rate: Fraction of requests whose connection is closed without a response.
        oes_points: Number of points of each OES spectrum.
        quiet: Do not print the URL and key on stderr once listening.
    """
    app = create_app(
        entries=entries,
        seed=seed,
        api_key=api_key,
        latency_ms=latency_ms,
        error_rate=error_rate,
        rate_limit=rate_limit,
        retry_after=retry_after,
        drop_rate=drop_rate,
        oes_points=oes_points,
    )
    sock = _bind(host, port)
    try:
        if not quiet:
            key = "none (any request is accepted)" if api_key is None else api_key
            print(
                f"Atomscale sandbox on {_base_url(host, sock.getsockname()[1])} "
                f"({entries} entries, seed {seed}); X-API-KEY: {key}. Ctrl+C stops it.",
                file=sys.stderr,
                flush=True,
            )
        # uvicorn re-raises the signal it stopped on once shut down: for SIGINT, that is
        # a KeyboardInterrupt, which here only means "stopped".
        with contextlib.suppress(KeyboardInterrupt):
            _server(app, quiet_logging=False).run(sockets=[sock])
    finally:
        sock.close()
