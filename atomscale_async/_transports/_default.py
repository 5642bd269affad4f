"""The SDK's default transport: aiohttp on asyncio (fast), httpx's own pool elsewhere (trio)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import sniffio

from ._proxy import SOCKS_SCHEMES, environment_proxies, is_loopback_host
from ._tls import default_ssl_context

if TYPE_CHECKING:
    from ._aiohttp import AiohttpTransport

__all__ = ["DefaultTransport", "build_http_client"]


class DefaultTransport(httpx.AsyncBaseTransport):
    """aiohttp on asyncio (fast), httpx's own pool elsewhere (trio).

    Args:
        max_connections: The size of each pool.
        proxy: Send through this proxy; a request to a loopback host goes to
            ``direct`` instead.
        direct: The transport without a proxy (needed with ``proxy``).
    """

    def __init__(
        self,
        *,
        max_connections: int,
        proxy: httpx.URL | None = None,
        direct: DefaultTransport | None = None,
    ) -> None:
        self._limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._max_connections = max_connections
        self._proxy = proxy
        self._direct = direct
        self._aiohttp: AiohttpTransport | None = None
        self._fallback: httpx.AsyncHTTPTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send through the transport that suits the running event loop."""
        proxy = self._proxy
        if proxy is not None:
            if self._direct is not None and is_loopback_host(request.url.host):
                return await self._direct.handle_async_request(request)
            if proxy.scheme in SOCKS_SCHEMES:
                raise httpx.UnsupportedProtocol(
                    f"the environment names a SOCKS proxy ({proxy.scheme}://{proxy.host}) for "
                    f"{request.url.scheme}://{request.url.host}, which the SDK does not "
                    "support: use an HTTP proxy, add the host to NO_PROXY, or pass "
                    "trust_env=False",
                    request=request,
                )
        if sniffio.current_async_library() == "asyncio":
            if self._aiohttp is None:
                # Imported on first use: aiohttp is a fifth of the SDK's import time.
                from ._aiohttp import AiohttpTransport

                self._aiohttp = AiohttpTransport(
                    max_connections=self._max_connections,
                    verify=default_ssl_context(),
                    proxy=proxy,
                )
            return await self._aiohttp.handle_async_request(request)
        if self._fallback is None:
            self._fallback = httpx.AsyncHTTPTransport(
                limits=self._limits,
                verify=default_ssl_context(),
                proxy=None if proxy is None else httpx.Proxy(proxy),
            )
        return await self._fallback.handle_async_request(request)

    async def aclose(self) -> None:
        """Close both pools."""
        if self._aiohttp is not None:
            await self._aiohttp.aclose()
        if self._fallback is not None:
            await self._fallback.aclose()


def build_http_client(max_concurrency: int, *, trust_env: bool = True) -> httpx.AsyncClient:
    """The default ``httpx.AsyncClient``: a pool sized to the client's concurrency.

    With ``trust_env``, each proxy the environment names (by httpx's rules, see
    ``_proxy``) is mounted for the URLs it serves; ``NO_PROXY`` patterns and
    loopback hosts go direct.
    """
    direct = DefaultTransport(max_connections=max_concurrency)
    mounts: dict[str, httpx.AsyncBaseTransport | None] = {}
    if trust_env:
        for pattern, proxy in environment_proxies().items():
            mounts[pattern] = (
                None
                if proxy is None
                else DefaultTransport(
                    max_connections=max_concurrency, proxy=httpx.URL(proxy), direct=direct
                )
            )
    return httpx.AsyncClient(
        transport=direct, mounts=mounts, follow_redirects=False, trust_env=False
    )
