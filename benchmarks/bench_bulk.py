"""Bulk fetch: this SDK's ``get`` against bare aiohttp, default httpx and requests, on localhost.

A local uvicorn + httptools server (another process, see ``_server.py``) answers
every request with the same precomputed body, so the clients are what is
measured. Five clients fetch the same ids, interleaved run by run:

1. ``AsyncClient(max_concurrency=C).get(ids, data_type=...)`` (this SDK, async);
2. ``Client(max_concurrency=C).get(ids, data_type=...)`` (this SDK, sync facade);
3. bare aiohttp + orjson, no models: ``TCPConnector(limit=C)``, C worker tasks;
4. a default ``httpx.AsyncClient()`` + ``json.loads``, C in flight (a semaphore);
5. ``requests.Session()`` + ``ThreadPoolExecutor(8)`` + ``.json()`` (always 8 wide).

Workloads: W1 a small OES result (~1 KB), W2 a 2,048-point OES result (~77 KB),
W3 SIMS depth profiles (3 species x 1,000 depths), and M, mixed: all six kinds
(SIMS, OES, XPS, XRD, photoluminescence, Raman; the sandbox's bodies, 15-130 KB),
``get(ids)`` without ``data_type``, so every id's kind comes from the catalogue
(100 ids a lookup). M runs clients 1-3 only: the bare aiohttp baseline sends the
same catalogue lookups (as many at once as the SDK) and the same result GETs,
at the same concurrency. Reported: medians of
throughput (requests/s) and client CPU per request (``time.process_time()``
of this process, loop threads included; the server is not counted), the
throughput ratios 1/3, 1/4, 1/5 and 2/1, and PASS/FAIL against the targets.

    python benchmarks/bench_bulk.py [--quick] [--strict]
    python benchmarks/bench_bulk.py --workload M [--rounds 7]  # one workload only
    python benchmarks/bench_bulk.py --profile [W1|W2|W3|M]   # the SDK alone, profiled
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import importlib
import importlib.metadata
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import attrs
import httpx
import orjson
import requests
from _payloads import WORKLOADS, MixedWorkload, Workload, make_ids, mixed_workload
from _server import BenchServer, Mixed, event_loop_name

from atomscale_async import AsyncClient, Client, OESResult, SIMSResult
from atomscale_async._bulk import CATALOGUE_WIDTH
from atomscale_async._generated.kinds import CATALOGUE_CHUNK, KINDS

T = TypeVar("T")

API_KEY = "bench-key"
HEADERS = {"X-API-KEY": API_KEY, "Accept": "application/json"}
REQUESTS_THREADS = 8
MAIN_CONCURRENCY = 32
SWEEP = (1, 8, 32, 128)
SWEEP_WORKLOAD = "W2"
#: Requests a run at 32 in flight: the fastest client's run lasts ~0.5-1 s on the
#: 2-core reference machine, and the whole suite (5 clients, interleaved) ~3 minutes.
N_REQUESTS = {"W1": 800, "W2": 400, "W3": 500, "M": 1200}
#: Every workload: W1-W3, and M (mixed kinds, built from the sandbox's generators).
ALL_WORKLOADS: dict[str, Workload | MixedWorkload] = {**WORKLOADS, "M": mixed_workload()}
#: Requests a run in the W2 sweep (its 32 is the main case): at 1 in flight every
#: client is latency-bound, so fewer; at 128 at least 4 waves.
N_SWEEP = {1: 120, 8: 240, 128: 512}
RESULTS_DIR = Path(__file__).resolve().parent / "results"
PACKAGES = (
    "atomscale-async",
    "aiohttp",
    "orjson",
    "httpx",
    "anyio",
    "attrs",
    "cattrs",
    "requests",
    "urllib3",
    "uvicorn",
    "httptools",
    "uvloop",
    "psutil",
)


@attrs.frozen
class Sample:
    """One timed run of one client: wall and CPU seconds for ``n`` requests."""

    n: int
    wall: float
    cpu: float

    @property
    def throughput(self) -> float:
        return self.n / self.wall

    @property
    def cpu_per_request(self) -> float:
        return self.cpu / self.n


class _Stopwatch:
    """Wall clock and this process's CPU time (all its threads)."""

    def __init__(self) -> None:
        gc.collect()
        self.wall = time.perf_counter()
        self.cpu = time.process_time()

    def stop(self, n: int) -> Sample:
        wall = time.perf_counter() - self.wall
        cpu = time.process_time() - self.cpu
        return Sample(n=n, wall=wall, cpu=cpu)


