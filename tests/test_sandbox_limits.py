"""The sandbox's real limits: a token bucket per API key (429) and a capacity (503)."""

from __future__ import annotations

import anyio
import httpx
import pytest

from atomscale_async.sandbox import Faults, SandboxServer, create_app, sandbox_state
from atomscale_async.sandbox._faults import TokenBuckets, retry_after_seconds

from .test_sandbox import KEY, _client, check_error

pytestmark = pytest.mark.anyio


def test_a_bucket_refills_at_its_rate_up_to_its_burst() -> None:
    buckets = TokenBuckets()
    assert [buckets.take(b"k", 10.0, 3, now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take(b"k", 10.0, 3, now=0.0) == pytest.approx(0.1)
    assert buckets.take(b"k", 10.0, 3, now=0.05) == pytest.approx(0.05), "half a token by now"
    assert buckets.take(b"k", 10.0, 3, now=0.1) == 0.0
    assert buckets.take(b"other", 10.0, 3, now=0.1) == 0.0, "each key has its own bucket"
    # a long idle time saves up no more than the burst
    assert [buckets.take(b"k", 10.0, 3, now=100.0) for _ in range(4)][-1] > 0


def test_retry_after_is_whole_seconds_rounded_up_and_at_least_one() -> None:
    assert retry_after_seconds(0.005) == 1
    assert retry_after_seconds(1.0) == 1
    assert retry_after_seconds(1.01) == 2


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="requests_per_second must be positive"):
        Faults(requests_per_second=0)
    with pytest.raises(ValueError, match="max_in_progress must be positive"):
        Faults(max_in_progress=0)
    with pytest.raises(ValueError, match="burst must be positive"):
        Faults(burst=0)


async def test_the_bucket_answers_429_with_the_retry_after_it_implies(
    anyio_backend: str,
) -> None:
    app = create_app(entries=3)
    sandbox_state(app).faults = Faults(requests_per_second=0.4, burst=2)
    async with _client(app) as client:
        statuses = [(await client.get("instruments/synthesis/")).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        refused = await client.get("instruments/synthesis/")
        check_error(refused, 429)
        assert refused.headers["retry-after"] == "3", "1 token at 0.4/s: 2.5 s, rounded up"
    app = create_app(entries=3, api_key=None)
    sandbox_state(app).faults = Faults(requests_per_second=0.4, burst=1)
    async with _client(app, {"X-API-KEY": "a"}) as a, _client(app, {"X-API-KEY": "b"}) as b:
        assert (await a.get("instruments/synthesis/")).status_code == 200
        assert (await b.get("instruments/synthesis/")).status_code == 200, "a bucket per key"
        assert (await a.get("instruments/synthesis/")).status_code == 429
    stats = sandbox_state(app).stats
    assert stats.statuses == {200: 2, 429: 1}
    assert stats.first_request_at is not None
    assert stats.last_success_at is not None
    assert stats.last_success_at >= stats.first_request_at


async def test_over_capacity_is_503_at_once(anyio_backend: str) -> None:
    app = create_app(entries=3)
    sandbox_state(app).faults = Faults(max_in_progress=2, latency_ms=300)
    statuses: list[int] = []
    async with _client(app) as client:

        async def one() -> None:
            response = await client.get("instruments/synthesis/")
            if response.status_code == 503:
                check_error(response, 503)
                assert anyio.current_time() - started < 0.25, "refused before the latency"
            statuses.append(response.status_code)

        started = anyio.current_time()
        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(one)
        assert sorted(statuses) == [200, 200, 503, 503, 503]
        assert (await client.get("instruments/synthesis/")).status_code == 200, "room again"


def test_limits_reach_a_server_process() -> None:
    with SandboxServer(entries=3, process=True) as server:
        server.faults = Faults(requests_per_second=0.5, burst=1)
        with httpx.Client(base_url=server.base_url, headers=KEY) as client:
            first = client.get("instruments/synthesis/")
            second = client.get("instruments/synthesis/")
        assert (first.status_code, second.status_code) == (200, 429)
        assert second.headers["retry-after"] == "2"
        stats = server.stats()
        assert stats.statuses == {200: 1, 429: 1}
        assert stats.last_success_at is not None
