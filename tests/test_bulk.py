"""Bulk fetch: order, catalogue chunks, the bound, partial failure, refusals, cancellation."""

from __future__ import annotations

import contextlib
import inspect
import logging
import re
import warnings
from collections.abc import AsyncGenerator, Callable

import anyio
import httpx
import pytest
import respx

from atomscale_async import (
    APIConnectionError,
    APITimeoutError,
    AsyncClient,
    BulkFetchError,
    Client,
    InternalServerError,
    NotFoundError,
    OESResult,
    Outcome,
    RateLimitState,
    Result,
    SIMSResult,
    UnknownDataTypeWarning,
    UnknownResult,
)
from atomscale_async._limiter import Answer, Ticket

from .conftest import API_KEY, BASE_URL, ClientFactory, FakeClock
from .payloads import OES, SIMS_PROFILE, fresh

pytestmark = pytest.mark.anyio


def oes_for(data_id: str) -> dict[str, object]:
    return fresh(OES) | {"data_id": data_id}


def sims_for(data_id: str) -> list[dict[str, object]]:
    return [fresh(SIMS_PROFILE) | {"data_id": data_id}]


class FakeAPI:
    """A catalogue plus SIMS/OES endpoints, recording what the server saw."""

    def __init__(self, router: respx.MockRouter, kinds: dict[str, str], delay: float = 0.0) -> None:
        self.kinds = kinds
        self.delay = delay
        self.catalogue_requests: list[list[str]] = []
        self.fetched: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.fail: dict[str, httpx.Response] = {}
        self.slow: set[str] = set()  # ids whose answer takes a minute
        self.catalogue_delay = 0.0
        router.get("data_entries/").mock(side_effect=self.catalogue)
        router.get(url__regex=r"/(sims|oes)/.+").mock(side_effect=self.result)

    async def catalogue(self, request: httpx.Request) -> httpx.Response:
        ids = request.url.params.get_list("data_ids")
        self.catalogue_requests.append(ids)
        await anyio.sleep(self.catalogue_delay)
        entries = [
            {"data_id": i, "char_source_type": self.kinds[i], "collected_datetime": None}
            for i in ids
            if i in self.kinds
        ]
        return httpx.Response(200, json=entries)

    async def result(self, request: httpx.Request) -> httpx.Response:
        kind, data_id = request.url.path.strip("/").split("/")
        self.fetched.append(data_id)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await anyio.sleep(60 if data_id in self.slow else self.delay)
        finally:
            self.in_flight -= 1
        if data_id in self.fail:
            return self.fail[data_id]
        if self.kinds.get(data_id) != kind:
            return httpx.Response(404, json={"detail": "not found"})
        return httpx.Response(200, json=oes_for(data_id) if kind == "oes" else sims_for(data_id))


def kinds_of(n: int) -> dict[str, str]:
    return {f"id-{i:05d}": ("oes" if i % 2 else "sims") for i in range(n)}


