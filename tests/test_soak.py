"""Soak: thousands of ids through every kind of fault; nothing lost, duplicated or wrong.

``FaultyServer`` faults a share of the requests (5xx, 429, drops, resets, half
bodies, slow bodies, malformed protocol-level answers). The short run is part of
the normal suite; the long one (5,000 ids, 15 %, ``max_retries=5``) is
``nox -s soak`` and prints its figures. The fuzz sends every endpoint every
malformed answer: each call ends, within its time, in a typed error.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import attrs
import pytest

from atomscale_async import AsyncClient, AtomscaleError, OESResult

from .conftest import API_KEY, FakeClock, use_clock
from .servers import MALFORMED, FaultyServer, RawAnswer, RawServer

pytestmark = pytest.mark.anyio


@attrs.frozen
class SoakReport:
    ids: int
    ok: int
    failed: int
    lost: int
    duplicated: int
    wrong: int
    untyped: int
    wire: int
    max_wire_per_id: int
    faults: dict[str, int]
    seconds: float

    def __str__(self) -> str:
        return (
            f"{self.ids} ids: ok {self.ok}, failed {self.failed}, lost {self.lost}, "
            f"duplicated {self.duplicated}, wrong {self.wrong}, untyped {self.untyped}; "
            f"wire requests {self.wire} ({self.wire / self.ids:.3f} per id, at most "
            f"{self.max_wire_per_id} for one id besides 429s); faults {self.faults}; "
            f"{self.seconds:.1f} s"
        )


async def soak(
    n_ids: int, fault_rate: float, max_retries: int, *, fake_clock: bool = False
) -> SoakReport:
    ids = [f"soak-{i:05d}" for i in range(n_ids)]
    outcomes: Counter[str] = Counter()
    ok = failed = wrong = untyped = 0
    started = time.perf_counter()
    with FaultyServer(fault_rate) as server:
        async with AsyncClient(
            api_key=API_KEY, base_url=server.base_url, max_retries=max_retries
        ) as client:
            if fake_clock:  # backoff and Retry-After without the wait
                use_clock(client, FakeClock())
            async for outcome in client.iter_results(ids, data_type="oes"):
                outcomes[outcome.data_id] += 1
                if outcome.ok:
                    ok += 1
                    result = outcome.result
                    wrong += not (
                        isinstance(result, OESResult) and result.data_id == outcome.data_id
                    )
                else:
                    failed += 1
                    untyped += not isinstance(outcome.error, AtomscaleError)
    seconds = time.perf_counter() - started
    return SoakReport(
        ids=n_ids,
        ok=ok,
        failed=failed,
        lost=sum(1 for i in ids if outcomes[i] == 0),
        duplicated=sum(1 for i in ids if outcomes[i] > 1),
        wrong=wrong,
        untyped=untyped,
        wire=sum(server.wire.values()),
        max_wire_per_id=max(n - server.rate_limited.get(i, 0) for i, n in server.wire.items()),
        faults=dict(server.faults),
        seconds=seconds,
    )


def check(report: SoakReport, max_retries: int) -> None:
    assert report.lost == 0
    assert report.duplicated == 0
    assert report.wrong == 0
    assert report.untyped == 0
    assert report.ok + report.failed == report.ids
    # A 429 whose Retry-After was waited is re-sent without using up a retry.
    assert report.max_wire_per_id <= 1 + max_retries
    assert all(report.faults.values()), "every kind of fault was injected"


async def test_a_short_soak_loses_duplicates_and_corrupts_nothing() -> None:
    report = await soak(400, fault_rate=0.3, max_retries=5, fake_clock=True)
    check(report, 5)


@pytest.mark.slow
async def test_soak_5000_ids_with_15_percent_faults(anyio_backend: str) -> None:
    report = await soak(5000, fault_rate=0.15, max_retries=5)
    print(f"\nsoak [{anyio_backend}]: {report}")
    check(report, 5)
    assert report.failed == 0


def _endpoints() -> dict[str, Callable[[AsyncClient], Awaitable[Any]]]:
    return {
        "synthesis_instruments.list": lambda c: c.synthesis_instruments.list(),
        "target_materials.list": lambda c: c.target_materials.list(),
        "target_materials.create": lambda c: c.target_materials.create(
            sample={"sample_name": "s", "substrate": "Si"}
        ),
        "sims.get": lambda c: c.sims.get("x"),
        "oes.get": lambda c: c.oes.get("x"),
        "xps.get": lambda c: c.xps.get("x"),
        "xrd.get": lambda c: c.xrd.get("x"),
        "photoluminescence.get": lambda c: c.photoluminescence.get("x"),
        "raman.get": lambda c: c.raman.get("x"),
        "physical_samples.list": lambda c: c.physical_samples.list(),
        "projects.list": lambda c: c.projects.list(),
        "projects.physical_samples": lambda c: c.projects.physical_samples("p"),
        "data_entries.list": lambda c: c.data_entries.list(["x"]),
        "get": lambda c: c.get(["x", "y"], data_type="oes"),
    }


def _always(answer: bytes) -> RawAnswer:
    return lambda request: [answer]


async def test_every_endpoint_meets_every_malformed_answer_with_a_typed_error() -> None:
    untyped: list[str] = []
    hung: list[str] = []
    with RawServer(lambda request: []) as server:
        async with AsyncClient(api_key=API_KEY, base_url=server.base_url, max_retries=0) as client:
            for answer_name, answer in MALFORMED.items():
                server.answer = _always(answer)
                for name, call in _endpoints().items():
                    with anyio.move_on_after(5) as scope:
                        try:
                            await call(client)
                        except AtomscaleError:
                            pass
                        except Exception as exc:
                            untyped.append(f"{name} <- {answer_name}: {type(exc).__name__}")
                    if scope.cancelled_caught:
                        hung.append(f"{name} <- {answer_name}")
    assert untyped == []
    assert hung == []
