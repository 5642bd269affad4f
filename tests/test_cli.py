"""Tests of the command line, run as `python -m atomscale_async` against a local sandbox."""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from atomscale_async.sandbox import Faults, SandboxServer

KEY = "sandbox-key"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ATOMSCALE_", "AS_API"))}
    env.update(extra)
    return env


def _start(args: Sequence[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "atomscale_async", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=_env() if env is None else env,
    )


class Run:
    """A finished command line: its status and output."""

    def __init__(self, process: subprocess.Popen[str], timeout: float = 60) -> None:
        try:
            self.stdout, self.stderr = process.communicate(timeout=timeout)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        self.status = process.returncode

    def json(self) -> Any:
        return orjson.loads(self.stdout)

    def lines(self) -> list[Any]:
        return [orjson.loads(line) for line in self.stdout.splitlines()]

    def one_error_line(self) -> str:
        """The single `error: ...` line on stderr (no traceback)."""
        lines = self.stderr.strip().splitlines()
        assert len(lines) == 1, self.stderr
        assert lines[0].startswith("error: "), self.stderr
        assert "Traceback" not in self.stderr
        return lines[0]


def run_all(*commands: Sequence[str], env: dict[str, str] | None = None) -> list[Run]:
    """Run command lines concurrently; return them finished, in order."""
    processes = [_start(args, env) for args in commands]
    return [Run(process) for process in processes]


def run(*args: str, env: dict[str, str] | None = None) -> Run:
    return Run(_start(args, env))


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(entries=60, seed=4) as server:
        yield server


@pytest.fixture
def api(server: SandboxServer) -> list[str]:
    """The global options that point the command line at the sandbox."""
    return ["--base-url", server.base_url, "--api-key", KEY]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -------------------------------------------------------------------------------- reading


def test_list_commands_print_json_in_a_pipe_and_tables_on_request(
    server: SandboxServer, api: list[str]
) -> None:
    instruments, instruments_table, materials_table = run_all(
        [*api, "instruments", "list"],
        [*api, "--format", "table", "instruments", "list"],
        ["target-materials", "list", "--format", "table", *api],  # options after the command
    )
    for done in (instruments, instruments_table, materials_table):
        assert done.status == 0, done.stderr
    assert {i["synth_source_type"] for i in instruments.json()} >= {"mbe", "pld"}
    header, *rows = instruments_table.stdout.splitlines()
    assert header.split() == ["ID", "NAME", "TYPE", "MANUFACTURER", "MODEL", "LAST", "UPDATED"]
    assert len(rows) == len(instruments.json())
    assert "Veeco" in instruments_table.stdout
    assert materials_table.stdout.splitlines()[0].startswith("SAMPLE  NAME")
    assert "In0.15Ga0.85N" in materials_table.stdout


def test_target_material_create(server: SandboxServer, api: list[str]) -> None:
    create = [*api, "target-materials", "create"]
    created, table = run_all(
        [
            *create,
            "--name",
            "LED 1",
            "--substrate",
            "Al2O3",
            "--layer",
            "AlN:0001",
            "--layer",
            "GaN:Mg",
        ],
        [*create, "--format", "table", "--name", "x", "--substrate", "Si"],
    )
    assert created.status == 0, created.stderr
    sample = created.json()
    assert sample["sample_name"] == "LED 1"
    layers = [r for r in server.state.target_materials if r["sample_id"] == sample["sample_id"]]
    assert [(r["composition_string"], r["orientation"]) for r in layers] == [
        ("AlN", "0001"),
        ("GaN:Mg", None),
    ]
    assert table.status == 0, table.stderr
    assert re.match(r"Created sample \d+ 'x' on Si with 0 layers\.", table.stdout)


def test_sims_and_oes_get(server: SandboxServer, api: list[str]) -> None:
    sims_id = server.state.sims_ids(empty=False)[0]
    oes_id = server.state.oes_ids()[0]
    sims, sims_table, oes, oes_table = run_all(
        [*api, "sims", "get", sims_id],
        [*api, "--format", "table", "sims", "get", sims_id],
        [*api, "oes", "get", oes_id],
        [*api, "--format", "table", "oes", "get", oes_id],
    )
    for done in (sims, sims_table, oes, oes_table):
        assert done.status == 0, done.stderr
    served = orjson.loads(server.state.catalogue.sims_json(sims_id))
    printed = sims.json()
    assert printed["data_id"] == sims_id
    assert len(printed["depth_profiles"]) == len(served)
    for mine, theirs in zip(printed["depth_profiles"], served, strict=True):
        assert {k: v for k, v in mine.items() if k != "last_updated"} == {
            k: v for k, v in theirs.items() if k != "last_updated"
        }
    species = [p["species_name"] for p in printed["depth_profiles"]]
    lines = sims_table.stdout.splitlines()
    assert lines[0] == f"SIMS {sims_id}: {len(species)} depth profiles"
    assert lines[1].split()[:4] == ["SPECIES", "POINTS", "DEPTH", "CONCENTRATION"]
    assert [line.split()[0] for line in lines[2:]] == species
    assert oes.json()["wavelengths"][0] == 200.0
    assert oes.json()["data_id"] == oes_id
    assert "PEAK  WAVELENGTH  ELEMENT" in oes_table.stdout
    assert re.search(r"^points +2,048$", oes_table.stdout, re.MULTILINE)


# ---------------------------------------------------------------------------- bulk get


def test_get_writes_json_lines_and_keeps_successes_when_some_fail(
    server: SandboxServer, api: list[str], tmp_path: Path
) -> None:
    good = [server.state.sims_ids()[0], *server.state.oes_ids()[:2]]
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text(f"# my ids\n{good[0]}\n\n{good[1]}  # the first OES\nmissing-id\n")
    out = tmp_path / "results.jsonl"
    array = tmp_path / "results.json"
    to_file, to_array, typed, summary = run_all(
        [*api, "get", "--ids-file", str(ids_file), good[2], "--out", str(out)],
        [*api, "get", *good[1:], "--out", str(array), "--concurrency", "2"],
        [*api, "get", *good[1:], "--data-type", "sims"],  # wrong kind: both fail
        [*api, "--format", "table", "get", *good, "missing-id"],
    )
    assert to_file.status == 1
    records = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert sorted(r["data_id"] for r in records) == sorted([*good, "missing-id"])
    by_id = {r["data_id"]: r for r in records}
    assert by_id[good[0]]["data_type"] == "sims"
    assert by_id[good[1]]["result"]["data_id"] == good[1]
    assert by_id["missing-id"]["error"]["type"] == "NotFoundError"
    assert set(by_id["missing-id"]) == {"data_id", "error"}
    assert "error: missing-id: data id 'missing-id' is not in the catalogue" in to_file.stderr
    assert "error: 1 of 4 data ids failed" in to_file.stderr
    assert "Traceback" not in to_file.stderr

    assert to_array.status == 0, to_array.stderr
    assert [r["data_type"] for r in orjson.loads(array.read_bytes())] == ["oes", "oes"]
    assert typed.status == 1  # JSON lines on stdout, in a pipe
    assert {r["error"]["type"] for r in typed.lines()} == {"NotFoundError"}
    assert summary.status == 1
    assert summary.stdout.splitlines()[0].split() == ["DATA", "ID", "TYPE", "RESULT"]
    assert "missing-id" in summary.stdout
    assert "NotFoundError" in summary.stdout


def test_get_resume_continues_a_pull_and_refuses_to_overwrite_by_accident(
    server: SandboxServer, api: list[str], tmp_path: Path
) -> None:
    good = server.state.oes_ids()[:6]
    out = tmp_path / "pull.jsonl"
    out.write_bytes(b"")  # a file there already
    refused = run(*api, "get", *good, "--out", str(out))
    assert refused.status == 2
    assert "pass --resume to continue it, or --overwrite" in refused.one_error_line()
    first = run(*api, "get", *good[:3], "missing-id", "--out", str(out), "--overwrite")
    assert first.status == 1
    assert "error: missing-id: data id 'missing-id' is not in the catalogue" in first.stderr
    assert "run again with --resume" in first.stderr
    # A torn last line, as a kill in the middle of a write leaves it.
    out.write_bytes(out.read_bytes() + b'{"data_id": "' + good[3].encode())
    second = run(*api, "get", *good, "missing-id", "--out", str(out), "--resume")
    assert second.status == 1, second.stderr
    assert "cut off a torn last record" in second.stderr
    assert "(3 ids were already there)" in second.stderr
    records = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert sorted(r["data_id"] for r in records if "error" not in r) == sorted(good)
    assert [r["data_id"] for r in records if "error" in r] == ["missing-id"]
    done = run(*api, "get", *good, "--out", str(out), "--resume")
    assert done.status == 0, done.stderr
    assert "wrote 0 records" in done.stderr
    assert out.read_bytes().count(b"\n") == 7


def test_get_resume_usage_errors(server: SandboxServer, api: list[str], tmp_path: Path) -> None:
    good = server.state.oes_ids()[:1]
    no_out, array, unknown_suffix = run_all(
        [*api, "get", *good, "--resume"],
        [*api, "get", *good, "--out", str(tmp_path / "pull.json"), "--resume"],
        [*api, "get", *good, "--out", str(tmp_path / "pull.csv"), "--resume"],
    )
    for done in (no_out, array, unknown_suffix):
        assert done.status == 2
        done.one_error_line()
    assert "--resume needs --out FILE" in no_out.stderr
    assert "cannot be resumed" in array.stderr
    assert "cannot tell the format" in unknown_suffix.stderr
    assert not list(tmp_path.iterdir())


def test_get_out_parquet_writes_a_dataset(
    server: SandboxServer, api: list[str], tmp_path: Path
) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    ids = [*server.state.oes_ids()[:2], *server.state.sims_ids()[:2]]
    out = tmp_path / "pull.parquet"
    done = run(*api, "get", *ids, "--out", str(out))
    assert done.status == 0, done.stderr
    tables = [pq.read_table(part) for part in sorted(out.glob("kind=*/part-*.parquet"))]
    assert sorted(i for t in tables for i in t.column("data_id").to_pylist()) == sorted(ids)
    again = run(*api, "get", *ids, "--out", str(out), "--resume")
    assert again.status == 0, again.stderr
    assert "(4 ids were already there)" in again.stderr


# ------------------------------------------------------------------------------ errors


def test_errors_are_one_line_with_a_status(server: SandboxServer, tmp_path: Path) -> None:
    secret = "sk-wrong-0123456789"
    unknown = "00000000-0000-4000-8000-000000000000"
    closed = f"http://127.0.0.1:{_closed_port()}/"
    wrong_key, unreachable, missing_id, no_key, usage, bad_option, no_ids = run_all(
        ["--base-url", server.base_url, "--api-key", secret, "instruments", "list"],
        ["--base-url", closed, "--api-key", KEY, "sims", "get", unknown],
        ["--base-url", server.base_url, "--api-key", KEY, "oes", "get", unknown],
        ["--base-url", server.base_url, "instruments", "list"],
        ["sims", "get"],
        ["demo", "--entries", "0"],
        ["--base-url", server.base_url, "--api-key", KEY, "get"],
    )
    assert wrong_key.status == 1
    assert "401" in wrong_key.one_error_line()
    assert "API key was refused" in wrong_key.stderr
    assert secret not in wrong_key.stderr + wrong_key.stdout
    assert unreachable.status == 1
    assert "could not connect" in unreachable.one_error_line()
    assert missing_id.status == 1
    assert "404" in missing_id.one_error_line()
    assert no_key.status == 1
    assert no_key.one_error_line() == "error: no API key: pass --api-key or set ATOMSCALE_API_KEY"
    for done in (usage, bad_option, no_ids):
        assert done.status == 2
        done.one_error_line()
    assert "the following arguments are required: ID" in usage.stderr
    assert "expected a number >= 1" in bad_option.stderr


def test_api_key_from_the_environment_is_never_printed(server: SandboxServer) -> None:
    secret = "sk-env-secret-abcdef"
    env = _env(ATOMSCALE_API_KEY=secret, ATOMSCALE_BASE_URL=server.base_url)
    done = run("sims", "get", "nope", env=env)
    assert done.status == 1
    assert secret not in done.stderr + done.stdout
    assert done.one_error_line().startswith("error: GET ")


def test_ctrl_c_exits_130(server: SandboxServer, api: list[str]) -> None:
    server.faults = Faults(latency_ms=10_000)
    try:
        before = server.stats().requests
        process = _start([*api, "instruments", "list"])
        deadline = time.monotonic() + 30
        while server.stats().requests == before:  # the request is on its way
            assert time.monotonic() < deadline
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        done = Run(process, timeout=20)
    finally:
        server.faults = Faults()
    assert done.status == 130
    assert done.stderr.strip() == "interrupted"


def test_version_and_help() -> None:
    version, helped, sub_help = run_all(["--version"], ["--help"], ["get", "--help"])
    assert version.status == helped.status == sub_help.status == 0
    assert version.stdout.startswith("atomscale-async ")
    for command in ("demo", "sandbox", "instruments", "target-materials", "sims", "oes", "get"):
        assert command in helped.stdout
    assert "--ids-file" in sub_help.stdout


# ------------------------------------------------------------------------- plots


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="needs matplotlib")
def test_plot_saves_a_png(server: SandboxServer, api: list[str], tmp_path: Path) -> None:
    sims_png, oes_png = tmp_path / "sims.png", tmp_path / "oes.png"
    sims, oes = run_all(
        [*api, "sims", "get", server.state.sims_ids(empty=False)[0], "--plot", str(sims_png)],
        [*api, "oes", "get", server.state.oes_ids()[0], "--plot", str(oes_png)],
    )
    assert sims.status == 0, sims.stderr
    assert oes.status == 0, oes.stderr
    for png in (sims_png, oes_png):
        assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert f"saved the plot to {sims_png}" in sims.stderr


