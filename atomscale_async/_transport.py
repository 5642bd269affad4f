"""The HTTP layer: building the ``httpx.AsyncClient`` and the request loop.

The request loop is the one place that sends: it adds the API key, bounds
concurrency for the whole client, waits out a client-wide 429 pause, retries
what is safe to retry (see ``_retry``), maps failures to the SDK's exceptions
and logs one debug line per attempt. It returns the body of a 2xx response.
"""

from __future__ import annotations

import logging
import platform
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import anyio
import attrs
import httpx
import orjson
import sniffio

from ._errors import APIConnectionError, APIStatusError, APITimeoutError, status_error
from ._retry import (
    Clock,
    RateLimitGate,
    backoff,
    parse_retry_after,
    retryable_status,
    retryable_transport_error,
)
from ._version import __version__

if TYPE_CHECKING:
    from ._aiohttp import AiohttpTransport

__all__ = ["DefaultTransport", "RequestOptions", "SharedState", "request"]

logger = logging.getLogger("atomscale_async")

USER_AGENT = (
    f"atomscale-async/{__version__} python/{platform.python_version()} httpx/{httpx.__version__}"
)


class DefaultTransport(httpx.AsyncBaseTransport):
    """aiohttp on asyncio (fast), httpx's own pool elsewhere (trio)."""

    def __init__(self, *, max_connections: int) -> None:
        self._limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._max_connections = max_connections
        self._aiohttp: AiohttpTransport | None = None
        self._fallback: httpx.AsyncHTTPTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send through the transport that suits the running event loop."""
        if sniffio.current_async_library() == "asyncio":
            if self._aiohttp is None:
                # Imported on first use: aiohttp is a fifth of the SDK's import time.
                from ._aiohttp import AiohttpTransport

                self._aiohttp = AiohttpTransport(max_connections=self._max_connections)
            return await self._aiohttp.handle_async_request(request)
        if self._fallback is None:
            self._fallback = httpx.AsyncHTTPTransport(limits=self._limits)
        return await self._fallback.handle_async_request(request)

    async def aclose(self) -> None:
        """Close both pools."""
        if self._aiohttp is not None:
            await self._aiohttp.aclose()
        if self._fallback is not None:
            await self._fallback.aclose()


def build_http_client(max_concurrency: int) -> httpx.AsyncClient:
    """The default ``httpx.AsyncClient``: a pool sized to the client's concurrency."""
    return httpx.AsyncClient(
        transport=DefaultTransport(max_connections=max_concurrency),
        follow_redirects=False,
    )


@attrs.frozen
class RequestOptions:
    """Per-call settings; ``with_options`` makes a client with other values."""

    timeout: httpx.Timeout
    max_retries: int
    max_retry_after: float
    total_timeout: float | None


class URLJoiner:
    """Builds the ``httpx.URL`` of each request under the base URL, parsing the base once.

    ``httpx.URL(str)`` validates every character of the whole URL, about 40 us a
    request; a path the SDK builds is already percent-encoded, so it is set into
    a copy of the parsed base instead. Any other path, or an httpx without the
    ``_uri_reference`` this relies on, takes ``httpx.URL(str)`` (a test compares both).
    """

    _SAFE_PATH = re.compile(r"[A-Za-z0-9\-._~%!$&'()*+,;=:@/]*")

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._base = httpx.URL(base_url)
        self._prefix = self._base.raw_path.decode("ascii").partition("?")[0]
        reference = getattr(self._base, "_uri_reference", None)
        self._fast = reference is not None and hasattr(reference, "_replace")

    def __call__(self, path: str) -> httpx.URL:
        """The URL of ``path`` (relative, e.g. ``oes/<id>``) under the base URL."""
        if not self._fast or not self._SAFE_PATH.fullmatch(path):
            return httpx.URL(self.base_url + path)
        url = httpx.URL.__new__(httpx.URL)
        url._uri_reference = self._base._uri_reference._replace(
            path=self._prefix + path, query=None, fragment=None
        )
        return url


@attrs.define(eq=False)
class SharedState:
    """What every copy of a client made by ``with_options`` shares."""

    http: httpx.AsyncClient
    owns_http: bool
    base_url: str
    headers: dict[str, str]
    limiter: anyio.Semaphore
    max_concurrency: int
    clock: Clock
    gate: RateLimitGate
    closed: bool = False
    urls: URLJoiner = attrs.field(init=False)
    # Built once: httpx copies a Headers object's list instead of re-normalizing a dict.
    get_headers: httpx.Headers = attrs.field(init=False)
    post_headers: httpx.Headers = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.urls = URLJoiner(self.base_url)
        self.get_headers = httpx.Headers(self.headers)
        self.post_headers = httpx.Headers({**self.headers, "Content-Type": "application/json"})


async def request(
    state: SharedState,
    options: RequestOptions,
    method: str,
    path: str,
    *,
    params: list[tuple[str, str]] | None = None,
    body: bytes | None = None,
) -> bytes:
    """Send a request with retries; return the body of its 2xx response."""
    if state.closed:
        raise RuntimeError("this client is closed; create a new one")
    url = state.base_url + path
    if options.total_timeout is None:
        return await _attempts(state, options, method, url, path, params, body)
    with anyio.move_on_after(options.total_timeout) as scope:
        return await _attempts(state, options, method, url, path, params, body)
    assert scope.cancelled_caught
    raise APITimeoutError(
        f"{method} {url}: the call did not finish within its total_timeout of "
        f"{options.total_timeout:g} s (retries and waits included)",
        method=method,
        url=url,
    )


