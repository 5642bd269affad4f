"""An httpx transport over aiohttp: the SDK's default transport on asyncio.

httpx's own pool (httpcore) costs several times more CPU per request than
aiohttp on asyncio. This adaptor keeps the ``httpx.AsyncClient`` interface
(and so respx, event hooks and user-supplied clients) while aiohttp moves the
bytes. Errors map to httpx's classes by what happened on the socket:
``httpx.ConnectError`` / ``httpx.ConnectTimeout`` only when no connection was
established (the request was never sent), which makes re-sending a POST safe;
an answer aiohttp's parser refuses is a ``MalformedResponse``; any other
aiohttp error a ``httpx.ReadError``.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import ssl
import warnings
from collections.abc import AsyncGenerator, AsyncIterator

import aiohttp
import httpx
from yarl import URL

from ._failures import CertificateRefused, MalformedResponse, certificate_failure, describe

__all__ = ["MAX_HEAD_BYTES", "AiohttpTransport", "resend_switch_exists"]

MAX_HEAD_BYTES = 100 * 1024
"""The longest response header line aiohttp reads: httpcore's limit of a whole head."""


def resend_switch_exists() -> bool:
    """Whether aiohttp has the (private) switch of its own re-send of a GET.

    aiohttp re-sends an idempotent request once on a dropped connection; 3.11
    added ``ClientSession._retry_connection`` to turn that off, no public switch
    exists. A test fails should it disappear (the wire would see extra requests).
    """
    return "_retry_connection" in getattr(aiohttp.ClientSession, "ATTRS", ())


@functools.lru_cache(maxsize=64)
def _client_timeout(
    pool: float | None, connect: float | None, read: float | None
) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=None, connect=pool, sock_connect=connect, sock_read=read)


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Send ``httpx.Request`` objects with an ``aiohttp.ClientSession``.

    The session is created on first use, on the running event loop, and its
    connection pool holds at most ``max_connections`` connections.
    """

    def __init__(
        self,
        *,
        max_connections: int,
        keepalive_expiry: float = 15.0,
        verify: ssl.SSLContext | bool = True,
        proxy: httpx.URL | None = None,
    ) -> None:
        self._max_connections = max_connections
        # The proxy's credentials come from its URL only (aiohttp's trust_env,
        # off here, would look in .netrc).
        self._proxy: URL | None = None
        self._proxy_headers: dict[str, str] | None = None
        if proxy is not None:
            self._proxy = URL(str(proxy.copy_with(username=None, password=None)))
            if proxy.username:
                userinfo = f"{proxy.username}:{proxy.password}".encode()
                self._proxy_headers = {
                    "Proxy-Authorization": "Basic " + base64.b64encode(userinfo).decode("ascii")
                }
        self._keepalive_expiry = keepalive_expiry
        self._ssl = verify
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closer: AsyncGenerator[None, None] | None = None
        self._needs_close = False
        self.can_stop_resends = resend_switch_exists()

    def _live_session(self) -> aiohttp.ClientSession | None:
        """The session, if it is open and on the running loop (a sync check: every request)."""
        session = self._session
        if session is None or self._loop is not asyncio.get_running_loop() or session.closed:
            return None
        return session

    async def _get_session(self) -> aiohttp.ClientSession:
        """The live session, else a new one on the running loop."""
        session = self._live_session()
        if session is not None:
            return session
        connector = aiohttp.TCPConnector(
            limit=self._max_connections,
            limit_per_host=0,
            keepalive_timeout=self._keepalive_expiry,
            ssl=self._ssl,
        )
        session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept"),
            # A proxy's or a single sign-on's cookies may pass aiohttp's 8 KiB a
            # line: read heads as httpx (under trio) does, up to 100 KiB.
            max_line_size=MAX_HEAD_BYTES,
            max_field_size=MAX_HEAD_BYTES,
        )
        if self.can_stop_resends:
            # The SDK's retry policy is the only one: one attempt, one request.
            session._retry_connection = False
        self._session = session
        self._loop = asyncio.get_running_loop()
        self._closer = _close_at_loop_end(session)
        self._needs_close = True
        await anext(self._closer)
        return session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send one request; the body streams (read whole when it is small)."""
        session = self._live_session() or await self._get_session()
        timeouts = request.extensions.get("timeout", {})
        timeout = _client_timeout(
            timeouts.get("pool"), timeouts.get("connect"), timeouts.get("read")
        )
        try:
            body = request.content
        except httpx.RequestNotRead:
            body = await request.aread()
        try:
            response = await session.request(
                request.method,
                URL(str(request.url), encoded=True),
                # raw + latin-1: multi_items() re-detects the encoding of every header
                headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
                # aiohttp sends proxy_headers on a CONNECT only: a plain http
                # request through the proxy carries them itself.
                + (
                    list(self._proxy_headers.items())
                    if self._proxy_headers and request.url.scheme == "http"
                    else []
                ),
                data=body or None,
                allow_redirects=False,
                timeout=timeout,
                proxy=self._proxy,
                proxy_headers=self._proxy_headers,
            )
        except _AIOHTTP_FAILURES as exc:
            raise _mapped(exc, request) from exc
        declared = response.content_length
        # One read costs less than a stream of chunks, and is bounded.
        whole = declared is not None and declared <= _READ_WHOLE
        stream = _ResponseStream(response, request, whole=whole)
        extensions = {"http_version": b"HTTP/1.1"}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode("ascii", "replace")
        # stream=, not content=: the caller reads it once (content= reads it here too).
        return httpx.Response(
            response.status,
            headers=response.raw_headers,
            stream=stream,
            request=request,
            extensions=extensions,
        )

    def __del__(self) -> None:
        if self._needs_close:
            # Silent by default, as Python's own unclosed files are; shown under
            # ``python -X dev`` and fails the SDK's tests (filterwarnings = error).
            warnings.warn(
                "an AsyncClient was not closed; use `async with AsyncClient()` "
                "or call `await client.aclose()`",
                ResourceWarning,
                source=self,
                stacklevel=1,
            )

    async def aclose(self) -> None:
        """Close the session and its connections."""
        self._needs_close = False
        session, self._session = self._session, None
        closer, self._closer = self._closer, None
        if session is not None and not session.closed:
            await session.close()
        if closer is not None and self._loop is asyncio.get_running_loop():
            await closer.aclose()


