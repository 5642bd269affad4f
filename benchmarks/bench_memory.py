"""Memory of a long bulk stream: ``iter_results`` over 100,000 ids stays under 100 MB.

The same kind of local server as ``bench_bulk.py`` (uvicorn + httptools in
another process) answers every ``GET /oes/*`` with the W1 body (a small OES
result). The measured client runs in a fresh child process, so that its
baseline is clean: it builds the ids, opens its pool with a short warm-up,
takes its resident set size (RSS) as the baseline, then streams every id
through ``iter_results(ids, data_type="oes")``, dropping each outcome. A thread
samples the RSS every 10 ms (and the loop every 1,000 outcomes); when the
kernel's high-water mark (``ru_maxrss``) rose during the stream, it is the peak
(it also sees spikes between two samples). The figure is that peak minus the
baseline. Target: under 100 MB.

    python benchmarks/bench_memory.py [--n 100000] [--client async|sync|both] [--strict]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import json
import os
import resource
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
from _payloads import WORKLOADS, make_ids
from _server import BenchServer

from atomscale_async import AsyncClient, Client, OESResult

API_KEY = "bench-key"
TARGET_MB = 100.0
SAMPLE_SECONDS = 0.01
RESULTS_DIR = Path(__file__).resolve().parent / "results"
MB = 1024 * 1024


def rss_reader() -> Callable[[], int]:
    """Current RSS in bytes: psutil when installed, else /proc/self/statm (Linux)."""
    try:
        psutil: Any = importlib.import_module("psutil")
    except ImportError:
        page = os.sysconf("SC_PAGE_SIZE")

        def statm() -> int:
            with open("/proc/self/statm", "rb") as f:
                return int(f.read().split()[1]) * page

        return statm
    process = psutil.Process()
    return lambda: int(process.memory_info().rss)


def maxrss_bytes() -> int:
    """The kernel's high-water mark of this process's RSS (KiB on Linux, bytes on macOS)."""
    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value if sys.platform == "darwin" else value * 1024


class PeakSampler:
    """Samples the RSS on a thread while the stream runs; keeps the highest."""

    def __init__(self, read: Callable[[], int]) -> None:
        self.read = read
        self.peak = read()
        self.samples = 1
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self.sample()

    def sample(self) -> None:
        self.peak = max(self.peak, self.read())
        self.samples += 1

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def _check(outcome: Any) -> bool:
    return bool(outcome.ok and isinstance(outcome.result, OESResult))


def measure(client_kind: str, base_url: str, n: int, concurrency: int) -> dict[str, Any]:
    """In the child: stream ``n`` ids through ``iter_results``; return the figures."""
    read = rss_reader()
    ids = make_ids(n)  # the caller's input, made before the baseline
    warm = ids[: 2 * concurrency]
    counts = {"outcomes": 0, "bad": 0}

    def tally(outcome: Any, sampler: PeakSampler) -> None:
        counts["outcomes"] += 1
        if not _check(outcome):
            counts["bad"] += 1
        if counts["outcomes"] % 1000 == 0:
            sampler.sample()

    def baseline() -> tuple[int, int]:
        gc.collect()
        return read(), maxrss_bytes()

    if client_kind == "async":

        async def run() -> tuple[int, int, float, PeakSampler]:
            async with AsyncClient(API_KEY, base_url=base_url, max_concurrency=concurrency) as c:
                async for _ in c.iter_results(warm, data_type="oes"):
                    pass
                rss0, maxrss0 = baseline()
                started = time.perf_counter()
                with PeakSampler(read) as sampler:
                    async for outcome in c.iter_results(ids, data_type="oes"):
                        tally(outcome, sampler)
                return rss0, maxrss0, time.perf_counter() - started, sampler

        rss0, maxrss0, elapsed, sampler = asyncio.run(run())
    else:
        with Client(API_KEY, base_url=base_url, max_concurrency=concurrency) as client:
            outcomes: Iterator[Any] = client.iter_results(warm, data_type="oes")
            for _ in outcomes:
                pass
            rss0, maxrss0 = baseline()
            started = time.perf_counter()
            with PeakSampler(read) as sampler:
                for outcome in client.iter_results(ids, data_type="oes"):
                    tally(outcome, sampler)
            elapsed = time.perf_counter() - started
    maxrss1 = maxrss_bytes()
    # A spike shorter than the sampling period escapes the sampler but not the
    # kernel's high-water mark: when that rose during the stream, it is the peak.
    peak = max(sampler.peak, maxrss1) if maxrss1 > maxrss0 else sampler.peak
    return {
        "client": client_kind,
        "n": n,
        "concurrency": concurrency,
        "outcomes": counts["outcomes"],
        "bad_outcomes": counts["bad"],
        "elapsed_s": elapsed,
        "throughput": n / elapsed,
        "baseline_rss_mb": rss0 / MB,
        "peak_rss_mb": peak / MB,
        "peak_growth_mb": (peak - rss0) / MB,
        "sampled_peak_growth_mb": (sampler.peak - rss0) / MB,
        "maxrss_rise_mb": max(0, maxrss1 - maxrss0) / MB,
        "rss_samples": sampler.samples,
    }


def run_child(client_kind: str, base_url: str, n: int, concurrency: int) -> dict[str, Any]:
    """Measure in a fresh process; its last line of output is the JSON result."""
    proc = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            client_kind,
            "--url",
            base_url,
            "--n",
            str(n),
            "--concurrency",
            str(concurrency),
        ],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="ids streamed (100,000)")
    parser.add_argument("--concurrency", type=int, default=32, help="max_concurrency (32)")
    parser.add_argument(
        "--client",
        choices=("async", "sync", "both"),
        default="async",
        help="AsyncClient.iter_results, Client.iter_results, or both (async)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--child", choices=("async", "sync"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        print(json.dumps(measure(args.child, args.url, args.n, args.concurrency)))
        return 0

    w1 = WORKLOADS["W1"]
    kinds = ("async", "sync") if args.client == "both" else (args.client,)
    command = shlex.join(["python", *sys.argv])
    print(
        f"iter_results over {args.n:,} ids, {w1.name} body ({len(w1.body):,} B), "
        f"data_type='oes', max_concurrency={args.concurrency}",
        flush=True,
    )
    results = []
    with BenchServer({w1.name: w1.body}) as server:
        for kind in kinds:
            result = run_child(kind, server.url(w1.name), args.n, args.concurrency)
            results.append(result)
            print(
                f"  {kind}: {result['outcomes']:,} outcomes ({result['bad_outcomes']} bad) in "
                f"{result['elapsed_s']:.1f} s ({result['throughput']:.0f} req/s); RSS "
                f"{result['baseline_rss_mb']:.1f} -> peak {result['peak_rss_mb']:.1f} MB",
                flush=True,
            )
    lines = [
        f"command: `{command}`",
        "",
        "| client | ids | peak RSS growth | sampled peak growth | ru_maxrss rise | req/s "
        "| verdict |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    failed = False
    for r in results:
        passed = (
            r["peak_growth_mb"] < TARGET_MB and r["bad_outcomes"] == 0 and r["outcomes"] == r["n"]
        )
        failed = failed or not passed
        label = "AsyncClient" if r["client"] == "async" else "Client (sync)"
        lines.append(
            f"| {label}.iter_results | {r['n']:,} | {r['peak_growth_mb']:.1f} MB | "
            f"{r['sampled_peak_growth_mb']:.1f} MB | {r['maxrss_rise_mb']:.1f} MB | "
            f"{r['throughput']:,.0f} | "
            f"{'PASS' if passed else 'FAIL'} (< {TARGET_MB:.0f} MB) |"
        )
    text = "\n".join(lines) + "\n"
    print()
    print(text)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    (args.results_dir / "memory.md").write_text("# iter_results memory\n\n" + text)
    raw = {"command": command, "target_mb": TARGET_MB, "results": results}
    (args.results_dir / "memory.json").write_bytes(orjson.dumps(raw, option=orjson.OPT_INDENT_2))
    print(f"wrote {args.results_dir / 'memory.md'} and {args.results_dir / 'memory.json'}")
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
