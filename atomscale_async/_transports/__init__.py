"""How bytes move: the transports under the request loop.

``_default``: the default ``httpx.AsyncClient`` (aiohttp on asyncio, httpx's
pool on trio); ``_aiohttp``: the httpx-to-aiohttp adaptor; ``_httpx``: one
attempt through any ``httpx.AsyncClient``, with the guarded fast path. Nothing
here retries, maps errors to the SDK's exceptions or knows the API.
"""

from ._default import DefaultTransport, build_http_client
from ._httpx import HttpxInternals, HttpxSender, URLJoiner

__all__ = ["DefaultTransport", "HttpxInternals", "HttpxSender", "URLJoiner", "build_http_client"]
