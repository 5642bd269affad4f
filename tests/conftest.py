"""Shared fixtures: anyio backends, respx routers that see every transport, a fake clock."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import pytest
import respx

from atomscale_async import AsyncClient
from atomscale_async._retry import Clock

BASE_URL = "https://api.atomscale.ai/"
API_KEY = "sk-test-0123456789abcdef"


@pytest.fixture(
    params=[
        pytest.param("asyncio", id="asyncio"),
        pytest.param("trio", id="trio"),
    ]
)
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "ATOMSCALE_API_KEY",
        "AS_API_KEY",
        "ATOMSCALE_BASE_URL",
        "AS_API_ENDPOINT",
        "ATOMSCALE_LOG",
        "ATOMSCALE_ALLOW_INSECURE_HTTP",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    """A respx router that wraps any transport of an httpx.AsyncClient (aiohttp included)."""
    with respx.mock(using="httpx", base_url=BASE_URL, assert_all_called=False) as mock:
        yield mock


class FakeClock(Clock):
    """A clock whose sleeps return at once and advance its time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await anyio.lowlevel.checkpoint()

    def random(self) -> float:
        return 0.0


def use_clock(client: AsyncClient, clock: Clock) -> None:
    """Make ``client`` (and its with_options copies) wait on ``clock``."""
    client._state.clock = clock
    client._state.limiter.clock = clock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


class ClientFactory:
    """Builds AsyncClients on the fake clock, pointed at BASE_URL, with the test key."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock

    def __call__(self, **kwargs: Any) -> AsyncClient:
        kwargs.setdefault("api_key", API_KEY)
        kwargs.setdefault("base_url", BASE_URL)
        client = AsyncClient(**kwargs)
        use_clock(client, self.clock)
        return client


@pytest.fixture
def make_client(clock: FakeClock) -> ClientFactory:
    return ClientFactory(clock)
