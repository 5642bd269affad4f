"""Which failures are retried and how long to wait before the next attempt.

GETs are retried on connection errors, timeouts, malformed answers (broken
HTTP or a corrupt body encoding), 408, 429 and 5xx; never on a TLS certificate
that failed verification. A POST is
retried only where the server cannot have applied it: a 429, and a connection
that was never established (``httpx.ConnectError`` / ``httpx.ConnectTimeout``,
which the SDK's transports raise only before the request is sent). Backoff is
exponential with jitter: 0.5 s doubling, capped at 8 s, each wait drawn from
75-100 % of that. A ``Retry-After`` (seconds or an HTTP date) is honoured up
to ``max_retry_after`` seconds; a 429 that carries one is waited out without
counting as a retry. A 429 delays only its own request: how the whole client
slows down when the server refuses is ``_limiter``'s policy.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from datetime import UTC, datetime

import anyio
import httpx

from ._transports import CertificateRefused

__all__ = [
    "Clock",
    "backoff",
    "parse_retry_after",
    "rate_limited_wait",
    "retryable_status",
    "retryable_transport_error",
]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
INITIAL_BACKOFF = 0.5
MAX_BACKOFF = 8.0


class Clock:
    """Time as the retry logic sees it; tests substitute one that never sleeps."""

    def monotonic(self) -> float:
        """Seconds on a monotonic clock."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        await anyio.sleep(seconds)

    def random(self) -> float:
        """A number in [0, 1) for jitter."""
        return random.random()


def retryable_status(method: str, status: int) -> bool:
    """Whether an error status is worth another attempt of this method."""
    if status == 429:
        return True
    if method not in IDEMPOTENT_METHODS:
        return False
    return status == 408 or status >= 500


def retryable_transport_error(method: str, exc: httpx.TransportError | httpx.DecodingError) -> bool:
    """Whether a transport failure is worth another attempt of this method."""
    if isinstance(exc, CertificateRefused):
        return False  # the same certificate comes back
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return True  # nothing was sent
    if method not in IDEMPOTENT_METHODS:
        return False
    return isinstance(
        exc,
        httpx.TimeoutException
        | httpx.NetworkError
        | httpx.RemoteProtocolError
        | httpx.DecodingError,  # a corrupt encoding: a middlebox's fault as often as not
    )


def backoff(attempt: int, clock: Clock) -> float:
    """Seconds to wait before retry number ``attempt + 1``."""
    delay = min(MAX_BACKOFF, INITIAL_BACKOFF * 2**attempt)
    return float(delay * (1 - 0.25 * clock.random()))


#: A 429 without ``Retry-After`` waits this long before it is re-sent, doubling up to the cap.
RATE_LIMITED_WAIT = 0.1
MAX_RATE_LIMITED_WAIT = 1.0


def rate_limited_wait(limited: int, clock: Clock) -> float:
    """Seconds a request waits after its ``limited + 1``-th 429 without ``Retry-After``.

    Short, as the limiter's pace (cut by the same 429s) sets how fast the client
    as a whole sends; this only keeps one request from coming straight back.
    """
    delay = min(MAX_RATE_LIMITED_WAIT, RATE_LIMITED_WAIT * 2 ** min(limited, 10))
    return float(delay * (1 - 0.25 * clock.random()))


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if math.isnan(seconds):
        return None
    return max(0.0, seconds)
