"""Rate limits: this SDK's adaptive width against fixed widths and requests + 8 threads.

The server (``_server.py``, another process) serves the bulk benchmark's bytes
behind the sandbox's limits (``atomscale_async.sandbox.Faults``), so what is
measured is how each client behaves when the server pushes back:

a. token bucket: R = 200 requests/s per API key, burst B = 20, 20 ms latency,
   5,000 W2 ids at a ceiling of 32;
b. random 429s: 2 % of requests answered 429 with ``Retry-After: 1`` (not a real
   limit), 3,000 W2 ids, next to the same run without faults;
c. capacity: at most K = 8 requests in progress (503 beyond), 20 ms latency,
   3,000 W2 ids;
d. no faults: W1, W2, W3 at 32 in flight, 5 runs each, interleaved.

Clients: ``AsyncClient(max_concurrency=32)`` (adaptive), the same at a fixed width
of 32 and of 8 (``adaptive_concurrency=False``), and ``requests.Session`` + 8
threads re-sending a 429/503 up to 3 times after its ``Retry-After`` (else 0.5 s
doubling). Every run uses an API key of its own, so each meets a full bucket.
Figures: achieved rate (ids / (last 2xx - first request)) and its share of the
allowed rate, the share of requests answered 429 / 503, wall time, ids lost
(not fetched: failed, or not done within a run's 60 s ``total_timeout``), and
2xx answers per id fetched. Baseline runs that a limit slows to a crawl stop at
the 60 s deadline: their ids not fetched by then count as lost.

    python benchmarks/bench_ratelimit.py [--quick] [--strict] [--scenario a|b|c|d]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs
import requests
from _payloads import WORKLOADS, make_ids
from _server import BenchServer

from atomscale_async import AsyncClient

RESULTS_DIR = Path(__file__).resolve().parent / "results"
CEILING = 32
RUN_DEADLINE = 60.0
REQUESTS_THREADS = 8
REQUESTS_RETRIES = 3
RATE = 200.0
BURST = 20
CAPACITY = 8
LATENCY_MS = 20.0
N_BUCKET = 5000
N_IDS = 3000
N_NO_FAULTS = {"W1": 800, "W2": 400, "W3": 500}
NO_FAULT_ROUNDS = 5


@attrs.define
class Run:
    """One client's fetch of ``n`` ids: what the server answered and when."""

    client: str
    n: int
    wall: float = 0.0
    first_request: float = 0.0
    last_success: float = 0.0
    statuses: dict[int, int] = attrs.field(factory=dict)
    lost: int = 0

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def fetched(self) -> int:
        return self.n - self.lost

    @property
    def rate(self) -> float:
        """Ids fetched / (time of the last 2xx - time of the first request)."""
        span = self.last_success - self.first_request
        return self.fetched / span if span > 0 else 0.0

    def share(self, status: int) -> float:
        return self.statuses.get(status, 0) / self.requests if self.requests else 0.0

    @property
    def successes_per_id(self) -> float:
        ok = sum(n for status, n in self.statuses.items() if 200 <= status < 300)
        return ok / self.fetched if self.fetched else 0.0


class _Answers(logging.Handler):
    """Counts the SDK's per-attempt debug lines (``GET /... -> 200 in ...``) by status."""

    def __init__(self, run: Run) -> None:
        super().__init__(logging.DEBUG)
        self.run = run

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args
        if not isinstance(args, tuple) or len(args) != 5 or not isinstance(args[2], int):
            return
        status = args[2]
        self.run.statuses[status] = self.run.statuses.get(status, 0) + 1
        if 200 <= status < 300:
            self.run.last_success = record.created


_KEYS = iter(range(10**9))


def _key() -> str:
    return f"bench-key-{next(_KEYS)}"


