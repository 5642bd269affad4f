"""Memory and start of a long export: 200,000 W1 ids to JSON Lines, and its resume.

The same local server as ``bench_memory.py`` answers every ``GET /oes/*`` with
the W1 body and the catalogue (``GET data_entries/``) with kind ``oes`` for
every id asked. No ``data_type`` is given, so every id goes through the
catalogue (100 ids a request), as with ids a user brings. Each run is a fresh
child process: it builds the ids, warms its pool up, takes its RSS as the
baseline, then runs, while a thread samples the RSS (``bench_memory.py``'s
sampler and ``ru_maxrss`` rule):

- ``iter_results``: every outcome dropped (the streaming baseline);
- ``export``: ``client.export(ids, "pull.jsonl")`` to a new file;
- ``resume``: the same call again on the finished file (reads it, finds
  nothing to do).

Figures: peak RSS growth (target: under 100 MB for ``export``); the time from
the call to the first result request (``GET /oes/...``) and to the last
catalogue request, both noted where the request loop sends; wall time and rate.
The first result request must come long before the last catalogue request:
the fetches start while the catalogue is still being read.

    python benchmarks/bench_export.py [--n 200000] [--strict]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from _payloads import WORKLOADS, make_ids
from _server import BenchServer
from bench_memory import MB, RESULTS_DIR, PeakSampler, maxrss_bytes, rss_reader

from atomscale_async import AsyncClient

API_KEY = "bench-key"
TARGET_MB = 100.0
MODES = ("iter_results", "export", "resume")


def measure(mode: str, base_url: str, n: int, concurrency: int, path: Path) -> dict[str, Any]:
    """In the child: run ``mode`` over ``n`` ids; return the figures."""
    read = rss_reader()
    ids = make_ids(n)  # the caller's input, made before the baseline
    warm = make_ids(2 * concurrency, seed=1)
    marks: dict[str, float] = {}

    def watch(client: AsyncClient) -> None:
        """Note when requests are sent: wrap the one place that sends (a private name)."""
        sender = client._state.sender
        send = sender.send

        async def noted(method: str, path: str, *rest: Any) -> Any:
            now = time.perf_counter()
            if path.startswith("data_entries"):
                marks.setdefault("first_catalogue", now)
                marks["last_catalogue"] = now
            else:
                marks.setdefault("first_result", now)
            return await send(method, path, *rest)

        sender.send = noted  # type: ignore[method-assign, assignment]

    async def run() -> tuple[int, int, float, float, PeakSampler, Any]:
        async with AsyncClient(API_KEY, base_url=base_url, max_concurrency=concurrency) as c:
            async for _ in c.iter_results(warm):
                pass
            watch(c)
            marks.clear()
            gc.collect()
            rss0, maxrss0 = read(), maxrss_bytes()
            summary: Any = None
            with PeakSampler(read) as sampler:
                started = time.perf_counter()
                if mode == "iter_results":
                    count = 0
                    async for outcome in c.iter_results(ids):
                        count += outcome.ok
                        if count % 1000 == 0:
                            sampler.sample()
                    summary = {"succeeded": count}
                else:
                    summary = await c.export(ids, path)
                elapsed = time.perf_counter() - started
            return rss0, maxrss0, started, elapsed, sampler, summary

    rss0, maxrss0, started, elapsed, sampler, summary = asyncio.run(run())
    maxrss1 = maxrss_bytes()
    peak = max(sampler.peak, maxrss1) if maxrss1 > maxrss0 else sampler.peak
    if not isinstance(summary, dict):
        summary = {
            "skipped": summary.skipped,
            "succeeded": summary.succeeded,
            "failed": summary.failed,
        }

    def since_start(mark: str) -> float | None:
        return marks[mark] - started if mark in marks else None

    return {
        "mode": mode,
        "n": n,
        "concurrency": concurrency,
        "summary": summary,
        "elapsed_s": elapsed,
        "rate": n / elapsed,
        "baseline_rss_mb": rss0 / MB,
        "peak_growth_mb": (peak - rss0) / MB,
        "first_result_request_s": since_start("first_result"),
        "first_catalogue_request_s": since_start("first_catalogue"),
        "last_catalogue_request_s": since_start("last_catalogue"),
        "file_mb": path.stat().st_size / MB if path.exists() else 0.0,
    }


def run_child(mode: str, base_url: str, n: int, concurrency: int, path: Path) -> dict[str, Any]:
    """Measure in a fresh process; its last line of output is the JSON result."""
    args = ["--child", mode, "--url", base_url, "--n", str(n), "--path", str(path)]
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *args, "--concurrency", str(concurrency)],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:,.0f} ms" if value < 10 else f"{value:.1f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000, help="ids exported (200,000)")
    parser.add_argument("--concurrency", type=int, default=32, help="max_concurrency (32)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        result = measure(args.child, args.url, args.n, args.concurrency, args.path)
        print(json.dumps(result))
        return 0

    w1 = WORKLOADS["W1"]
    command = shlex.join(["python", *sys.argv])
    print(
        f"{args.n:,} ids, {w1.name} body ({len(w1.body):,} B), kinds from the catalogue, "
        f"max_concurrency={args.concurrency}",
        flush=True,
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="atomscale-export-") as tmp:
        path = Path(tmp) / "pull.jsonl"
        with BenchServer({w1.name: w1.body}) as server:
            for mode in MODES:
                result = run_child(mode, server.url(w1.name), args.n, args.concurrency, path)
                results.append(result)
                print(
                    f"  {mode}: {result['summary']} in {result['elapsed_s']:.1f} s; "
                    f"peak RSS growth {result['peak_growth_mb']:.1f} MB; first result request "
                    f"after {_seconds(result['first_result_request_s'])}",
                    flush=True,
                )
    base = results[0]
    lines = [
        f"command: `{command}`",
        "",
        "| run | ids | peak RSS growth | first result request | last catalogue request "
        "| wall | ids/s | vs iter_results | verdict |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    failed = False
    for r in results:
        done = r["summary"].get("skipped", 0) + r["summary"]["succeeded"]
        passed = r["peak_growth_mb"] < TARGET_MB and done == r["n"]
        if r["mode"] != "resume":
            first, last = r["first_result_request_s"], r["last_catalogue_request_s"]
            passed = passed and first is not None and last is not None and first < last
        failed = failed or not passed
        lines.append(
            f"| {r['mode']} | {r['n']:,} | {r['peak_growth_mb']:.1f} MB | "
            f"{_seconds(r['first_result_request_s'])} | "
            f"{_seconds(r['last_catalogue_request_s'])} | {r['elapsed_s']:.1f} s | "
            f"{r['rate']:,.0f} | {r['rate'] / base['rate']:.2f}x | "
            f"{'PASS' if passed else 'FAIL'} (< {TARGET_MB:.0f} MB, all ids) |"
        )
    text = "\n".join(lines) + "\n"
    print()
    print(text)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    (args.results_dir / "export.md").write_text("# export memory and start\n\n" + text)
    raw = {"command": command, "target_mb": TARGET_MB, "results": results}
    (args.results_dir / "export.json").write_bytes(orjson.dumps(raw, option=orjson.OPT_INDENT_2))
    print(f"wrote {args.results_dir / 'export.md'} and {args.results_dir / 'export.json'}")
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
