"""Errors and retries: status classes, backoff, Retry-After, the POST rule on real sockets."""

from __future__ import annotations

import email.utils
import logging
from datetime import UTC, datetime, timedelta

import anyio
import httpx
import pytest
import respx

from atomscale_async import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RateLimitState,
    UnprocessableEntityError,
)
from atomscale_async._retry import parse_retry_after

from .conftest import API_KEY, BASE_URL, ClientFactory, FakeClock
from .payloads import CREATED_SAMPLE, OES
from .servers import SocketServer, refused_port

pytestmark = pytest.mark.anyio

SAMPLE = {"sample_name": "s", "substrate": "Si"}


@pytest.mark.parametrize(
    ("status", "cls", "hint"),
    [
        (400, BadRequestError, "malformed"),
        (401, AuthenticationError, "ATOMSCALE_API_KEY"),
        (403, PermissionDeniedError, "may not access"),
        (404, NotFoundError, "check the id"),
        (409, ConflictError, "conflicts"),
        (422, UnprocessableEntityError, "rejected the request body"),
        (418, APIStatusError, "failed"),
    ],
)
async def test_client_errors_map_to_classes_and_are_not_retried(
    router: respx.MockRouter,
    make_client: ClientFactory,
    status: int,
    cls: type[APIStatusError],
    hint: str,
) -> None:
    route = router.get("oes/x").respond(
        status, json={"detail": "nope"}, headers={"x-request-id": "req-123"}
    )
    async with make_client() as client:
        with pytest.raises(cls) as info:
            await client.oes.get("x")
    exc = info.value
    assert type(exc) is cls
    assert exc.status_code == status
    assert exc.body == {"detail": "nope"}
    assert exc.request_id == "req-123"
    assert hint in str(exc)
    assert "server said: nope" in str(exc)
    assert "req-123" in str(exc)
    assert route.call_count == 1


async def test_get_is_retried_on_5xx_408_429_with_exponential_backoff(
    router: respx.MockRouter, make_client: ClientFactory, clock: FakeClock
) -> None:
    route = router.get("oes/x").mock(
        side_effect=[
            httpx.Response(500),
            httpx.Response(408),
            httpx.Response(429),
            httpx.Response(200, json=OES),
        ]
    )
    async with make_client(max_retries=2) as client:
        result = await client.oes.get("x")
    assert result.id == "oes_001"
    assert route.call_count == 4
    assert clock.sleeps == [0.5, 1.0, 0.1], "the 429 waits its own short wait, no retry"


