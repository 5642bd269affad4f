"""Fault injection for testing clients: latency, 5xx errors, 429s and dropped connections.

Every request draws one number from a `random.Random(seed)` shared by the app, so a
sequence of requests meets the same sequence of faults on every run with the same seed.
"""

from __future__ import annotations

import enum
import random
from typing import TYPE_CHECKING, Any, Final

import anyio
import attrs
import httpx
import orjson

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


def _fraction(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        msg = f"{attribute.name} must be a fraction between 0 and 1, got {value!r}"
        raise ValueError(msg)


def _non_negative(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value < 0:
        msg = f"{attribute.name} must not be negative, got {value!r}"
        raise ValueError(msg)


@attrs.frozen(kw_only=True)
class Faults:
    """The faults the sandbox injects, each a fraction of requests.

    Args:
        latency_ms: Delay added before every request is answered, in milliseconds.
        error_rate: Fraction of requests answered 500 or 503 (half each).
        rate_limit: Fraction of requests answered 429 with a `Retry-After` header.
        retry_after: Seconds sent in `Retry-After` (an integer when whole, e.g. `1`).
        drop_rate: Fraction of requests whose connection is closed without a response.

    The three fractions are disjoint, so their sum must not exceed 1.

    Example:
        >>> Faults(error_rate=0.1, rate_limit=0.05).drop_rate
        0.0
    """

    latency_ms: float = attrs.field(default=0.0, validator=_non_negative)
    error_rate: float = attrs.field(default=0.0, validator=_fraction)
    rate_limit: float = attrs.field(default=0.0, validator=_fraction)
    retry_after: float = attrs.field(default=1.0, validator=_non_negative)
    drop_rate: float = attrs.field(default=0.0, validator=_fraction)

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


class FaultMiddleware:
    """ASGI middleware that applies the injector's decision before the app sees a request.

    Args:
        app: The application to protect.
        injector: Decides the fate of each request.
    """

    def __init__(self, app: ASGIApp, *, injector: FaultInjector) -> None:
        self.app = app
        self.injector = injector

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Delay, then drop, refuse or pass the request on."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        faults = self.injector.faults
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
