"""The command line's parser: commands, options, and the checks of their values."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import NoReturn

from .._client import DEFAULT_BASE_URL, DEFAULT_MAX_CONCURRENCY
from .._client import _resolve_base_url as resolve_base_url
from .._generated.kinds import KINDS
from .._version import __version__
from ._catalogue import SEARCH_FORMATS, add_sample_and_project_commands, add_search_command
from ._files import add_file_commands
from ._kinds import kind_names, kinds_text, technique
from ._output import EXIT_USAGE
from ._sandbox import add_config_options

__all__ = ["PROG", "build_parser", "check_local_command", "parse_layer"]

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


def _data_id(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a data id, got {text!r}")
    return text.strip()


def _base_url(text: str) -> str:
    try:
        if not text.strip():
            raise ValueError(text)
        # Only the URL's form: whether http:// may reach another machine is the client's
        # decision, with --allow-insecure-http.
        return resolve_base_url(text, True)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an http(s) URL such as {DEFAULT_BASE_URL!r}, got {text!r}"
        ) from None


def parse_layer(text: str) -> tuple[str, str | None]:
    """A ``--layer`` value, ``COMPOSITION[:ORIENTATION]``: its composition and orientation.

    The part after the last ``:`` is an orientation only when it looks like one
    (digits, signs, brackets), so that ``GaN:Mg`` stays a composition; an orientation
    anywhere else (``GaN:0001:extra``) is refused.

    Example:
        >>> parse_layer("GaN:0001")
        ('GaN', '0001')
        >>> parse_layer("GaN:Mg")
        ('GaN:Mg', None)
    """
    parts = [part.strip() for part in text.strip().split(":")]
    orientation: str | None = None
    if len(parts) > 1 and _ORIENTATION.fullmatch(parts[-1]):
        orientation = parts.pop()
    composition = ":".join(parts)
    if not composition or not all(parts):
        raise argparse.ArgumentTypeError(
            f"expected COMPOSITION[:ORIENTATION], e.g. GaN or GaN:0001, got {text!r}"
        )
    misplaced = [part for part in parts[1:] if _ORIENTATION.fullmatch(part)]
    if misplaced:
        raise argparse.ArgumentTypeError(
            f"the orientation comes last, as in COMPOSITION[:ORIENTATION], got {text!r}"
        )
    return composition, orientation or None


#: The options before the command that only the commands calling the API honour.
API_OPTIONS = {
    "base_url": "--base-url",
    "api_key": "--api-key",
    "allow_insecure_http": "--allow-insecure-http",
}
#: The commands that call no API, and the options (before them) they honour.
LOCAL_COMMANDS = {"demo": {"format"}, "sandbox": set[str]()}


def check_local_command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse the options before ``demo`` or ``sandbox`` that the command would ignore."""
    honoured = LOCAL_COMMANDS.get(args.command)
    if honoured is None:
        return
    for dest, flag in (*API_OPTIONS.items(), ("format", "--format")):
        if dest not in honoured and hasattr(args, dest):
            parser.error(f"{flag} is not an option of {args.command!r}")


def _api_options() -> _Parser:
    api = _Parser(add_help=False)
    server = api.add_argument_group("API options")
    server.add_argument(
        "--base-url",
        type=_base_url,
        metavar="URL",
        default=argparse.SUPPRESS,
        help=f"the API root (default: $ATOMSCALE_BASE_URL, else {DEFAULT_BASE_URL})",
    )
    server.add_argument(
        "--api-key",
        metavar="KEY",
        default=argparse.SUPPRESS,
        help="the API key (default: $ATOMSCALE_API_KEY)",
    )
    server.add_argument(
        "--allow-insecure-http",
        action="store_true",
        default=argparse.SUPPRESS,
        help="allow an http:// --base-url to another machine, e.g. a sandbox in a container "
        "(default: $ATOMSCALE_ALLOW_INSECURE_HTTP)",
    )
    return api


def _format_option(formats: tuple[str, ...] = ("table", "json")) -> _Parser:
    output = _Parser(add_help=False)
    extra = ", ".join(formats[2:])
    output.add_argument(
        "--format",
        choices=formats,
        default=argparse.SUPPRESS,
        help="output: table (default on a terminal) or json (default in a pipe)"
        + (f"; or {extra}" if extra else ""),
    )
    return output


