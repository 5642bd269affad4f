"""Structuring a 100,000-entry catalogue answer, against orjson.loads of the same bytes.

A search is one unpaged answer: every entry the filters match, each with some twenty fields
(datetimes, projects, free-form metadata). This measures what the SDK adds to decoding it:
``client.search`` runs ``orjson.loads`` and structures each entry into a typed ``DataEntry``
(aware datetimes, ``ProjectRef`` models), then wraps them in a ``SearchResult``. The answer is
the sandbox's own (realistic fields, spread over two years), built once.

Reported: the median time of each over several runs (interleaved), the SDK's time per entry
and its ratio to ``orjson.loads``; the peak RSS growth of each, in a fresh interpreter.

    python benchmarks/bench_search.py [--entries 100000] [--repeat 5]
"""

import argparse
import gc
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from atomscale_async import DataEntry, SearchResult
from atomscale_async._convert import decode
from atomscale_async.sandbox import SandboxConfig
from atomscale_async.sandbox._state import SandboxState


def catalogue_answer(entries: int) -> bytes:
    """The sandbox's answer to an unfiltered search of a catalogue of `entries`."""
    state = SandboxState(SandboxConfig(entries=entries, seed=1, api_key=None))
    status, body = state.answer_data_entries({})
    assert status == 200
    return body


def sdk_structure(body: bytes) -> SearchResult:
    return SearchResult(decode(body, list[DataEntry], "GET /data_entries/"))


def timed(call: Callable[[], Any], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
        del result
    return times


def peak_growth(mode: str, path: Path) -> int:
    """Peak RSS growth (bytes) of decoding the answer in `path`, in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, __file__, "--measure", mode, "--file", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout.strip())


def measure(mode: str, path: Path) -> None:
    body = path.read_bytes()
    call = (lambda: orjson.loads(body)) if mode == "loads" else (lambda: sdk_structure(body))
    gc.collect()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = call()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    del result
    print((after - before) * 1024)  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--measure", choices=("loads", "sdk"), help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure, args.file)
        return

    started = time.perf_counter()
    body = catalogue_answer(args.entries)
    print(
        f"catalogue answer: {args.entries:,} entries, {len(body) / 1e6:.1f} MB "
        f"(built in {time.perf_counter() - started:.1f} s)"
    )
    found = sdk_structure(body)
    assert len(found) == args.entries
    assert found[0].upload_datetime is not None

    # Interleave the two so that the machine's noise falls on both alike.
    baseline: list[float] = []
    sdk: list[float] = []
    for _ in range(args.repeat):
        baseline += timed(lambda: orjson.loads(body), 1)
        sdk += timed(lambda: sdk_structure(body), 1)
    base_median, sdk_median = statistics.median(baseline), statistics.median(sdk)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "answer.json"
        path.write_bytes(body)
        base_peak, sdk_peak = peak_growth("loads", path), peak_growth("sdk", path)

    print(f"\n| medians of {args.repeat} | s | µs per entry | ratio | peak RSS growth, MB |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, median, peak in (
        ("`orjson.loads`", base_median, base_peak),
        ("SDK: loads + structure into `DataEntry`", sdk_median, sdk_peak),
    ):
        print(
            f"| {name} | {median:.3f} | {median / args.entries * 1e6:.2f} | "
            f"{median / base_median:.2f}x | {peak / 1e6:.1f} |"
        )


if __name__ == "__main__":
    main()
