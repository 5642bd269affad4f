"""Kill an exporting process with SIGKILL at random moments, resume, and check the file.

The exporter runs in a child process against a local sandbox server (latency and
5xx answers on); this test kills it at a random moment, looks at what is on disk,
starts it again, and so on; the last run goes to the end. At the end every id has
exactly one success record, no line or row is torn, and every success record seen
right after a kill is still there, unchanged.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL"),
]

ROOT = Path(__file__).resolve().parents[1]
KILLS = 20
ENTRIES = 3000
CHILD = """
import sys, warnings
from pathlib import Path
from atomscale_async import Client

warnings.simplefilter("ignore")
base_url, api_key, ids_file, path = sys.argv[1:5]
ids = Path(ids_file).read_text().split()
with Client(api_key, base_url=base_url, max_retries=0, max_concurrency=4) as client:
    client.export(ids, path, rows_per_part=40)
"""


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    from atomscale_async.sandbox import SandboxServer

    with SandboxServer(entries=ENTRIES, latency_ms=25, error_rate=0.03, process=True) as server:
        yield server


def start(sandbox: Any, ids_file: Path, path: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    args = [sandbox.base_url, sandbox.api_key, str(ids_file), str(path)]
    return subprocess.Popen([sys.executable, "-c", CHILD, *args], env=env)


def jsonl_successes(path: Path, *, after_kill: bool) -> dict[str, bytes]:
    """The success lines by id; every complete line must be a record."""
    data = path.read_bytes() if path.exists() else b""
    *lines, tail = data.split(b"\n")
    if not after_kill:
        assert tail == b"", "no torn last line at the end"
    found: dict[str, bytes] = {}
    failed: set[str] = set()
    for line in lines:
        record = orjson.loads(line)  # a torn line in the middle would fail here
        if "error" in record:
            failed.add(record["data_id"])
        else:
            assert record["data_id"] not in found, "one success line per id"
            found[record["data_id"]] = line
    if not after_kill:
        assert not failed & set(found), "failure lines of ids that succeeded are gone"
    return found


def parquet_successes(root: Path, *, after_kill: bool) -> dict[str, bytes]:
    """The rows by id (as their JSON), read from every part file."""
    import pyarrow.parquet as pq

    found: dict[str, bytes] = {}
    for part in sorted(root.glob("kind=*/part-*.parquet")):
        for row in pq.read_table(part).to_pylist():  # a torn part file would fail here
            assert row["data_id"] not in found, "one row per id"
            found[row["data_id"]] = orjson.dumps(row, default=str)
    if not after_kill:
        assert not list(root.rglob(".*.tmp")), "no temporary part left at the end"
        for line in (root / "_errors.jsonl").read_bytes().splitlines():
            assert orjson.loads(line)["data_id"] not in found
    return found


@pytest.mark.parametrize("name", ["pull.jsonl", "pull.parquet"])
def test_killed_at_random_moments_resumes_without_loss_or_torn_records(
    sandbox: Any, tmp_path: Path, name: str
) -> None:
    from atomscale_async.sandbox import Faults

    if name.endswith(".parquet"):
        pytest.importorskip("pyarrow")
    read = parquet_successes if name.endswith(".parquet") else jsonl_successes
    rng = random.Random(int(os.environ.get("EXPORT_KILL_SEED", "2024")))
    ids = sandbox.data_ids
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("\n".join(ids))
    path = tmp_path / name
    sandbox.faults = Faults(latency_ms=25, error_rate=0.03)
    seen: dict[str, bytes] = {}
    kills = 0
    while kills < KILLS:
        child = start(sandbox, ids_file, path)
        time.sleep(rng.uniform(0.4, 1.6))
        child.send_signal(signal.SIGKILL)
        assert child.wait(30) == -signal.SIGKILL, "killed while it was still exporting"
        kills += 1
        now = read(path, after_kill=True)
        lost = {i for i in seen if now.get(i) != seen[i]}
        assert not lost, f"success records gone or changed after kill {kills}: {sorted(lost)[:3]}"
        seen |= now
    assert len(seen) < len(ids), "work was left for the final run"
    sandbox.faults = Faults()
    final = start(sandbox, ids_file, path)
    assert final.wait(120) == 0
    at_end = read(path, after_kill=False)
    assert sorted(at_end) == sorted(ids), "every id exactly once"
    assert all(at_end[i] == line for i, line in seen.items()), "every record seen is kept"
