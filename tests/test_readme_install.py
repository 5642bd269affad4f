"""The README's install lines, run verbatim in fresh virtual environments, give what it uses.

``test_readme.py`` runs the blocks in the suite's own environment, which has every extra;
here each install line runs as written, in a new virtualenv made in a copy of the checkout,
and then the blocks that line is for run in it: a block that needs an extra its line does
not install fails. Slow (each line installs from the package index), so run once in CI.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_readme import COMMANDS, FILES, SCRIPTS, TEXT, file_name

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
#: What a checkout holds besides the package: copied, not the working tree's caches.
_IGNORE = shutil.ignore_patterns(
    ".git", ".nox", ".venv", ".mypy_cache", ".ruff_cache", ".pytest_cache", "__pycache__",
    "*.egg-info", "build", "dist",
)  # fmt: skip


def _section(title: str) -> str:
    return TEXT.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def _install_line(section: str) -> str:
    """The ``pip install`` command line of a README section, verbatim (comment dropped)."""
    lines = [line for line in section.splitlines() if line.startswith("pip install ")]
    assert len(lines) == 1, f"one install line expected, found {lines}"
    return lines[0].split("  #", 1)[0].strip()


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("checkout") / "atomscale-async"
    shutil.copytree(ROOT, target, ignore=_IGNORE)
    return target


def _reader_env(venv: Path | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ATOMSCALE_", "PYTEST_", "VIRTUAL_ENV", "PYTHON", "PIP_"))
    }
    # PATH as a fresh shell has it: no virtualenv of ours in front.
    ours = str(Path(sys.executable).parent)
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p and p != ours]
    if venv is not None:
        env["VIRTUAL_ENV"] = str(venv)
        path.insert(0, str(venv / "bin"))
    env["PATH"] = os.pathsep.join(path)
    env["MPLBACKEND"] = "Agg"
    return env


def _bash(script: str, cwd: Path, env: dict[str, str], timeout: float = 900) -> str:
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    assert done.returncode == 0, (
        f"failed:\n{script}\n--- stdout ---\n{done.stdout}\n--- stderr ---\n{done.stderr}"
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout


def _venv_with(line: str, checkout: Path, name: str) -> Path:
    """A new virtualenv (of the Python running the suite) after ``line`` ran in it."""
    venv = checkout.parent / name
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    _bash(line, checkout, _reader_env(venv))
    return venv


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def examples_venv(checkout: Path) -> Path:
    return _venv_with(_install_line(_section("Try the examples")), checkout, "examples-venv")


@pytest.fixture
def served(examples_venv: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """The sandbox as the examples start it (from that venv), and the reader's env."""
    port = _free_port()
    env = _reader_env(examples_venv)
    server = subprocess.Popen(
        [str(examples_venv / "bin" / "atomscale-async"), "sandbox", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert server.poll() is None, "the sandbox did not start"
            assert time.monotonic() < deadline, "the sandbox did not listen within 60 s"
            time.sleep(0.2)
        env |= {
            "ATOMSCALE_BASE_URL": f"http://127.0.0.1:{port}/",
            "ATOMSCALE_API_KEY": "sandbox-key",
        }
        yield examples_venv, env
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_examples_run_from_the_examples_install_line(
    served: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    _venv, env = served
    for number, block in enumerate(SCRIPTS):  # each in a directory of its own, as saved
        (where := tmp_path / f"script-{number}").mkdir()
        (where / "example.py").write_text(block, encoding="utf-8")
        _bash("python example.py", where, env, timeout=300)
    for number, block in enumerate(COMMANDS):
        (where := tmp_path / f"commands-{number}").mkdir()
        _bash(block, where, env, timeout=300)


def test_the_test_files_pass_from_the_testing_install_line(checkout: Path, tmp_path: Path) -> None:
    venv = _venv_with(_install_line(_section("Testing your code")), checkout, "testing-venv")
    names = []
    for block in FILES:
        name = file_name(block)
        assert name is not None
        (tmp_path / name).write_text(block, encoding="utf-8")
        names.append(name)
    out = _bash(
        f"python -m pytest -q -p no:cacheprovider {' '.join(names)}", tmp_path, _reader_env(venv)
    )
    assert re.search(r"\b[1-9]\d* passed\b", out), out


def test_the_first_screen_runs_the_demo_on_a_fresh_machine(checkout: Path) -> None:
    first_screen = TEXT.split("**Test it**", 1)[0]
    [block] = re.findall(r"^```bash\n(.*?)^```", first_screen, re.S | re.M)
    out = _bash(block, checkout, _reader_env(), timeout=1200)
    report = json.loads(out.strip().splitlines()[-1])  # in a pipe the demo reports JSON
    assert report["requests"] > 0, report
