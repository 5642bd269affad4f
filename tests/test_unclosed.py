"""aiohttp's "Unclosed client session" / "Unclosed connector" never reach the user's stderr.

Each case runs in a subprocess of its own (the messages come at loop end or exit).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PRELUDE = """
import asyncio
from tests.servers import SocketServer
from atomscale_async import AsyncClient

server = SocketServer("ok").__enter__()
"""

CASES = {
    "left_unclosed": """
        async def main():
            client = AsyncClient(api_key="sk-test", base_url=server.base_url)
            await client._request("GET", "oes/x")

        asyncio.run(main())
    """,
    "kept_in_a_global_unclosed": """
        client = AsyncClient(api_key="sk-test", base_url=server.base_url)

        async def main():
            await client._request("GET", "oes/x")

        asyncio.run(main())
    """,
    "reused_across_two_runs_then_closed": """
        client = AsyncClient(api_key="sk-test", base_url=server.base_url)

        async def first():
            await client._request("GET", "oes/x")

        async def second():
            await client._request("GET", "oes/x")
            await client.aclose()

        asyncio.run(first())
        asyncio.run(second())
    """,
}


def _run(code: str, *flags: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYTHONWARNINGS", None)
    env.pop("PYTHONDEVMODE", None)
    script = PRELUDE + textwrap.dedent(code) + "\nprint('done')\n"
    return subprocess.run(
        [sys.executable, *flags, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env,
        check=False,
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_nothing_is_printed_about_unclosed_sessions(case: str) -> None:
    result = _run(CASES[case])
    assert result.returncode == 0, result.stderr
    assert result.stdout == "done\n"
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("case", "reported"),
    [("left_unclosed", True), ("reused_across_two_runs_then_closed", False)],
)
def test_a_client_never_closed_is_still_reported_in_development_mode(
    case: str, reported: bool
) -> None:
    result = _run(CASES[case], "-X", "dev")
    assert result.returncode == 0, result.stderr
    assert ("ResourceWarning: an AsyncClient was not closed" in result.stderr) is reported
    assert "Unclosed" not in result.stderr
