"""Fault injection and limits for testing clients: latency, 5xx, 429s, drops, rate and capacity.

Every request draws one number from a `random.Random(seed)` shared by the app, so a
sequence of requests meets the same sequence of faults on every run with the same seed.

Two limits behave like a real server's rather than at random: a token bucket per API
key (`requests_per_second` tokens a second, at most `burst` saved up; a request without
a token is answered 429 with the `Retry-After` the bucket implies, in whole seconds,
at least 1), and a capacity (`max_in_progress` requests in progress at once; one more
is answered 503 at once). Both refuse before the latency, as a server's front does.
"""

from __future__ import annotations

import enum
import math
import random
import time
from typing import TYPE_CHECKING, Any, Final

import anyio
import attrs
import httpx
import orjson

from atomscale_async.sandbox._checks import Bounds, documented, knob_help

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

DROP_EXTENSION: Final = "atomscale.sandbox.drop"
"""The ASGI scope extension through which a server lets the app drop a connection.

A server that supports it puts `{"drop": callable}` under this key in
`scope["extensions"]`; calling it closes the connection without a response.
"""


class ConnectionDropped(httpx.RemoteProtocolError):
    """A dropped connection injected where no server could really drop it.

    Raised by the app when it runs without `SandboxServer` (e.g. through
    `httpx.ASGITransport`, which re-raises it to the client): as a subclass of
    `httpx.RemoteProtocolError` it is seen as the same `httpx.TransportError` a real
    client gets from a closed connection.
    """


@documented
@attrs.frozen(kw_only=True)
class Faults:
    """The faults the sandbox injects, each a fraction of requests.

    The three fractions are disjoint, so their sum must not exceed 1. Assign a new
    `Faults` to a running sandbox's `faults` to change them while it serves.

    Example:
        >>> Faults(error_rate=0.1, rate_limit=0.05).drop_rate
        0.0
    """

    latency_ms: float = attrs.field(
        default=0.0,
        validator=Bounds(0),
        metadata=knob_help("delay added before every request is answered, in milliseconds", "MS"),
    )
    error_rate: float = attrs.field(
        default=0.0,
        validator=Bounds(0, 1),
        metadata=knob_help("fraction of requests answered 500 or 503 (half each)", "FRACTION"),
    )
    rate_limit: float = attrs.field(
        default=0.0,
        validator=Bounds(0, 1),
        metadata=knob_help("fraction of requests answered 429 with Retry-After", "FRACTION"),
    )
    retry_after: float = attrs.field(
        default=1.0,
        validator=Bounds(0),
        metadata=knob_help("seconds sent in the Retry-After header of a 429", "S"),
    )
    drop_rate: float = attrs.field(
        default=0.0,
        validator=Bounds(0, 1),
        metadata=knob_help(
            "fraction of requests whose connection is closed without a response", "FRACTION"
        ),
    )
    requests_per_second: float | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(Bounds(0, above=True)),
        metadata=knob_help(
            "requests a second each API key may make (a token bucket); none: no limit", "RATE"
        ),
    )
    burst: int = attrs.field(
        default=20,
        validator=Bounds(0, above=True),
        metadata=knob_help("tokens a key's bucket holds at most (and starts with)", "N"),
    )
    max_in_progress: int | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(Bounds(0, above=True)),
        metadata=knob_help(
            "requests in progress at once, at most (503 beyond); none: no limit", "N"
        ),
    )

    def __attrs_post_init__(self) -> None:
        if self.error_rate + self.rate_limit + self.drop_rate > 1.0 + 1e-12:
            msg = "error_rate + rate_limit + drop_rate must not exceed 1"
            raise ValueError(msg)

    @property
    def retry_after_header(self) -> str:
        """The `Retry-After` value: whole seconds as an integer, else a decimal."""
        if float(self.retry_after).is_integer():
            return str(int(self.retry_after))
        return f"{self.retry_after:g}"


class Outcome(enum.Enum):
    """What the fault injector decided for one request."""

    PASS = "pass"
    DROP = "drop"
    RATE_LIMITED = "rate_limited"
    ERROR_500 = "error_500"
    ERROR_503 = "error_503"


