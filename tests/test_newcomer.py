"""What a new user hit: get of one entry, get --out's suffixes and flags, --plot, ATOMSCALE_LOG."""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from atomscale_async import Client
from atomscale_async import _client as client_module
from atomscale_async._cli import main
from atomscale_async.sandbox import SandboxServer

KEY = "sandbox-key"


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(entries=40, seed=8) as server:
        yield server


@pytest.fixture
def api(server: SandboxServer) -> list[str]:
    return ["--base-url", server.base_url, "--api-key", KEY]


def test_get_takes_one_entry_like_one_id(server: SandboxServer) -> None:
    with Client(base_url=server.base_url, api_key=KEY) as client:
        found = client.search(data_type="oes")
        [result] = client.get(found[0])
        assert result.data_id == found[0].data_id
        outcomes = list(client.iter_results(found[0]))
    assert [o.data_id for o in outcomes] == [found[0].data_id]


@pytest.mark.parametrize("name", ["x.csv", "x.txt", "noext"])
def test_get_out_refuses_a_suffix_it_would_not_write(
    capsys: pytest.CaptureFixture[str], server: SandboxServer, api: list[str], tmp_path: Path,
    name: str,
) -> None:  # fmt: skip
    out = tmp_path / name
    data_id = server.state.oes_ids()[0]
    assert main([*api, "get", data_id, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "suffix" in err
    assert ".jsonl" in err
    assert not out.exists()


def test_get_out_refuses_resume_with_overwrite(
    capsys: pytest.CaptureFixture[str], server: SandboxServer, api: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "x.jsonl"
    data_id = server.state.oes_ids()[0]
    assert main([*api, "get", data_id, "--out", str(out), "--resume", "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert "--resume" in err
    assert "--overwrite" in err
    assert not out.exists()


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="needs matplotlib")
def test_plot_without_a_suffix_reports_the_file_it_wrote(
    capsys: pytest.CaptureFixture[str], server: SandboxServer, api: list[str], tmp_path: Path
) -> None:
    target = tmp_path / "xnoext"
    assert main([*api, "oes", "get", server.state.oes_ids()[0], "--plot", str(target)]) == 0
    err = capsys.readouterr().err
    written = tmp_path / "xnoext.png"
    assert written.read_bytes().startswith(b"\x89PNG")
    assert f"saved the plot to {written}" in err
    assert not target.exists()


def test_an_unknown_log_level_warns_once_with_the_valid_ones(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, server: SandboxServer
) -> None:
    monkeypatch.setenv("ATOMSCALE_LOG", "verbose")
    monkeypatch.setattr(client_module, "_warned_log_levels", set())
    caplog.set_level(logging.WARNING, logger="atomscale_async")
    for _ in range(2):
        with Client(base_url=server.base_url, api_key=KEY):
            pass
    warned = [r.getMessage() for r in caplog.records if "ATOMSCALE_LOG" in r.getMessage()]
    assert len(warned) == 1
    assert "'verbose'" in warned[0]
    assert "debug, info" in warned[0]