def test_plot_without_the_extra_names_it(
    server: SandboxServer, api: list[str], tmp_path: Path
) -> None:
    hidden = tmp_path / "hidden"
    (hidden / "matplotlib").mkdir(parents=True)
    (hidden / "matplotlib" / "__init__.py").write_text("raise ImportError('not installed')\n")
    env = _env(PYTHONPATH=os.pathsep.join([str(hidden), os.environ.get("PYTHONPATH", "")]))
    done = run(
        *api, "oes", "get", server.state.oes_ids()[0], "--plot", str(tmp_path / "x.png"), env=env
    )
    assert done.status == 1
    assert "pip install -e '.[plot]'" in done.one_error_line()
    assert not (tmp_path / "x.png").exists()


# ----------------------------------------------------------------- demo and sandbox


def test_demo_fetches_a_sandbox_and_summarizes(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{_closed_port()}/"
    # The environment points elsewhere: the demo must use its own sandbox regardless.
    env = _env(ATOMSCALE_BASE_URL=closed, ATOMSCALE_API_KEY="unused")
    table = run("demo", "--entries", "300", "--format", "table", "--concurrency", "8", env=env)
    assert table.status == 0, table.stderr
    out = table.stdout
    assert "Fetched 300 entries from a local sandbox (http://127.0.0.1:" in out
    assert "concurrency 8)" in out
    kinds = re.findall(r"^(sims|oes|xps|raman|total) +([\d,]+) +([\d,]+) +0\b", out, re.M)
    assert dict((kind, int(n)) for kind, n, _ in kinds)["total"] == 300
    assert "SPECIES  PROFILES  DEPTH POINTS" in out
    assert re.search(r"^OES: [\d,]+ spectra of 2,048 points", out, re.M)
    assert "ELEMENT  PEAKS  SPECTRA" in out
    assert re.search(r"^Speed: 300 results in [\d.]+ s = [\d,]+ results/s; [\d.,]+ MB", out, re.M)
    assert "MB/s" in out
    assert "Traceback" not in table.stderr


def test_sandbox_command_serves_until_interrupted() -> None:
    process = _start(["sandbox", "--port", "0", "--entries", "20", "--api-key", "my-own-key"])
    try:
        assert process.stderr is not None
        banner = process.stderr.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+/", banner)
        assert found, banner
        assert "my-own-key" not in banner
        with httpx.Client(base_url=found.group(), headers={"X-API-KEY": "my-own-key"}) as client:
            assert client.get("instruments/synthesis/").status_code == 200
        process.send_signal(signal.SIGINT)
        done = Run(process, timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert done.status == 0
    assert "Traceback" not in done.stderr


def test_allow_insecure_http_lets_an_http_base_url_to_another_machine_through(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from atomscale_async._cli._commands import api_client
    from atomscale_async._cli._output import CLIError
    from atomscale_async._cli._parser import build_parser

    monkeypatch.delenv("ATOMSCALE_ALLOW_INSECURE_HTTP", raising=False)
    common = ["--base-url", "http://sandbox:8000/", "--api-key", "k"]
    refused = build_parser().parse_args([*common, "instruments", "list"])
    with pytest.raises(CLIError, match="--allow-insecure-http"):
        api_client(refused)
    allowed = build_parser().parse_args([*common, "--allow-insecure-http", "instruments", "list"])
    assert api_client(allowed).base_url == "http://sandbox:8000/"
    monkeypatch.setenv("ATOMSCALE_ALLOW_INSECURE_HTTP", "1")
    assert api_client(refused).base_url == "http://sandbox:8000/"


@pytest.mark.parametrize("key", ["sk-echoed-0123456789", 'sk-with"quote\\and-slash'])
def test_a_key_the_server_echoes_is_hidden_on_stdout_and_in_out_files(
    key: str, tmp_path: Path
) -> None:
    import copy

    from .local_http import Answer, LocalServer, Received
    from .payloads import INSTRUMENT

    def echo(request: Received) -> Answer:
        sent = request.headers["x-api-key"]
        if request.path.startswith("/instruments"):
            instrument = {**copy.deepcopy(INSTRUMENT), "source_name": f"named {sent}"}
            return Answer(200, orjson.dumps([instrument]))
        return Answer(404, orjson.dumps({"detail": f"no entry for key {sent}"}))

    with LocalServer(echo) as server:
        api = ["--base-url", server.base_url, "--api-key", key]
        table, as_json = run_all(
            [*api, "--format", "table", "instruments", "list"],
            [*api, "--format", "json", "instruments", "list"],
        )
        lines, array = tmp_path / "out.jsonl", tmp_path / "out.json"
        to_files = run_all(
            [*api, "get", "a", "b", "--data-type", "oes", "--out", str(lines)],
            [*api, "get", "a", "--data-type", "oes", "--out", str(array)],
            env=_env(ATOMSCALE_API_KEY=key),
        )
        piped = run(*api, "get", "a", "--data-type", "oes", "--format", "json")
    assert table.status == 0, table.stderr
    assert "named ***" in table.stdout
    assert as_json.json()[0]["source_name"] == "named ***"
    assert "***" in piped.lines()[0]["error"]["message"]
    assert all(run.status == 1 for run in to_files)
    written = lines.read_text() + array.read_text()
    assert "no entry for key ***" in written
    escaped = orjson.dumps(key).decode()[1:-1]
    for text in (
        table.stdout,
        as_json.stdout,
        piped.stdout,
        written,
        *(r.stderr for r in (table, as_json, piped, *to_files)),
    ):
        assert key not in text
        assert escaped not in text