class FaultInjector:
    """Draws the outcome of each request from a seeded random generator.

    Args:
        faults: The faults to inject; replace `faults` at any time to change them.
        seed: Seed of the generator.
    """

    def __init__(self, faults: Faults, seed: int) -> None:
        self.faults = faults
        self._rng = random.Random(seed)

    def decide(self) -> Outcome:
        """Draw the outcome of the next request (one draw a request, always)."""
        draw = self._rng.random()
        faults = self.faults
        if draw < faults.drop_rate:
            return Outcome.DROP
        draw -= faults.drop_rate
        if draw < faults.rate_limit:
            return Outcome.RATE_LIMITED
        draw -= faults.rate_limit
        if draw < faults.error_rate:
            return Outcome.ERROR_500 if draw < faults.error_rate / 2 else Outcome.ERROR_503
        return Outcome.PASS


async def _send_json(send: Send, status: int, body: Any, headers: dict[str, str]) -> None:
    content = orjson.dumps(body)
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(content)).encode()),
        *((name.lower().encode(), value.encode()) for name, value in headers.items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": content})


class TokenBuckets:
    """One token bucket per API key: `take` says how long to wait, or 0 with a token taken."""

    def __init__(self) -> None:
        self._buckets: dict[bytes, tuple[float, float]] = {}  # key -> (tokens, when)

    def take(self, key: bytes, rate: float, burst: int, now: float | None = None) -> float:
        """Take a token for `key`, returning 0; or return the seconds until one is there."""
        now = time.monotonic() if now is None else now
        tokens, when = self._buckets.get(key, (float(burst), now))
        tokens = min(float(burst), tokens + (now - when) * rate)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1 - tokens) / rate


def retry_after_seconds(wait: float) -> int:
    """A bucket's wait as a `Retry-After`: whole seconds, rounded up, at least 1."""
    return max(1, math.ceil(wait))


class FaultMiddleware:
    """ASGI middleware that applies the limits and the injector's decision before the app.

    Args:
        app: The application to protect.
        injector: Decides the fate of each request.
    """

    def __init__(self, app: ASGIApp, *, injector: FaultInjector) -> None:
        self.app = app
        self.injector = injector
        self.buckets = TokenBuckets()
        self.in_progress = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse over the limits; else delay, then drop, refuse or pass the request on."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        faults = self.injector.faults
        if faults.requests_per_second is not None:
            key = dict(scope["headers"]).get(b"x-api-key", b"")
            wait = self.buckets.take(key, faults.requests_per_second, faults.burst)
            if wait > 0:
                seconds = retry_after_seconds(wait)
                await _send_json(
                    send,
                    429,
                    {"detail": f"Rate limit exceeded; retry after {seconds} s."},
                    {"Retry-After": str(seconds)},
                )
                return
        if faults.max_in_progress is not None and self.in_progress >= faults.max_in_progress:
            detail = f"Server at capacity ({faults.max_in_progress} requests in progress)."
            await _send_json(send, 503, {"detail": detail}, {})
            return
        self.in_progress += 1
        try:
            await self._faulty(scope, receive, send, faults)
        finally:
            self.in_progress -= 1

    async def _faulty(self, scope: Scope, receive: Receive, send: Send, faults: Faults) -> None:
        if faults.latency_ms > 0:
            await anyio.sleep(faults.latency_ms / 1000)
        outcome = self.injector.decide()
        if outcome is Outcome.PASS:
            await self.app(scope, receive, send)
        elif outcome is Outcome.DROP:
            await _drop(scope, receive)
        elif outcome is Outcome.RATE_LIMITED:
            await _send_json(
                send,
                429,
                {"detail": f"Rate limit exceeded; retry after {faults.retry_after_header} s."},
                {"Retry-After": faults.retry_after_header},
            )
        elif outcome is Outcome.ERROR_500:
            await _send_json(send, 500, {"detail": "Internal server error (injected)."}, {})
        else:
            await _send_json(send, 503, {"detail": "Service unavailable (injected)."}, {})


async def _drop(scope: Scope, receive: Receive) -> None:
    extension = scope.get("extensions", {}).get(DROP_EXTENSION)
    if extension is None:
        msg = "Server disconnected without sending a response (injected by the sandbox)."
        raise ConnectionDropped(msg)
    extension["drop"]()
    # Wait until the server has seen the connection go, so that it does not answer a 500
    # for a request the app returned from without starting a response.
    while (await receive())["type"] != "http.disconnect":
        pass