# (base URL, data type (None: from the catalogue), ids, requests in flight) -> one timed run
Runner = Callable[[str, Workload | MixedWorkload, list[str], int], Sample]


def _warm_ids(ids: list[str], concurrency: int) -> list[str]:
    """Ids for an untimed warm-up that opens the pool's connections first."""
    return ids[: max(2 * concurrency, 2 * REQUESTS_THREADS)]


def _expect(results: Sequence[Any], ids: list[str], workload: Workload | MixedWorkload) -> None:
    if len(results) != len(ids):
        raise RuntimeError(f"got {len(results)} results for {len(ids)} ids")
    if isinstance(workload, MixedWorkload):
        _expect_mixed(results, ids, workload.body)
        return
    data_type = workload.data_type
    first, last = results[0], results[-1]
    if data_type == "oes":
        ok = all(
            isinstance(r, OESResult) or (isinstance(r, dict) and "wavelengths" in r)
            for r in (first, last)
        )
    else:
        ok = all(
            isinstance(r, SIMSResult) or (isinstance(r, list) and len(r) == 3)
            for r in (first, last)
        )
    if not ok:
        raise RuntimeError(f"unexpected result for {data_type}: {type(first).__name__}")


def _expect_mixed(results: Sequence[Any], ids: list[str], mixed: Mixed) -> None:
    """Every result is of its id's kind: a model (SDK) or the decoded JSON (baseline).

    The server answers 404 to a result GET of another kind than the id's, so a result
    also proves that its GET took the catalogue's kind.
    """
    for data_id, result in zip(ids, results, strict=True):
        kind = mixed.kind_of(data_id)
        if isinstance(result, dict | list):
            ok = isinstance(result, list) == (kind == "sims")
        else:
            ok = isinstance(result, KINDS[kind].model)
        if not ok:
            raise RuntimeError(f"{data_id}: not a {kind} result: {type(result).__name__}")


