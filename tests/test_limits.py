"""Response-size limits, checked while a body streams in and while it is inflated.

Run on asyncio's and trio's default transports, against a raw socket server, with
small limits so that each case takes milliseconds.
"""

from __future__ import annotations

import gzip
import time
import zlib
from collections.abc import Iterator

import anyio
import pytest

from atomscale_async import APITimeoutError, MalformedResponseError, ResponseTooLargeError

from .conftest import ClientFactory
from .servers import RawServer, http_head

pytestmark = pytest.mark.anyio

LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def _raw_server() -> Iterator[RawServer]:
    with RawServer(lambda request: []) as server:
        yield server


@pytest.fixture
def server(_raw_server: RawServer) -> RawServer:
    _raw_server.requests = 0
    return _raw_server


def _sized(body: bytes, *headers: bytes) -> bytes:
    return http_head(b"Content-Length: %d" % len(body), *headers) + body


def _gzip_bomb(decoded: int) -> bytes:
    """``decoded`` zero bytes, gzip-compressed (about a thousandth of the size)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = bytes(1 << 20)
    parts = [packer.compress(block) for _ in range(decoded >> 20)]
    return b"".join([*parts, packer.flush()])


def _endless_chunks(request: bytes) -> Iterator[bytes]:
    yield http_head(b"Transfer-Encoding: chunked")
    chunk = b"%x\r\n%s\r\n" % (8192, b"x" * 8192)
    for _ in range(100_000):  # 800 MB at most, should the limit fail
        yield chunk


def _trickle(request: bytes) -> Iterator[bytes]:
    yield http_head(b"Transfer-Encoding: chunked")
    for _ in range(500):  # 10 s at most
        time.sleep(0.02)
        yield b"1\r\n \r\n"


async def test_a_body_at_the_limit_is_read(server: RawServer, make_client: ClientFactory) -> None:
    server.answer = lambda request: [_sized(b"x" * LIMIT)]
    async with make_client(base_url=server.base_url, max_response_bytes=LIMIT) as client:
        assert await client._request("GET", "oes/x") == b"x" * LIMIT


async def test_a_content_length_over_the_limit_fails_before_the_body(
    server: RawServer, make_client: ClientFactory
) -> None:
    # The body never comes: only a check of the head can answer in time.
    server.answer = lambda request: [http_head(b"Content-Length: %d" % (LIMIT + 1)), b"x"]
    async with make_client(base_url=server.base_url, max_response_bytes=LIMIT) as client:
        with anyio.fail_after(5), pytest.raises(ResponseTooLargeError) as info:
            await client._request("GET", "oes/x")
    assert info.value.limit == LIMIT
    assert "max_response_bytes=65536" in str(info.value)
    assert server.requests == 1, "a body too large is not fetched again"


async def test_an_endless_chunked_body_stops_at_the_limit(
    server: RawServer, make_client: ClientFactory
) -> None:
    server.answer = _endless_chunks
    async with make_client(base_url=server.base_url, max_response_bytes=LIMIT) as client:
        with anyio.fail_after(10), pytest.raises(ResponseTooLargeError):
            await client._request("GET", "oes/x")
    assert server.requests == 1


@pytest.mark.parametrize("encoding", [b"gzip", b"deflate"])
async def test_a_compression_bomb_stops_at_the_decoded_limit(
    encoding: bytes, server: RawServer, make_client: ClientFactory
) -> None:
    bomb = _gzip_bomb(64 << 20)
    if encoding == b"deflate":
        bomb = zlib.compress(gzip.decompress(bomb), 9)
    assert len(bomb) < LIMIT, "small on the wire: only the decoded size can be over"
    server.answer = lambda request: [_sized(bomb, b"Content-Encoding: " + encoding)]
    async with make_client(base_url=server.base_url, max_response_bytes=LIMIT) as client:
        with pytest.raises(ResponseTooLargeError):
            await client._request("GET", "oes/x")


async def test_gzip_within_the_limit_is_inflated(
    server: RawServer, make_client: ClientFactory
) -> None:
    body = b"[" + b"1," * 20_000 + b"1]"
    server.answer = lambda request: [_sized(gzip.compress(body), b"Content-Encoding: gzip")]
    async with make_client(base_url=server.base_url) as client:
        assert await client._request("GET", "oes/x") == body


async def test_a_gzip_body_cut_short_is_malformed(
    server: RawServer, make_client: ClientFactory
) -> None:
    packed = gzip.compress(b"[" + b"1," * 500 + b"1]")
    cut = packed[: len(packed) // 2]
    server.answer = lambda request: [_sized(cut, b"Content-Encoding: gzip")]
    async with make_client(base_url=server.base_url, max_retries=0) as client:
        with pytest.raises(MalformedResponseError, match="gzip stream ends early"):
            await client._request("GET", "oes/x")


async def test_the_catalogue_has_a_limit_of_its_own(
    server: RawServer, make_client: ClientFactory
) -> None:
    server.answer = lambda request: [_sized(b"[" + b" " * 2000 + b"]")]
    async with make_client(
        base_url=server.base_url, max_response_bytes=1000, max_catalogue_response_bytes=4000
    ) as client:
        assert len(await client._request("GET", "data_entries/", params=[("data_ids", "a")])) > 2000
        with pytest.raises(ResponseTooLargeError, match="max_response_bytes=1000"):
            await client._request("GET", "oes/x")
        small = client.with_options(max_catalogue_response_bytes=1000)
        with pytest.raises(ResponseTooLargeError, match="max_catalogue_response_bytes=1000"):
            await small.data_entries.list(["a"])
        roomy = client.with_options(max_response_bytes=4000)
        assert len(await roomy._request("GET", "oes/x")) > 2000


async def test_total_timeout_bounds_reading_a_trickling_body(
    server: RawServer, make_client: ClientFactory
) -> None:
    server.answer = _trickle
    async with make_client(base_url=server.base_url, total_timeout=0.3) as client:
        started = time.monotonic()
        with anyio.fail_after(5), pytest.raises(APITimeoutError, match="total_timeout"):
            await client._request("GET", "oes/x")
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("name", ["max_response_bytes", "max_catalogue_response_bytes"])
@pytest.mark.parametrize("value", [0, -1, 1.5, True, "10"])
def test_a_limit_must_be_a_positive_integer(
    name: str, value: object, make_client: ClientFactory
) -> None:
    with pytest.raises(ValueError, match=name):
        make_client(**{name: value})


async def test_encoding_headers_are_read_in_any_case(
    server: RawServer, make_client: ClientFactory
) -> None:
    body = b"[" + b"1," * 500 + b"1]"
    packed = gzip.compress(body)
    server.answer = lambda request: [
        http_head(b"content-length: %d" % len(packed), b"CONTENT-ENCODING: GZIP") + packed
    ]
    async with make_client(base_url=server.base_url) as client:
        assert await client._request("GET", "oes/x") == body


async def test_an_identity_encoding_is_the_body_as_is(
    server: RawServer, make_client: ClientFactory
) -> None:
    server.answer = lambda request: [_sized(b"[1]", b"Content-Encoding: identity")]
    async with make_client(base_url=server.base_url) as client:
        assert await client._request("GET", "oes/x") == b"[1]"


@pytest.mark.parametrize(
    ("headers", "shown"),
    [
        ([b"Content-Encoding: br"], "'br'"),
        ([b"Content-Encoding: gzip", b"Content-Encoding: gzip"], "'gzip, gzip'"),
    ],
)
async def test_an_encoding_not_asked_for_is_malformed(
    headers: list[bytes], shown: str, server: RawServer, make_client: ClientFactory
) -> None:
    packed = gzip.compress(b"[1]")
    server.answer = lambda request: [_sized(packed, *headers)]
    async with make_client(base_url=server.base_url, max_retries=0) as client:
        with pytest.raises(MalformedResponseError, match=f"content-encoding {shown} was not asked"):
            await client._request("GET", "oes/x")
