"""Check the sandbox against the API description with schemathesis (``nox -s schemathesis``).

Starts a seeded sandbox on 127.0.0.1 (the seed and size the description's examples of ids
were taken from), runs ``st run`` over every operation with every check and the examples,
coverage, fuzzing and stateful phases, and exits with its status: 0 only when it found no
failure. Nothing leaves the machine.

    python tests/schemathesis_sandbox.py [--max-examples 50] [extra st run arguments...]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from atomscale_async.sandbox import SandboxServer

DESCRIPTION = Path(__file__).resolve().parents[1] / "atomscale_async" / "openapi.yaml"
#: The sandbox the description's `examples` of data, sample and project ids come from.
EXAMPLES_SEED = 0
EXAMPLES_ENTRIES = 200


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=40)
    parser.add_argument("--seed", type=int, default=20261128, help="schemathesis' own seed")
    args, extra = parser.parse_known_args()
    st = shutil.which("st") or shutil.which("schemathesis")
    if st is None:
        print("schemathesis is not installed: pip install schemathesis", file=sys.stderr)
        return 2
    with SandboxServer(entries=EXAMPLES_ENTRIES, seed=EXAMPLES_SEED) as server:
        command = [
            st,
            "run",
            str(DESCRIPTION),
            "--url",
            server.base_url,
            "--header",
            f"X-API-KEY: {server.api_key}",
            "--checks",
            "all",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--max-examples",
            str(args.max_examples),
            "--seed",
            str(args.seed),
            "--workers",
            "1",
            "--generation-deterministic",
            *extra,
        ]
        print("+", " ".join(command), flush=True)
        with tempfile.TemporaryDirectory() as scratch:  # where st keeps its cache
            return subprocess.run(command, check=False, cwd=scratch).returncode


if __name__ == "__main__":
    sys.exit(main())