def _run_async(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Each async client gets a fresh asyncio loop (the default one, for all alike)."""
    return asyncio.run(factory())


# 1. this SDK, async
def run_sdk_async(
    base_url: str, workload: Workload | MixedWorkload, ids: list[str], concurrency: int
) -> Sample:
    data_type = workload.data_type

    async def run() -> Sample:
        async with AsyncClient(API_KEY, base_url=base_url, max_concurrency=concurrency) as client:
            await client.get(_warm_ids(ids, concurrency), data_type=data_type)
            watch = _Stopwatch()
            results = await client.get(ids, data_type=data_type)
            sample = watch.stop(len(ids))
        _expect(results, ids, workload)
        return sample

    return _run_async(run)


# 2. this SDK, sync facade (its event-loop thread is in this process: its CPU counts)
def run_sdk_sync(
    base_url: str, workload: Workload | MixedWorkload, ids: list[str], concurrency: int
) -> Sample:
    data_type = workload.data_type
    with Client(API_KEY, base_url=base_url, max_concurrency=concurrency) as client:
        client.get(_warm_ids(ids, concurrency), data_type=data_type)
        watch = _Stopwatch()
        results = client.get(ids, data_type=data_type)
        sample = watch.stop(len(ids))
    _expect(results, ids, workload)
    return sample


# 3. bare aiohttp + orjson, no models: the practical limit for Python
def run_aiohttp(
    base_url: str, workload: Workload | MixedWorkload, ids: list[str], concurrency: int
) -> Sample:
    data_type = workload.data_type

    async def run() -> Sample:
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector, headers=HEADERS) as session:

            async def fetch_all(batch: list[str]) -> list[Any]:
                results: list[Any] = [None] * len(batch)
                indices = iter(range(len(batch)))

                async def worker() -> None:
                    for index in indices:
                        url = f"{base_url}{data_type}/{batch[index]}"
                        async with session.get(url) as response:
                            response.raise_for_status()
                            results[index] = orjson.loads(await response.read())

                await asyncio.gather(*(worker() for _ in range(min(concurrency, len(batch)))))
                return results

            async def fetch_via_catalogue(batch: list[str]) -> list[Any]:
                """As the SDK: lookups of 100 ids, 4 at once, feeding C fetching workers."""
                results: list[Any] = [None] * len(batch)
                position = {data_id: index for index, data_id in enumerate(batch)}
                chunks = iter(range(0, len(batch), CATALOGUE_CHUNK))
                work: asyncio.Queue[tuple[int, str] | None] = asyncio.Queue(concurrency)

                async def lookup() -> None:
                    for start in chunks:
                        params = [("data_ids", i) for i in batch[start : start + CATALOGUE_CHUNK]]
                        url = f"{base_url}data_entries/"
                        async with session.get(url, params=params) as response:
                            response.raise_for_status()
                            entries = orjson.loads(await response.read())
                        for entry in entries:
                            await work.put((position[entry["data_id"]], entry["char_source_type"]))

                async def worker() -> None:
                    while (item := await work.get()) is not None:
                        index, kind = item
                        async with session.get(f"{base_url}{kind}/{batch[index]}") as response:
                            response.raise_for_status()
                            results[index] = orjson.loads(await response.read())

                width = min(concurrency, len(batch))
                async with asyncio.TaskGroup() as tg:
                    for _ in range(width):
                        tg.create_task(worker())
                    async with asyncio.TaskGroup() as lookups:
                        for _ in range(min(CATALOGUE_WIDTH, -(-len(batch) // CATALOGUE_CHUNK))):
                            lookups.create_task(lookup())
                    for _ in range(width):
                        await work.put(None)
                return results

            fetch = fetch_all if data_type is not None else fetch_via_catalogue
            await fetch(_warm_ids(ids, concurrency))
            watch = _Stopwatch()
            results = await fetch(ids)
            sample = watch.stop(len(ids))
        _expect(results, ids, workload)
        return sample

    return _run_async(run)


# 4. a default httpx.AsyncClient + json.loads: what a hand-rolled client would do
def run_httpx(
    base_url: str, workload: Workload | MixedWorkload, ids: list[str], concurrency: int
) -> Sample:
    data_type = workload.data_type

    async def run() -> Sample:
        async with httpx.AsyncClient(headers=HEADERS) as client:

            async def fetch_all(batch: list[str]) -> list[Any]:
                in_flight = asyncio.Semaphore(concurrency)

                async def one(data_id: str) -> Any:
                    async with in_flight:
                        response = await client.get(f"{base_url}{data_type}/{data_id}")
                        response.raise_for_status()
                        return json.loads(response.content)

                return await asyncio.gather(*(one(data_id) for data_id in batch))

            await fetch_all(_warm_ids(ids, concurrency))
            watch = _Stopwatch()
            results = await fetch_all(ids)
            sample = watch.stop(len(ids))
        _expect(results, ids, workload)
        return sample

    return _run_async(run)


# 5. requests.Session + 8 threads + .json(): the platform's existing SDK (always 8 wide)
def run_requests(
    base_url: str, workload: Workload | MixedWorkload, ids: list[str], concurrency: int
) -> Sample:
    del concurrency  # fixed width, whatever the others use
    data_type = workload.data_type
    with requests.Session() as session, ThreadPoolExecutor(REQUESTS_THREADS) as pool:
        session.headers.update(HEADERS)

        def one(data_id: str) -> Any:
            response = session.get(f"{base_url}{data_type}/{data_id}", timeout=60)
            response.raise_for_status()
            return response.json()

        list(pool.map(one, _warm_ids(ids, REQUESTS_THREADS)))
        watch = _Stopwatch()
        results = list(pool.map(one, ids))
        sample = watch.stop(len(ids))
    _expect(results, ids, workload)
    return sample


@attrs.frozen
class ClientSpec:
    key: str
    number: int
    label: str
    run: Runner
    mixed: bool = False  # also runs the mixed workload (kinds from the catalogue)


CLIENTS: tuple[ClientSpec, ...] = (
    ClientSpec("sdk_async", 1, "atomscale_async AsyncClient.get", run_sdk_async, mixed=True),
    ClientSpec("sdk_sync", 2, "atomscale_async Client.get (sync facade)", run_sdk_sync, mixed=True),
    ClientSpec("aiohttp_orjson", 3, "bare aiohttp + orjson, no models", run_aiohttp, mixed=True),
    ClientSpec("httpx_default", 4, "default httpx.AsyncClient + json.loads", run_httpx),
    ClientSpec("requests_8", 5, "requests.Session + 8 threads + .json()", run_requests),
)
BY_NUMBER = {spec.number: spec for spec in CLIENTS}
RATIOS = ((1, 3), (1, 4), (1, 5), (2, 1))


@attrs.frozen
class Case:
    """One workload at one concurrency, run ``rounds`` times by every client."""

    workload: str
    concurrency: int
    n: int
    rounds: int


@attrs.frozen
class Target:
    workload: str
    concurrency: int
    numerator: int
    denominator: int
    minimum: float
    text: str


TARGETS = (
    Target("W2", 32, 1, 3, 0.6, "W2 @32: SDK >= 0.6x bare aiohttp + orjson"),
    Target("W2", 32, 1, 4, 3.0, "W2 @32: SDK >= 3x default httpx"),
    Target("W2", 32, 1, 5, 3.0, "W2 @32: SDK >= 3x requests + 8 threads"),
    Target("W1", 32, 1, 3, 0.4, "W1 @32: SDK >= 0.4x bare aiohttp + orjson"),
    Target("W1", 32, 2, 1, 0.9, "W1 @32: sync facade >= 0.9x async (within 10%)"),
    Target("W2", 32, 2, 1, 0.9, "W2 @32: sync facade >= 0.9x async (within 10%)"),
    Target("W3", 32, 2, 1, 0.9, "W3 @32: sync facade >= 0.9x async (within 10%)"),
    Target("M", 32, 2, 1, 0.9, "M @32: sync facade >= 0.9x async (within 10%)"),
)


# (workload, concurrency, client key) -> samples
Samples = dict[tuple[str, int, str], list[Sample]]


def plan(rounds: int, sweep_rounds: int, scale: float) -> list[Case]:
    """The main cases at 32 in flight, then the W2 sweep (its 32 is the main case's)."""

    def scaled(n: int) -> int:
        return max(50, round(n * scale))

    cases = [Case(w, MAIN_CONCURRENCY, scaled(N_REQUESTS[w]), rounds) for w in ALL_WORKLOADS]
    for concurrency in SWEEP:
        if concurrency != MAIN_CONCURRENCY:
            cases.append(
                Case(SWEEP_WORKLOAD, concurrency, scaled(N_SWEEP[concurrency]), sweep_rounds)
            )
    return cases


def run_cases(server: BenchServer, cases: list[Case]) -> Samples:
    samples: Samples = {}
    for case in cases:
        workload = ALL_WORKLOADS[case.workload]
        ids = make_ids(case.n, seed=case.concurrency)
        url = server.url(workload.name)
        print(
            f"{workload.name} ({workload.description}, {workload.size:,} B), "
            f"{case.concurrency} in flight, {case.n} requests x {case.rounds} rounds",
            flush=True,
        )
        for round_ in range(case.rounds):
            # interleaved, and each round starts with another client
            shift = round_ % len(CLIENTS)
            for spec in CLIENTS[shift:] + CLIENTS[:shift]:
                if isinstance(workload, MixedWorkload) and not spec.mixed:
                    continue
                sample = spec.run(url, workload, ids, case.concurrency)
                samples.setdefault((case.workload, case.concurrency, spec.key), []).append(sample)
                print(
                    f"  round {round_ + 1} {spec.number}. {spec.key:15} "
                    f"{sample.throughput:8.0f} req/s "
                    f"{sample.cpu_per_request * 1e3:7.3f} ms CPU/req",
                    flush=True,
                )
    return samples


@attrs.frozen
class Summary:
    throughput: float
    cpu_per_request: float
    runs: int
    n: int


def summarize(samples: Samples) -> dict[tuple[str, int, str], Summary]:
    return {
        key: Summary(
            throughput=statistics.median(s.throughput for s in values),
            cpu_per_request=statistics.median(s.cpu_per_request for s in values),
            runs=len(values),
            n=values[0].n,
        )
        for key, values in samples.items()
    }


def ratio(
    summary: dict[tuple[str, int, str], Summary],
    workload: str,
    concurrency: int,
    a: int,
    b: int,
    *,
    by_cpu: bool = False,
) -> float | None:
    """Client a's median throughput over client b's (by_cpu: b's CPU/request over a's)."""
    top = summary.get((workload, concurrency, BY_NUMBER[a].key))
    bottom = summary.get((workload, concurrency, BY_NUMBER[b].key))
    if top is None or bottom is None:
        return None
    if by_cpu:
        return bottom.cpu_per_request / top.cpu_per_request
    return top.throughput / bottom.throughput


def _fmt_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def machine_info() -> dict[str, Any]:
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions: dict[str, str] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "client_event_loop": "asyncio (default)",
        "server": f"uvicorn + httptools, {event_loop_name()} loop, 1 process",
        "packages": versions,
        "sdk_source": sdk_source(),
    }


def sdk_source() -> str:
    """The commit the SDK was measured at, and whether its files had uncommitted changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "atomscale_async"],
            check=False,
            cwd=root,
            capture_output=True,
            text=True,
        ).stdout.splitlines()
    except OSError:
        return "unknown (no git)"
    if not commit:
        return "unknown (not a git checkout)"
    return f"{commit}" + (f" + uncommitted changes in {len(dirty)} file(s)" if dirty else "")


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def render(
    summary: dict[tuple[str, int, str], Summary],
    command: str,
    info: dict[str, Any],
    load: tuple[str, str],
    started: str,
) -> tuple[str, list[tuple[Target, float | None, bool]]]:
    lines = [
        "# Bulk fetch benchmark",
        "",
        f"- command: `{command}`",
        f"- date: {started}",
        f"- machine: {info['cpu_count']} CPUs ({info['cpu_model'] or 'unknown model'}), "
        f"{info['platform']}, {info['python']}",
        f"- load average (1, 5, 15 min) at start: {load[0]}; at end: {load[1]}",
        f"- server: {info['server']}; clients: {info['client_event_loop']}",
        f"- SDK measured at: {info['sdk_source']}",
        "- packages: " + ", ".join(f"{k} {v}" for k, v in info["packages"].items()),
        "",
        "Medians over the runs; CPU is this client process's `process_time()` per request "
        "(the server is another process). Ratios are of the medians' throughput, in this run.",
        "",
        "Clients: " + "; ".join(f"{s.number}. {s.label}" for s in CLIENTS) + ".",
        "",
        "Workloads: "
        + "; ".join(f"{w.name} {w.description}" for w in ALL_WORKLOADS.values())
        + ". M asks the catalogue for every id's kind (100 ids a lookup; the bare aiohttp "
        "baseline sends the same lookups) and runs clients 1-3 only; its req/s counts ids "
        "(result GETs), the lookups come on top.",
        "",
        "## Throughput and client CPU",
        "",
        "| workload | in flight | client | runs x N | req/s | CPU ms/req |",
        "| --- | ---: | --- | ---: | ---: | ---: |",
    ]
    cases = list(dict.fromkeys((w, c) for w, c, _ in summary))  # in the order they ran
    for workload, concurrency in cases:
        for spec in CLIENTS:
            s = summary.get((workload, concurrency, spec.key))
            if s is None:
                continue
            flight = REQUESTS_THREADS if spec.number == 5 else concurrency
            lines.append(
                f"| {workload} | {flight} | {spec.number}. {spec.label} | {s.runs} x {s.n} | "
                f"{s.throughput:,.0f} | {s.cpu_per_request * 1e3:.3f} |"
            )
    lines += [
        "",
        "## Throughput ratios",
        "",
        "| workload | in flight | 1/3 SDK / aiohttp+orjson | 1/4 SDK / httpx | "
        "1/5 SDK / requests(8) | 2/1 sync / async |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for workload, concurrency in cases:
        cells = [_fmt_ratio(ratio(summary, workload, concurrency, a, b)) for a, b in RATIOS]
        lines.append(f"| {workload} | {concurrency} | " + " | ".join(cells) + " |")
    sweep = [c for c in SWEEP if (SWEEP_WORKLOAD, c, CLIENTS[0].key) in summary]
    if len(sweep) > 1:
        lines += [
            "",
            f"## Concurrency sweep, {SWEEP_WORKLOAD} (req/s; requests stays at 8 threads)",
            "",
            "| client | " + " | ".join(f"{c} in flight" for c in sweep) + " |",
            "| --- | " + " | ".join("---:" for _ in sweep) + " |",
        ]
        for spec in CLIENTS:
            cells = [f"{summary[SWEEP_WORKLOAD, c, spec.key].throughput:,.0f}" for c in sweep]
            lines.append(f"| {spec.number}. {spec.label} | " + " | ".join(cells) + " |")
        lines.append(
            "| ratio 1/3 | "
            + " | ".join(_fmt_ratio(ratio(summary, SWEEP_WORKLOAD, c, 1, 3)) for c in sweep)
            + " |"
        )
    verdicts: list[tuple[Target, float | None, bool]] = []
    lines += [
        "",
        "## Targets",
        "",
        "Verdicts use the throughput ratio. For reference, the same ratio from CPU per request "
        "(the other client's CPU/req over this one's), which the machine's other load "
        "disturbs less.",
        "",
        "| target | throughput ratio | verdict | CPU/req ratio |",
        "| --- | ---: | --- | ---: |",
    ]
    for t in TARGETS:
        if not any(w == t.workload for w, _, _ in summary):
            continue  # not run (--workload)
        value = ratio(summary, t.workload, t.concurrency, t.numerator, t.denominator)
        by_cpu = ratio(summary, t.workload, t.concurrency, t.numerator, t.denominator, by_cpu=True)
        passed = value is not None and value >= t.minimum
        verdicts.append((t, value, passed))
        lines.append(
            f"| {t.text} | {_fmt_ratio(value)} | {'PASS' if passed else 'FAIL'} | "
            f"{_fmt_ratio(by_cpu)} |"
        )
    return "\n".join(lines) + "\n", verdicts


def write_results(text: str, raw: dict[str, Any], results_dir: Path) -> None:
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "latest.md").write_text(text)
    (results_dir / "latest.json").write_bytes(orjson.dumps(raw, option=orjson.OPT_INDENT_2))
    print(f"wrote {results_dir / 'latest.md'} and {results_dir / 'latest.json'}")


def profile(server: BenchServer, workload_name: str, n: int, top: int, timer: str) -> None:
    """Run the SDK's async client alone under a profiler; print the top functions.

    pyinstrument when installed (it samples, with little overhead); else cProfile,
    timing with this process's CPU clock (``timer="cpu"``: a syscall that wakes
    the server then costs only its CPU, not the wait for the CPU on a busy
    machine; the clock's own cost weighs on tiny functions called often) or the
    wall clock (``timer="wall"``, cProfile's default).
    """
    workload = ALL_WORKLOADS[workload_name]
    ids = make_ids(n)
    url = server.url(workload.name)
    try:
        pyinstrument: Any = importlib.import_module("pyinstrument")
    except ImportError:
        pyinstrument = None

    async def run() -> None:
        async with AsyncClient(API_KEY, base_url=url, max_concurrency=MAIN_CONCURRENCY) as client:
            await client.get(_warm_ids(ids, MAIN_CONCURRENCY), data_type=workload.data_type)
            watch = _Stopwatch()
            if pyinstrument is not None:
                profiler = pyinstrument.Profiler(async_mode="enabled")
                profiler.start()
                await client.get(ids, data_type=workload.data_type)
                profiler.stop()
                sample = watch.stop(n)
                print(profiler.output_text(unicode=False, color=False, show_all=False))
            else:
                import cProfile
                import pstats

                clock = time.process_time if timer == "cpu" else time.perf_counter
                prof = cProfile.Profile(clock)
                prof.enable()
                await client.get(ids, data_type=workload.data_type)
                prof.disable()
                sample = watch.stop(n)
                for order in ("cumulative", "tottime"):
                    print(f"--- top {top} by {order} ---")
                    pstats.Stats(prof).strip_dirs().sort_stats(order).print_stats(top)
            print(
                f"profiled: {n} x {workload.name} at {MAIN_CONCURRENCY} in flight, "
                f"{sample.throughput:.0f} req/s, {sample.cpu_per_request * 1e3:.3f} ms CPU/req "
                "(with the profiler's overhead)"
            )

    print(
        "profiler: " + ("pyinstrument" if pyinstrument is not None else f"cProfile, {timer} clock")
    )
    asyncio.run(run())


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 2 rounds, 1/10 the requests"
    )
    parser.add_argument(
        "--rounds", type=int, default=None, help="runs per client at 32 in flight (5)"
    )
    parser.add_argument(
        "--sweep-rounds", type=int, default=None, help="runs per client in the sweep (3)"
    )
    parser.add_argument("--scale", type=float, default=None, help="multiply the requests per run")
    parser.add_argument("--no-sweep", action="store_true", help="skip the concurrency sweep")
    parser.add_argument(
        "--workload",
        action="append",
        choices=sorted(ALL_WORKLOADS),
        help="run only this workload at 32 in flight (repeatable; no sweep unless W2)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--profile",
        nargs="?",
        const="W2",
        choices=sorted(ALL_WORKLOADS),
        help="only profile the SDK (async) on this workload (default W2); print the top functions",
    )
    parser.add_argument("--top", type=int, default=30, help="functions the profile lists")
    parser.add_argument(
        "--profile-clock",
        choices=("cpu", "wall"),
        default="cpu",
        help="cProfile's clock (cpu: this process's CPU time; wall: perf_counter)",
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()
    rounds = args.rounds or (2 if args.quick else 5)
    sweep_rounds = args.sweep_rounds or (1 if args.quick else 3)
    scale = args.scale or (0.1 if args.quick else 1.0)
    command = shlex.join(["python", *sys.argv])
    bodies = {w.name: w.body for w in ALL_WORKLOADS.values()}

    if args.profile:
        with BenchServer(bodies) as server:
            n = max(50, round(N_REQUESTS[args.profile] * scale))
            profile(server, args.profile, n, args.top, args.profile_clock)
        return 0

    cases = plan(rounds, sweep_rounds, scale)
    if args.no_sweep:
        cases = [c for c in cases if c.concurrency == MAIN_CONCURRENCY]
    if args.workload:
        cases = [c for c in cases if c.workload in args.workload]
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    info = machine_info()
    load_start = _load()
    t0 = time.perf_counter()
    with BenchServer(bodies) as server:
        samples = run_cases(server, cases)
    elapsed = time.perf_counter() - t0
    summary = summarize(samples)
    text, verdicts = render(summary, command, info, (load_start, _load()), started)
    text += f"\nTotal time of the runs: {elapsed:.0f} s.\n"
    print()
    print(text)
    raw = {
        "command": command,
        "started": started,
        "machine": info,
        "load_average": {"start": load_start, "end": _load()},
        "elapsed_s": elapsed,
        "workloads": {
            w.name: {"data_type": w.data_type, "bytes": w.size, "description": w.description}
            for w in ALL_WORKLOADS.values()
        },
        "clients": {s.key: {"number": s.number, "label": s.label} for s in CLIENTS},
        "samples": [
            {"workload": w, "concurrency": c, "client": k, "round": i + 1, **attrs.asdict(s)}
            for (w, c, k), values in samples.items()
            for i, s in enumerate(values)
        ],
        "targets": [
            {"target": t.text, "ratio": value, "minimum": t.minimum, "pass": passed}
            for t, value, passed in verdicts
        ],
    }
    write_results(text, raw, args.results_dir)
    failed = [t for t, _, passed in verdicts if not passed]
    if failed:
        print(f"{len(failed)} target(s) missed; see where the SDK spends its time with --profile")
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
