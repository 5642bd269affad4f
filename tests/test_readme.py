"""The README's Python blocks run verbatim against a running sandbox.

Each block is copied unmodified into a file and run in a fresh interpreter, with only the
environment the README tells the reader to set (`ATOMSCALE_BASE_URL`, `ATOMSCALE_API_KEY`)
plus a non-interactive matplotlib backend. A block whose first line is `# conftest.py` or
`# test_<name>.py` is written to that file instead, and those files are run with pytest, as
the reader would.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
TEXT = README.read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```python\n(.*?)^```", TEXT, re.S | re.M)
#: Shell blocks of command lines against the sandbox (not the ones that install, serve or
#: run nox): each runs verbatim with bash.
COMMANDS = [
    block
    for block in re.findall(r"^```bash\n(.*?)^```", TEXT, re.S | re.M)
    if all(
        line.startswith("atomscale-async ")
        and not re.match(r"atomscale-async (sandbox|demo)", line)
        for line in block.splitlines()
        if line.strip() and not line.startswith("#")
    )
]
FILE_HEADER = re.compile(r"#\s*((?:conftest|test_\w+)\.py)\s*$")


def file_name(block: str) -> str | None:
    """The file a block asks to be saved as, from its first line, if any."""
    match = FILE_HEADER.fullmatch(block.splitlines()[0].strip()) if block.strip() else None
    return match.group(1) if match else None


SCRIPTS = [b for b in BLOCKS if file_name(b) is None]
FILES = [b for b in BLOCKS if file_name(b) is not None]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    from atomscale_async.sandbox import SandboxServer

    with SandboxServer(entries=120) as server:
        yield server


@pytest.fixture
def reader_env(sandbox: Any) -> dict[str, str]:
    """The environment the README tells the reader to set, and nothing else of ours."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ATOMSCALE_", "AS_API", "PYTEST_"))
    }
    env["ATOMSCALE_BASE_URL"] = sandbox.base_url
    env["ATOMSCALE_API_KEY"] = sandbox.api_key
    env["MPLBACKEND"] = "Agg"
    return env


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=180, check=False
    )


def test_the_readme_tells_the_reader_how_to_reach_the_sandbox() -> None:
    assert "export ATOMSCALE_BASE_URL=http://127.0.0.1:8000/" in TEXT
    assert "ATOMSCALE_API_KEY=sandbox-key" in TEXT
    assert "atomscale-async sandbox" in TEXT


@pytest.mark.parametrize(
    "block", SCRIPTS, ids=[f"{i}:{b.splitlines()[0][:40]}" for i, b in enumerate(SCRIPTS)]
)
def test_readme_block_runs_verbatim(block: str, tmp_path: Path, reader_env: dict[str, str]) -> None:
    script = tmp_path / "example.py"
    script.write_text(block, encoding="utf-8")
    done = run([sys.executable, str(script)], tmp_path, reader_env)
    assert done.returncode == 0, f"block failed:\n{block}\n--- stderr ---\n{done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr


def test_readme_test_files_pass_with_pytest(tmp_path: Path, reader_env: dict[str, str]) -> None:
    names = []
    for block in FILES:
        name = file_name(block)
        assert name is not None
        (tmp_path / name).write_text(block, encoding="utf-8")
        names.append(name)
    assert "conftest.py" in names
    assert any(n.startswith("test_") for n in names)
    done = run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *names],
        tmp_path,
        reader_env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b[1-9]\d* passed\b", done.stdout), done.stdout


@pytest.mark.parametrize(
    "block", COMMANDS, ids=[f"{i}:{b.splitlines()[0][:40]}" for i, b in enumerate(COMMANDS)]
)
def test_readme_command_lines_run_verbatim(
    block: str, tmp_path: Path, reader_env: dict[str, str]
) -> None:
    bin_dir = str(Path(sys.executable).parent)  # where atomscale-async is installed
    env = {**reader_env, "PATH": bin_dir + os.pathsep + reader_env.get("PATH", "")}
    done = run(["bash", "-e", "-o", "pipefail", "-c", block], tmp_path, env)
    assert done.returncode == 0, f"block failed:\n{block}\n--- stderr ---\n{done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr


def test_every_python_block_is_checked() -> None:
    assert len(BLOCKS) == len(SCRIPTS) + len(FILES)
    assert len(SCRIPTS) >= 6
    assert COMMANDS, "the CLI's examples run too"


#: What a block's text shows it needs, and the extra that brings it.
NEEDS = {
    "parquet": re.compile(r"\.parquet\b|to_parquet"),
    "pandas": re.compile(r"to_pandas|results_to_frames|import pandas"),
    "plot": re.compile(r"\.plot\(|matplotlib"),
}


def _examples_extras() -> set[str]:
    """The extras of the install line under "Try the examples"."""
    section = TEXT.split("## Try the examples", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"pip install -e '\.\[([\w,]+)\]'", section)
    assert match, "the examples' section says what to install"
    return set(match.group(1).split(","))


def test_the_examples_install_line_brings_every_extra_the_blocks_need() -> None:
    extras = _examples_extras()
    for block in SCRIPTS:
        for extra, pattern in NEEDS.items():
            if pattern.search(block):
                assert extra in extras, f"a block needs [{extra}]:\n{block}"


def test_install_lines_name_only_what_installs_from_a_checkout() -> None:
    # The package is not on the index: `pip install 'atomscale-async[...]'` fails.
    assert not re.search(r"pip install '?atomscale-async\b", TEXT)
