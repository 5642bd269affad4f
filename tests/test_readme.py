"""The README's Python examples run, as written, against the sandbox."""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from atomscale_async import Client, UnknownDataTypeWarning

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    from atomscale_async.sandbox import SandboxServer

    with SandboxServer(entries=60) as server:
        yield server


@pytest.fixture
def namespace(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("ATOMSCALE_API_KEY", sandbox.api_key)
    monkeypatch.setenv("ATOMSCALE_BASE_URL", sandbox.base_url)
    sims_ids = [i for i in sandbox.state.sims_ids(empty=False)]
    oes_ids = sandbox.state.oes_ids()
    with Client() as client, warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownDataTypeWarning)
        results = client.get(sandbox.data_ids, errors="return")
        sims, oes = client.sims.get(sims_ids[0]), client.oes.get(oes_ids[0])
    return {
        "ids": sandbox.data_ids[:20],
        "oes_ids": oes_ids[:10],
        "sims_id": sims_ids[0],
        "oes_id": oes_ids[0],
        "sims": sims,
        "oes": oes,
        "results": results,
    }


def runnable(block: str) -> bool:
    return "pytest_plugins" not in block and "def test_" not in block


@pytest.mark.parametrize(
    "block", [b for b in BLOCKS if runnable(b)], ids=lambda b: b.splitlines()[0][:40]
)
def test_readme_example_runs(block: str, namespace: dict[str, Any]) -> None:
    if "to_pandas" in block:
        pytest.importorskip("pandas")
        pytest.importorskip("matplotlib")
        import matplotlib

        matplotlib.use("Agg")
    code = compile(block, "README.md", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownDataTypeWarning)
        if code.co_flags & inspect.CO_COROUTINE:
            # Top-level await: run in a fresh loop with a client, as a notebook would.
            async def run() -> None:
                from atomscale_async import AsyncClient

                async with AsyncClient() as client:
                    namespace.setdefault("client", client)
                    await eval(code, namespace)

            asyncio.run(run())
        else:
            exec(code, namespace)


def test_every_block_is_checked() -> None:
    assert len(BLOCKS) >= 6
    assert sum(runnable(b) for b in BLOCKS) >= 6
