"""The adaptive limiter's policy on a fake clock: width, pace, pause, states, limits kept."""

from __future__ import annotations

import itertools
import logging
import math
import random

import anyio
import pytest

from atomscale_async._limiter import AdaptiveLimiter, Answer, RateLimitState, Ticket

from .conftest import FakeClock

pytestmark = pytest.mark.anyio


async def take(limiter: AdaptiveLimiter, n: int) -> list[Ticket]:
    tickets = []
    for _ in range(n):
        tickets.append(await limiter.acquire())
        assert limiter.in_flight <= limiter.width <= limiter.ceiling
    return tickets


@pytest.mark.parametrize("seed", range(5))
async def test_sparse_random_429s_cost_little(clock: FakeClock, seed: int) -> None:
    limiter = AdaptiveLimiter(32, clock)
    rng = random.Random(seed)
    started = clock.now
    for _ in range(3000):
        ticket = await limiter.acquire()
        clock.now += 0.001  # 1,000 requests a second when nothing holds them back
        refused = rng.random() < 0.02
        limiter.release(ticket, Answer.RATE_LIMITED if refused else Answer.OK, 1.0)
        assert limiter.snapshot().state != "paused"
        assert limiter.width == 32
    assert clock.now - started <= 1.1 * 3.0, "a pace, if any, stays near what is sent"


