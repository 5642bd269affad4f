"""The ``atomscale-async`` command line.

Commands::

    atomscale-async demo [--entries N] [--concurrency N]      # a local sandbox, no account
    atomscale-async sandbox [--port P] [--entries N] ...      # serve a sandbox until Ctrl-C
    atomscale-async instruments list
    atomscale-async target-materials list
    atomscale-async target-materials create --name N --substrate S [--layer GaN:0001 ...]
    atomscale-async KIND get ID [--plot FILE.png]             # every kind of the kind table
    atomscale-async get ID... | --ids-file FILE [--out FILE.jsonl|.json|DIR.parquet]
                    [--resume [--repair] | --overwrite] [--concurrency N]
    atomscale-async get [ID...] --verify --out FILE.jsonl|DIR.parquet  # check, fetch nothing

``--base-url`` and ``--api-key`` (or ``ATOMSCALE_BASE_URL`` / ``ATOMSCALE_API_KEY``)
choose the server. Output is a table for people (stdout is a terminal, or
``--format table``) and JSON for programs (``--format json``, the default in a pipe).
Errors are one ``error: ...`` line on stderr; the exit status is 0 on success, 1 on a
failure, 2 on a usage error and 130 on Ctrl-C. The API key is never printed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from typing import IO

import anyio

from .._errors import AtomscaleError
from .._optional import MissingExtraError
from ._commands import API_COMMANDS, interrupted_note
from ._demo import run_demo
from ._output import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    CLIError,
    Output,
    error_line,
)
from ._parser import build_parser, check_local_command
from ._sandbox import run_sandbox

__all__ = ["main"]


def _run(args: argparse.Namespace, out: Output) -> int:
    if args.command == "demo":
        return run_demo(args, out)
    if args.command == "sandbox":
        return run_sandbox(args, out)
    command = API_COMMANDS[args.command, getattr(args, "action", None)]

    async def run() -> int:
        return await command(args, out)

    return anyio.run(run)


@contextlib.contextmanager
def _quiet_broken_pipe(stdout: IO[str]) -> Iterator[None]:
    try:
        yield
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, and do not let Python
        # complain when it flushes stdout at exit.
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stdout.fileno())
        raise


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Args:
        argv: The arguments, without the program name; ``sys.argv[1:]`` when None.

    Returns:
        0 on success, 1 on a failure, 2 on a usage error, 130 when interrupted.
    """
    stdout, stderr = sys.stdout, sys.stderr
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:  # a usage error, but one best answered with the help
        parser.print_help(stderr)
        return EXIT_USAGE
    try:
        args = parser.parse_args(argv)
        check_local_command(parser, args)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    fmt = getattr(args, "format", None) or ("table" if stdout.isatty() else "json")
    secret = getattr(args, "api_key", None) or os.environ.get("ATOMSCALE_API_KEY")
    out = Output(stdout, stderr, fmt, secret or os.environ.get("AS_API_KEY"))
    try:
        with _quiet_broken_pipe(stdout):
            status = _run(args, out)
            stdout.flush()
            return status
    except KeyboardInterrupt:
        out.note(interrupted_note(args))
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_FAILURE
    except CLIError as exc:
        out.error(str(exc))
        return exc.status
    except MissingExtraError as exc:
        out.error(str(exc))
        return EXIT_FAILURE
    except AtomscaleError as exc:
        out.error(error_line(exc))
        return EXIT_FAILURE
    except (OSError, ValueError) as exc:  # e.g. a file that cannot be read, an empty id
        out.error(error_line(exc))
        return EXIT_FAILURE
