"""Export and the CLI's ``get`` write every kind of the kind table under its own name."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from atomscale_async import Client
from atomscale_async._generated.kinds import KINDS
from atomscale_async.sandbox import SandboxServer

from .test_cli import _env

CANONICAL = {kind.canonical for kind in KINDS.values()}


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(entries=300, seed=11) as server:
        yield server


@pytest.fixture(scope="module")
def picked(server: SandboxServer) -> list[str]:
    """Two ids of each kind the sandbox serves (PL under both of its names)."""
    return [i for kind in KINDS for i in server.state.ids(kind)[:2]]


def test_json_lines_name_each_kind(
    server: SandboxServer, picked: list[str], tmp_path: Path
) -> None:
    path = tmp_path / "pull.jsonl"
    with Client(api_key=server.api_key, base_url=server.base_url) as client:
        summary = client.export(picked, path)
    assert summary.succeeded == len(picked)
    records = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert {r["data_type"] for r in records} == CANONICAL
    assert all(r["result"] is not None for r in records)


def test_parquet_has_a_dataset_per_kind(
    server: SandboxServer, picked: list[str], tmp_path: Path
) -> None:
    pandas = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    path = tmp_path / "pull.parquet"
    with Client(api_key=server.api_key, base_url=server.base_url) as client:
        client.export(picked, path)
    assert {p.name for p in path.glob("kind=*")} == {f"kind={k}" for k in CANONICAL}
    xrd = pandas.read_parquet(path / "kind=xrd")
    assert len(xrd) == 2
    assert len(xrd.loc[0, "two_theta"]) > 100


def _as_received(value: Any, stored: Any) -> Any:
    """A value of a Parquet row as ``to_dict()`` gives it (JSON text, maps, timestamps)."""
    if isinstance(stored, datetime):
        return stored.isoformat().replace("+00:00", "Z")
    if isinstance(stored, str) and not isinstance(value, str):
        return orjson.loads(stored)  # passed through as received, or a free-form object
    if isinstance(value, dict) and isinstance(stored, list):
        return dict(stored)  # a map of names to numbers
    return stored


@pytest.mark.parametrize("kind", sorted(CANONICAL - {"sims", "oes"}))
def test_parquet_keeps_every_field_of_the_newer_kinds(
    kind: str, server: SandboxServer, picked: list[str], tmp_path: Path
) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "pull.parquet"
    with Client(api_key=server.api_key, base_url=server.base_url) as client:
        results = client.get(picked)
        client.export(picked, path)
    mine = {r.data_id: r.to_dict() for r in results if isinstance(r, KINDS[kind].model)}
    rows = pq.read_table(path / f"kind={kind}").to_pylist()
    assert {row["data_id"] for row in rows} == set(mine)  # pl's ids with photoluminescence's
    for row in rows:
        expected = mine[row["data_id"]]
        assert set(row) == set(expected)
        assert {name: _as_received(v, row[name]) for name, v in expected.items()} == expected


def test_the_cli_get_table_describes_each_kind(server: SandboxServer, picked: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "atomscale_async", "get", "--format", "table", *picked],
        env=_env(ATOMSCALE_BASE_URL=server.base_url, ATOMSCALE_API_KEY=str(server.api_key)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for kind in CANONICAL:
        assert f" {kind} " in done.stdout, (kind, done.stdout)
    assert "not fetched" not in done.stdout
