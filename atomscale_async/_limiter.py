"""How many requests a client sends at once, and how fast: adaptive concurrency.

``max_concurrency`` is a ceiling. Below it, the limiter follows the server with
two controls, each driven by one kind of refusal:

- **Width** (requests in flight) follows capacity refusals (503). A server that
  holds at most K requests refuses the ones that arrive while it is full, so a
  refused request tells how many were in flight when it was sent: the width drops
  straight to that number, not to a half of it (TCP's AIMD halving, which
  Netflix's ``concurrency-limits`` also offers, leaves a third of the capacity
  unused on average). It then grows back by one per round of answers (one round
  is ``width`` answers), and only one per eight rounds at the width that was
  refused last, so that probing for more capacity costs about one refusal in
  sixty answers (the plateau of TCP CUBIC, and Envoy's adaptive concurrency
  filter which re-measures its limit from time to time rather than always).
- **Rate** (requests started per second) follows rate refusals (429). A token
  bucket of R requests a second accepts R a second whatever the width, so a
  width cut does not help there; pacing does. On a rate refusal the pace is set
  to 95 % of the rate the server accepted over the last second (the throttling
  of Google's SRE book likewise compares what the server accepted with what was
  asked), then grows by 3 % a second within a fifth of the rate refused last,
  and doubles a second farther from it (CUBIC's shape again); it is lifted when
  it is twice what is sent and no rate refusal came for 5 s. Before a rate can
  be measured (50 ms and 4 accepted answers) the first cut paces at half the
  width per 50 ms, and later refusals wait for a measurement.

Both react only to the **share** of refused answers among the last ``2 x width``
answers, above 5 %, and once per round: a refusal of a request sent before the
last cut does not cut again (TCP's one reduction per window). Plain AIMD that
halves on every refusal reaches 0.83 of a token bucket's rate and 0.60 of a
capacity; a sparse, random 429 (a share of a few per cent) does not move these
controls at all, and costs only its own ``Retry-After``.

When more than half of the last ``2 x width`` answers were 429, the server is
refusing nearly everything: no request starts until the latest ``Retry-After``
among them has passed (state ``"paused"``). Otherwise a refused request waits its
own ``Retry-After`` and nothing else does.

Like ``_retry``, this is policy and an injected ``Clock``: no I/O. The request loop
calls ``acquire`` before each attempt and ``release`` with its answer.
"""

from __future__ import annotations

import enum
import logging
import math
from collections import deque
from typing import Literal, TypeAlias

import anyio
import attrs

from ._retry import Clock

__all__ = ["AdaptiveLimiter", "Answer", "RateLimitState", "Ticket"]

_logger = logging.getLogger("atomscale_async")

State: TypeAlias = Literal["normal", "backing_off", "paused"]

#: Share of 429 answers (and of 503 answers) in the window above which the pace (the width) is cut.
REFUSED_SHARE = 0.075
OVERLOADED_SHARE = 0.05
#: Share of 429 answers in the window above which the client pauses.
PAUSE_SHARE = 0.5
#: The pace is set to this fraction of the accepted rate on a cut.
RATE_MARGIN = 0.95
#: Seconds over which the accepted and sent rates are measured.
RATE_WINDOW = 1.0
#: Growth of the pace per second, near the rate refused last and far above it.
RATE_GROWTH = 0.03
RATE_GROWTH_FAR = 1.0
#: The pace is lifted once it is this many times what is actually sent.
RATE_RELEASE = 2.0
#: ... and no rate refusal came for this many seconds.
RELEASE_AFTER = 5.0
#: Rounds of clean answers per step of width at the width refused last.
PLATEAU_ROUNDS = 8
MIN_RATE = 1.0
#: The shortest span a rate is measured over, in seconds, and the fewest answers.
MIN_SPAN = 0.05
MIN_ACCEPTED = 4


@attrs.frozen
class RateLimitState:
    """How a client is sending now: see ``AsyncClient.rate_limit_state``.

    Attributes:
        width: Requests the client lets into flight at once now.
        ceiling: The most it ever lets (``max_concurrency``).
        state: ``"normal"`` (full width, no pacing), ``"backing_off"`` (a narrower
            width or a paced rate, after the server refused requests) or
            ``"paused"`` (no request starts before ``paused_until``).
        paused_until: When the pause ends, on ``time.monotonic()``'s clock, or None.
        rate: The pace in requests per second, or None when not paced.
    """

    width: int
    ceiling: int
    state: State
    paused_until: float | None = None
    rate: float | None = None


class Answer(enum.Enum):
    """What an attempt's answer tells the limiter."""

    OK = "ok"  # any answer that is not a refusal (2xx, and errors such as 404)
    RATE_LIMITED = "rate_limited"  # 429
    OVERLOADED = "overloaded"  # 503
    FAILED = "failed"  # no answer (connection error, timeout): no signal


@attrs.define(slots=True)
class Ticket:
    """One attempt let in by ``acquire``: when it started and how many were in flight then."""

    sent_at: float
    in_flight: int