async def _close_at_loop_end(session: aiohttp.ClientSession) -> AsyncGenerator[None, None]:
    """Close ``session`` when its event loop ends, should nobody have closed it before.

    ``asyncio.run`` finalizes the async generators of its loop before closing
    it, so a client used across two ``asyncio.run`` calls, or left unclosed,
    gives its connections back there instead of printing aiohttp's
    ``Unclosed client session`` / ``Unclosed connector`` at exit (httpx prints
    nothing either). A transport never closed is still reported when it is
    collected (``AiohttpTransport.__del__``).
    """
    try:
        yield
    finally:
        if not session.closed:
            await session.close()


#: Bodies up to this size (by Content-Length) are read in one call.
_READ_WHOLE = 1 << 20


class _ResponseStream(httpx.AsyncByteStream):
    """The body of an aiohttp response (in one read, or chunk by chunk), errors in httpx's terms.

    Nothing is read before the caller iterates: it may refuse the body by its head.
    """

    def __init__(
        self, response: aiohttp.ClientResponse, request: httpx.Request, *, whole: bool
    ) -> None:
        self._response = response
        self._request = request
        self._whole = whole

    def __aiter__(self) -> AsyncIterator[bytes]:
        return _WholeBody(self._response, self._request) if self._whole else self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except _AIOHTTP_FAILURES as exc:
            raise _mapped(exc, self._request) from exc

    async def aclose(self) -> None:
        """Give the connection back (closed, unless the body was read to its end)."""
        self._response.release()


class _WholeBody:
    """The body in one read: an iterator of one item, with no async generator to set up."""

    __slots__ = ("_request", "_response")

    def __init__(self, response: aiohttp.ClientResponse | None, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    def __aiter__(self) -> _WholeBody:
        return self

    async def __anext__(self) -> bytes:
        response, self._response = self._response, None
        if response is None:
            raise StopAsyncIteration
        try:
            return await response.read()
        except _AIOHTTP_FAILURES as exc:
            raise _mapped(exc, self._request) from exc


#: Every failure ``_mapped`` turns into an httpx exception (aiohttp's own, and its timeouts).
_AIOHTTP_FAILURES = (aiohttp.ClientError, TimeoutError)


def _mapped(exc: BaseException, request: httpx.Request) -> httpx.RequestError:
    """The httpx exception that says what happened in aiohttp's failure ``exc``.

    A function called from ``except _AIOHTTP_FAILURES``, not a context manager:
    it is on the path of every request.
    """
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(f"timed out connecting: {exc}", request=request)
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return httpx.ReadTimeout(f"timed out reading the response: {exc}", request=request)
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        reason = certificate_failure(exc.certificate_error) or describe(exc)
        return CertificateRefused(reason, request=request)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(str(exc.os_error or exc), request=request)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError(
            "server disconnected without a complete response", request=request
        )
    if isinstance(exc, aiohttp.ClientOSError | aiohttp.ClientPayloadError):
        return httpx.ReadError(str(exc) or type(exc).__name__, request=request)
    if isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return httpx.UnsupportedProtocol(str(exc), request=request)
    if isinstance(exc, aiohttp.ClientResponseError):
        # aiohttp's parser refused the status line, a header or the framing.
        return MalformedResponse(describe(exc.message), request=request)
    if isinstance(exc, aiohttp.ClientError):
        return httpx.ReadError(describe(exc), request=request)
    return httpx.ReadTimeout("timed out", request=request)
