"""What a new user hit: get of one entry, get --out's suffixes and flags, --plot, ATOMSCALE_LOG."""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
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


def _run_script(
    source: str, server: SandboxServer, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(source), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ATOMSCALE_", "PYTEST_"))}
    env |= {"ATOMSCALE_BASE_URL": server.base_url, "ATOMSCALE_API_KEY": KEY}
    return subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


#: Make ``import pyarrow`` fail as where the parquet extra is not installed.
_NO_PYARROW = """
import sys
sys.modules["pyarrow"] = None
sys.modules["pyarrow.parquet"] = None
"""


@pytest.mark.parametrize("blocking", [True, False], ids=["Client", "AsyncClient"])
def test_a_missing_extra_is_one_clear_line_before_any_work(
    server: SandboxServer, tmp_path: Path, blocking: bool
) -> None:
    call = (
        "with Client() as c:\n    c.export(ids, 'out.parquet')\n"
        if blocking
        else "async def main():\n    async with AsyncClient() as c:\n"
        "        await c.export(ids, 'out.parquet')\nanyio.run(main)\n"
    )
    ids = server.state.oes_ids()[:3]
    done = _run_script(
        _NO_PYARROW
        + f"import anyio\nfrom atomscale_async import AsyncClient, Client\nids = {ids!r}\n"
        + call,
        server,
        tmp_path,
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("atomscale_async._optional.MissingExtraError: export to Parquet")
    assert "[parquet] extra" in last
    assert "pip install -e '.[parquet]'" in last
    # No chained ImportError, and a short traceback: the call, not the library's insides.
    assert "direct cause" not in done.stderr
    assert "During handling" not in done.stderr
    ours = re.findall(r'  File ".*atomscale_async', done.stderr)
    assert len(ours) <= (2 if blocking else 6), done.stderr
    assert not (tmp_path / "out.parquet").exists()  # nothing touched


def test_export_checks_for_the_progress_extra_before_touching_the_file(
    server: SandboxServer, tmp_path: Path
) -> None:
    done = _run_script(
        'import sys\nsys.modules["tqdm"] = None\n'
        "from atomscale_async import Client\n"
        f"ids = {server.state.oes_ids()[:2]!r}\n"
        "with Client() as c:\n    c.export(ids, 'out.jsonl', progress=True)\n",
        server,
        tmp_path,
    )
    assert done.returncode == 1
    assert "[progress] extra" in done.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "out.jsonl").exists()


def test_a_progress_bar_in_a_notebook_without_ipywidgets_is_text_and_silent(
    server: SandboxServer, tmp_path: Path
) -> None:
    # What tqdm.auto sees in a Jupyter kernel: ipykernel's shell loaded, no ipywidgets.
    done = _run_script(
        """
        import sys, types, warnings
        warnings.simplefilter("always")  # ("error" would be swallowed by tqdm's fallback)
        shell = type("ZMQInteractiveShell", (), {})
        sys.modules["ipykernel.zmqshell"] = types.ModuleType("ipykernel.zmqshell")
        ipython = types.ModuleType("IPython")
        ipython.get_ipython = lambda: shell()
        sys.modules["IPython"] = ipython
        sys.modules["ipywidgets"] = None
        from atomscale_async import Client
        with Client() as c:
            results = c.get(c.search(data_type="oes").data_ids[:3], progress=True)
        print(len(results), "results")
        """,
        server,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "3 results" in done.stdout
    assert "Warning" not in done.stderr, done.stderr
    assert "3/3" in done.stderr  # the text bar


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_ctrl_c_of_get_out_says_how_many_results_are_safe_and_how_to_go_on(
    server: SandboxServer, tmp_path: Path, suffix: str
) -> None:
    from atomscale_async import Client as Blocking
    from atomscale_async.sandbox import Faults

    ids = server.state.oes_ids()[:30]
    (tmp_path / "ids.txt").write_text("\n".join(ids) + "\n", encoding="utf-8")
    out = tmp_path / f"pull{suffix}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ATOMSCALE_", "PYTEST_"))}
    env |= {"ATOMSCALE_BASE_URL": server.base_url, "ATOMSCALE_API_KEY": KEY}
    command = [sys.executable, "-m", "atomscale_async", "get", "--ids-file", "ids.txt"]
    command += ["--out", out.name, "--concurrency", "2", "--data-type", "oes"]
    server.faults = Faults(latency_ms=150)
    before = server.stats().requests
    try:
        process = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while server.stats().requests < before + 8:  # some results fetched, not all
            assert time.monotonic() < deadline
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _stdout, stderr = process.communicate(timeout=60)
    finally:
        server.faults = Faults()
    assert process.returncode == 130, stderr
    [line] = stderr.strip().splitlines()
    with Blocking(base_url=server.base_url, api_key=KEY) as client:
        safe = client.export(ids, out, verify=True).skipped
    match = re.fullmatch(
        rf"interrupted: (\d+) of {len(ids)} results are safe in {re.escape(out.name)}; "
        r"run the same command with --resume to fetch the rest",
        line,
    )
    assert match, line
    assert int(match.group(1)) == safe < len(ids)


def test_get_of_a_mistyped_or_untyped_kind_says_what_to_do(server: SandboxServer) -> None:
    with Client(base_url=server.base_url, api_key=KEY) as client:
        with pytest.raises(ValueError, match=r"got 'OES '; did you mean 'oes'\?"):
            client.get(["a"], data_type="OES ")
        with pytest.raises(ValueError, match=r"'rheed_image' is searchable but not typed yet"):
            client.get(["a"], data_type="rheed_image")


def test_the_demo_calls_a_searchable_untyped_kind_so(
    capsys: pytest.CaptureFixture[str], server: SandboxServer
) -> None:
    assert main(["demo", "--entries", "300", "--format", "table"]) == 0
    out = capsys.readouterr().out
    [row] = [line for line in out.splitlines() if line.startswith("rheed_image")]
    assert "searchable, not typed yet" in row
    assert "does not know" not in out