async def test_results_come_back_in_order_and_typed(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    kinds = kinds_of(10)
    api = FakeAPI(router, kinds)
    ids = list(reversed(kinds))
    async with make_client() as client:
        results = await client.get(data_ids=ids)
    assert [r.data_id for r in results] == ids
    for data_id, result in zip(ids, results, strict=True):
        assert isinstance(result, OESResult if kinds[data_id] == "oes" else SIMSResult)
    assert sorted(api.fetched) == sorted(ids)


async def test_a_single_id_gives_a_list_of_one(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    FakeAPI(router, {"abc": "sims"})
    async with make_client() as client:
        results = await client.get(data_ids="abc")
    assert len(results) == 1
    assert isinstance(results[0], SIMSResult)
    assert results[0].depth_profiles[0].species_name == "Si"


async def test_catalogue_is_asked_at_most_100_ids_a_request(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    kinds = kinds_of(250)
    api = FakeAPI(router, kinds)
    async with make_client() as client:
        await client.get(list(kinds))
    assert sorted(len(chunk) for chunk in api.catalogue_requests) == [50, 100, 100]
    assert sorted(i for chunk in api.catalogue_requests for i in chunk) == sorted(kinds)


async def test_data_type_skips_the_catalogue(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    kinds = {f"o{i}": "oes" for i in range(5)}
    api = FakeAPI(router, kinds)
    async with make_client() as client:
        results = await client.get(list(kinds), data_type="oes")
    assert api.catalogue_requests == []
    assert all(isinstance(r, OESResult) for r in results)


async def test_concurrency_never_exceeds_the_client_limit(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    kinds = kinds_of(60)
    api = FakeAPI(router, kinds, delay=0.01)
    # two bulk calls and single calls at once share the one limit
    async with make_client(max_concurrency=5) as client, anyio.create_task_group() as tg:
        tg.start_soon(client.get, list(kinds)[:30])
        tg.start_soon(client.get, list(kinds)[30:])
        for data_id in list(kinds)[:5]:
            tg.start_soon(client.oes.get if kinds[data_id] == "oes" else client.sims.get, data_id)
    assert api.max_in_flight == 5


async def test_per_call_concurrency_narrows_the_limit(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    kinds = kinds_of(20)
    # Long enough that the tenth request starts before the first ends, even when loaded.
    api = FakeAPI(router, kinds, delay=0.05)
    async with make_client(max_concurrency=10) as client:
        await client.get(list(kinds), concurrency=3)
        assert api.max_in_flight == 3
        await client.get(list(kinds), concurrency=50)  # cannot widen it
    assert api.max_in_flight == 10


async def test_partial_failure_raises_with_every_result_and_error(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    kinds = kinds_of(8)
    api = FakeAPI(router, kinds)
    api.fail["id-00003"] = httpx.Response(500, json={"detail": "boom"})
    ids = [*kinds, "missing"]
    async with make_client(max_retries=0) as client:
        with pytest.raises(BulkFetchError) as info:
            await client.get(ids)
    error = info.value
    assert set(error.results) == set(kinds) - {"id-00003"}
    assert set(error.errors) == {"id-00003", "missing"}
    assert isinstance(error.errors["id-00003"], InternalServerError)
    assert isinstance(error.errors["missing"], NotFoundError)
    assert "2 of 9 data ids failed" in str(error)
    assert sorted(set(api.fetched)) == sorted(kinds), "every known id was attempted"


async def test_errors_return_puts_exceptions_in_place(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    kinds = kinds_of(4)
    api = FakeAPI(router, kinds)
    api.fail["id-00001"] = httpx.Response(404, json={"detail": "gone"})
    async with make_client() as client:
        results = await client.get([*kinds, "nope"], errors="return")
    assert isinstance(results[0], SIMSResult)
    assert isinstance(results[1], NotFoundError)
    assert isinstance(results[4], NotFoundError)
    assert "not in the catalogue" in str(results[4])


async def test_a_failed_catalogue_chunk_fails_only_its_ids(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    kinds = kinds_of(150)
    api = FakeAPI(router, kinds)
    original = api.catalogue

    async def flaky(request: httpx.Request) -> httpx.Response:
        if "id-00000" in request.url.params.get_list("data_ids"):
            return httpx.Response(503)
        return await original(request)

    router.get("data_entries/").mock(side_effect=flaky)
    async with make_client(max_retries=0) as client:
        results = await client.get(list(kinds), errors="return")
    failed = [r for r in results if isinstance(r, Exception)]
    assert len(failed) == 100
    assert all(isinstance(r, InternalServerError) for r in failed)
    assert sum(isinstance(r, OESResult | SIMSResult) for r in results) == 50


async def test_unknown_kinds_warn_once_per_kind(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    kinds = {"x1": "rheed_image", "x2": "rheed_image", "r1": "timeseries", "o1": "oes"}
    api = FakeAPI(router, kinds)
    async with make_client() as client:
        with pytest.warns(UnknownDataTypeWarning) as record:
            results = await client.get(list(kinds))
    assert sorted(str(w.message).split("'")[1] for w in record) == ["rheed_image", "timeseries"]
    assert "may be out of date" in str(record[0].message) or "Upgrade" in str(record[0].message)
    unknown = results[0]
    assert isinstance(unknown, UnknownResult)
    assert unknown.data_type == "rheed_image"
    assert unknown.catalogue_entry.data_id == "x1"
    assert isinstance(results[3], OESResult)
    assert api.fetched == ["o1"], "unknown kinds are not fetched"


async def test_unknown_kind_under_w_error_does_not_abort(
    router: respx.MockRouter, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    FakeAPI(router, {"x1": "rheed_image", "o1": "oes"})
    async with make_client() as client:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            results = await client.get(["x1", "o1"])
    assert isinstance(results[0], UnknownResult)
    assert isinstance(results[1], OESResult)
    assert any(
        "'rheed_image' is not known" in r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING
    )


async def test_duplicates_are_fetched_once(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    api = FakeAPI(router, {"a": "oes", "b": "sims"})
    calls: list[tuple[int, int]] = []
    async with make_client() as client:
        results = await client.get(
            ["a", "b", "a", "a"], on_progress=lambda d, t: calls.append((d, t))
        )
    assert sorted(api.fetched) == ["a", "b"]
    assert results[0] is results[2] is results[3]
    assert calls == [(1, 2), (2, 2)]


async def test_progress_callback_counts_failures_too(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    FakeAPI(router, kinds_of(5))
    calls: list[tuple[int, int]] = []
    async with make_client() as client:
        await client.get(
            [*kinds_of(5), "missing"],
            errors="return",
            on_progress=lambda d, t: calls.append((d, t)),
        )
    assert calls == [(i, 6) for i in range(1, 7)]


async def test_iter_results_yields_one_outcome_per_distinct_id(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    kinds = kinds_of(30)
    api = FakeAPI(router, kinds)
    api.fail["id-00007"] = httpx.Response(404)
    outcomes: list[Outcome[Result]] = []
    async with make_client() as client:
        async for outcome in client.iter_results([*kinds, *kinds, "missing"]):
            outcomes.append(outcome)
    assert sorted(o.data_id for o in outcomes) == sorted([*kinds, "missing"])
    bad = {o.data_id for o in outcomes if not o.ok}
    assert bad == {"id-00007", "missing"}
    for outcome in outcomes:
        assert (outcome.result is None) != (outcome.error is None)


async def test_iter_results_stops_cleanly_when_closed_early(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    kinds = kinds_of(200)
    FakeAPI(router, kinds, delay=0.01)
    async with make_client(max_concurrency=8) as client:
        seen = 0
        async with contextlib.aclosing(client.iter_results(list(kinds), data_type="oes")) as stream:
            async for _ in stream:
                seen += 1
                if seen == 5:
                    break
        assert client._state.limiter.in_flight == 0
        assert isinstance(await client.oes.get("id-00001"), OESResult)


@pytest.mark.parametrize("how", ["cancel_scope", "wait_for"])
async def test_cancellation_is_prompt_and_the_client_stays_usable(
    router: respx.MockRouter, make_client: ClientFactory, how: str, anyio_backend: str
) -> None:
    if how == "wait_for" and anyio_backend != "asyncio":
        pytest.skip("asyncio.wait_for is asyncio's")
    kinds = kinds_of(100)
    api = FakeAPI(router, kinds, delay=30)
    async with make_client(max_concurrency=16) as client:
        started = anyio.current_time()
        if how == "cancel_scope":
            with anyio.move_on_after(0.3):
                await client.get(list(kinds))
        else:
            import asyncio

            with pytest.raises(TimeoutError):
                await asyncio.wait_for(client.get(list(kinds)), 0.3)
        assert anyio.current_time() - started < 3
        assert api.in_flight == 0, "no request left running"
        assert client._state.limiter.in_flight == 0, "nothing checked out"
        api.delay = 0
        assert len(await client.get(list(kinds)[:10])) == 10


class LimitedAPI:
    """OES results behind scripted refusals, recording each request's start and answer."""

    def __init__(self, router: respx.MockRouter, clock: FakeClock) -> None:
        self.clock = clock
        self.refuse: dict[str, list[httpx.Response]] = {}  # id -> answers before a 200
        self.capacity: int | None = None  # at most this many in progress, else 503
        self.requests: list[tuple[float, str, int]] = []  # (clock time, id, status)
        self.in_progress = 0
        self.max_in_progress = 0
        router.get(url__regex=r"/oes/.+").mock(side_effect=self.answer)

    async def answer(self, request: httpx.Request) -> httpx.Response:
        data_id = request.url.path.rsplit("/", 1)[1]
        started = self.clock.now
        if self.capacity is not None and self.in_progress >= self.capacity:
            self.requests.append((started, data_id, 503))
            return httpx.Response(503, json={"detail": "at capacity"})
        self.in_progress += 1
        self.max_in_progress = max(self.max_in_progress, self.in_progress)
        try:
            await anyio.sleep(0.002)
        finally:
            self.in_progress -= 1
        queue = self.refuse.get(data_id)
        response = queue.pop(0) if queue else httpx.Response(200, json=oes_for(data_id))
        self.requests.append((started, data_id, response.status_code))
        return response

    def successes(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _, data_id, status in self.requests:
            if status == 200:
                counts[data_id] = counts.get(data_id, 0) + 1
        return counts

    def starts(self, data_id: str) -> list[float]:
        return [t for t, i, _ in self.requests if i == data_id]


def limited(retry_after: float) -> httpx.Response:
    return httpx.Response(429, headers={"Retry-After": f"{retry_after:g}"})


async def test_a_refused_id_waits_its_retry_after_without_holding_a_worker(
    router: respx.MockRouter, make_client: ClientFactory, clock: FakeClock
) -> None:
    api = LimitedAPI(router, clock)
    ids = [f"o{i:03d}" for i in range(10)]
    api.refuse["o002"] = [limited(30), limited(30)]
    async with make_client(max_concurrency=4, max_retries=0) as client:
        results = await client.get(ids, data_type="oes", concurrency=1)
        assert client.rate_limit_state.state == "normal", "two sparse 429s change nothing"
    assert [r.data_id for r in results] == ids
    assert api.successes() == dict.fromkeys(ids, 1), "exactly one 2xx per id"
    first, second, third = api.starts("o002")
    assert second >= first + 30, "never re-sent before its Retry-After"
    assert third >= second + 30
    order = [i for _, i, _ in api.requests]
    assert order.index("o003") < order.index("o002", order.index("o002") + 1), (
        "with one worker, the next id went out while o002 waited"
    )
    assert api.max_in_progress == 1, "the call's concurrency=1 holds for resumed ids too"


async def test_429s_without_retry_after_lose_no_id_and_use_up_no_retry(
    router: respx.MockRouter, make_client: ClientFactory, clock: FakeClock
) -> None:
    api = LimitedAPI(router, clock)
    ids = [f"o{i:03d}" for i in range(12)]
    for data_id in ids[:8]:
        api.refuse[data_id] = [httpx.Response(429)] * 5
    async with make_client(max_concurrency=4, max_retries=1) as client:
        with anyio.fail_after(10):
            results = await client.get(ids, data_type="oes")
    assert [r.data_id for r in results] == ids
    assert api.successes() == dict.fromkeys(ids, 1), "exactly one 2xx per id"
    assert len(api.starts("o000")) == 6


async def test_a_resumed_id_keeps_count_of_its_retries(
    router: respx.MockRouter, make_client: ClientFactory, clock: FakeClock
) -> None:
    api = LimitedAPI(router, clock)
    ids = [f"o{i:03d}" for i in range(6)]
    api.refuse["o001"] = [httpx.Response(500)] * 10
    api.refuse["o002"] = [limited(1), httpx.Response(500), limited(1), httpx.Response(500)]
    async with make_client(max_retries=2) as client:
        with anyio.fail_after(10):
            results = await client.get(ids, data_type="oes", errors="return")
    assert isinstance(results[1], InternalServerError)
    assert len(api.starts("o001")) == 3, "the first attempt and max_retries=2 retries"
    assert isinstance(results[2], OESResult), "the 429s used up no retry"
    assert len(api.starts("o002")) == 5


async def test_mostly_429_pauses_the_client_until_the_latest_retry_after(
    router: respx.MockRouter,
    make_client: ClientFactory,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.INFO, logger="atomscale_async")
    api = LimitedAPI(router, clock)
    ids = [f"o{i:03d}" for i in range(40)]
    for n, data_id in enumerate(ids[:12]):
        api.refuse[data_id] = [limited(10 + n)]
    async with make_client(max_concurrency=4) as client:
        limiter = client._state.limiter
        sent: list[float] = []
        pauses: list[tuple[float, float]] = []  # (when it began, until when)
        refused_until: list[float] = []
        latest: list[float] = []
        acquire, release = limiter.acquire, limiter.release

        async def recorded_acquire() -> Ticket:
            ticket = await acquire()
            sent.append(ticket.sent_at)
            return ticket

        def recorded_release(ticket: Ticket, answer: Answer, retry_after: float | None) -> None:
            before = limiter.paused_until
            if answer is Answer.RATE_LIMITED:
                assert retry_after is not None
                refused_until.append(clock.now + retry_after)
            release(ticket, answer, retry_after)
            if limiter.paused_until != before:
                pauses.append((clock.now, limiter.paused_until))
                latest.append(max(refused_until))

        monkeypatch.setattr(limiter, "acquire", recorded_acquire)
        monkeypatch.setattr(limiter, "release", recorded_release)
        results = await client.get(ids, data_type="oes")
    assert len(results) == 40
    assert api.successes() == dict.fromkeys(ids, 1)
    assert pauses, "more than half of the last 2 x width answers were 429"
    began, until = pauses[0]
    assert until == latest[0], "until the latest Retry-After among them"
    assert until - began >= 10
    assert not [t for t in sent if began < t < until], "no request started during the pause"
    assert any(m.startswith("rate limit: paused for") for m in caplog.messages)
    for data_id in ids[:12]:
        first, second = api.starts(data_id)
        assert second >= first + 10 + ids.index(data_id)


async def test_a_full_server_narrows_the_width_and_loses_no_id(
    router: respx.MockRouter, make_client: ClientFactory, clock: FakeClock
) -> None:
    api = LimitedAPI(router, clock)
    api.capacity = 4
    ids = [f"o{i:03d}" for i in range(300)]
    async with make_client(max_concurrency=16) as client:
        results = await client.get(ids, data_type="oes")
        state = client.rate_limit_state
    assert [r.data_id for r in results] == ids
    assert api.successes() == dict.fromkeys(ids, 1)
    assert state.state == "backing_off"
    assert state.ceiling == 16
    assert 4 <= state.width <= 6, "the width found the server's capacity"
    refused = sum(status == 503 for _, _, status in api.requests)
    assert refused < 0.25 * len(api.requests)


class RecordingBar:
    """Stands in for tqdm: records the postfixes shown."""

    def __init__(self, total: int, initial: int = 0) -> None:
        self.postfixes: list[str] = []
        bars.append(self)

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        self.postfixes.append(text)

    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


bars: list[RecordingBar] = []


async def test_the_progress_bar_shows_the_rate_limit_state(
    router: respx.MockRouter,
    make_client: ClientFactory,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from atomscale_async import _bulk

    monkeypatch.setattr(_bulk, "_progress_bar", RecordingBar)
    bars.clear()
    api = LimitedAPI(router, clock)
    api.capacity = 4
    async with make_client(max_concurrency=16) as client:
        await client.get([f"o{i:03d}" for i in range(100)], data_type="oes", progress=True)
    (bar,) = bars
    assert bar.postfixes[0] in ("normal", "backing off, width 4/16")
    assert any(p.startswith("backing off, width ") and p.endswith("/16") for p in bar.postfixes)


def test_sync_client_shows_its_rate_limit_state() -> None:
    with Client(API_KEY, base_url=BASE_URL, max_concurrency=8) as client:
        assert client.rate_limit_state == RateLimitState(width=8, ceiling=8, state="normal")


async def test_bad_arguments_are_rejected(make_client: ClientFactory) -> None:
    async with make_client() as client:
        with pytest.raises(ValueError, match="data_type must be one of"):
            await client.get(["a"], data_type="rheed_image")
        with pytest.raises(ValueError, match="errors must be"):
            await client.get(["a"], errors="ignore")  # type: ignore[call-overload]
        with pytest.raises(ValueError, match="concurrency must be"):
            await client.get(["a"], concurrency=0)
        with pytest.raises(TypeError, match=r"data_ids\[1\] must be a str"):
            await client.get(["a", 3])  # type: ignore[list-item]
        assert await client.get([]) == []


def sync_client() -> Client:
    return Client(API_KEY, base_url=BASE_URL)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
def test_sync_get_and_iterator(router: respx.MockRouter, anyio_backend: str) -> None:
    kinds = kinds_of(40)
    FakeAPI(router, kinds)
    with sync_client() as client:
        results = client.get(list(kinds))
        assert [r.data_id for r in results] == list(kinds)
        outcomes = list(client.iter_results([*kinds, "missing"]))
        assert sorted(o.data_id for o in outcomes) == sorted([*kinds, "missing"])
        assert [o.data_id for o in outcomes if not o.ok] == ["missing"]
        with pytest.raises(BulkFetchError):
            client.get(["missing"])


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
def test_sync_iterator_closed_early_cancels_the_fetch(
    router: respx.MockRouter, anyio_backend: str
) -> None:
    kinds = kinds_of(300)
    api = FakeAPI(router, kinds, delay=0.02)
    with sync_client() as client:
        stream = client.iter_results(list(kinds), data_type="oes")
        first = next(stream)
        assert first.data_id in kinds
        stream.close()
        wait_until(lambda: api.in_flight == 0)
        assert client._async._state.limiter.in_flight == 0
        assert client.oes.get("id-00001").data_id == "id-00001"


def wait_until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
def test_sync_progress_callback_runs_on_the_loop_thread(
    router: respx.MockRouter, anyio_backend: str
) -> None:
    import threading

    FakeAPI(router, kinds_of(3))
    threads: set[str] = set()
    with sync_client() as client:
        client.get(
            list(kinds_of(3)), on_progress=lambda d, t: threads.add(threading.current_thread().name)
        )
    assert threads == {"atomscale-async-loop"}


async def test_bulk_against_the_sandbox_server() -> None:
    from atomscale_async.sandbox import SandboxServer

    with SandboxServer(entries=120, latency_ms=1) as server:
        async with AsyncClient(
            server.api_key, base_url=server.base_url, max_concurrency=8
        ) as client:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UnknownDataTypeWarning)
                results = await client.get(server.data_ids, errors="return")
    assert len(results) == 120
    assert not [r for r in results if isinstance(r, Exception)]
    assert {type(r) for r in results} >= {OESResult, SIMSResult}


async def test_unknown_result_converts_to_plain_data(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    FakeAPI(router, {"x1": "rheed_image"})
    async with make_client() as client:
        with pytest.warns(UnknownDataTypeWarning):
            (unknown,) = await client.get(["x1"])
    assert isinstance(unknown, UnknownResult)
    plain = unknown.to_dict()
    assert plain["data_id"] == "x1"
    assert plain["data_type"] == "rheed_image"
    assert plain["catalogue_entry"]["data_id"] == "x1"
    assert plain["catalogue_entry"]["char_source_type"] == "rheed_image"
    assert plain["catalogue_entry"]["collected_datetime"] is None


@pytest.mark.parametrize("api", ["get", "iter_results"])
async def test_a_bug_is_not_swallowed_as_a_per_id_failure(
    router: respx.MockRouter, make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch, api: str
) -> None:
    FakeAPI(router, {"o1": "oes"})

    async def broken(data_id: str) -> OESResult:
        raise RuntimeError("a bug")

    async def drain() -> None:
        if api == "get":
            await client.get(["o1"], errors="return")
        else:
            async for _ in client.iter_results(["o1"], data_type="oes"):
                pass

    async with make_client() as client:
        monkeypatch.setattr(client.oes, "get", broken)
        with pytest.raises(RuntimeError, match="a bug") as info:
            await drain()
    assert not isinstance(info.value, BaseExceptionGroup), "the bug itself, not a group"


async def test_a_real_server_never_sees_more_than_max_concurrency(
    make_client: ClientFactory,
) -> None:
    from .servers import SocketServer

    with SocketServer("ok", body=b"[]", delay=0.02) as server:
        async with make_client(base_url=server.base_url, max_concurrency=6) as client:
            results = await client.get([f"s{i}" for i in range(60)], data_type="sims")
    assert len(results) == 60
    assert server.requests == 60
    assert server.max_in_flight == 6


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
def test_ctrl_c_stops_a_sync_bulk_fetch(router: respx.MockRouter, anyio_backend: str) -> None:
    import _thread
    import threading
    import time

    kinds = kinds_of(200)
    api = FakeAPI(router, kinds, delay=30)
    with sync_client() as client:

        def interrupt() -> None:
            while api.in_flight < client.max_concurrency:
                time.sleep(0.01)
            _thread.interrupt_main()

        threading.Thread(target=interrupt, daemon=True).start()
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            client.get(list(kinds))
        assert time.monotonic() - started < 10
        wait_until(lambda: api.in_flight == 0)
        api.delay = 0
        assert client.oes.get("id-00001").data_id == "id-00001", "the client stays usable"


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # trio asks for aclosing, and warns
async def test_breaking_out_of_iter_results_is_safe_without_aclosing(
    router: respx.MockRouter, make_client: ClientFactory, anyio_backend: str
) -> None:
    import gc

    kinds = kinds_of(300)
    api = FakeAPI(router, kinds, delay=0.01)
    async with make_client(max_concurrency=8) as client:
        seen = 0
        async for _ in client.iter_results(list(kinds), data_type="oes"):
            seen += 1
            if seen == 3:
                break  # the generator is closed later, from elsewhere
        gc.collect()
        with anyio.fail_after(5):
            while api.in_flight:  # noqa: ASYNC110 - polls the fake server's counter
                await anyio.sleep(0.01)
        await anyio.sleep(0.05)  # this task is not cancelled by the cleanup
        assert client._state.limiter.in_flight == 0
        assert isinstance(await client.oes.get("id-00001"), OESResult)


async def test_cancelling_the_consumer_stops_iter_results(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    kinds = kinds_of(100)
    api = FakeAPI(router, kinds, delay=30)
    async with make_client(max_concurrency=8) as client:
        with anyio.move_on_after(0.3):
            async with contextlib.aclosing(client.iter_results(list(kinds), data_type="oes")) as s:
                async for _ in s:
                    pass
        assert api.in_flight == 0
        assert client._state.limiter.in_flight == 0


@pytest.mark.parametrize("errors", ["raise", "return"])
async def test_total_timeout_of_a_get_bounds_the_whole_call_and_keeps_what_was_fetched(
    router: respx.MockRouter, make_client: ClientFactory, errors: str
) -> None:
    kinds = kinds_of(60)
    api = FakeAPI(router, kinds)
    slow = {"id-00007", "id-00030", "id-00059"}
    api.slow = slow
    async with make_client(max_concurrency=8) as client:
        started = anyio.current_time()
        if errors == "raise":
            with pytest.raises(BulkFetchError) as info:
                await client.get(list(kinds), total_timeout=0.5)
            failed, results = info.value.errors, info.value.results
        else:
            returned = await client.get(list(kinds), errors="return", total_timeout=0.5)
            pairs = list(zip(kinds, returned, strict=True))
            failed = {i: r for i, r in pairs if isinstance(r, Exception)}
            results = {i: r for i, r in pairs if i not in failed}
        assert anyio.current_time() - started < 10
        assert set(failed) == slow
        for data_id, error in failed.items():
            assert isinstance(error, APITimeoutError)
            assert "total_timeout of 0.5 s" in str(error)
            assert error.url.endswith(f"/{kinds[data_id]}/{data_id}")
        assert set(results) == set(kinds) - slow
        assert all(isinstance(r, OESResult | SIMSResult) for r in results.values())
        assert api.in_flight == 0, "what was in flight is cancelled"
        assert client._state.limiter.in_flight == 0


async def test_total_timeout_times_out_ids_still_waiting_for_the_catalogue(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    kinds = kinds_of(5)
    api = FakeAPI(router, kinds)
    api.catalogue_delay = 60
    async with make_client() as client:
        results = await client.get(list(kinds), errors="return", total_timeout=0.3)
    for result in results:
        assert isinstance(result, APITimeoutError)
        assert result.url.endswith("/data_entries/")
    assert api.fetched == []


async def test_the_clients_total_timeout_bounds_each_request_not_the_bulk_call(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    kinds = {f"o{i}": "oes" for i in range(20)}
    FakeAPI(router, kinds, delay=0.02)
    # one request at a time: the call takes >= 0.4 s, each request 0.02 s
    async with make_client(max_concurrency=1, total_timeout=0.2) as client:
        results = await client.get(list(kinds), data_type="oes")
        assert len(results) == 20
        slow = client.with_options(total_timeout=0.2)
        assert len(await slow.get(list(kinds), data_type="oes")) == 20


async def test_total_timeout_of_iter_results_counts_the_consumers_time(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    kinds = {f"o{i}": "oes" for i in range(10)}
    api = FakeAPI(router, kinds)
    outcomes: list[Outcome[Result]] = []
    async with make_client(max_concurrency=4) as client:
        stream = client.iter_results(list(kinds), data_type="oes", total_timeout=0.5)
        async with contextlib.aclosing(stream):
            async for outcome in stream:
                outcomes.append(outcome)
                if len(outcomes) == 1:
                    await anyio.sleep(1.5)  # a slow consumer, past the deadline
        assert api.in_flight == 0
        assert client._state.limiter.in_flight == 0
    assert sorted(o.data_id for o in outcomes) == sorted(kinds)
    ok = [o for o in outcomes if o.ok]
    timed_out = [o for o in outcomes if not o.ok]
    assert all(isinstance(o.error, APITimeoutError) for o in timed_out)
    # While the consumer slept, 4 outcomes filled the buffer and 4 workers held
    # one each: all 9 fetched are delivered; only the one never started times out.
    assert (len(ok), len(timed_out)) == (9, 1)


async def test_total_timeout_of_iter_results_cancels_what_is_in_flight(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    kinds = kinds_of(30)
    api = FakeAPI(router, kinds)
    api.slow = {"id-00003", "id-00004"}
    async with make_client(max_concurrency=8) as client:
        outcomes = [o async for o in client.iter_results(list(kinds), total_timeout=0.5)]
        assert api.in_flight == 0
    assert {o.data_id for o in outcomes if not o.ok} == api.slow
    assert all(isinstance(o.error, APITimeoutError) for o in outcomes if not o.ok)
    assert len(outcomes) == 30


@pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf"), True, "1"])
async def test_a_bad_total_timeout_is_rejected(make_client: ClientFactory, value: object) -> None:
    async with make_client() as client:
        with pytest.raises(ValueError, match="total_timeout must be a positive number"):
            await client.get(["a"], total_timeout=value)  # type: ignore[call-overload]
        with pytest.raises(ValueError, match="total_timeout must be a positive number"):
            client.iter_results(["a"], total_timeout=value)  # type: ignore[call-overload]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
def test_sync_total_timeout_bounds_a_bulk_call(
    router: respx.MockRouter, anyio_backend: str
) -> None:
    kinds = kinds_of(20)
    api = FakeAPI(router, kinds)
    api.slow = {"id-00002"}
    with sync_client() as client:
        results = client.get(list(kinds), errors="return", total_timeout=0.5)
        assert isinstance(results[2], APITimeoutError)
        assert sum(isinstance(r, OESResult | SIMSResult) for r in results) == 19
        outcomes = list(client.iter_results(list(kinds), total_timeout=0.5))
        assert [o.data_id for o in outcomes if not o.ok] == ["id-00002"]
        wait_until(lambda: api.in_flight == 0)


def this_line() -> int:
    """The line of the caller of this function."""
    frame = inspect.currentframe()
    assert frame is not None
    assert frame.f_back is not None
    return frame.f_back.f_lineno


async def drain(stream: AsyncGenerator[Outcome[Result], None]) -> list[Outcome[Result]]:
    async with contextlib.aclosing(stream):
        return [outcome async for outcome in stream]


async def test_unknown_kind_warning_points_at_the_callers_line(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    FakeAPI(router, {"x1": "rheed_image", "o1": "oes"})
    async with make_client() as client:
        line = this_line() + 2
        with pytest.warns(UnknownDataTypeWarning) as record:
            await client.get(["x1", "o1"])
        assert (record[0].filename, record[0].lineno) == (__file__, line)
        line = this_line() + 1
        stream = client.iter_results(["x1", "o1"])
        with pytest.warns(UnknownDataTypeWarning) as record:
            await drain(stream)
        assert (record[0].filename, record[0].lineno) == (__file__, line)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
def test_sync_unknown_kind_warning_points_at_the_callers_line(
    router: respx.MockRouter, anyio_backend: str
) -> None:
    FakeAPI(router, {"x1": "rheed_image", "o1": "oes"})
    with sync_client() as client:
        line = this_line() + 2
        with pytest.warns(UnknownDataTypeWarning) as record:
            client.get(["x1", "o1"])
        assert (record[0].filename, record[0].lineno) == (__file__, line)
        line = this_line() + 1
        outcomes = client.iter_results(["x1", "o1"])
        with pytest.warns(UnknownDataTypeWarning) as record:
            list(outcomes)
        assert (record[0].filename, record[0].lineno) == (__file__, line)


def bulk_summaries(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "atomscale_async" and r.levelno == logging.INFO
    ]


async def test_a_bulk_call_logs_one_summary_line_at_info(
    router: respx.MockRouter, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="atomscale_async")
    kinds = kinds_of(6)
    api = FakeAPI(router, kinds)
    api.fail["id-00002"] = httpx.Response(404)
    async with make_client() as client:
        await client.get([*kinds, "missing", "missing"], errors="return")
        assert len(bulk_summaries(caplog)) == 1
        assert bulk_summaries(caplog)[0].startswith("get: 7 ids, 5 ok, 2 failed in ")
        await drain(client.iter_results(list(kinds)))
        assert bulk_summaries(caplog)[1].startswith("iter_results: 6 ids, 5 ok, 1 failed in ")
        api.slow = {"id-00004"}
        await client.get(list(kinds), errors="return", total_timeout=0.3)
        assert bulk_summaries(caplog)[2].startswith("get: 6 ids, 4 ok, 2 failed (1 timed out) in ")
    assert len(bulk_summaries(caplog)) == 3
    assert all(API_KEY not in r.getMessage() for r in caplog.records)


async def test_an_iteration_stopped_early_says_so_in_its_summary(
    router: respx.MockRouter, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="atomscale_async")
    kinds = kinds_of(50)
    FakeAPI(router, kinds, delay=0.01)
    async with make_client(max_concurrency=4) as client:
        stream = client.iter_results(list(kinds), data_type="oes")
        async with contextlib.aclosing(stream):
            async for _ in stream:
                break
    (summary,) = bulk_summaries(caplog)
    assert summary.startswith("iter_results: 50 ids, ")
    assert "not fetched (stopped early)" in summary


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
def test_atomscale_log_info_prints_the_bulk_summary(
    router: respx.MockRouter,
    anyio_backend: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    logger = logging.getLogger("atomscale_async")
    handlers, level = list(logger.handlers), logger.level
    monkeypatch.setenv("ATOMSCALE_LOG", "info")
    FakeAPI(router, kinds_of(3))
    try:
        with sync_client() as client:
            client.get(list(kinds_of(3)))
    finally:
        for handler in logger.handlers[len(handlers) :]:
            logger.removeHandler(handler)
        logger.setLevel(level)
    err = capsys.readouterr().err
    assert "atomscale_async INFO get: 3 ids, 3 ok, 0 failed in " in err
    assert API_KEY not in err


def malformed_exceptions() -> list[BaseException]:
    import zlib

    import aiohttp
    import h11
    from multidict import CIMultiDict, CIMultiDictProxy
    from yarl import URL

    url = URL(BASE_URL + "oes/id-00030")
    info = aiohttp.RequestInfo(
        url, "GET", CIMultiDictProxy(CIMultiDict({"X-API-KEY": API_KEY})), url
    )
    return [
        httpx.DecodingError("Error -3 while decompressing data: incorrect header check"),
        httpx.RemoteProtocolError("illegal status line: bytearray(b'HTTP/1.1 2OO OK')"),
        h11.RemoteProtocolError("Content-Length and Transfer-Encoding both set"),
        aiohttp.ClientResponseError(info, (), status=400, message="Invalid header value char"),
        aiohttp.http_exceptions.LineTooLong("a 100 KB header", "8190"),
        zlib.error("Error -3 while decompressing data"),
        ConnectionResetError(104, "Connection reset by peer"),
    ]


@pytest.mark.parametrize("exc", malformed_exceptions(), ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("data_type", ["oes", None], ids=["kind-given", "catalogue"])
async def test_one_malformed_response_fails_only_its_id(
    router: respx.MockRouter,
    make_client: ClientFactory,
    exc: BaseException,
    data_type: str | None,
) -> None:
    kinds = {f"id-{i:05d}": "oes" for i in range(60)}
    api = FakeAPI(router, kinds)
    original = api.result

    async def malformed(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/id-00030"):
            raise exc
        return await original(request)

    router.get(url__regex=r"/(sims|oes)/.+").mock(side_effect=malformed)
    async with make_client(max_retries=0) as client:
        with pytest.raises(BulkFetchError) as info:
            await client.get(list(kinds), data_type=data_type)
        outcomes = [o async for o in client.iter_results(list(kinds), data_type=data_type)]
    assert set(info.value.results) == set(kinds) - {"id-00030"}
    error = info.value.errors["id-00030"]
    assert isinstance(error, APIConnectionError)
    assert error.url == BASE_URL + "oes/id-00030"
    assert API_KEY not in str(error)
    assert API_KEY not in repr(error)
    assert error.__context__ is None
    assert error.__cause__ is None
    assert [o.data_id for o in outcomes if not o.ok] == ["id-00030"]
    assert len(outcomes) == 60


@pytest.mark.parametrize("exc", malformed_exceptions(), ids=lambda e: type(e).__name__)
async def test_one_malformed_catalogue_answer_fails_only_its_chunk(
    router: respx.MockRouter, make_client: ClientFactory, exc: BaseException
) -> None:
    kinds = kinds_of(150)
    api = FakeAPI(router, kinds)
    original = api.catalogue

    async def malformed(request: httpx.Request) -> httpx.Response:
        if "id-00000" in request.url.params.get_list("data_ids"):
            raise exc
        return await original(request)

    router.get("data_entries/").mock(side_effect=malformed)
    async with make_client(max_retries=0) as client:
        results = await client.get(list(kinds), errors="return")
    failed = [r for r in results if isinstance(r, Exception)]
    assert len(failed) == 100
    assert all(isinstance(r, APIConnectionError) for r in failed)
    assert sum(isinstance(r, OESResult | SIMSResult) for r in results) == 50


@pytest.mark.parametrize("api", ["get", "iter_results"])
async def test_an_on_progress_that_raises_propagates_its_own_exception(
    router: respx.MockRouter, make_client: ClientFactory, api: str
) -> None:
    kinds = kinds_of(40)
    FakeAPI(router, kinds)

    def on_progress(done: int, total: int) -> None:
        if done == 3:
            raise ZeroDivisionError("the caller's bug")

    async with make_client(max_concurrency=8) as client:

        async def call() -> object:
            if api == "get":
                return await client.get(list(kinds), on_progress=on_progress)
            return await drain(client.iter_results(list(kinds), on_progress=on_progress))

        with pytest.raises(ZeroDivisionError, match="the caller's bug") as info:
            await call()
        assert not isinstance(info.value, BaseExceptionGroup)
        assert client._state.limiter.in_flight == 0
        assert len(await client.get(list(kinds)[:5])) == 5, "the client stays usable"


BAD_IDS = [
    pytest.param(["a", None], TypeError, r"data_ids\[1\] must be a str", id="none"),
    pytest.param(["a", b"abc"], TypeError, r"data_ids\[1\] must be a str", id="bytes"),
    pytest.param(b"abc", TypeError, r"data_ids must be a sequence of str", id="bytes-alone"),
    pytest.param(["a", ""], ValueError, r"data_ids\[1\] must not be empty", id="empty"),
    pytest.param(["a", ".."], ValueError, r"data_ids\[1\] must not be '\.'", id="dotdot"),
    pytest.param(["a", "x\ud800"], ValueError, r"data_ids\[1\] .*lone surrogate", id="surrogate"),
    pytest.param("x\udfff", ValueError, r"data_ids .*lone surrogate", id="surrogate-alone"),
    pytest.param(["a\tb"], ValueError, r"data_ids\[0\] .*control character", id="tab"),
    pytest.param(["x" * 1_000_000], ValueError, r"data_ids\[0\] must be at most", id="1MB"),
]


@pytest.mark.parametrize(("data_ids", "error", "match"), BAD_IDS)
async def test_bad_ids_and_callbacks_are_refused_before_any_request(
    router: respx.MockRouter,
    make_client: ClientFactory,
    data_ids: object,
    error: type[Exception],
    match: str,
) -> None:
    api = FakeAPI(router, {"a": "oes"})
    async with make_client() as client:
        with pytest.raises(error, match=match) as info:
            await client.get(data_ids)  # type: ignore[call-overload]
        assert len(str(info.value)) < 300
        with pytest.raises(error, match=match):
            client.iter_results(data_ids)  # type: ignore[call-overload]
        with pytest.raises(TypeError, match="on_progress must be a callable"):
            await client.get(["a"], on_progress=42)  # type: ignore[call-overload]
        with pytest.raises(TypeError, match="on_progress must be a callable"):
            client.iter_results(["a"], on_progress="print")  # type: ignore[call-overload]
    assert api.catalogue_requests == []
    assert api.fetched == []


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
def test_sync_caller_mistakes_raise_the_original_exception(
    router: respx.MockRouter, anyio_backend: str
) -> None:
    kinds = kinds_of(20)
    api = FakeAPI(router, kinds)

    def on_progress(done: int, total: int) -> None:
        raise ZeroDivisionError("the caller's bug")

    with sync_client() as client:
        with pytest.raises(ValueError, match="lone surrogate"):
            client.get(["a\ud800"])
        with pytest.raises(ValueError, match="lone surrogate"):
            client.iter_results(["a\ud800"])
        with pytest.raises(TypeError, match="on_progress must be a callable"):
            client.get(["a"], on_progress=1)  # type: ignore[call-overload]
        assert api.fetched == []
        with pytest.raises(ZeroDivisionError):
            client.get(list(kinds), on_progress=on_progress)
        with pytest.raises(ZeroDivisionError):
            list(client.iter_results(list(kinds), on_progress=on_progress))
        assert len(client.get(list(kinds))) == 20


async def test_a_timed_out_id_names_the_url_of_its_kinds_endpoint(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    # The catalogue calls photoluminescence "pl" too; its endpoint keeps the long name.
    router.get("data_entries/").respond(
        200, json=[{"data_id": "pl/1", "char_source_type": "pl", "collected_datetime": None}]
    )
    sent: list[str] = []

    async def never_answers(request: httpx.Request) -> httpx.Response:
        sent.append(str(request.url))
        await anyio.sleep(60)
        raise AssertionError("unreachable")

    router.get(url__regex=r"/photoluminescence/.+").mock(side_effect=never_answers)
    async with make_client() as client:
        [error] = await client.get(["pl/1"], errors="return", total_timeout=0.3)
    assert isinstance(error, APITimeoutError)
    assert error.url == f"{BASE_URL}photoluminescence/pl%2F1"
    assert sent == [error.url]  # the URL the request went to


async def test_the_bulk_summary_counts_the_429s_and_the_time_they_made_it_wait(
    router: respx.MockRouter,
    make_client: ClientFactory,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="atomscale_async")
    api = LimitedAPI(router, clock)
    ids = ["o000", "o001", "o002"]
    api.refuse["o001"] = [limited(1)]
    async with make_client() as client:
        with anyio.fail_after(10):
            await client.get(ids, data_type="oes")
            await client.get(ids, data_type="oes")  # no 429 this time: no tally
    rate_limited = [m for m in bulk_summaries(caplog) if m.startswith("rate limited: ")]
    assert len(rate_limited) == 1
    summaries = [m for m in bulk_summaries(caplog) if m.startswith("get: ")]
    assert re.fullmatch(
        r"get: 3 ids, 3 ok, 0 failed in \d+\.\d\d s \(1 rate-limited, waited 1\.0 s\)",
        summaries[0],
    ), summaries
    assert re.fullmatch(r"get: 3 ids, 3 ok, 0 failed in \d+\.\d\d s", summaries[1]), summaries
