"""Everything a newcomer needs: `nox` runs the tests, lint and typecheck sessions.

`tests`, `slow`, `soak`, `lint`, `typecheck`, `generate`, `bench` and `docs` run on the
interpreter that runs nox (`python3 -m nox` tests whatever `python3` is, if it is a
supported version, and fails otherwise). `pythons` runs the suite on every supported
version and `lowest` on the lowest dependency versions: a missing interpreter is an
error, never a skip.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import nox
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

SUPPORTED_PYTHONS = ["3.11", "3.12", "3.13"]
LOWEST_PYTHON = SUPPORTED_PYTHONS[0]
ROOT = Path(__file__).parent

# A background job of a non-interactive shell (`nox &` in a CI script) starts with
# SIGINT ignored, and every process it starts inherits that: Ctrl-C could not be tested.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True
# uv where it is installed (CI installs it: several times faster), else the stdlib's venv.
nox.options.default_venv_backend = "uv|venv"
nox.options.error_on_missing_interpreters = True
nox.options.download_python = "never"  # test the Pythons that are installed, nothing else

# The version of the interpreter that runs nox (found first by nox for its own version):
# `python3 -m nox` tests with python3, in a virtualenv of its own for each version
# (a list, so that the session's name and virtualenv carry the version).
RUNNING = ["{}.{}".format(*sys.version_info[:2])]

TEST_EXTRAS = ".[test,pandas,plot]"
FAST = ("-m", "not slow")


def _require_supported(session: nox.Session) -> None:
    """Fail the session, loudly, on an interpreter the project does not support."""
    version = session.run(
        "python", "-c", "import sys; print('%d.%d' % sys.version_info[:2])", silent=True
    )
    assert isinstance(version, str)
    version = version.strip()
    if version != session.python:
        session.error(f"the virtualenv runs Python {version}, not {session.python}")
    if version not in SUPPORTED_PYTHONS:
        session.error(
            f"Python {version} is not supported; run nox with one of "
            f"{', '.join(SUPPORTED_PYTHONS)} (for example `python3.11 -m nox`)"
        )


def _pytest(session: nox.Session, *default_args: str) -> None:
    # Exit status 5 (no test collected) fails the session like any other failure.
    session.run("pytest", *(session.posargs or default_args))


@nox.session(python=RUNNING)
def tests(session: nox.Session) -> None:
    """The suite without the slow tests (asyncio and trio; frames, plots, drift check)."""
    _require_supported(session)
    session.install("-e", TEST_EXTRAS)
    _pytest(session, *FAST)


@nox.session(python=RUNNING)
def slow(session: nox.Session) -> None:
    """Only the long stress, soak and kill tests (`@pytest.mark.slow`)."""
    _require_supported(session)
    session.install("-e", TEST_EXTRAS)
    _pytest(session, "-m", "slow")


@nox.session(python=RUNNING)
def soak(session: nox.Session) -> None:
    """5,000 ids through every kind of fault, asyncio and trio; prints lost, wire, wall time."""
    _require_supported(session)
    session.install("-e", TEST_EXTRAS)
    _pytest(session, "-m", "slow", "-s", "-k", "soak", "tests/test_soak.py")


@nox.session(python=SUPPORTED_PYTHONS)
def pythons(session: nox.Session) -> None:
    """The suite without the slow tests, on each supported Python (`nox -s pythons-3.12`)."""
    _require_supported(session)
    session.install("-e", TEST_EXTRAS)
    _pytest(session, *FAST)


# What is installed in a session's virtualenv (uv's have no pip).
LIST_DISTRIBUTIONS = (
    "import importlib.metadata as m, json; "
    "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
)


def core_floors() -> list[str]:
    """`name==floor` for every core dependency, from the `>=` bounds in pyproject.toml."""
    import tomllib  # 3.11+: on an older Python the sessions fail with a clear message instead

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = []
    for line in project["dependencies"]:
        requirement = Requirement(line)
        floors = [spec.version for spec in requirement.specifier if spec.operator == ">="]
        if len(floors) != 1:
            raise ValueError(f"core dependency {line!r} needs exactly one >= floor")
        pins.append(f"{requirement.name}=={floors[0]}")
    return pins


@nox.session(python=LOWEST_PYTHON)
def lowest(session: nox.Session) -> None:
    """The suite on the lowest Python with every core dependency at its floor."""
    _require_supported(session)
    constraints = Path(session.create_tmp()) / "floors.txt"
    pins = core_floors()
    constraints.write_text("\n".join(pins) + "\n", encoding="utf-8")
    session.install("-c", str(constraints), "-e", TEST_EXTRAS)
    listed = session.run("python", "-c", LIST_DISTRIBUTIONS, silent=True)
    assert isinstance(listed, str)
    installed = {
        canonicalize_name(name): Version(version)
        for name, version in json.loads(listed.strip().splitlines()[-1]).items()
    }
    wrong = []
    for pin in map(Requirement, pins):
        version = installed.get(canonicalize_name(pin.name))
        if version is None or version not in pin.specifier:
            wrong.append(f"{pin} (installed: {version or 'none'})")
    if wrong:
        session.error(f"not installed at their floor: {', '.join(wrong)}")
    _pytest(session, *FAST)


@nox.session(python=RUNNING)
def lint(session: nox.Session) -> None:
    """Ruff: lint and format check."""
    session.install("ruff>=0.5")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=RUNNING)
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package, tests and benchmarks."""
    _require_supported(session)
    session.install("-e", ".[dev]")
    session.run("mypy")


@nox.session(python=RUNNING)
def generate(session: nox.Session) -> None:
    """Regenerate atomscale_async/_generated/ from atomscale_async/openapi.yaml."""
    session.install("pyyaml>=6")
    session.run("python", "-m", "atomscale_async._codegen", *session.posargs)


@nox.session(python=RUNNING)
def bench(session: nox.Session) -> None:
    """Benchmarks: decode, bulk fetch (mixed kinds too), memory, rate limits, search (~20 min)."""
    session.install("-e", ".[bench]")
    session.run("python", "benchmarks/bench_decode.py")
    session.run("python", "benchmarks/bench_bulk.py", *session.posargs)
    session.run("python", "benchmarks/bench_memory.py")
    session.run("python", "benchmarks/bench_ratelimit.py")
    session.run("python", "benchmarks/bench_search.py")


@nox.session(python=RUNNING)
def schemathesis(session: nox.Session) -> None:
    """schemathesis against a seeded sandbox: every operation, check and phase (stateful too)."""
    _require_supported(session)
    session.install("-e", ".[sandbox]", "schemathesis>=4.0")
    session.run("python", "tests/schemathesis_sandbox.py", *session.posargs)


@nox.session(python=RUNNING)
def docs(session: nox.Session) -> None:
    """Render the README's plots (docs/*.png) from the sandbox's data."""
    session.install("-e", ".[sandbox,plot,pandas]")
    session.run("python", "docs/make_images.py")