async def test_a_full_server_cuts_the_width_to_what_it_held(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = AdaptiveLimiter(32, clock)
    tickets = await take(limiter, 32)
    caplog.set_level(logging.INFO, logger="atomscale_async")
    for ticket in tickets[8:]:  # a server that holds 8 refuses the rest
        limiter.release(ticket, Answer.OVERLOADED)
    assert limiter.width == 8
    assert limiter.snapshot().state == "backing_off"
    assert limiter.in_flight == 8
    assert [r.message for r in caplog.records if r.levelno == logging.INFO] == [
        "rate limit: backing off: width 8 of 32"
    ]


async def test_width_grows_back_and_probes_slowly_where_it_was_refused(clock: FakeClock) -> None:
    limiter = AdaptiveLimiter(32, clock)
    tickets = await take(limiter, 32)
    for ticket in tickets[8:]:
        limiter.release(ticket, Answer.OVERLOADED)
    for ticket in tickets[:8]:
        limiter.release(ticket, Answer.OK)
    assert limiter.width == 9, "one round of answers at 8: one more"
    widths = []
    for _ in range(40 * 8):
        (ticket,) = await take(limiter, 1)
        limiter.release(ticket, Answer.OK)
        widths.append(limiter.width)
    assert widths == sorted(widths), "no refusal: the width only grows"
    assert widths[-1] > 16, "grows by one a round away from the refused width"
    # a refusal at the probe sets it back; the next probe waits eight rounds
    limiter = AdaptiveLimiter(32, clock)
    tickets = await take(limiter, 32)
    for ticket in tickets[8:]:
        limiter.release(ticket, Answer.OVERLOADED)
    for ticket in tickets[:8]:
        limiter.release(ticket, Answer.OK)
    probes = []
    refusals = answers = 0
    for _ in range(2000):
        clock.now += 0.02
        tickets = await take(limiter, limiter.width)
        for ticket in tickets:
            answers += 1
            if ticket.in_flight >= 8:  # a server that holds 8
                refusals += 1
                limiter.release(ticket, Answer.OVERLOADED)
                probes.append(answers)
            else:
                limiter.release(ticket, Answer.OK)
    assert limiter.width in (8, 9)
    assert refusals / answers < 0.03
    assert min(b - a for a, b in itertools.pairwise(probes)) >= 8 * 8


async def test_rate_refusals_pace_near_the_rate_a_token_bucket_accepts(clock: FakeClock) -> None:
    rate, burst = 200.0, 20.0
    tokens, last = burst, clock.now
    limiter = AdaptiveLimiter(32, clock)
    started = clock.now
    accepted = refused = 0
    for _ in range(5000):
        ticket = await limiter.acquire()
        clock.now += 0.0005  # each request takes a little time, even unpaced
        tokens = min(burst, tokens + (clock.now - last) * rate)
        last = clock.now
        if tokens >= 1:
            tokens -= 1
            accepted += 1
            limiter.release(ticket, Answer.OK)
        else:
            refused += 1
            limiter.release(ticket, Answer.RATE_LIMITED, math.ceil((1 - tokens) / rate))
    state = limiter.snapshot()
    assert state.state == "backing_off"
    assert state.width == 32, "a rate limit is paced, not narrowed"
    assert state.rate is not None
    assert 0.85 * rate <= state.rate <= 1.15 * rate
    assert accepted / (clock.now - started) >= 0.9 * rate
    assert refused / (accepted + refused) <= 0.05


async def test_mostly_refused_pauses_until_the_latest_retry_after(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="atomscale_async")
    limiter = AdaptiveLimiter(4, clock)
    tickets = await take(limiter, 4)
    t0 = clock.now
    limiter.release(tickets[0], Answer.OK)
    for ticket, wait in zip(tickets[1:], (2.0, 7.0, 3.0), strict=True):
        limiter.release(ticket, Answer.RATE_LIMITED, wait)
    assert limiter.snapshot().state != "paused", "3 of 8 is not more than half"
    tickets = await take(limiter, 2)
    limiter.release(tickets[0], Answer.RATE_LIMITED, 1.0)
    limiter.release(tickets[1], Answer.RATE_LIMITED, 1.0)
    state = limiter.snapshot()
    assert state.state == "paused"
    assert state.paused_until == t0 + 7.0
    ticket = await limiter.acquire()
    assert ticket.sent_at >= t0 + 7.0, "no request starts before the pause ends"
    assert limiter.snapshot().state != "paused"
    limiter.release(ticket, Answer.OK)
    messages = [r.message for r in caplog.records if r.levelno == logging.INFO]
    paused = [m.startswith("rate limit: paused for 7.0 s") for m in messages]
    assert paused.count(True) == 1
    assert not paused[-1], "the end of the pause is logged too"


async def test_a_fixed_limiter_keeps_its_width_and_never_paces(clock: FakeClock) -> None:
    limiter = AdaptiveLimiter(8, clock, adaptive=False)
    for _ in range(10):
        for ticket in await take(limiter, 8):
            limiter.release(ticket, Answer.OVERLOADED)
    assert limiter.snapshot() == RateLimitState(width=8, ceiling=8, state="normal")


async def test_in_flight_never_exceeds_the_width_and_waiters_are_cancellable(
    clock: FakeClock,
) -> None:
    limiter = AdaptiveLimiter(4, clock)
    peak = 0
    held = anyio.Event()

    async def one(answer: Answer) -> None:
        nonlocal peak
        ticket = await limiter.acquire()
        peak = max(peak, limiter.in_flight)
        await held.wait()
        limiter.release(ticket, answer)

    async with anyio.create_task_group() as tg:
        for i in range(12):
            tg.start_soon(one, Answer.OVERLOADED if i % 4 == 3 else Answer.OK)
        await anyio.wait_all_tasks_blocked()
        assert limiter.in_flight == 4
        with anyio.move_on_after(0.01):  # a waiter cancelled while queued
            await limiter.acquire()
        held.set()
    assert peak == 4
    assert limiter.in_flight == 0
    assert not limiter._waiters


async def test_a_refusal_before_any_answer_was_accepted_does_not_stop_the_client(
    clock: FakeClock,
) -> None:
    # A slow client: its first answers, accepted or not, come after 200 ms.
    limiter = AdaptiveLimiter(32, clock)
    tickets = await take(limiter, 32)
    clock.now += 0.2
    for ticket in tickets[20:]:
        limiter.release(ticket, Answer.RATE_LIMITED, 1.0)
    assert limiter.rate >= 100, "no accepted answer yet is no measured rate of 0"
    for ticket in tickets[:20]:
        limiter.release(ticket, Answer.OK)
    tickets = await take(limiter, 32)
    clock.now += 0.2
    for ticket in tickets[10:]:
        limiter.release(ticket, Answer.RATE_LIMITED, 1.0)
    assert limiter.rate >= 10
