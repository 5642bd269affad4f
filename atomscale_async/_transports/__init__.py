"""How bytes move: the transports under the request loop.

``_default``: the default ``httpx.AsyncClient`` (aiohttp on asyncio, httpx's
pool on trio); ``_aiohttp``: the httpx-to-aiohttp adaptor; ``_httpx``: one
attempt through any ``httpx.AsyncClient``, with the guarded fast path;
``_body``: reading a body, decoded and bounded; ``_failures``: what went
wrong, in httpx's terms. Nothing
here retries, maps errors to the SDK's exceptions or knows the API.
"""

from ._body import ResponseTooLarge, read_body
from ._default import DefaultTransport, build_http_client
from ._failures import (
    CertificateRefused,
    MalformedResponse,
    certificate_failure,
    describe,
    is_malformed,
)
from ._httpx import HttpxInternals, HttpxSender, URLJoiner

__all__ = [
    "CertificateRefused",
    "DefaultTransport",
    "HttpxInternals",
    "HttpxSender",
    "MalformedResponse",
    "ResponseTooLarge",
    "URLJoiner",
    "build_http_client",
    "certificate_failure",
    "describe",
    "is_malformed",
    "read_body",
]
