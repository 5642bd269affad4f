"""The ``search`` command, run as ``python -m atomscale_async`` against a local sandbox."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from atomscale_async.sandbox import SandboxServer

from .test_cli import KEY, _env, run, run_all


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(entries=200, seed=5) as server:
        yield server


@pytest.fixture
def api(server: SandboxServer) -> list[str]:
    return ["--base-url", server.base_url, "--api-key", KEY]


def test_search_prints_entries_in_every_format(server: SandboxServer, api: list[str]) -> None:
    as_json, as_ids, as_csv, as_table = run_all(
        ["search", *api, "--data-type", "oes", "--data-type", "xps"],
        ["search", *api, "--data-type", "oes", "--format", "ids"],
        ["search", *api, "--data-type", "xps", "--format", "csv"],
        ["search", *api, "--status", "success", "--format", "table"],
    )
    for done in (as_json, as_ids, as_csv, as_table):
        assert done.status == 0, done.stderr
    entries = as_json.json()
    assert {e["char_source_type"] for e in entries} == {"oes", "xps"}
    assert as_ids.stdout.split() == server.state.ids("oes")
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [r["data_id"] for r in rows] == server.state.ids("xps")
    assert all(r["upload_datetime"].endswith("Z") for r in rows)
    header, *lines = as_table.stdout.splitlines()
    assert header.split()[:3] == ["DATA", "ID", "KIND"]
    assert lines
    assert all(" success " in line for line in lines)


def test_filters_reach_the_catalogue(server: SandboxServer, api: list[str]) -> None:
    sample = server.state.catalogue.record(server.data_ids[0])[0]["physical_sample_id"]
    of_sample, recent, own = run_all(
        ["search", *api, "--physical-sample-id", sample, "--format", "ids"],
        ["search", *api, "--upload-datetime-min", "2025-06-01", "--growth-length-min", "1800"],
        ["search", *api, "--no-include-organization-data", "--format", "ids"],
    )
    assert of_sample.stdout.split()[0] == server.data_ids[0]
    assert recent.status == 0, recent.stderr
    assert all(e["upload_datetime"] >= "2025-06-01" for e in recent.json())
    assert all(e["growth_length"] >= 1800 for e in recent.json())
    assert 0 < len(own.stdout.split()) < len(server.data_ids)


def test_ids_pipe_into_get(server: SandboxServer, api: list[str], tmp_path: Path) -> None:
    out = tmp_path / "oes.jsonl"
    env = _env(ATOMSCALE_BASE_URL=server.base_url, ATOMSCALE_API_KEY=KEY)
    pipeline = (
        f"{sys.executable} -m atomscale_async search --data-type oes --format ids | "
        f"{sys.executable} -m atomscale_async get --ids-file - --out {out}"
    )
    done = subprocess.run(
        pipeline, shell=True, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    records = [orjson.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["data_id"] for r in records) == sorted(server.state.ids("oes"))
    assert all(r["data_type"] == "oes" for r in records)


@pytest.mark.parametrize(
    ("arguments", "flag"),
    [
        (["--growth-length-min", "long"], "--growth-length-min"),
        (["--upload-datetime-max", "yesterday"], "--upload-datetime"),
        (["--status", "done"], "--status"),
        (["--format", "xml"], "--format"),
        (["--data-type", ""], "--data-type"),
    ],
)
def test_usage_mistakes_exit_2_naming_the_flag(
    api: list[str], arguments: list[str], flag: str
) -> None:
    done = run("search", *api, *arguments)
    assert done.status == 2
    assert flag in done.one_error_line()


def test_physical_samples_and_projects(server: SandboxServer, api: list[str]) -> None:
    projects, samples, table = run_all(
        ["projects", "list", *api],
        ["physical-samples", "list", *api],
        ["projects", "list", *api, "--format", "table"],
    )
    for done in (projects, samples, table):
        assert done.status == 0, done.stderr
    assert table.stdout.splitlines()[0].split()[:3] == ["ID", "NAME", "SAMPLES"]
    project = projects.json()[0]
    everything = samples.json()
    members, one, missing = run_all(
        ["projects", "samples", project["id"], *api],
        ["physical-samples", "list", "--physical-sample-id", everything[0]["id"], *api],
        ["projects", "samples", "no-such-project", *api],
    )
    assert len(members.json()) == project["physical_sample_count"]
    assert all(project["id"] in {p["id"] for p in s["projects"]} for s in members.json())
    assert one.json() == [everything[0]]
    assert missing.status == 1
    assert "404" in missing.one_error_line() or "not found" in missing.one_error_line()
