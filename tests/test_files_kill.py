"""Killed with SIGKILL again and again, an upload and a download resume to identical files."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from atomscale_async.sandbox import SandboxServer

from .files_sandbox import PART, sandbox

__all__ = ["sandbox"]

pytestmark = pytest.mark.slow

UPLOAD = """
import sys
from atomscale_async import Client
with Client(sys.argv[1], base_url=sys.argv[2]) as client:
    (outcome,) = client.upload(sys.argv[3], part_size=5 * 2**20, max_concurrency=2,
                               resume=True, state_dir=sys.argv[4])
    print(outcome.data_id if outcome.ok else f"error {outcome.error!r}")
"""
DOWNLOAD = """
import sys
from atomscale_async import Client
with Client(sys.argv[1], base_url=sys.argv[2]) as client:
    (outcome,) = client.download(sys.argv[3], sys.argv[4])
    print(outcome.path if outcome.ok else f"error {outcome.error!r}")
"""


def _until_done(args: list[str], kills: int) -> tuple[str, int]:
    """Run the script, SIGKILL it up to ``kills`` times, then let it finish: its output."""
    rng = random.Random(17)
    killed = 0
    while True:
        process = subprocess.Popen(
            [sys.executable, "-c", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        if killed < kills:
            time.sleep(rng.uniform(0.4, 1.0))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.communicate()
                killed += 1
                continue
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
        assert not stdout.startswith("error"), stdout
        return stdout.strip(), killed


def test_an_upload_and_a_download_killed_20_times_each_resume_to_identical_files(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    source = tmp_path / "big.vms"
    source.write_bytes(os.urandom(40 * PART + 3))
    key, base = sandbox.api_key or "", sandbox.base_url
    data_id, killed = _until_done([UPLOAD, key, base, str(source), str(tmp_path / "state")], 20)
    assert killed == 20
    path, killed = _until_done([DOWNLOAD, key, base, data_id, str(tmp_path / "out")], 20)
    assert killed == 20
    content = Path(path).read_bytes()
    assert content == source.read_bytes()
    (entry,) = sandbox.state.catalogue.record(data_id)[:1]
    assert entry["sha3_256"] == hashlib.sha3_256(content).hexdigest()
