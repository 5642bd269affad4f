"""Every malformed answer becomes a typed error, on asyncio's and trio's default transports.

The answers come from a raw socket (``servers.RawServer``): no HTTP library would send them.
"""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest

from atomscale_async import (
    APIConnectionError,
    MalformedResponseError,
    OESResult,
    ResponseValidationError,
)

from .conftest import API_KEY, ClientFactory
from .payloads import OES
from .servers import CUT_OFF, MALFORMED, RawServer, answer_json, http_head

pytestmark = pytest.mark.anyio

_FOREIGN = ("httpx", "httpcore", "h11", "aiohttp", "anyio", "trio", "asyncio")


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def assert_clean(exc: BaseException) -> None:
    """Nothing chained to ``exc`` holds the request (and so the key)."""
    for link in _chain(exc):
        assert type(link).__module__.partition(".")[0] not in _FOREIGN, repr(link)
        assert API_KEY not in str(link)
        assert API_KEY not in repr(link)


@pytest.fixture(scope="module")
def _raw_server() -> Iterator[RawServer]:
    with RawServer(lambda request: []) as server:
        yield server


@pytest.fixture
def server(_raw_server: RawServer) -> RawServer:
    """One raw server for the module (starting one a test costs a fifth of a second)."""
    _raw_server.requests = 0
    return _raw_server


def _accepts(name: str) -> bool:
    # Both transports read heads of up to 100 KiB (httpcore's limit; aiohttp's set to it).
    return name == "header_of_100_kb"


@pytest.mark.parametrize("name", sorted(MALFORMED))
async def test_a_malformed_answer_is_a_malformed_response_error(
    name: str, make_client: ClientFactory, server: RawServer
) -> None:
    server.answer = lambda request: [MALFORMED[name]]
    async with make_client(base_url=server.base_url, max_retries=1) as client:
        if _accepts(name):
            assert await client._request("GET", "oes/x") == b"[]"
            return
        with pytest.raises(MalformedResponseError, match="malformed") as info:
            await client._request("GET", "oes/x")
    assert info.value.method == "GET"
    assert info.value.url == server.base_url + "oes/x"
    assert_clean(info.value)
    assert server.requests == 2, "a GET with a malformed answer is retried"


@pytest.mark.parametrize("name", sorted(CUT_OFF))
async def test_an_answer_cut_off_is_a_connection_error(
    name: str, make_client: ClientFactory, server: RawServer
) -> None:
    server.answer = lambda request: [CUT_OFF[name]]
    async with make_client(base_url=server.base_url, max_retries=0) as client:
        with pytest.raises(APIConnectionError, match="connection failed") as info:
            await client._request("GET", "oes/x")
    assert type(info.value) is APIConnectionError
    assert_clean(info.value)
    assert server.requests == 1, "no transport re-sends on its own"


@pytest.mark.parametrize("name", sorted(MALFORMED))
async def test_a_malformed_answer_to_a_post_is_not_resent(
    name: str, make_client: ClientFactory, server: RawServer
) -> None:
    server.answer = lambda request: [MALFORMED[name]]
    async with make_client(base_url=server.base_url, max_retries=3) as client:
        if _accepts(name):
            return
        with pytest.raises(MalformedResponseError):
            await client._request("POST", "target-materials/", body=b"{}")
    assert server.requests == 1


async def test_a_body_that_is_not_json_is_a_response_validation_error(
    make_client: ClientFactory, server: RawServer
) -> None:
    server.answer = lambda request: [answer_json(b"nope!")]
    async with make_client(base_url=server.base_url) as client:
        with pytest.raises(ResponseValidationError, match="not JSON") as info:
            await client.oes.get("x")
    assert_clean(info.value)


async def test_a_key_echoed_inside_a_malformed_answer_is_redacted(
    make_client: ClientFactory, server: RawServer
) -> None:
    def echo(request: bytes) -> list[bytes]:
        return [b"HTTP/1.1 200 OK\r\nX-Echo " + request.split(b"\r\n\r\n")[0] + b"\r\n\r\n"]

    server.answer = echo
    async with make_client(base_url=server.base_url, max_retries=0) as client:
        with pytest.raises(MalformedResponseError) as info:
            await client._request("GET", "oes/x")
    assert_clean(info.value)


@pytest.mark.parametrize("name", sorted(MALFORMED))
async def test_one_malformed_answer_in_a_bulk_fetch_keeps_every_other_result(
    name: str, make_client: ClientFactory, server: RawServer
) -> None:
    good = answer_json(orjson.dumps(OES))

    def answer(request: bytes) -> list[bytes]:
        return [MALFORMED[name] if b" /oes/bad " in request else good]

    ids = [f"ok{i}" for i in range(12)]
    ids.insert(5, "bad")
    server.answer = answer
    async with make_client(base_url=server.base_url, max_retries=1) as client:
        results = await client.get(ids, data_type="oes", errors="return")
    assert [type(r) for r in results[:5] + results[6:]] == [OESResult] * 12
    if _accepts(name):
        assert isinstance(results[5], ResponseValidationError)  # "[]" is no OES result
    else:
        assert isinstance(results[5], MalformedResponseError)
        assert_clean(results[5])


async def test_a_proxys_large_cookie_is_read_on_every_backend(
    make_client: ClientFactory, server: RawServer
) -> None:
    # Single sign-on proxies set cookies of tens of KB; aiohttp alone refused a line over 8 KiB.
    cookie = b"Set-Cookie: sso=" + b"x" * 20_000 + b"; Path=/; Secure"
    server.answer = lambda request: [http_head(b"Content-Length: 2", cookie) + b"[]"]
    async with make_client(base_url=server.base_url, max_retries=0) as client:
        assert await client._request("GET", "oes/x") == b"[]"
