"""The command line's usage: each command's flags, usage errors, and what it reports.

These run `main()` in this process (the end-to-end runs are in test_cli.py).
"""

from __future__ import annotations

import re
import sys
import warnings
from collections import Counter
from collections.abc import Iterator

import anyio
import orjson
import pytest

from atomscale_async import (
    AsyncClient,
    DataEntry,
    Result,
    UnknownDataTypeWarning,
    UnknownResult,
)
from atomscale_async._cli import main
from atomscale_async._cli._demo import DemoReport
from atomscale_async._cli._output import Output
from atomscale_async._cli._parser import parse_layer
from atomscale_async._convert import decode
from atomscale_async._generated.kinds import KINDS, UNTYPED_KINDS
from atomscale_async.sandbox import SandboxServer

KEY = "sandbox-key"


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(entries=40, seed=8) as server:
        yield server


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ATOMSCALE_API_KEY", "AS_API_KEY", "ATOMSCALE_BASE_URL", "AS_API_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)


def _help(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """The --help of a command, on one line."""
    assert main([*args, "--help"]) == 0
    return " ".join(capsys.readouterr().out.split())


def _usage_error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(list(args)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.strip().splitlines()
    return line


# ------------------------------------------------------------------------------- help


def test_a_bare_command_prints_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: atomscale-async")
    for command in ("demo", "sandbox", "instruments", "target-materials", "sims", "oes", "get"):
        assert command in err


def test_local_commands_show_only_the_flags_they_honour(
    capsys: pytest.CaptureFixture[str],
) -> None:
    demo = _help(capsys, "demo")
    assert "--base-url" not in demo
    assert "--api-key" not in demo
    assert "--format" in demo
    sandbox = _help(capsys, "sandbox")
    assert "--base-url" not in sandbox
    assert "--format" not in sandbox
    assert "ATOMSCALE_API_KEY" not in sandbox
    assert "--api-key KEY the key clients must send in X-API-KEY (default: sandbox-key)" in sandbox
    assert "--retry-after" in sandbox


def _options_help(help_text: str) -> dict[str, str]:
    """Each option of a --help output and its help, joined on one line."""
    entries: dict[str, str] = {}
    current = None
    for line in help_text.splitlines():
        start = re.match(r"^  (--?[a-z][-a-z]*)(.*)", line)
        if start:
            current = start[1]
            entries[current] = start[2]
        elif current is not None and line.startswith("   "):
            entries[current] += " " + line.strip()
        else:
            current = None
    return entries


def test_every_flag_shows_its_default(capsys: pytest.CaptureFixture[str]) -> None:
    commands = [
        [],
        ["demo"],
        ["sandbox"],
        ["instruments", "list"],
        ["target-materials", "list"],
        ["target-materials", "create"],
        *([name, "get"] for name in KINDS),
        ["get"],
    ]
    for command in commands:
        assert main([*command, "--help"]) == 0
        entries = _options_help(capsys.readouterr().out)
        assert entries, command
        for flag, described in entries.items():
            if flag in ("-h", "--version"):
                continue
            assert "default" in described or "required" in described, (command, flag)


def test_api_options_before_a_local_command_are_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    line = _usage_error(capsys, "--base-url", "http://127.0.0.1:9/", "demo")
    assert "--base-url is not an option of 'demo'" in line
    line = _usage_error(capsys, "--api-key", "mine", "sandbox")
    assert "--api-key is not an option of 'sandbox'" in line


# ----------------------------------------------------------------------- usage errors


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--base-url", "not-a-url", "instruments", "list"], "--base-url"),
        (["instruments", "list", "--base-url", "ftp://example.invalid/"], "--base-url"),
        (["--api-key", KEY, "oes", "get", ""], "ID"),
        (["--api-key", KEY, "sims", "get", "  "], "ID"),
        (["--api-key", KEY, "get", "an-id", ""], "ID"),
        (["target-materials", "create", "--name", "n", "--substrate", "Si", "--layer", ""], None),
    ],
)
def test_usage_mistakes_exit_2_and_name_the_flag(
    capsys: pytest.CaptureFixture[str], args: list[str], flag: str | None
) -> None:
    line = _usage_error(capsys, *args)
    assert line.startswith("error: argument ")
    if flag is not None:
        assert f"argument {flag}" in line
    assert "base_url" not in line
    assert "data_id" not in line


