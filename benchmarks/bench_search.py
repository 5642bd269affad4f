"""Structuring a 100,000-entry catalogue answer, against orjson.loads of the same bytes.

A search is one unpaged answer: every entry the filters match, each with some twenty fields
(datetimes, projects, free-form metadata). This measures what the SDK adds to decoding it:
``client.search`` runs ``orjson.loads`` and structures each entry into a typed ``DataEntry``
(aware datetimes, ``ProjectRef`` models), then wraps them in a ``SearchResult``. The answer is
the sandbox's own (realistic fields, spread over two years), built once.

Reported: the median time of each over several runs (interleaved), the SDK's time per entry
and its ratio to ``orjson.loads``, with the cyclic garbage collector on (as a program runs)
and paused during the call (the share of the collector's passes over the growing heap);
the peak RSS growth of each, in a fresh interpreter, and
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

import attrs
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


@attrs.frozen
class Timing:
    """One call: wall and CPU seconds."""

    wall: float
    cpu: float


def timed(call: Callable[[], Any], *, pause_gc: bool) -> Timing:
    """Time one call; ``pause_gc`` turns the cyclic garbage collector off during it."""
    gc.collect()
    if pause_gc:
        gc.disable()
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        result = call()
        timing = Timing(time.perf_counter() - wall, time.process_time() - cpu)
    finally:
        gc.enable()
    del result
    return timing


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

    # Interleave them so that the machine's noise falls on all alike.
    calls = {"loads": lambda: orjson.loads(body), "sdk": lambda: sdk_structure(body)}
    runs: dict[tuple[str, bool], list[Timing]] = {}
    for _ in range(args.repeat):
        for pause_gc in (False, True):
            for name, call in calls.items():
                runs.setdefault((name, pause_gc), []).append(timed(call, pause_gc=pause_gc))
    wall = {key: statistics.median(t.wall for t in values) for key, values in runs.items()}
    cpu = {key: statistics.median(t.cpu for t in values) for key, values in runs.items()}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "answer.json"
        path.write_bytes(body)
        memory = {name: memory_growth(name, path) for name in calls}

    labels = {"loads": "`orjson.loads`", "sdk": "SDK: loads + structure into `DataEntry`"}
    print(
        f"\n| medians of {args.repeat} | cyclic GC | s | µs per entry | x orjson.loads "
        "| x orjson.loads, CPU | peak RSS growth, MB | held by the result, MB |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for pause_gc in (False, True):
        for name in calls:
            key, base = (name, pause_gc), ("loads", pause_gc)
            grown = (
                f"{memory[name]['peak'] / 1e6:.1f} | {memory[name]['held'] / 1e6:.1f}"
                if not pause_gc
                else "- | -"
            )
            print(
                f"| {labels[name]} | {'paused' if pause_gc else 'on'} | {wall[key]:.3f} "
                f"| {wall[key] / args.entries * 1e6:.2f} | {wall[key] / wall[base]:.2f}x "
                f"| {cpu[key] / cpu[base]:.2f}x | {grown} |"
            )


if __name__ == "__main__":
    main()
