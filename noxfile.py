"""Everything a newcomer needs: `nox -s tests`, `lint`, `typecheck`, `generate`, `bench`, `docs`."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True
nox.options.default_venv_backend = "venv"

PYTHON = ["3.11"]


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the test suite (asyncio and trio; frames and plots included), the drift check too."""
    session.install("-e", ".[test,pandas,plot]")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Ruff: lint and format check."""
    session.install("ruff>=0.5")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package, tests and benchmarks."""
    session.install("-e", ".[dev]")
    session.run("mypy")


@nox.session(python=PYTHON)
def generate(session: nox.Session) -> None:
    """Regenerate atomscale_async/_generated/ from atomscale_async/openapi.yaml."""
    session.install("pyyaml>=6")
    session.run("python", "-m", "atomscale_async._codegen", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks: decode micro-benchmark and the bulk-fetch suite (a few minutes)."""
    session.install("-e", ".[bench]")
    session.run("python", "benchmarks/bench_decode.py")
    session.run("python", "benchmarks/bench_bulk.py", *session.posargs)
    session.run("python", "benchmarks/bench_memory.py")


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Render the README's plots (docs/*.png) from the sandbox's data."""
    session.install("-e", ".[sandbox,plot,pandas]")
    session.run("python", "docs/make_images.py")