def run_sdk(
    base_url: str, ids: list[str], *, width: int, adaptive: bool, label: str, count: bool = True
) -> Run:
    """``AsyncClient.get`` of every id; ``count`` records each answer (a debug log handler)."""
    run = Run(label, len(ids))
    logger = logging.getLogger("atomscale_async")
    handler = _Answers(run)

    async def fetch() -> None:
        async with AsyncClient(
            _key(),
            base_url=base_url,
            max_concurrency=width,
            adaptive_concurrency=adaptive,
            max_retries=3,
        ) as client:
            if count:
                logger.addHandler(handler)
                logger.setLevel(logging.DEBUG)
            try:
                run.first_request = time.time()
                started = time.perf_counter()
                results = await client.get(
                    ids, data_type="oes", errors="return", total_timeout=RUN_DEADLINE
                )
                run.wall = time.perf_counter() - started
                if not count:
                    run.last_success = time.time()
            finally:
                logger.removeHandler(handler)
                logger.setLevel(logging.NOTSET)
        run.lost = sum(isinstance(r, Exception) for r in results)

    asyncio.run(fetch())
    return run


def run_requests(base_url: str, ids: list[str], *, label: str = "requests + 8 threads") -> Run:
    """``requests.Session`` + 8 threads; a 429/503 is re-sent up to 3 times."""
    run = Run(label, len(ids))
    lock = threading.Lock()
    deadline = time.monotonic() + RUN_DEADLINE
    with requests.Session() as session, ThreadPoolExecutor(REQUESTS_THREADS) as pool:
        session.headers.update({"X-API-KEY": _key(), "Accept": "application/json"})

        def one(data_id: str) -> bool:
            for attempt in range(REQUESTS_RETRIES + 1):
                if time.monotonic() > deadline:
                    return False
                response = session.get(f"{base_url}oes/{data_id}", timeout=60)
                with lock:
                    status = response.status_code
                    run.statuses[status] = run.statuses.get(status, 0) + 1
                    if status == 200:
                        run.last_success = time.time()
                if status == 200:
                    response.json()
                    return True
                if status not in (429, 503) or attempt == REQUESTS_RETRIES:
                    return False
                retry_after = response.headers.get("Retry-After")
                time.sleep(float(retry_after) if retry_after else 0.5 * 2**attempt)
            return False

        run.first_request = time.time()
        started = time.perf_counter()
        done = list(pool.map(one, ids))
        run.wall = time.perf_counter() - started
    run.lost = done.count(False)
    return run


Client = Callable[[str, list[str]], Run]


def clients() -> list[tuple[str, Client]]:
    return [
        (
            "adaptive",
            lambda url, ids: run_sdk(url, ids, width=CEILING, adaptive=True, label="adaptive"),
        ),
        (
            "fixed 32",
            lambda url, ids: run_sdk(url, ids, width=32, adaptive=False, label="fixed 32"),
        ),
        ("fixed 8", lambda url, ids: run_sdk(url, ids, width=8, adaptive=False, label="fixed 8")),
        ("requests + 8 threads", run_requests),
    ]


@attrs.frozen
class Check:
    text: str
    value: float
    minimum: float | None = None
    maximum: float | None = None

    @property
    def ok(self) -> bool:
        low = self.minimum is None or self.value >= self.minimum
        high = self.maximum is None or self.value <= self.maximum
        return low and high


def _serve(faults: dict[str, Any] | None) -> BenchServer:
    return BenchServer({"W2": WORKLOADS["W2"].body}, faults=faults)


