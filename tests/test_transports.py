"""The transports: the guarded httpx fast path and its public-API fallback."""

from __future__ import annotations

import httpx
import pytest

from atomscale_async import APIConnectionError, AsyncClient
from atomscale_async._transports import HttpxInternals, HttpxSender, URLJoiner

from .conftest import API_KEY, ClientFactory
from .servers import SocketServer


@pytest.mark.parametrize(
    "base",
    [
        "https://api.atomscale.ai/",
        "http://127.0.0.1:8000/",
        "https://host.example/api/v2/",
        "http://[::1]:9000/prefix/",
        "https://user@host.example:8443/a%20b/",
    ],
)
@pytest.mark.parametrize(
    "path",
    [
        "oes/d290f1ee-6c54-4b01-90e6-d701748f0851",
        "sims/a%2Fb%3Fc",
        "instruments/synthesis/",
        "data_entries/",
        "target-materials/",
        "oes/caf\u00e9",  # not pre-encoded: takes httpx's own parsing
        "oes/with space",
    ],
)
@pytest.mark.parametrize("uri_reference", [True, False])
def test_joined_url_equals_httpx_parsing(base: str, path: str, uri_reference: bool) -> None:
    joined = URLJoiner(base, uri_reference=uri_reference)(path)
    expected = httpx.URL(base + path)
    assert joined == expected
    assert str(joined) == str(expected)
    assert joined.raw_path == expected.raw_path
    assert joined.host == expected.host
    assert joined.port == expected.port


def test_query_params_merge_onto_a_joined_url() -> None:
    url = URLJoiner("https://host.example/api/")("data_entries/")
    request = httpx.Request("GET", url, params=(("data_ids", "a"), ("data_ids", "b")))
    assert str(request.url) == "https://host.example/api/data_entries/?data_ids=a&data_ids=b"


def test_the_installed_httpx_offers_the_fast_path() -> None:
    # Fails when an httpx release renames a private name the fast path uses:
    # requests still work (the fallback below), but slower; look before widening the pin.
    assert HttpxInternals.detect() == HttpxInternals(transport_for_url=True, uri_reference=True)


def test_detection_notices_a_missing_private_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(httpx.AsyncClient, "_transport_for_url")
    assert not HttpxInternals.detect().transport_for_url


async def _send_each_kind() -> list[bytes]:
    with SocketServer("ok", body=b"[]") as server:
        async with AsyncClient(api_key=API_KEY, base_url=server.base_url + "api/") as client:
            assert await client._request("GET", "oes/a%2Fb") == b"[]"
            params = [("data_ids", "x"), ("data_ids", "z")]
            assert await client._request("GET", "data_entries/", params=params) == b"[]"
            assert await client._request("POST", "target-materials/", body=b"{}") == b"[]"
            assert await client._request("GET", "oes/caf\u00e9") == b"[]"
        return [r.replace(server.base_url.encode(), b"BASE/") for r in server.received]


@pytest.mark.anyio
async def test_the_public_api_fallback_sends_what_the_fast_path_sends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent = {True: await _send_each_kind()}
    monkeypatch.setattr(HttpxInternals, "detect", classmethod(lambda cls: cls.none()))
    client = AsyncClient(api_key=API_KEY, base_url="http://127.0.0.1:1/")
    assert client._state.sender.internals == HttpxInternals.none()
    await client.aclose()
    sent[False] = await _send_each_kind()
    assert len(sent[True]) == 4
    heads = [r.split(b"\r\n")[0] for r in sent[True]]
    assert heads[0] == b"GET /api/oes/a%2Fb HTTP/1.1"
    assert heads[1] == b"GET /api/data_entries/?data_ids=x&data_ids=z HTTP/1.1"
    assert heads[2] == b"POST /api/target-materials/ HTTP/1.1"
    assert sent[True][2].endswith(b"\r\n\r\n{}")
    assert [_normalized(r) for r in sent[False]] == [_normalized(r) for r in sent[True]]


