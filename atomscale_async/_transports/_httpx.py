"""One attempt through an ``httpx.AsyncClient``, with a guarded fast path.

The SDK's own client has no defaults, auth, hooks or cookies, so a request can
skip ``AsyncClient.send``'s layers (a third of httpx's cost per request in
profiles) and its URL can be built without re-validating the base URL (about
40 us a request). Both rely on private httpx names: ``AsyncClient._transport_for_url``
and ``URL._uri_reference``. What the installed httpx offers is detected once,
when a client is built (``HttpxInternals.detect``); whatever is missing falls
back to the public API, which gives the same requests (a test runs both paths).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import attrs
import httpx

from .._secret import KeyHeaders
from ._body import read_body
from ._failures import CertificateRefused, certificate_failure

__all__ = ["HttpxInternals", "HttpxSender", "URLJoiner"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
#: The body of every request without one (a ByteStream only ever yields its bytes).
_EMPTY_BODY = httpx.ByteStream(b"")


def _closed_by_hook(response: httpx.Response) -> httpx.Response:
    """A readable copy of a response httpx closed as a hook raised: its body if read, else none."""
    try:
        content = response.content
    except httpx.ResponseNotRead:
        content = b""
    return httpx.Response(
        response.status_code, headers=response.headers, content=content, request=response.request
    )


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port or _DEFAULT_PORTS.get(url.scheme)


@attrs.frozen
class HttpxInternals:
    """Which private httpx names the fast path may use.

    Attributes:
        transport_for_url: ``AsyncClient._transport_for_url(url)`` picks the
            transport httpx would send through (respx's ``using="httpx"`` mocker
            intercepts the same call).
        uri_reference: ``URL._uri_reference`` is a named tuple a URL can be
            rebuilt from with ``_replace``.
    """

    transport_for_url: bool
    uri_reference: bool

    @classmethod
    def detect(cls) -> HttpxInternals:
        """Look at the installed httpx once."""
        probe = httpx.URL("http://127.0.0.1/")
        reference = getattr(probe, "_uri_reference", None)
        return cls(
            transport_for_url=callable(getattr(httpx.AsyncClient, "_transport_for_url", None)),
            uri_reference=reference is not None and callable(getattr(reference, "_replace", None)),
        )

    @classmethod
    def none(cls) -> HttpxInternals:
        """Public API only."""
        return cls(transport_for_url=False, uri_reference=False)


class URLJoiner:
    """Builds the ``httpx.URL`` of each request under the base URL, parsing the base once.

    ``httpx.URL(str)`` validates every character of the whole URL; a path the SDK
    builds is already percent-encoded, so it is set into a copy of the parsed base
    instead. Any other path, or ``uri_reference=False``, takes ``httpx.URL(str)``.
    """

    _SAFE_PATH = re.compile(r"[A-Za-z0-9\-._~%!$&'()*+,;=:@/]*")

    def __init__(self, base_url: str, *, uri_reference: bool = True) -> None:
        self.base_url = base_url
        self._base = httpx.URL(base_url)
        self._prefix = self._base.raw_path.decode("ascii").partition("?")[0]
        self._fast = uri_reference

    def __call__(self, path: str) -> httpx.URL:
        """The URL of ``path`` (relative, e.g. ``oes/<id>``) under the base URL."""
        if not self._fast or not self._SAFE_PATH.fullmatch(path):
            return httpx.URL(self.base_url + path)
        url = httpx.URL.__new__(httpx.URL)
        url._uri_reference = self._base._uri_reference._replace(
            path=self._prefix + path, query=None, fragment=None
        )
        return url


class HttpxSender:
    """Sends one attempt through ``http`` and reads the whole (decoded) body.

    Args:
        http: The client to send through.
        owned: Whether the SDK built ``http`` (then it has no defaults, auth,
            hooks or cookies, and the fast path applies).
        base_url: The API root, ending in ``/``.
        headers: The headers of every request (the key among them).
        internals: What the fast path may use; detected when not given.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        owned: bool,
        base_url: str,
        headers: Mapping[str, str],
        internals: HttpxInternals | None = None,
    ) -> None:
        self.internals = HttpxInternals.detect() if internals is None else internals
        self._http = http
        self._owned = owned
        self._base_url = base_url
        self._urls = URLJoiner(base_url, uri_reference=self.internals.uri_reference)
        # Built once: httpx copies a Headers object's list instead of re-normalizing a dict.
        # KeyHeaders: their repr (a traceback's locals) hides the key.
        self._get_headers = KeyHeaders(headers)
        self._post_headers = KeyHeaders({**headers, "Content-Type": "application/json"})
        # A GET gets these and an empty stream: httpx then skips building a body and
        # re-normalizing every header to add Host (7 of its 9 us a request). Every
        # URL has the base URL's authority, so Host is the one httpx would add.
        host = httpx.URL(base_url).netloc.decode("ascii")
        self._get_request_headers = KeyHeaders({"Host": host, **headers})

    async def send(
        self,
        method: str,
        path: str,
        query: tuple[tuple[str, str], ...] | None,
        body: bytes | None,
        timeouts: httpx.Timeout,
        max_bytes: int,
    ) -> tuple[httpx.Response, bytes]:
        """One attempt: the response and its decoded body (at most ``max_bytes`` long).

        Raises:
            httpx.RequestError: The attempt failed; ``ResponseTooLarge`` and
                ``MalformedResponse`` among others (see ``read_body``).
        """
        try:
            if not self._owned:
                headers = self._get_headers if body is None else self._post_headers
                response = await self._send_through_callers_client(
                    method, path, query, body, timeouts, headers
                )
            else:
                request = self.build_request(method, path, query, body, timeouts)
                if self.internals.transport_for_url:
                    transport = self._http._transport_for_url(request.url)
                    response = await transport.handle_async_request(request)
                    response.request = request  # as AsyncClient.send sets it
                else:
                    response = await self._http.send(request, stream=True)
        except httpx.ConnectError as exc:
            reason = None if isinstance(exc, CertificateRefused) else certificate_failure(exc)
            if reason is None:
                raise
            # httpcore words it "ConnectError" on trio: name the reason on every transport.
            raise CertificateRefused(reason) from exc
        return response, await read_body(response, max_bytes)

    def build_request(
        self,
        method: str,
        path: str,
        query: tuple[tuple[str, str], ...] | None,
        body: bytes | None,
        timeouts: httpx.Timeout,
    ) -> httpx.Request:
        """The request the SDK's own client sends: what ``httpx.Request`` builds by default."""
        url = self._urls(path)
        extensions = {"timeout": timeouts.as_dict()}
        if method != "GET" or body is not None:
            return httpx.Request(
                method,
                url,
                params=query,
                content=body,
                headers=self._get_headers if body is None else self._post_headers,
                extensions=extensions,
            )
        request = httpx.Request(
            method,
            url,
            params=query,
            headers=self._get_request_headers,
            stream=_EMPTY_BODY,
            extensions=extensions,
        )
        request.read()  # as httpx does with an empty body: request.content is b""
        return request

    async def _send_through_callers_client(
        self,
        method: str,
        path: str,
        query: tuple[tuple[str, str], ...] | None,
        body: bytes | None,
        timeouts: httpx.Timeout,
        headers: httpx.Headers,
    ) -> httpx.Response:
        """Send through a client of the caller's: its defaults, auth, hooks and cookies apply.

        httpx would follow a redirect anywhere with the key (it strips only
        ``Authorization``), so redirects are followed here, and only within the
        base URL's origin (same scheme, host and port) when the client follows
        redirects at all; any other redirect is answered as it is (an error status).
        """
        url = httpx.URL(self._base_url + path)
        for _ in range(self._http.max_redirects + 1):
            request = self._http.build_request(
                method, url, params=query, content=body, headers=headers, timeout=timeouts
            )
            query = None  # a redirect's Location carries its own query
            try:
                response = await self._http.send(request, stream=True, follow_redirects=False)
            except httpx.HTTPStatusError as exc:  # a hook of the caller's raise_for_status()
                response = _closed_by_hook(exc.response)
            if not (self._http.follow_redirects and response.has_redirect_location):
                return response
            target = url.join(response.headers["location"])
            if _origin(target) != _origin(url):
                return response
            await response.aclose()
            url = target
            if response.status_code == 303 or (
                response.status_code in (301, 302) and method == "POST"
            ):
                method, body = "GET", None  # as browsers and httpx do
                headers = self._get_headers
        return response