def common_options(formats: tuple[str, ...] = ("table", "json")) -> _Parser:
    """A parent parser with the options every API command takes: server, key, format."""
    return _Parser(add_help=False, parents=[_api_options(), _format_option(formats)])


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser."""
    api, output = _api_options(), _format_option()
    parser = _Parser(
        prog=PROG,
        parents=[api, output],
        description="Fetch Atomscale data: search the catalogue, instruments, target "
        f"materials, physical samples, projects, and results of every kind ({kinds_text()}). "
        "The API options may also follow the command that calls the API.",
        epilog=f"Try it without an account: {PROG} demo",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    calls = [common_options()]  # the options of a command that calls the API

    demo = commands.add_parser(
        "demo",
        parents=[output],
        help="fetch a local sandbox's entries in bulk and summarize them (no account needed)",
        description="Start a sandbox server on 127.0.0.1 (never the real API, whatever "
        "the environment says), fetch all its entries concurrently and print what came "
        "back and how fast.",
    )
    demo.add_argument(
        "--entries",
        type=_positive_int,
        default=DEFAULT_DEMO_ENTRIES,
        metavar="N",
        help="entries in the sandbox (default: %(default)s)",
    )
    _concurrency_option(demo)
    demo.add_argument(
        "--seed", type=int, default=0, metavar="SEED", help="sandbox seed (default: %(default)s)"
    )
    progress_option(demo)

    sandbox = commands.add_parser(
        "sandbox",
        help="serve a local sandbox of the API until Ctrl-C",
        description="Serve seeded, realistic data on the API's paths on this machine, "
        "with optional faults, until Ctrl-C.",
    )
    sandbox.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    sandbox.add_argument(
        "--port", type=_port, default=8000, help="port to listen on (default: %(default)s)"
    )
    add_config_options(sandbox)

    instruments = commands.add_parser(
        "instruments",
        help="synthesis instruments",
        description="The synthesis instruments.",
    ).add_subparsers(dest="action", metavar="ACTION", required=True)
    instruments.add_parser(
        "list",
        parents=calls,
        help="list the synthesis instruments",
        description="List the synthesis instruments.",
    )

    materials = commands.add_parser(
        "target-materials",
        help="target materials (one row per layer)",
        description="Target materials: the intended layer stack and substrate of a sample.",
    ).add_subparsers(dest="action", metavar="ACTION", required=True)
    materials.add_parser(
        "list",
        parents=calls,
        help="list the target materials",
        description="List the target materials, one row per layer.",
    )
    create = materials.add_parser(
        "create",
        parents=calls,
        help="create a target material",
        description="Create a target material sample and its layers.",
    )
    create.add_argument("--name", required=True, help="sample name (required)")
    create.add_argument("--substrate", required=True, help="substrate, e.g. Si (required)")
    create.add_argument(
        "--layer",
        action="append",
        type=parse_layer,
        default=[],
        metavar="COMPOSITION[:ORIENTATION]",
        help="a layer, bottom first (repeat it), e.g. --layer AlN:0001 --layer GaN:0001 "
        "(default: no layers)",
    )

    for kind, aliases in kind_names().items():
        label = f"the {technique(kind)} result"
        get = commands.add_parser(
            kind, aliases=aliases, help=f"{label}s", description=f"Get {label} of a data id."
        ).add_subparsers(dest="action", metavar="ACTION", required=True)
        one = get.add_parser(
            "get",
            parents=calls,
            help=f"get {label} of a data id",
            description=f"Get {label} of a data id.",
        )
        one.add_argument("data_id", type=_data_id, metavar="ID", help="data entry id")
        one.add_argument(
            "--plot",
            type=Path,
            metavar="FILE.png",
            help="also save a quick-look plot (needs the plot extra; default: no plot)",
        )

    bulk = commands.add_parser(
        "get",
        parents=calls,
        help="fetch many results concurrently, as JSON lines",
        description="Fetch the results of many data ids concurrently. Each result is one "
        'JSON object a line, {"data_id", "data_type", "result"} or {"data_id", "error"}, '
        "in the order they complete; a failure does not stop the others (exit status 1).",
    )
    bulk.add_argument("data_ids", nargs="*", type=_data_id, metavar="ID", help="data entry ids")
    bulk.add_argument(
        "--ids-file",
        type=Path,
        metavar="FILE",
        help="read ids from FILE, one a line (- = stdin; default: the IDs given)",
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
        "successfully, fetch the rest (failed ones too) again (default: off)",
    )
    bulk.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing --out FILE, start afresh (default: off)",
    )
    bulk.add_argument(
        "--repair",
        action="store_true",
        help="with --resume: move damaged part files of DIR.parquet aside (to DIR/_damaged/) "
        "and fetch their ids again, instead of stopping (default: off)",
    )
    bulk.add_argument(
        "--verify",
        action="store_true",
        help="check the export in --out as it is, fetching nothing: every part file or "
        "line, and that each ID given is written; exit 1 when anything is wrong "
        "(default: off)",
    )
    _concurrency_option(bulk)
    bulk.add_argument(
        "--data-type",
        choices=tuple(KINDS),
        help="the kind of every id (default: each id's kind, from the catalogue)",
    )
    progress_option(bulk)

    add_search_command(commands, common_options(SEARCH_FORMATS))
    add_sample_and_project_commands(commands, calls)
    add_file_commands(commands, calls)
    return parser


def _concurrency_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--concurrency",
        type=_positive_int,
        metavar="N",
        help=f"requests in flight at most (default: {DEFAULT_MAX_CONCURRENCY})",
    )


def progress_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal and tqdm is installed)",
    )
