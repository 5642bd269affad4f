"""What the request loop logs: INFO for a rate-limit pause and each retry, DEBUG per attempt."""

from __future__ import annotations

import logging

import anyio
import httpx
import pytest
import respx

from atomscale_async import AsyncClient

from .conftest import API_KEY, BASE_URL, ClientFactory

pytestmark = pytest.mark.anyio


def _lines(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == "atomscale_async" and r.levelno == level
    ]


async def test_a_rate_limit_pause_is_one_line_when_it_begins_and_one_when_it_ends(
    router: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="atomscale_async")
    arrived = 0
    all_in = anyio.Event()

    async def answer(request: httpx.Request) -> httpx.Response:
        nonlocal arrived
        arrived += 1
        if arrived > 6:
            return httpx.Response(200, json=[])
        if arrived == 4:
            all_in.set()
        await all_in.wait()  # the requests in flight meet the limit together
        return httpx.Response(429, headers={"Retry-After": "0.2"}, json={"detail": "slow down"})

    router.get("instruments/synthesis/").mock(side_effect=answer)
    # The real clock: a fake one would end each pause as soon as one task waits.
    async with (
        AsyncClient(api_key=API_KEY, base_url=BASE_URL, max_concurrency=4) as client,
        anyio.create_task_group() as tg,
    ):
        for _ in range(20):
            tg.start_soon(client._request, "GET", "instruments/synthesis/")
    assert arrived == 26
    every = _lines(caplog, logging.INFO)
    assert sum("answered 429" in line for line in every) == 6, "each 429 says so"
    lines = [line for line in every if line.startswith("rate limit:")]
    paused = [line for line in lines if line.startswith("rate limit: paused for 0.2 s")]
    assert paused, lines
    assert len(lines) <= 2 * len(paused) + 2, "lines at changes of state, not per request"
    assert not lines[-1].startswith("rate limit: paused"), "the end of a pause is a line too"
    assert not any(line.startswith("retrying") for line in every), "a 429 waited is no retry"


async def test_each_retry_is_one_line_naming_the_request_and_what_failed(
    router: respx.MockRouter, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="atomscale_async")
    router.get("oes/abc").mock(
        side_effect=[
            httpx.Response(503),
            httpx.ConnectError("connection refused"),
            httpx.Response(200, json=[]),
        ]
    )
    async with make_client(max_retries=2) as client:
        await client._request("GET", "oes/abc")
    assert _lines(caplog, logging.INFO) == [
        "retrying GET /oes/abc in 0.50 s (retry 1 of 2): 503 Service Unavailable",
        "retrying GET /oes/abc in 1.00 s (retry 2 of 2): APIConnectionError: could not "
        "connect (connection refused); check the base URL and network",
    ]
    debug = _lines(caplog, logging.DEBUG)
    assert len(debug) == 3, "one line per attempt"
    assert debug[0].startswith("GET /oes/abc -> 503 in ")
    assert debug[2].endswith("(attempt 3)")
    assert all(API_KEY not in r.getMessage() for r in caplog.records)


async def test_a_success_logs_nothing_at_info(
    router: respx.MockRouter, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="atomscale_async")
    router.get("oes/abc").respond(200, json=[])
    async with make_client() as client:
        for _ in range(5):
            await client._request("GET", "oes/abc")
    assert _lines(caplog, logging.INFO) == []


async def test_atomscale_log_info_prints_retries_without_the_key(
    router: respx.MockRouter,
    make_client: ClientFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    logger = logging.getLogger("atomscale_async")
    handlers, level = list(logger.handlers), logger.level
    monkeypatch.setenv("ATOMSCALE_LOG", "info")
    router.get("oes/abc").mock(side_effect=[httpx.Response(500), httpx.Response(200, json=[])])
    try:
        async with make_client() as client:
            assert isinstance(client, AsyncClient)
            await client._request("GET", "oes/abc")
    finally:
        for handler in logger.handlers[len(handlers) :]:
            logger.removeHandler(handler)
        logger.setLevel(level)
    err = capsys.readouterr().err
    assert "atomscale_async INFO retrying GET /oes/abc in 0.50 s (retry 1 of 2): 500" in err
    assert API_KEY not in err