async def test_backoff_is_capped_and_jittered(make_client: ClientFactory) -> None:
    from atomscale_async._retry import Clock, backoff

    class Fixed(Clock):
        def __init__(self, value: float) -> None:
            self.value = value

        def random(self) -> float:
            return self.value

    assert [backoff(n, Fixed(0.0)) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert backoff(1, Fixed(0.999)) == pytest.approx(0.75, abs=0.001)


async def test_retries_exhausted_raise_the_last_error(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    route = router.get("oes/x").respond(503, text="down for maintenance")
    async with make_client(max_retries=2) as client:
        with pytest.raises(InternalServerError) as info:
            await client.oes.get("x")
    assert route.call_count == 3
    assert info.value.status_code == 503
    assert info.value.body == "down for maintenance"


async def test_connection_errors_and_timeouts_are_retried_for_get(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    route = router.get("oes/x").mock(
        side_effect=[
            httpx.ConnectError("refused"),
            httpx.ReadTimeout("slow"),
            httpx.Response(200, json=OES),
        ]
    )
    async with make_client() as client:
        await client.oes.get("x")
    assert route.call_count == 3


async def test_retry_after_seconds_and_http_date_are_honoured(
    router: respx.MockRouter, make_client: ClientFactory, clock: FakeClock
) -> None:
    date = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    router.get("oes/x").mock(
        side_effect=[
            httpx.Response(503, headers={"Retry-After": "7"}),
            httpx.Response(429, headers={"Retry-After": date}),
            httpx.Response(200, json=OES),
        ]
    )
    async with make_client() as client:
        await client.oes.get("x")
    assert clock.sleeps[0] == 7
    assert 27 <= clock.sleeps[1] <= 30


async def test_long_retry_after_raises_rate_limit_error_with_the_wait(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    route = router.get("oes/x").respond(429, headers={"Retry-After": "3600"})
    async with make_client(max_retry_after=60) as client:
        with pytest.raises(RateLimitError) as info:
            await client.oes.get("x")
    assert info.value.retry_after == 3600
    assert "retry after 3600 s" in str(info.value)
    assert route.call_count == 1


async def test_an_http_date_retry_after_is_read_against_the_servers_date(
    router: respx.MockRouter, make_client: ClientFactory, clock: FakeClock
) -> None:
    skewed = datetime.now(UTC) - timedelta(hours=2)  # the server's clock is 2 h behind
    headers = {
        "Date": email.utils.format_datetime(skewed, usegmt=True),
        "Retry-After": email.utils.format_datetime(skewed + timedelta(seconds=5), usegmt=True),
    }
    router.get("oes/x").mock(
        side_effect=[httpx.Response(429, headers=headers), httpx.Response(200, json=OES)]
    )
    async with make_client() as client:
        await client.oes.get("x")
    assert clock.sleeps == [5]


async def test_a_retry_after_beyond_max_retry_wait_warns_and_pauses_no_longer(
    router: respx.MockRouter, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    router.get(url__regex=r"/oes/.*").respond(429, headers={"Retry-After": "3600"})
    caplog.set_level(logging.WARNING, logger="atomscale_async")
    async with make_client(max_concurrency=1, max_retry_wait=30) as client:
        for _ in range(3):
            with pytest.raises(RateLimitError) as info:
                await client.oes.get("x")
        state = client.rate_limit_state
    assert info.value.retry_after == 3600
    assert state.state == "paused"
    assert state.paused_until is not None
    assert state.paused_until - client._state.clock.monotonic() <= 30
    assert any("longer than max_retry_wait=30 s" in r.getMessage() for r in caplog.records)


def test_max_retry_after_is_the_former_name_of_max_retry_wait() -> None:
    client = AsyncClient(API_KEY, base_url=BASE_URL, max_retry_after=5)
    assert client._options.max_retry_after == 5
    assert client.with_options(max_retry_wait=7)._options.max_retry_after == 7
    with pytest.raises(ValueError, match="not both"):
        AsyncClient(API_KEY, base_url=BASE_URL, max_retry_wait=5, max_retry_after=6)


async def test_a_429_delays_only_its_own_request(
    router: respx.MockRouter, make_client: ClientFactory, clock: FakeClock
) -> None:
    started_at: list[float] = []

    def answer(request: httpx.Request) -> httpx.Response:
        started_at.append(clock.now)
        if request.url.path == "/oes/limited" and len(started_at) == 1:
            return httpx.Response(429, headers={"Retry-After": "5"})
        return httpx.Response(200, json=OES)

    router.get(url__regex=r"/oes/.*").mock(side_effect=answer)
    async with make_client() as client:
        await client.oes.get("limited")
        await client.with_options(max_retries=0).oes.get("other")
        assert client.rate_limit_state == RateLimitState(width=32, ceiling=32, state="normal")
    assert started_at[1] - started_at[0] == 5, "re-sent once its Retry-After had passed"
    assert started_at[2] == started_at[1], "another request does not wait"
    assert clock.sleeps == [5]


async def test_a_429_with_retry_after_is_re_sent_without_using_up_retries(
    router: respx.MockRouter, make_client: ClientFactory, clock: FakeClock
) -> None:
    limited = httpx.Response(429, headers={"Retry-After": "1"})
    route = router.get("oes/x").mock(side_effect=[limited] * 6 + [httpx.Response(200, json=OES)])
    async with make_client(max_retries=0) as client:
        result = await client.oes.get("x")
    assert result.id == "oes_001"
    assert route.call_count == 7
    assert clock.sleeps == [1] * 6


async def test_a_429_without_retry_after_is_re_sent_without_using_up_retries(
    router: respx.MockRouter, make_client: ClientFactory, clock: FakeClock
) -> None:
    route = router.get("oes/x").mock(
        side_effect=[httpx.Response(429)] * 8 + [httpx.Response(200, json=OES)]
    )
    async with make_client(max_retries=0) as client:
        result = await client.oes.get("x")
        assert client.rate_limit_state.rate is not None, "the 429s paced the limiter"
    assert result.id == "oes_001"
    assert route.call_count == 9
    waits = [s for s in clock.sleeps if s >= 0.1]
    assert waits[:5] == [0.1, 0.2, 0.4, 0.8, 1.0]
    assert max(clock.sleeps) == 1.0


async def test_a_429_is_logged_at_info_with_its_wait(
    router: respx.MockRouter, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    router.get("oes/x").mock(
        side_effect=[
            httpx.Response(429),
            httpx.Response(429, headers={"Retry-After": "2"}),
            httpx.Response(200, json=OES),
        ]
    )
    caplog.set_level(logging.INFO, logger="atomscale_async")
    async with make_client(max_retries=0) as client:
        await client.oes.get("x")
    lines = [r.getMessage() for r in caplog.records if "answered 429" in r.getMessage()]
    assert lines == [
        "rate limited: GET /oes/x answered 429 (no Retry-After); waiting 0.10 s",
        "rate limited: GET /oes/x answered 429 (Retry-After 2 s); waiting 2.00 s",
    ]


async def test_429s_are_re_sent_until_the_total_timeout(router: respx.MockRouter) -> None:
    route = router.get("oes/x").respond(429, headers={"Retry-After": "0.05"})
    async with AsyncClient(API_KEY, base_url=BASE_URL, max_retries=0) as client:
        with anyio.fail_after(10):
            with pytest.raises(APITimeoutError, match=r"total_timeout of 0\.3 s"):
                await client.with_options(total_timeout=0.3).oes.get("x")
    assert 2 <= route.call_count <= 7


async def test_post_is_not_retried_on_5xx_or_read_failures(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    route = router.post("target-materials/").mock(
        side_effect=[
            httpx.Response(500),
            httpx.ReadTimeout("t"),
            httpx.RemoteProtocolError("closed"),
        ]
    )
    async with make_client() as client:
        with pytest.raises(InternalServerError):
            await client.target_materials.create(sample=SAMPLE)
        with pytest.raises(APITimeoutError):
            await client.target_materials.create(sample=SAMPLE)
        with pytest.raises(APIConnectionError):
            await client.target_materials.create(sample=SAMPLE)
    assert route.call_count == 3


async def test_post_is_retried_on_429_and_on_connections_never_made(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    route = router.post("target-materials/").mock(
        side_effect=[
            httpx.Response(429),
            httpx.ConnectError("refused"),
            httpx.Response(201, json=CREATED_SAMPLE),
        ]
    )
    async with make_client() as client:
        sample = await client.target_materials.create(sample=SAMPLE)
    assert sample.sample_id == 42
    assert route.call_count == 3


# --- real sockets: what happened on the wire decides, not the exception class ----------------


async def test_refused_connection_is_a_connection_error_and_post_is_retried(
    make_client: ClientFactory, clock: FakeClock
) -> None:
    with refused_port() as base_url:
        async with make_client(base_url=base_url) as client:
            with pytest.raises(APIConnectionError) as info:
                await client.target_materials.create(sample=SAMPLE)
    assert type(info.value) is APIConnectionError, "a refused connection is not a timeout"
    assert "could not connect" in str(info.value)
    assert len(clock.sleeps) == 2, "the POST was retried twice: nothing reached a server"


async def test_post_is_sent_once_when_the_server_read_it_and_hung_up(
    make_client: ClientFactory,
) -> None:
    with SocketServer("close_after_read") as server:
        async with make_client(base_url=server.base_url) as client:
            with pytest.raises(APIConnectionError) as info:
                await client.target_materials.create(sample=SAMPLE)
            assert type(info.value) is APIConnectionError
            assert server.requests == 1, "the server may have applied it: never re-sent"
            with pytest.raises(APIConnectionError):
                await client.oes.get("x")
            # A GET is retried: 3 attempts (aiohttp may re-send an idempotent
            # request once more itself when a connection drops).
            assert server.requests - 1 in (3, 6)


async def test_read_timeout_is_an_api_timeout_error(make_client: ClientFactory) -> None:
    with SocketServer("hang") as server:
        async with make_client(base_url=server.base_url, timeout=0.2, max_retries=1) as client:
            with pytest.raises(APITimeoutError, match="timed out"):
                await client.oes.get("x")
        assert server.requests == 2


async def test_total_timeout_bounds_the_whole_call(make_client: ClientFactory) -> None:
    with SocketServer("hang") as server:
        async with make_client(base_url=server.base_url, timeout=30) as client:
            with anyio.fail_after(10):
                with pytest.raises(APITimeoutError, match=r"total_timeout of 0\.3 s"):
                    await client.with_options(total_timeout=0.3).oes.get("x")


async def test_a_real_server_round_trip(make_client: ClientFactory) -> None:
    with SocketServer("ok", body=b"[]") as server:
        async with make_client(base_url=server.base_url) as client:
            for _ in range(3):
                result = await client.sims.get("x")
                assert result.depth_profiles == []
        assert server.requests == 3


def test_parse_retry_after() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("2.5") == 2.5
    assert parse_retry_after("-4") == 0
    assert parse_retry_after("Thu, 01 Jan 2026 00:00:10 GMT", now=now) == 10
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("nan") is None


async def test_a_404_of_a_list_endpoint_points_at_the_base_url(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    router.get("instruments/synthesis/").respond(404, json={"detail": "Not Found"})
    async with make_client() as client:
        with pytest.raises(NotFoundError) as info:
            await client.synthesis_instruments.list()
    assert "check the base URL" in str(info.value)
    assert "check the id" not in str(info.value)  # there is none in the path
