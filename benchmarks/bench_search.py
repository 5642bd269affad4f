"""Structuring a 100,000-entry catalogue answer, against orjson.loads of the same bytes.

A search is one unpaged answer: every entry the filters match, each with some twenty fields
(datetimes, projects, free-form metadata). This measures what the SDK adds to decoding it:
``client.search`` runs ``orjson.loads`` and structures each entry into a typed ``DataEntry``
(aware datetimes, ``ProjectRef`` models), then wraps them in a ``SearchResult``. The answer is
the sandbox's own (realistic fields, spread over two years), built once.

Reported: the median time of each over several runs (interleaved), the SDK's time per entry
and its ratio to ``orjson.loads``; the peak RSS growth of each, in a fresh interpreter, and
the RSS its result still holds. The peak is the kernel's high-water mark of the child's own
memory (``VmHWM``, reset to the current RSS just before the call): ``ru_maxrss`` would also
carry the parent's (it survives fork + exec), and the parent holds the whole answer.

    python benchmarks/bench_search.py [--entries 100000] [--repeat 5]
"""

import argparse
import gc
import json
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


def memory_growth(mode: str, path: Path) -> dict[str, int]:
    """Peak and held RSS growth (bytes) of decoding the answer in `path`, in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, __file__, "--measure", mode, "--file", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    growth: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
    return growth


def _status_bytes(field: str) -> int:
    """A ``VmRSS``/``VmHWM`` line of ``/proc/self/status`` (Linux), in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024  # kB
    raise RuntimeError(f"no {field} in /proc/self/status")


def measure(mode: str, path: Path) -> None:
    body = path.read_bytes()
    call = (lambda: orjson.loads(body)) if mode == "loads" else (lambda: sdk_structure(body))
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS (Linux 4.0+)
    before = _status_bytes("VmRSS")
    result = call()
    peak, held = _status_bytes("VmHWM"), _status_bytes("VmRSS")
    del result
    print(json.dumps({"peak": peak - before, "held": held - before}))


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
        base_memory, sdk_memory = memory_growth("loads", path), memory_growth("sdk", path)

    print(
        f"\n| medians of {args.repeat} | s | µs per entry | ratio | peak RSS growth, MB "
        "| held by the result, MB |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, median, memory in (
        ("`orjson.loads`", base_median, base_memory),
        ("SDK: loads + structure into `DataEntry`", sdk_median, sdk_memory),
    ):
        print(
            f"| {name} | {median:.3f} | {median / args.entries * 1e6:.2f} | "
            f"{median / base_median:.2f}x | {memory['peak'] / 1e6:.1f} "
            f"| {memory['held'] / 1e6:.1f} |"
        )


if __name__ == "__main__":
    main()