@attrs.define(slots=True)
class _Record:
    sent_at: float
    in_flight: int
    kind: Answer
    retry_at: float


def _append_recent(times: deque[float], now: float) -> None:
    """Append ``now``, dropping the times older than the rate window."""
    while times and times[0] <= now - RATE_WINDOW:
        times.popleft()
    times.append(now)


class AdaptiveLimiter:
    """The client-wide width, pace and pause; shared by every call of one client.

    Args:
        ceiling: The most requests in flight at once (``max_concurrency``).
        clock: The time source.
        adaptive: False keeps the width at the ceiling and never paces (the pause
            on a mostly refused window still holds).
    """

    def __init__(self, ceiling: int, clock: Clock, *, adaptive: bool = True) -> None:
        self.ceiling = ceiling
        self.clock = clock
        self.adaptive = adaptive
        self.width = ceiling
        self.rate = math.inf
        self.paused_until = 0.0
        self.in_flight = 0
        self._waiters: deque[anyio.Event] = deque()
        self._answers: deque[_Record] = deque(maxlen=2 * ceiling)
        self._accepted: deque[float] = deque()
        self._sent: deque[float] = deque()
        self._first_sent = math.nan
        self._busy_since = -math.inf
        self._next_start = -math.inf
        self._rate_cut_at = -math.inf
        self._rate_refused = math.inf
        self._rate_grown_at = 0.0
        self._width_cut_at = -math.inf
        self._width_refused = ceiling + 1
        self._clean = 0
        self._state: State = "normal"

    # --- what the request loop calls -----------------------------------------------------

    async def acquire(self) -> Ticket:
        """Wait for the pause, a slot of the width and the pace; return the attempt's ticket."""
        clock = self.clock
        while True:
            now = clock.monotonic()
            if (wait := self.paused_until - now) > 0:
                await clock.sleep(wait)
                continue
            if self.in_flight < self.width and not self._waiters and self.rate == math.inf:
                # A free slot and no pace: no checkpoint, so ``now`` still holds.
                self.in_flight += 1
            else:
                await self._take_slot()
                if self.rate != math.inf:
                    now = clock.monotonic()
                    start = max(now, self._next_start)
                    self._next_start = start + 1.0 / self.rate
                    if start > now:
                        try:
                            await clock.sleep(start - now)
                        except BaseException:
                            self._free_slot()
                            raise
                now = clock.monotonic()
                if self.paused_until > now:  # a pause began while this one waited
                    self._free_slot()
                    continue
            self._note_state(now)
            if self.adaptive:
                if math.isnan(self._first_sent):
                    self._first_sent = now
                _append_recent(self._sent, now)
            return Ticket(sent_at=now, in_flight=self.in_flight - 1)

    def release(self, ticket: Ticket, answer: Answer, retry_after: float | None = None) -> None:
        """Free the attempt's slot and learn from its answer.

        Args:
            ticket: What ``acquire`` returned.
            answer: What the server said.
            retry_after: The answer's ``Retry-After`` in seconds, if any.
        """
        if answer is Answer.FAILED:
            self._free_slot()
            return
        now = self.clock.monotonic()
        retry_at = now + (retry_after or 0.0)
        self._answers.append(_Record(ticket.sent_at, ticket.in_flight, answer, retry_at))
        if answer is Answer.OK:
            if self.adaptive:
                _append_recent(self._accepted, now)
                if self.rate != math.inf or self.width < self.ceiling:
                    self._grow(now)
        elif answer is Answer.RATE_LIMITED:
            self._check_pause()
            if (
                self.adaptive
                and ticket.sent_at > self._rate_cut_at
                and self._share(Answer.RATE_LIMITED, self._rate_cut_at) > REFUSED_SHARE
            ):
                self._cut_rate(now)
        elif (
            answer is Answer.OVERLOADED
            and self.adaptive
            and ticket.sent_at > self._width_cut_at
            and self._share(Answer.OVERLOADED, self._width_cut_at) > OVERLOADED_SHARE
        ):
            self._cut_width(now)
        self._free_slot()  # after learning: a cut width must not hand this slot on
        self._note_state(now)

    def cancel(self) -> None:
        """Free the slot of an attempt that was cancelled before its answer."""
        self._free_slot()

    def snapshot(self) -> RateLimitState:
        """The width, ceiling, state and pause now."""
        now = self.clock.monotonic()
        state = self._current_state(now)
        return RateLimitState(
            width=self.width,
            ceiling=self.ceiling,
            state=state,
            paused_until=self.paused_until if state == "paused" else None,
            rate=None if self.rate == math.inf else self.rate,
        )

    # --- the width as a semaphore whose size changes -----------------------------------

    async def _take_slot(self) -> None:
        if self.in_flight < self.width and not self._waiters:
            self.in_flight += 1  # no checkpoint when a slot is free, like fast_acquire
            return
        event = anyio.Event()
        self._waiters.append(event)
        try:
            await event.wait()
        except BaseException:
            if event.is_set():  # handed a slot, then cancelled: hand it on
                self._free_slot()
            else:
                self._waiters.remove(event)
            raise

    def _free_slot(self) -> None:
        self.in_flight -= 1
        self._hand_on()

    def _hand_on(self) -> None:
        while self._waiters and self.in_flight < self.width:
            self.in_flight += 1  # the slot passes to the waiter woken
            self._waiters.popleft().set()

    # --- the controls ----------------------------------------------------------------------

    def _window(self) -> list[_Record]:
        size = 2 * self.width
        answers = self._answers
        if len(answers) <= size:
            return list(answers)
        return list(answers)[-size:]

    def _share(self, kind: Answer, since: float) -> float:
        """The share of ``kind`` among the last 2 x width answers to requests sent after ``since``.

        Counted over 2 x width answers even before that many came, so that a few
        refusals among the first answers are not yet a share; and only answers to
        requests sent after the last cut, so that one overload cuts once.
        """
        count = sum(r.kind is kind and r.sent_at > since for r in self._window())
        return count / (2 * self.width)

    def _check_pause(self) -> None:
        refused = [r for r in self._window() if r.kind is Answer.RATE_LIMITED]
        if len(refused) > PAUSE_SHARE * 2 * self.width:
            self.paused_until = max(self.paused_until, *(r.retry_at for r in refused))
            self._busy_since = self.paused_until

    def _accepted_rate(self, now: float) -> float | None:
        """Answers accepted a second, or None when too little was sent yet to tell.

        Measured over the later half of the time spent sending since the start or
        the last pause (at most the last second): a token bucket's burst, spent at
        the start, would otherwise count as rate.
        """
        busy = max(self._first_sent, self._busy_since)
        start = max(now - RATE_WINDOW, busy + (now - busy) / 2)
        if now - start < MIN_SPAN:
            return None
        count = 0
        for t in reversed(self._accepted):
            if t <= start:
                break
            count += 1
        if count < MIN_ACCEPTED:
            return None
        return count / (now - start)

    def _sent_rate(self, now: float) -> float:
        start = max(now - RATE_WINDOW, self._first_sent, self._busy_since)
        count = 0
        for t in reversed(self._sent):
            if t <= start:
                break
            count += 1
        return count / max(now - start, MIN_SPAN)

    def _cut_rate(self, now: float) -> None:
        accepted = self._accepted_rate(now)
        sent = self._sent_rate(now)
        if accepted is None:
            # Nothing to measure yet: half the width per the shortest span
            # measured, once; the next cut measures.
            if self.rate != math.inf:
                return
            accepted = 0.5 * self.width / MIN_SPAN
        self._rate_refused = min(self.rate, sent)
        self.rate = max(MIN_RATE, min(self.rate, RATE_MARGIN * accepted))
        self._rate_cut_at = now
        self._rate_grown_at = now
        self._next_start = max(self._next_start, now)
        _logger.debug("rate limit: pacing %.0f requests/s (sent %.0f/s)", self.rate, sent)

    def _cut_width(self, now: float) -> None:
        # The server was full when it refused: as many as were in flight then, at most.
        since = self._width_cut_at
        full = min(
            r.in_flight for r in self._window() if r.kind is Answer.OVERLOADED and r.sent_at > since
        )
        self._width_refused = self.width
        self.width = max(1, min(self.width - 1, full))
        self._width_cut_at = now
        self._clean = 0
        _logger.debug("rate limit: width %d (refused at %d)", self.width, self._width_refused)

    def _grow(self, now: float) -> None:
        if self.rate != math.inf:
            elapsed = now - self._rate_grown_at
            self._rate_grown_at = now
            far = not 0.8 * self._rate_refused <= self.rate <= 1.2 * self._rate_refused
            self.rate *= (1 + (RATE_GROWTH_FAR if far else RATE_GROWTH)) ** elapsed
            if (
                self.rate > RATE_RELEASE * self._sent_rate(now)
                and now - self._rate_cut_at > RELEASE_AFTER
            ):
                self.rate = math.inf
        if self.width < self.ceiling:
            self._clean += 1
            rounds = PLATEAU_ROUNDS if self.width + 1 >= self._width_refused else 1
            if self._clean >= rounds * self.width:
                self._clean = 0
                self.width += 1
                if self.width > self._width_refused:
                    self._width_refused = self.ceiling + 1  # the plateau held: grow freely
                self._hand_on()

    # --- state -----------------------------------------------------------------------------

    def _current_state(self, now: float) -> State:
        if self.paused_until > now:
            return "paused"
        if self.width < self.ceiling or self.rate != math.inf:
            return "backing_off"
        return "normal"

    def _note_state(self, now: float) -> None:
        state = self._current_state(now)
        if state == self._state:
            return
        self._state = state
        if state == "paused":
            _logger.info(
                "rate limit: paused for %.1f s (most recent answers were 429)",
                self.paused_until - now,
            )
        elif state == "backing_off":
            pace = "" if self.rate == math.inf else f", pacing {self.rate:.0f} requests/s"
            _logger.info(
                "rate limit: backing off: width %d of %d%s", self.width, self.ceiling, pace
            )
        else:
            _logger.info("rate limit: normal: width %d", self.width)