def test_a_misplaced_orientation_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    line = _usage_error(
        capsys, "target-materials", "create", "--name", "n", "--substrate", "Si",
        "--layer", "GaN:0001:extra",
    )  # fmt: skip
    assert "argument --layer" in line
    assert "GaN:0001:extra" in line


def test_layers_keep_dopants_in_the_composition() -> None:
    assert parse_layer("GaN") == ("GaN", None)
    assert parse_layer("GaN:Mg") == ("GaN:Mg", None)
    assert parse_layer("GaN:Mg:0001") == ("GaN:Mg", "0001")
    assert parse_layer(" AlN : [1 -1 0] ") == ("AlN", "[1 -1 0]")


# ------------------------------------------------------------------ what is reported


def test_a_404_without_an_id_points_at_the_base_url(
    capsys: pytest.CaptureFixture[str], server: SandboxServer
) -> None:
    wrong_prefix = server.base_url + "v9/"
    for command in (["instruments", "list"], ["target-materials", "list"]):
        assert main(["--base-url", wrong_prefix, "--api-key", KEY, *command]) == 1
        err = capsys.readouterr().err
        assert "404" in err
        assert "check the base URL" in err
        assert "check the id" not in err
    assert main(["--base-url", server.base_url, "--api-key", KEY, "sims", "get", "nope"]) == 1
    assert "check the id" in capsys.readouterr().err


def test_create_prints_the_layers_in_json_as_in_a_table(
    capsys: pytest.CaptureFixture[str], server: SandboxServer
) -> None:
    api = ["--base-url", server.base_url, "--api-key", KEY]
    create = ["target-materials", "create", "--name", "stack", "--substrate", "Si"]
    layers = ["--layer", "AlN:0001", "--layer", "GaN:Mg"]
    assert main([*api, "--format", "json", *create, *layers]) == 0
    printed = orjson.loads(capsys.readouterr().out)
    assert printed["sample_name"] == "stack"
    assert printed["layers"] == [
        {"layer_id": 1, "composition_string": "AlN", "orientation": "0001"},
        {"layer_id": 2, "composition_string": "GaN:Mg", "orientation": None},
    ]
    assert main([*api, "--format", "table", *create, *layers]) == 0
    table = capsys.readouterr().out
    assert re.search(r"^ +1 +AlN +0001$", table, re.M)
    assert re.search(r"^ +2 +GaN:Mg$", table, re.M)


def test_the_demo_does_not_count_unknown_kinds_as_fetched(
    capsys: pytest.CaptureFixture[str], server: SandboxServer
) -> None:
    async def fetch() -> list[Result | Exception]:
        async with AsyncClient(KEY, base_url=server.base_url) as client:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UnknownDataTypeWarning)
                return list(await client.get(server.data_ids, errors="return"))

    results = anyio.run(fetch)
    catalogue = server.state.catalogue
    report = DemoReport({i: entry.kind for i in server.data_ids if (entry := catalogue.get(i))})
    for data_id, result in zip(server.data_ids, results, strict=True):
        report.add(data_id, result)
    # A kind no SDK knows, whatever the sandbox serves by the time this runs.
    entry = catalogue.get(server.data_ids[0])
    assert entry is not None
    made_up = UnknownResult(
        data_id="made-up",
        data_type="hologram",
        catalogue_entry=decode(orjson.dumps(entry.to_json(8)), DataEntry, "entry"),
    )
    report.kinds["made-up"] = "hologram"
    report.add("made-up", made_up)
    results.append(made_up)
    unknown = Counter(r.data_type for r in results if isinstance(r, UnknownResult))
    assert report.not_fetched == unknown
    assert not set(report.fetched) & set(unknown)
    report.render(Output(sys.stdout, sys.stderr, "table", None))
    table = capsys.readouterr().out
    assert table.splitlines()[0].split() == [
        "KIND", "ENTRIES", "FETCHED", "FAILED", "NOT", "FETCHED",
    ]  # fmt: skip
    for kind, count in unknown.items():
        note = (
            "searchable, not typed yet"
            if kind in UNTYPED_KINDS
            else "a kind this SDK does not know"
        )
        assert re.search(rf"^{kind} +{count} +0 +0 +{count} +{note}$", table, re.M)
    assert "hologram" in unknown
