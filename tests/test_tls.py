"""TLS on both default transports: verification on, a refused certificate named and not retried.

A local TLS server on 127.0.0.1 with certificates made for the test by ``trustme``.
"""

from __future__ import annotations

import ssl

import httpx
import pytest
import trustme

from atomscale_async import APIConnectionError
from atomscale_async._transports import _default

from .conftest import ClientFactory
from .servers import SocketServer

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _server(ca: trustme.CA, *names: str) -> SocketServer:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    return SocketServer("ok", body=b"[]", tls=context)


@pytest.fixture
def trust_ca(ca: trustme.CA, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the default transports trust ``ca`` (as if it were in certifi's bundle)."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    monkeypatch.setattr(_default, "default_ssl_context", lambda: context)


async def test_a_self_signed_certificate_is_refused_once_and_named(
    ca: trustme.CA, make_client: ClientFactory
) -> None:
    with _server(ca, "127.0.0.1") as server:
        async with make_client(base_url=server.base_url, max_retries=3) as client:
            with pytest.raises(APIConnectionError) as info:
                await client._request("GET", "oes/x")
    message = str(info.value)
    assert "TLS certificate failed verification (unable to get local issuer certificate)" in message
    assert server.connections == 1, "a refused certificate is not retried"
    assert server.requests == 0


@pytest.mark.usefixtures("trust_ca")
async def test_a_certificate_for_another_host_is_refused_once_and_named(
    ca: trustme.CA, make_client: ClientFactory
) -> None:
    with _server(ca, "api.example.test") as server:
        async with make_client(base_url=server.base_url, max_retries=3) as client:
            with pytest.raises(
                APIConnectionError, match=r"failed verification \(IP address mismatch"
            ):
                await client._request("GET", "oes/x")
    assert server.connections == 1


@pytest.mark.usefixtures("trust_ca")
async def test_a_trusted_certificate_is_accepted(
    ca: trustme.CA, make_client: ClientFactory
) -> None:
    with _server(ca, "127.0.0.1") as server:
        async with make_client(base_url=server.base_url) as client:
            assert await client._request("GET", "oes/x") == b"[]"
    assert server.requests == 1


async def test_a_callers_client_decides_what_it_trusts(
    ca: trustme.CA, make_client: ClientFactory
) -> None:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    with _server(ca, "127.0.0.1") as server:
        async with (
            httpx.AsyncClient(verify=context) as http,
            make_client(base_url=server.base_url, http_client=http) as client,
        ):
            assert await client._request("GET", "oes/x") == b"[]"
        async with (
            httpx.AsyncClient() as http,
            make_client(base_url=server.base_url, http_client=http) as client,
        ):
            with pytest.raises(APIConnectionError, match="failed verification"):
                await client._request("GET", "oes/x")