async def _attempts(
    state: SharedState,
    options: RequestOptions,
    method: str,
    url: str,
    path: str,
    params: list[tuple[str, str]] | None,
    body: bytes | None,
) -> bytes:
    timeout = options.timeout
    query = tuple(params) if params else None
    clock = state.clock
    attempt = 0
    while True:
        await state.gate.wait()
        failure: APIConnectionError | None = None
        retry = False
        response: httpx.Response | None = None
        content = b""
        async with state.limiter:
            started = time.perf_counter()
            try:
                response, content = await _send(state, method, path, query, body, timeout)
            except httpx.TransportError as exc:
                # Built here, raised below: the httpx exception carries the
                # request and its X-API-KEY header, so it must not become the
                # new exception's __context__.
                failure = _connection_error(exc, method, url)
                retry = retryable_transport_error(method, exc)
        elapsed_ms = (time.perf_counter() - started) * 1000
        if failure is not None:
            _log(method, path, type(failure).__name__, elapsed_ms, attempt)
            if retry and attempt < options.max_retries:
                await clock.sleep(backoff(attempt, clock))
                attempt += 1
                continue
            raise failure
        assert response is not None
        status = response.status_code
        _log(method, path, status, elapsed_ms, attempt)
        if status < 300:
            return content
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if status == 429 and retry_after is not None and retry_after <= options.max_retry_after:
            state.gate.pause(retry_after)
        if retryable_status(method, status) and attempt < options.max_retries:
            if retry_after is None:
                await clock.sleep(backoff(attempt, clock))
            elif retry_after > options.max_retry_after:
                raise _status_error(response, content, method, url, retry_after)
            elif status != 429:  # a 429 already paused the whole client
                await clock.sleep(retry_after)
            attempt += 1
            continue
        raise _status_error(response, content, method, url, retry_after)


async def _send(
    state: SharedState,
    method: str,
    path: str,
    query: tuple[tuple[str, str], ...] | None,
    body: bytes | None,
    timeouts: httpx.Timeout,
) -> tuple[httpx.Response, bytes]:
    """One attempt: send the request; return the response and its whole (decoded) body."""
    headers = state.get_headers if body is None else state.post_headers
    if not state.owns_http:
        # A client of the user's: its defaults, auth, hooks and cookies apply.
        request = state.http.build_request(
            method,
            state.base_url + path,
            params=query,
            content=body,
            headers=headers,
            timeout=timeouts,
        )
        response = await state.http.send(request)
        return response, response.content
    # The SDK's own client has no defaults, auth, hooks or cookies to apply, so
    # skip AsyncClient.send's layers (a third of httpx's cost per request in
    # profiles) and hand the request to the transport httpx would pick for the
    # URL: that is the same call respx's ``using="httpx"`` mocker intercepts.
    request = httpx.Request(
        method,
        state.urls(path),
        params=query,
        content=body,
        headers=headers,
        extensions={"timeout": timeouts.as_dict()},
    )
    transport = state.http._transport_for_url(request.url)
    response = await transport.handle_async_request(request)
    try:
        stream = response.stream
        if isinstance(stream, httpx.ByteStream) and "content-encoding" not in response.headers:
            # Already in memory and not encoded (the aiohttp transport reads the
            # body whole): take the bytes instead of running httpx's decoder chain.
            content = b"".join(stream)
        else:
            content = await response.aread()
    finally:
        await response.aclose()
    return response, content


def _connection_error(exc: httpx.TransportError, method: str, url: str) -> APIConnectionError:
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        phase = (
            "connecting" if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout) else "waiting"
        )
        return APITimeoutError(
            f"{method} {url}: timed out {phase} ({detail}); raise `timeout=` if the server is slow",
            method=method,
            url=url,
        )
    if isinstance(exc, httpx.ConnectError):
        message = f"{method} {url}: could not connect ({detail}); check the base URL and network"
    else:
        message = f"{method} {url}: the connection failed ({type(exc).__name__}: {detail})"
    return APIConnectionError(message, method=method, url=url)


def _status_error(
    response: httpx.Response, content: bytes, method: str, url: str, retry_after: float | None
) -> APIStatusError:
    body: object
    try:
        body = orjson.loads(content) if content else None
    except orjson.JSONDecodeError:
        body = content.decode("utf-8", "replace")
    headers: Mapping[str, str] = response.headers
    return status_error(
        status_code=response.status_code,
        body=body,
        method=method,
        url=url,
        headers=dict(headers),
        request_id=headers.get("x-request-id") or headers.get("request-id"),
        retry_after=retry_after,
    )


def _log(method: str, path: str, status: Any, elapsed_ms: float, attempt: int) -> None:
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "%s /%s -> %s in %.1f ms (attempt %d)", method, path, status, elapsed_ms, attempt + 1
        )