def _normalized(request: bytes) -> tuple[bytes, frozenset[bytes], bytes]:
    """The request line, the set of headers (the port differs between servers), the body."""
    head, _, body = request.partition(b"\r\n\r\n")
    line, *headers = head.split(b"\r\n")
    return line, frozenset(h for h in headers if not h.lower().startswith(b"host:")), body


@pytest.mark.anyio
@pytest.mark.parametrize("max_retries", [0, 2])
async def test_each_attempt_reaches_the_server_once(
    max_retries: int, make_client: ClientFactory
) -> None:
    # A server that reads each request and hangs up: aiohttp would re-send a GET
    # on its own, unseen by the retry policy, unless its switch is off.
    with SocketServer("close_after_read") as server:
        async with make_client(base_url=server.base_url, max_retries=max_retries) as client:
            with pytest.raises(APIConnectionError):
                await client._request("GET", "oes/x")
    assert server.requests == 1 + max_retries


async def _aiohttp_resends_a_get_without_the_switch(
    monkeypatch: pytest.MonkeyPatch, make_client: ClientFactory
) -> None:
    # What the test above guards against (asyncio only: trio does not use aiohttp).
    from atomscale_async._transports import _aiohttp

    assert _aiohttp.resend_switch_exists()
    monkeypatch.setattr(_aiohttp, "resend_switch_exists", lambda: False)
    with SocketServer("close_after_read") as server:
        async with make_client(base_url=server.base_url, max_retries=0) as client:
            with pytest.raises(APIConnectionError):
                await client._request("GET", "oes/x")
    assert server.requests == 2


def test_aiohttp_resends_a_get_without_the_switch_on_asyncio(
    monkeypatch: pytest.MonkeyPatch, make_client: ClientFactory
) -> None:
    import asyncio

    asyncio.run(_aiohttp_resends_a_get_without_the_switch(monkeypatch, make_client))


@pytest.mark.parametrize(
    "base",
    [
        "https://api.atomscale.ai/",
        "http://127.0.0.1:8000/",
        "http://[::1]:9000/prefix/",
        "https://user:secret@host.example:8443/a%20b/",
        "https://b\u00fccher.example/api/",
        "http://host.example:80/",
    ],
)
@pytest.mark.parametrize(
    ("method", "path", "query", "body"),
    [
        ("GET", "oes/d290f1ee-6c54-4b01-90e6-d701748f0851", None, None),
        ("GET", "data_entries/", (("data_ids", "a"), ("data_ids", "b c")), None),
        ("GET", "oes/caf\u00e9", None, None),
        ("POST", "target-materials/", None, b'{"name": "GaN"}'),
        ("POST", "projects/x/archive", None, None),
        ("DELETE", "projects/x", None, None),
    ],
)
@pytest.mark.parametrize("internals", [HttpxInternals.detect(), HttpxInternals.none()])
def test_a_built_request_is_what_httpx_builds(
    base: str,
    method: str,
    path: str,
    query: tuple[tuple[str, str], ...] | None,
    body: bytes | None,
    internals: HttpxInternals,
) -> None:
    headers = {"X-API-KEY": API_KEY, "User-Agent": "ua", "Accept": "application/json"}
    sender = HttpxSender(
        httpx.AsyncClient(), owned=True, base_url=base, headers=headers, internals=internals
    )
    timeout = httpx.Timeout(60.0, connect=5.0)
    built = sender.build_request(method, path, query, body, timeout)
    expected = httpx.Request(
        method,
        base + path,
        params=query,
        content=body,
        headers={**headers, **({} if body is None else {"Content-Type": "application/json"})},
        extensions={"timeout": timeout.as_dict()},
    )
    assert built.method == expected.method
    assert str(built.url) == str(expected.url)
    assert built.headers.raw == expected.headers.raw  # names as written, in order, Host first
    assert built.content == expected.content
    assert b"".join(built.stream) == b"".join(expected.stream)  # type: ignore[arg-type]
    assert built.extensions == expected.extensions
