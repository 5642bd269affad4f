"""The SDK's default transport: aiohttp on asyncio (fast), httpx's own pool elsewhere (trio)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import sniffio

from ._tls import default_ssl_context

if TYPE_CHECKING:
    from ._aiohttp import AiohttpTransport

__all__ = ["DefaultTransport", "build_http_client"]


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

                self._aiohttp = AiohttpTransport(
                    max_connections=self._max_connections, verify=default_ssl_context()
                )
            return await self._aiohttp.handle_async_request(request)
        if self._fallback is None:
            self._fallback = httpx.AsyncHTTPTransport(
                limits=self._limits, verify=default_ssl_context()
            )
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