def _table(title: str, runs: Sequence[Run], allowed: float | None) -> list[str]:
    lines = [
        f"### {title}",
        "",
        "| client | achieved rate | of allowed | 429 | 503 | requests | wall | ids lost "
        "| 2xx per id |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in runs:
        of = f"{run.rate / allowed:.2f}" if allowed else "-"
        lines.append(
            f"| {run.client} | {run.rate:,.0f}/s | {of} | {run.share(429):.1%} "
            f"| {run.share(503):.1%} | {run.requests:,} | {run.wall:.1f} s | {run.lost:,} "
            f"| {run.successes_per_id:.2f} |"
        )
    return [*lines, ""]


def _run_all(faults: dict[str, Any] | None, ids: list[str]) -> list[Run]:
    runs = []
    with _serve(faults) as server:
        url = server.url("W2")
        for name, client in clients():
            run = client(url, ids)
            print(
                f"  {name:22} {run.rate:8.0f}/s 429 {run.share(429):6.1%} "
                f"503 {run.share(503):6.1%} wall {run.wall:6.1f} s lost {run.lost}",
                flush=True,
            )
            runs.append(run)
    return runs


def scenario_a(scale: float) -> tuple[list[str], list[Check]]:
    n = max(500, round(N_BUCKET * scale))
    print(f"a. token bucket R={RATE:g}/s B={BURST}, {LATENCY_MS:g} ms, {n} W2 ids", flush=True)
    faults = {"requests_per_second": RATE, "burst": BURST, "latency_ms": LATENCY_MS}
    runs = _run_all(faults, make_ids(n, seed=1))
    adaptive = runs[0]
    checks = [
        Check("a. sustained rate / R (adaptive)", adaptive.rate / RATE, minimum=0.9),
        Check("a. share of 429 (adaptive)", adaptive.share(429), maximum=0.05),
        Check("a. ids lost (adaptive)", adaptive.lost, maximum=0),
        Check("a. 2xx per id (adaptive)", adaptive.successes_per_id, 1.0, 1.0),
    ]
    title = f"a. Token bucket {RATE:g}/s, burst {BURST}, {LATENCY_MS:g} ms latency, {n:,} W2 ids"
    return _table(title, runs, RATE), checks


def scenario_b(scale: float) -> tuple[list[str], list[Check]]:
    n = max(500, round(N_IDS * scale))
    ids = make_ids(n, seed=2)
    print(f"b. 2 % random 429 (Retry-After 1 s), {n} W2 ids; first without faults", flush=True)
    clean = _run_all(None, ids)
    faulty = _run_all({"rate_limit": 0.02, "retry_after": 1}, ids)
    for run in clean:
        run.client += ", no faults"
    ratio = faulty[0].wall / clean[0].wall
    checks = [
        Check("b. wall time / fault-free wall time (adaptive)", ratio, maximum=2.0),
        Check("b. ids lost (adaptive)", faulty[0].lost, maximum=0),
        Check("b. 2xx per id (adaptive)", faulty[0].successes_per_id, 1.0, 1.0),
    ]
    rows = [run for pair in zip(faulty, clean, strict=True) for run in pair]
    title = f"b. 2 % of requests answered 429 (Retry-After: 1), {n:,} W2 ids"
    return _table(title, rows, None), checks


def scenario_c(scale: float) -> tuple[list[str], list[Check]]:
    n = max(500, round(N_IDS * scale))
    print(f"c. capacity K={CAPACITY}, {LATENCY_MS:g} ms, {n} W2 ids", flush=True)
    faults = {"max_in_progress": CAPACITY, "latency_ms": LATENCY_MS}
    runs = _run_all(faults, make_ids(n, seed=3))
    adaptive, fixed8 = runs[0], runs[2]
    checks = [
        Check("c. throughput / fixed width 8 (adaptive)", adaptive.rate / fixed8.rate, 0.9),
        Check("c. share of 503 (adaptive)", adaptive.share(503), maximum=0.05),
        Check("c. ids lost (adaptive)", adaptive.lost, maximum=0),
        Check("c. 2xx per id (adaptive)", adaptive.successes_per_id, 1.0, 1.0),
    ]
    allowed = CAPACITY / (LATENCY_MS / 1000)
    title = f"c. Capacity {CAPACITY} in progress (503 beyond), {LATENCY_MS:g} ms, {n:,} W2 ids"
    lines = _table(title, runs, allowed)
    lines.insert(2, f"(allowed rate: K / latency = {allowed:,.0f}/s, before any client cost)")
    lines.insert(3, "")
    return lines, checks


def scenario_d(scale: float) -> tuple[list[str], list[Check]]:
    rounds = NO_FAULT_ROUNDS if scale >= 1 else 2
    print(f"d. no faults: W1/W2/W3 at 32 in flight, {rounds} runs each", flush=True)
    bodies = {name: w.body for name, w in WORKLOADS.items()}
    lines = [
        "### d. No faults: throughput at 32 in flight (medians)",
        "",
        "| workload | adaptive | fixed 32 | adaptive / fixed 32 | fixed 8 | requests + 8 threads |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    checks = []
    with BenchServer(bodies) as server:
        for name, workload in WORKLOADS.items():
            n = max(100, round(N_NO_FAULTS[name] * scale))
            ids = make_ids(n, seed=4)
            url = server.url(name)
            rates: dict[str, list[float]] = {}
            specs = [("adaptive", True, 32), ("fixed 32", False, 32), ("fixed 8", False, 8)]
            for round_ in range(rounds):
                shift = round_ % len(specs)
                for label, adaptive, width in specs[shift:] + specs[:shift]:
                    run = _no_fault(url, ids, workload.data_type, adaptive, width)
                    rates.setdefault(label, []).append(n / run.wall)
            requests_rate = n / run_requests_plain(url, ids, workload.data_type)
            median = {label: statistics.median(values) for label, values in rates.items()}
            ratio = median["adaptive"] / median["fixed 32"]
            print(f"  {name}: adaptive / fixed 32 = {ratio:.3f}", flush=True)
            lines.append(
                f"| {name} | {median['adaptive']:,.0f}/s | {median['fixed 32']:,.0f}/s "
                f"| {ratio:.2f}x | {median['fixed 8']:,.0f}/s | {requests_rate:,.0f}/s |"
            )
            checks.append(Check(f"d. {name}: adaptive / fixed 32 (medians)", ratio, 0.95))
    return [*lines, ""], checks


def _no_fault(url: str, ids: list[str], data_type: str, adaptive: bool, width: int) -> Run:
    """One timed ``get`` after an untimed warm-up on the same client (as bench_bulk.py)."""
    run = Run("adaptive" if adaptive else f"fixed {width}", len(ids))

    async def fetch() -> None:
        async with AsyncClient(
            _key(), base_url=url, max_concurrency=width, adaptive_concurrency=adaptive
        ) as client:
            await client.get(ids[: 2 * width], data_type=data_type)
            started = time.perf_counter()
            await client.get(ids, data_type=data_type)
            run.wall = time.perf_counter() - started

    asyncio.run(fetch())
    return run


def run_requests_plain(url: str, ids: list[str], data_type: str) -> float:
    with requests.Session() as session, ThreadPoolExecutor(REQUESTS_THREADS) as pool:

        def one(data_id: str) -> None:
            response = session.get(f"{url}{data_type}/{data_id}", timeout=60)
            response.raise_for_status()
            response.json()

        list(pool.map(one, ids[:16]))
        started = time.perf_counter()
        list(pool.map(one, ids))
        return time.perf_counter() - started


SCENARIOS = {"a": scenario_a, "b": scenario_b, "c": scenario_c, "d": scenario_d}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1/5 the ids")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), action="append")
    args = parser.parse_args(argv)
    scale = 0.2 if args.quick else 1.0
    lines = ["# Rate-limit benchmark", ""]
    checks: list[Check] = []
    for key in args.scenario or sorted(SCENARIOS):
        table, found = SCENARIOS[key](scale)
        lines += table
        checks += found
    lines += ["### Targets", "", "| target | value | verdict |", "| --- | ---: | --- |"]
    for check in checks:
        bound = (
            f">= {check.minimum:g}"
            if check.maximum is None
            else f"<= {check.maximum:g}"
            if check.minimum is None
            else f"= {check.minimum:g}"
        )
        verdict = "PASS" if check.ok else "FAIL"
        lines.append(f"| {check.text} {bound} | {check.value:.3g} | {verdict} |")
    command = "python benchmarks/bench_ratelimit.py " + " ".join(argv or sys.argv[1:])
    lines += ["", f"Command: `{command.strip()}`", ""]
    text = "\n".join(lines)
    print(text)
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "ratelimit.md").write_text(text, encoding="utf-8")
    (RESULTS_DIR / "ratelimit.json").write_text(
        json.dumps([attrs.asdict(c) | {"ok": c.ok} for c in checks], indent=2), encoding="utf-8"
    )
    return 1 if args.strict and not all(c.ok for c in checks) else 0


if __name__ == "__main__":
    raise SystemExit(main())
