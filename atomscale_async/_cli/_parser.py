"""The command line's parser: commands, options, and the checks of their values."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any, NoReturn

from .._version import __version__
from ._catalogue import SEARCH_FORMATS, add_search_command
from ._output import EXIT_USAGE, CLIError
from ._sandbox import add_config_options

__all__ = ["PROG", "build_parser", "parse_layer"]

PROG = "atomscale-async"
DEFAULT_DEMO_ENTRIES = 3000
#: An orientation as people write it: 001, 0001, 1-10, (111), [1 -1 0]...
_ORIENTATION = re.compile(r"[\[(<{]?[-\d\s,]+[\])>}]?")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        """Report a usage error on one line and exit with status 2."""
        self.exit(EXIT_USAGE, f"error: {message} (see '{self.prog} --help')\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {text!r}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535, got {text!r}")
    return value


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _fraction(text: str) -> float:
    value = _non_negative(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"expected a fraction from 0 to 1, got {text!r}")
    return value


def parse_layer(text: str, position: int) -> dict[str, Any]:
    """A ``--layer`` value, ``COMPOSITION[:ORIENTATION]``, as a layer to create.

    The part after the last ``:`` is an orientation only when it looks like one
    (digits, signs, brackets), so that ``GaN:Mg`` stays a composition.

    Example:
        >>> parse_layer("GaN:0001", 1)
        {'layer_id': 1, 'composition_string': 'GaN', 'orientation': '0001'}
        >>> parse_layer("GaN:Mg", 2)
        {'layer_id': 2, 'composition_string': 'GaN:Mg'}
    """
    composition, colon, orientation = text.strip().rpartition(":")
    if not colon or not _ORIENTATION.fullmatch(orientation.strip()):
        composition, orientation = text.strip(), ""
    if not composition.strip():
        raise CLIError(f"--layer {text!r}: give a composition, e.g. GaN or GaN:0001", EXIT_USAGE)
    layer: dict[str, Any] = {"layer_id": position, "composition_string": composition.strip()}
    if orientation.strip():
        layer["orientation"] = orientation.strip()
    return layer


def common_options(formats: tuple[str, ...] = ("table", "json")) -> _Parser:
    """A parent parser with the options every API command takes: server, key, format."""
    common = _Parser(add_help=False)
    common.add_argument(
        "--base-url",
        default=argparse.SUPPRESS,
        help="API root (default: $ATOMSCALE_BASE_URL, else https://api.atomscale.ai/)",
    )
    common.add_argument(
        "--api-key", default=argparse.SUPPRESS, help="API key (default: $ATOMSCALE_API_KEY)"
    )
    extra = ", ".join(formats[2:])
    common.add_argument(
        "--allow-insecure-http",
        action="store_true",
        default=argparse.SUPPRESS,
        help="allow an http:// --base-url to another machine, e.g. a sandbox in a container "
        "(default: $ATOMSCALE_ALLOW_INSECURE_HTTP)",
    )
    common.add_argument(
        "--format",
        choices=formats,
        default=argparse.SUPPRESS,
        help="output: table (default on a terminal) or json (default in a pipe)"
        + (f"; or {extra}" if extra else ""),
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser."""
    common = common_options()
    parser = _Parser(
        prog=PROG,
        parents=[common],
        description="Fetch Atomscale data: instruments, target materials, SIMS and OES results.",
        epilog=f"Try it without an account: {PROG} demo",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser(
        "demo",
        parents=[common],
        help="fetch a local sandbox's entries in bulk and summarize them (no account needed)",
        description="Start a sandbox server on 127.0.0.1 (never the real API), fetch all "
        "its entries concurrently and print what came back and how fast.",
    )
    demo.add_argument(
        "--entries",
        type=_positive_int,
        default=DEFAULT_DEMO_ENTRIES,
        help="entries in the sandbox (default: %(default)s)",
    )
    demo.add_argument("--concurrency", type=_positive_int, help="requests in flight (default: 32)")
    demo.add_argument("--seed", type=int, default=0, help="sandbox seed (default: %(default)s)")
    progress_option(demo)

    sandbox = commands.add_parser(
        "sandbox",
        help="serve a local sandbox of the API until Ctrl-C",
        description="Serve seeded, realistic data on the API's paths on this machine, "
        "with optional faults, until Ctrl-C.",
    )
    sandbox.add_argument("--host", default="127.0.0.1", help="address (default: %(default)s)")
    sandbox.add_argument("--port", type=_port, default=8000, help="port (default: %(default)s)")
    add_config_options(sandbox)

    instruments = commands.add_parser(
        "instruments", parents=[common], help="synthesis instruments"
    ).add_subparsers(dest="action", metavar="ACTION", required=True)
    instruments.add_parser("list", parents=[common], help="list the synthesis instruments")

    materials = commands.add_parser(
        "target-materials", parents=[common], help="target materials (one row per layer)"
    ).add_subparsers(dest="action", metavar="ACTION", required=True)
    materials.add_parser("list", parents=[common], help="list the target materials")
    create = materials.add_parser("create", parents=[common], help="create a target material")
    create.add_argument("--name", required=True, help="sample name")
    create.add_argument("--substrate", required=True, help="substrate, e.g. Si")
    create.add_argument(
        "--layer",
        action="append",
        default=[],
        metavar="COMPOSITION[:ORIENTATION]",
        help="a layer, bottom first (repeat it), e.g. --layer AlN:0001 --layer GaN:0001",
    )

    for kind, label in (("sims", "SIMS depth profiles"), ("oes", "an OES result")):
        get = commands.add_parser(kind, parents=[common], help=label).add_subparsers(
            dest="action", metavar="ACTION", required=True
        )
        one = get.add_parser("get", parents=[common], help=f"get {label} of a data id")
        one.add_argument("data_id", metavar="ID", help="data entry id")
        one.add_argument(
            "--plot",
            type=Path,
            metavar="FILE.png",
            help="also save a quick-look plot (needs the plot extra)",
        )

    bulk = commands.add_parser(
        "get",
        parents=[common],
        help="fetch many results concurrently, as JSON lines",
        description="Fetch the results of many data ids concurrently. Each result is one "
        'JSON object a line, {"data_id", "data_type", "result"} or {"data_id", "error"}, '
        "in the order they complete; a failure does not stop the others (exit status 1).",
    )
    bulk.add_argument("data_ids", nargs="*", metavar="ID", help="data entry ids")
    bulk.add_argument(
        "--ids-file", type=Path, metavar="FILE", help="read ids from FILE, one a line (- = stdin)"
    )
    bulk.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="write to FILE: .jsonl for JSON lines, .json for one JSON array, DIR.parquet "
        "for a Parquet dataset (default: JSON lines on stdout); an existing FILE is refused "
        "without --resume or --overwrite",
    )
    bulk.add_argument(
        "--resume",
        action="store_true",
        help="continue the pull in --out FILE.jsonl or DIR.parquet: skip the ids written "
        "successfully, fetch the rest (failed ones too) again",
    )
    bulk.add_argument(
        "--overwrite", action="store_true", help="replace an existing --out FILE (start afresh)"
    )
    bulk.add_argument("--concurrency", type=_positive_int, help="requests in flight")
    bulk.add_argument("--data-type", choices=("sims", "oes"), help="the kind of every id")
    progress_option(bulk)

    add_search_command(commands, common_options(SEARCH_FORMATS))
    return parser


def progress_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal and tqdm is installed)",
    )
