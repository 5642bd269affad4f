"""The ``sandbox`` command, and starting a sandbox for the demo."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ._output import EXIT_OK, EXIT_USAGE, CLIError, Output, error_line

if TYPE_CHECKING:
    from ..sandbox import SandboxServer

__all__ = ["SANDBOX_KEY", "run_sandbox", "start_sandbox"]

SANDBOX_KEY = "sandbox-key"


def run_sandbox(args: argparse.Namespace, out: Output) -> int:
    """The ``sandbox`` command: serve a sandbox in the foreground until Ctrl-C."""
    try:
        from ..sandbox import serve
    except ImportError as exc:
        raise missing_sandbox(exc) from None
    api_key = getattr(args, "api_key", None) or SANDBOX_KEY
    try:
        serve(
            host=args.host,
            port=args.port,
            entries=args.entries,
            seed=args.seed,
            api_key=api_key,
            latency_ms=args.latency_ms,
            error_rate=args.error_rate,
            rate_limit=args.rate_limit,
            drop_rate=args.drop_rate,
            show_key=api_key == SANDBOX_KEY,  # a key of the user's own is never printed
        )
    except OSError as exc:
        where = f"{args.host}:{args.port}"
        raise CLIError(f"could not serve on {where}: {error_line(exc)}") from None
    except ValueError as exc:
        raise CLIError(error_line(exc), EXIT_USAGE) from None
    return EXIT_OK


def missing_sandbox(exc: ImportError) -> CLIError:
    """The error to report when the sandbox extra is not installed."""
    missing = exc.name or "a dependency"
    return CLIError(
        f"the sandbox needs {missing}, which is not installed: "
        "pip install 'atomscale-async[sandbox]'"
    )


def start_sandbox(entries: int, seed: int) -> SandboxServer:
    """A sandbox serving from a child process on a free port, for the demo."""
    try:
        from ..sandbox import SandboxServer
    except ImportError as exc:
        raise missing_sandbox(exc) from None
    server = SandboxServer(entries=entries, seed=seed, port=0, process=True, startup_timeout=60)
    try:
        server.start()
    except (OSError, RuntimeError) as exc:
        raise CLIError(f"could not start the sandbox: {error_line(exc)}") from None
    return server
