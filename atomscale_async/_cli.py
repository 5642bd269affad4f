"""The ``atomscale-async`` command line.

Commands::

    atomscale-async demo [--entries N] [--concurrency N]      # a local sandbox, no account
    atomscale-async sandbox [--port P] [--entries N] ...      # serve a sandbox until Ctrl-C
    atomscale-async instruments list
    atomscale-async target-materials list
    atomscale-async target-materials create --name N --substrate S [--layer GaN:0001 ...]
    atomscale-async sims get ID [--plot FILE.png]
    atomscale-async oes get ID [--plot FILE.png]
    atomscale-async get ID... | --ids-file FILE [--out FILE.jsonl|.json] [--concurrency N]

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
import re
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

import anyio
import orjson

from ._bulk import Outcome, UnknownDataTypeWarning, UnknownResult
from ._client import AsyncClient
from ._errors import AtomscaleError
from ._generated.models import OESResult, SIMSResult
from ._optional import MissingExtraError, require
from ._version import __version__

if TYPE_CHECKING:
    from .sandbox import SandboxServer

__all__ = ["main"]

PROG = "atomscale-async"
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
DEFAULT_DEMO_ENTRIES = 3000
SANDBOX_KEY = "sandbox-key"
#: Failures listed one by one in a summary; the rest are counted.
_SHOWN_FAILURES = 10
#: An orientation as people write it: 001, 0001, 1-10, (111), [1 -1 0]...
_ORIENTATION = re.compile(r"[\[(<{]?[-\d\s,]+[\])>}]?")


class CLIError(Exception):
    """A failure to report as one ``error: ...`` line, with an exit status."""

    def __init__(self, message: str, status: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.status = status


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        """Report a usage error on one line and exit with status 2."""
        self.exit(EXIT_USAGE, f"error: {message} (see '{self.prog} --help')\n")


# ------------------------------------------------------------------------------- output


class Output:
    """Where and how a command prints: the streams, the format, and the key to hide."""

    def __init__(self, stdout: IO[str], stderr: IO[str], fmt: str, secret: str | None) -> None:
        self.stdout = stdout
        self.stderr = stderr
        self.format = fmt
        self.secret = secret

    @property
    def json(self) -> bool:
        """Whether to print JSON rather than tables."""
        return self.format == "json"

    def redact(self, text: str) -> str:
        """The text on one line, with the API key (if it appears) replaced by ``***``."""
        text = " ".join(text.split())
        if self.secret and len(self.secret) >= 4:
            text = text.replace(self.secret, "***")
        return text

    def line(self, text: str = "") -> None:
        """Print a line on stdout."""
        self.stdout.write(text + "\n")

    def note(self, text: str) -> None:
        """Print a line for people on stderr."""
        self.stderr.write(self.redact(text) + "\n")
        self.stderr.flush()

    def error(self, text: str) -> None:
        """Print an ``error: ...`` line on stderr."""
        self.note(f"error: {text}")

    def dump(self, value: Any) -> None:
        """Print a value as one line of JSON on stdout."""
        self.stdout.write(orjson.dumps(value).decode() + "\n")

    def table(self, headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
        """Print rows as aligned columns (numbers on the right) under a header."""
        for text in format_table(headers, rows):
            self.line(text)


def format_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    r"""Aligned plain-text columns: numbers right-aligned, everything else left-aligned.

    Example:
        >>> print("\n".join(format_table(["kind", "n"], [["sims", 3], ["oes", 12]])))
        kind   n
        sims   3
        oes   12
    """
    values = [list(row) for row in rows]
    cells = [[_cell(value) for value in row] for row in values]
    numeric = [
        bool(values) and all(_is_number(row[i]) for row in values if row[i] is not None)
        for i in range(len(headers))
    ]
    widths = [
        max([len(header), *(len(row[i]) for row in cells)]) for i, header in enumerate(headers)
    ]

    def render(values: Sequence[str]) -> str:
        parts = [
            value.rjust(width) if right else value.ljust(width)
            for value, width, right in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    return [render(list(headers)), *(render(row) for row in cells)]


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.6g}"
    return " ".join(str(value).split())


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _span(values: Sequence[float], fmt: str = ".4g") -> str:
    if not len(values):
        return ""
    return f"{min(values):{fmt}} - {max(values):{fmt}}"


def _error_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


# ------------------------------------------------------------------------------ parsing


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


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser."""
    common = _Parser(add_help=False)
    common.add_argument(
        "--base-url",
        default=argparse.SUPPRESS,
        help="API root (default: $ATOMSCALE_BASE_URL, else https://api.atomscale.ai/)",
    )
    common.add_argument(
        "--api-key", default=argparse.SUPPRESS, help="API key (default: $ATOMSCALE_API_KEY)"
    )
    common.add_argument(
        "--format",
        choices=("table", "json"),
        default=argparse.SUPPRESS,
        help="output: table (default on a terminal) or json (default in a pipe)",
    )
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
    _progress_option(demo)

    sandbox = commands.add_parser(
        "sandbox",
        parents=[common],
        help="serve a local sandbox of the API until Ctrl-C",
        description="Serve seeded, realistic data on the API's paths, with optional faults. "
        "--api-key sets the key it expects (default: sandbox-key).",
    )
    sandbox.add_argument("--host", default="127.0.0.1", help="address (default: %(default)s)")
    sandbox.add_argument("--port", type=_port, default=8000, help="port (default: %(default)s)")
    sandbox.add_argument("--entries", type=_positive_int, default=1000, help="catalogue entries")
    sandbox.add_argument("--seed", type=int, default=0, help="seed of data and faults")
    sandbox.add_argument("--latency-ms", type=_non_negative, default=0.0, help="added delay")
    sandbox.add_argument("--error-rate", type=_fraction, default=0.0, help="fraction of 5xx")
    sandbox.add_argument("--rate-limit", type=_fraction, default=0.0, help="fraction of 429s")
    sandbox.add_argument("--drop-rate", type=_fraction, default=0.0, help="fraction dropped")

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
        help="write to FILE: .json for one JSON array, else JSON lines (default: stdout)",
    )
    bulk.add_argument("--concurrency", type=_positive_int, help="requests in flight")
    bulk.add_argument("--data-type", choices=("sims", "oes"), help="the kind of every id")
    _progress_option(bulk)
    return parser


def _progress_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal and tqdm is installed)",
    )


# ----------------------------------------------------------------------------- commands


def _client(args: argparse.Namespace, **options: Any) -> AsyncClient:
    try:
        return AsyncClient(
            getattr(args, "api_key", None), base_url=getattr(args, "base_url", None), **options
        )
    except ValueError as exc:
        if "no API key" in str(exc):
            raise CLIError("no API key: pass --api-key or set ATOMSCALE_API_KEY") from None
        raise CLIError(_error_line(exc)) from None


def _want_progress(requested: bool | None, stderr: IO[str]) -> bool:
    if requested is not None:
        if requested:
            require("--progress", "progress", "tqdm")
        return requested
    try:
        require("a progress bar", "progress", "tqdm")
    except MissingExtraError:
        return False
    return stderr.isatty()


async def _instruments_list(args: argparse.Namespace, out: Output) -> int:
    async with _client(args) as client:
        items = await client.synthesis_instruments.list()
    if out.json:
        out.dump([item.to_dict() for item in items])
        return EXIT_OK
    out.table(
        ["ID", "NAME", "TYPE", "MANUFACTURER", "MODEL", "LAST UPDATED"],
        [
            [
                item.id,
                item.source_name,
                item.synth_source_type,
                item.source_manufacturer,
                item.source_model,
                item.last_updated.date().isoformat(),
            ]
            for item in items
        ],
    )
    return EXIT_OK


async def _materials_list(args: argparse.Namespace, out: Output) -> int:
    async with _client(args) as client:
        rows = await client.target_materials.list()
    if out.json:
        out.dump([row.to_dict() for row in rows])
        return EXIT_OK
    out.table(
        ["SAMPLE", "NAME", "SUBSTRATE", "LAYER", "COMPOSITION", "ORIENTATION", "SPACE GROUP"],
        [
            [
                row.sample_id,
                row.sample_name,
                row.substrate,
                row.layer_id,
                row.composition_string,
                row.orientation,
                row.space_group,
            ]
            for row in rows
        ],
    )
    return EXIT_OK


async def _materials_create(args: argparse.Namespace, out: Output) -> int:
    layers = [parse_layer(text, position) for position, text in enumerate(args.layer, 1)]
    sample = {"sample_name": args.name, "substrate": args.substrate}
    async with _client(args) as client:
        created = await client.target_materials.create(sample=sample, layers=layers or None)
    if out.json:
        out.dump(created.to_dict())
        return EXIT_OK
    out.line(
        f"Created sample {created.sample_id} {created.sample_name!r} on {created.substrate} "
        f"with {len(layers)} layer{'s' * (len(layers) != 1)}."
    )
    if layers:
        out.table(
            ["LAYER", "COMPOSITION", "ORIENTATION"],
            [
                [layer["layer_id"], layer["composition_string"], layer.get("orientation")]
                for layer in layers
            ],
        )
    return EXIT_OK


def _check_plot(path: Path | None) -> None:
    if path is None:
        return
    require("--plot", "plot", "matplotlib", "numpy")
    import matplotlib

    matplotlib.use("Agg")


def _save_plot(result: SIMSResult | OESResult, path: Path, out: Output) -> None:
    plot: Callable[[], Any] | None = getattr(result, "plot", None)
    if plot is None:
        raise CLIError("this version of atomscale-async cannot plot results")
    ax = plot()
    try:
        ax.figure.savefig(path)
    except (OSError, ValueError) as exc:
        raise CLIError(f"could not save the plot to {path}: {_error_line(exc)}") from None
    finally:
        import matplotlib.pyplot as plt

        plt.close("all")
    out.note(f"saved the plot to {path}")


async def _sims_get(args: argparse.Namespace, out: Output) -> int:
    _check_plot(args.plot)
    async with _client(args) as client:
        result = await client.sims.get(args.data_id)
    if out.json:
        out.dump(result.to_dict())
    else:
        profiles = result.depth_profiles
        out.line(
            f"SIMS {result.data_id}: {len(profiles)} depth profile{'s' * (len(profiles) != 1)}"
        )
        if profiles:
            out.table(
                ["SPECIES", "POINTS", "DEPTH", "CONCENTRATION", "TYPE", "ION"],
                [
                    [
                        p.species_name,
                        len(p.depths),
                        f"{_span(p.depths, 'g')} {p.depth_units}",
                        f"{_span(p.concentrations, '.3g')} {p.concentration_units}",
                        p.species_metadata.get("profile_type"),
                        p.species_metadata.get("secondary_ion"),
                    ]
                    for p in profiles
                ],
            )
    if args.plot is not None:
        _save_plot(result, args.plot, out)
    return EXIT_OK


async def _oes_get(args: argparse.Namespace, out: Output) -> int:
    _check_plot(args.plot)
    async with _client(args) as client:
        result = await client.oes.get(args.data_id)
    if out.json:
        out.dump(result.to_dict())
    else:
        captured = [name for name in ("reference", "dark") if getattr(result, name) is not None]
        elements = Counter(peak.element for peak in result.detected_peaks)
        constraint = result.constraint_mode
        if result.constrained_elements:
            constraint += f" ({', '.join(result.constrained_elements)})"
        out.table(
            ["OES", result.data_id],
            [
                ["points", f"{len(result.wavelengths):,}"],
                ["wavelengths", f"{_span(result.wavelengths, 'g')} {result.wavelength_unit}"],
                ["spectra", ", ".join(["sample", *captured, "scope_corrected"])],
                ["peaks", f"{len(result.detected_peaks):,}"],
                ["elements", ", ".join(f"{e} ({n})" for e, n in sorted(elements.items()))],
                ["constraint", constraint],
                ["last updated", result.last_updated.isoformat(timespec="seconds")],
            ],
        )
        if result.detected_peaks:
            out.line()
            out.table(
                ["PEAK", "WAVELENGTH", "ELEMENT"],
                [[p.peak_id, p.wavelength_nm, p.element] for p in result.detected_peaks],
            )
    if args.plot is not None:
        _save_plot(result, args.plot, out)
    return EXIT_OK


def _read_ids(args: argparse.Namespace) -> list[str]:
    ids = list(args.data_ids)
    if args.ids_file is not None:
        try:
            if str(args.ids_file) == "-":
                text = sys.stdin.read()
            else:
                text = args.ids_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CLIError(f"could not read {args.ids_file}: {_error_line(exc)}") from None
        for line in text.splitlines():
            data_id = line.split("#", 1)[0].strip()
            if data_id:
                ids.append(data_id)
    if not ids:
        raise CLIError("give data ids, or --ids-file FILE", EXIT_USAGE)
    if not all(ids):
        raise CLIError("a data id is empty", EXIT_USAGE)
    return ids


def outcome_record(outcome: Outcome) -> dict[str, Any]:
    """The JSON object ``get`` writes for one outcome."""
    if outcome.error is not None:
        error = {"type": type(outcome.error).__name__, "message": _error_line(outcome.error)}
        return {"data_id": outcome.data_id, "error": error}
    result = outcome.result
    if isinstance(result, UnknownResult):
        return {
            "data_id": outcome.data_id,
            "data_type": result.data_type,
            "result": None,
            "catalogue_entry": result.catalogue_entry.to_dict(),
        }
    data_type = "sims" if isinstance(result, SIMSResult) else "oes"
    assert result is not None
    return {"data_id": outcome.data_id, "data_type": data_type, "result": result.to_dict()}


def _describe(outcome: Outcome) -> tuple[str, str]:
    result = outcome.result
    if outcome.error is not None:
        return "error", f"{type(outcome.error).__name__}: {_error_line(outcome.error)}"
    if isinstance(result, SIMSResult):
        species = ", ".join(p.species_name for p in result.depth_profiles)
        points = sum(len(p.depths) for p in result.depth_profiles)
        count = len(result.depth_profiles)
        return "sims", f"{count} profiles ({species}), {points:,} points" if count else "empty"
    if isinstance(result, OESResult):
        elements = ", ".join(sorted({p.element for p in result.detected_peaks}))
        peaks = len(result.detected_peaks)
        return "oes", f"{len(result.wavelengths):,} points, {peaks} peaks ({elements})"
    assert isinstance(result, UnknownResult)
    return result.data_type, "not fetched: a kind this SDK does not know"


class _Sink:
    """Writes ``get``'s records to a file or stdout, as JSON lines or one JSON array."""

    def __init__(self, path: Path | None, out: Output) -> None:
        self.path = path
        self.array = path is not None and path.suffix.lower() == ".json"
        self.count = 0
        self._file: IO[bytes] | None = None
        self._out = out

    def __enter__(self) -> _Sink:
        if self.path is not None:
            try:
                self._file = self.path.open("wb")
            except OSError as exc:
                raise CLIError(f"could not write {self.path}: {_error_line(exc)}") from None
            if self.array:
                self._file.write(b"[")
        return self

    def write(self, record: dict[str, Any]) -> None:
        data = orjson.dumps(record)
        if self._file is None:
            self._out.stdout.write(data.decode() + "\n")
        elif self.array:
            self._file.write((b",\n" if self.count else b"\n") + data)
        else:
            self._file.write(data + b"\n")
        self.count += 1

    def __exit__(self, *exc_info: object) -> None:
        if self._file is not None:
            if self.array:
                self._file.write(b"\n]\n")
            self._file.close()


async def _get(args: argparse.Namespace, out: Output) -> int:
    ids = _read_ids(args)
    progress = _want_progress(args.progress, out.stderr)
    # People at a terminal get a summary; JSON goes to --out, a pipe, or --format json.
    summary = args.out is None and not out.json
    # Only what the report needs is kept: results are written (or described) as they come.
    described: dict[str, tuple[str, str]] = {}
    failed: list[tuple[str, Exception]] = []
    unknown_kinds: set[str] = set()
    received = 0
    async with _client(args) as client:
        with _Sink(None if summary else args.out, out) as sink, warnings.catch_warnings():
            warnings.simplefilter("ignore", UnknownDataTypeWarning)
            async with contextlib.aclosing(
                client.iter_results(
                    ids,
                    data_type=args.data_type,
                    concurrency=args.concurrency,
                    progress=progress,
                )
            ) as stream:
                async for outcome in stream:
                    received += 1
                    if outcome.error is not None:
                        failed.append((outcome.data_id, outcome.error))
                    if isinstance(outcome.result, UnknownResult):
                        unknown_kinds.add(outcome.result.data_type)
                    if summary:
                        described[outcome.data_id] = _describe(outcome)
                    else:
                        sink.write(outcome_record(outcome))
    if summary:
        out.table(
            ["DATA ID", "TYPE", "RESULT"],
            [[data_id, *described[data_id]] for data_id in dict.fromkeys(ids)],
        )
    for kind in sorted(unknown_kinds):
        out.note(f"warning: entries of kind {kind!r} are not known to this SDK: not fetched")
    if args.out is not None:
        out.note(f"wrote {sink.count:,} records to {args.out}")
    if not failed:
        return EXIT_OK
    if not summary:
        for data_id, error in failed[:_SHOWN_FAILURES]:
            out.error(f"{data_id}: {_error_line(error)}")
        if len(failed) > _SHOWN_FAILURES:
            out.error(f"... and {len(failed) - _SHOWN_FAILURES:,} more failures")
    out.error(f"{len(failed):,} of {received:,} data ids failed")
    return EXIT_FAILURE


def _sandbox(args: argparse.Namespace, out: Output) -> int:
    try:
        from .sandbox import serve
    except ImportError as exc:
        raise _missing_sandbox(exc) from None
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
        raise CLIError(f"could not serve on {where}: {_error_line(exc)}") from None
    except ValueError as exc:
        raise CLIError(_error_line(exc), EXIT_USAGE) from None
    return EXIT_OK


def _missing_sandbox(exc: ImportError) -> CLIError:
    missing = exc.name or "a dependency"
    return CLIError(
        f"the sandbox needs {missing}, which is not installed: "
        "pip install 'atomscale-async[sandbox]'"
    )


# --------------------------------------------------------------------------------- demo


class DemoReport:
    """What a demo fetched, tallied for the summary."""

    def __init__(self, kinds: dict[str, str]) -> None:
        self.kinds = kinds
        self.fetched: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.failures: list[tuple[str, Exception]] = []
        self.species: Counter[str] = Counter()
        self.species_points: Counter[str] = Counter()
        self.sims_empty = 0
        self.elements: Counter[str] = Counter()
        self.element_spectra: Counter[str] = Counter()
        self.spectra = 0
        self.spectrum_points: Counter[int] = Counter()

    def add(self, data_id: str, result: object) -> None:
        """Count one result (or exception) of the bulk fetch."""
        kind = self.kinds.get(data_id, "unknown")
        if isinstance(result, Exception):
            self.failed[kind] += 1
            self.failures.append((data_id, result))
            return
        self.fetched[kind] += 1
        if isinstance(result, SIMSResult):
            if not result.depth_profiles:
                self.sims_empty += 1
            for profile in result.depth_profiles:
                self.species[profile.species_name] += 1
                self.species_points[profile.species_name] += len(profile.depths)
        elif isinstance(result, OESResult):
            self.spectra += 1
            self.spectrum_points[len(result.wavelengths)] += 1
            counts = Counter(peak.element for peak in result.detected_peaks)
            self.elements.update(counts)
            self.element_spectra.update(counts.keys())

    def render(self, out: Output) -> None:
        """Print the tables: kinds, SIMS species, OES elements, failures."""
        kinds = sorted(set(self.fetched) | set(self.failed), key=_kind_order)
        rows: list[list[object]] = []
        for kind in kinds:
            note = "" if kind in ("sims", "oes") else "kind unknown to this SDK: UnknownResult"
            total = self.fetched[kind] + self.failed[kind]
            rows.append([kind, total, self.fetched[kind], self.failed[kind], note])
        fetched, failed = sum(self.fetched.values()), sum(self.failed.values())
        rows.append(["total", fetched + failed, fetched, failed, ""])
        out.table(["KIND", "ENTRIES", "FETCHED", "FAILED", ""], rows)

        if self.species or self.sims_empty:
            with_profiles = self.fetched["sims"] - self.sims_empty
            out.line()
            out.line(
                f"SIMS: {with_profiles:,} results with depth profiles, {self.sims_empty:,} without"
            )
            out.table(
                ["SPECIES", "PROFILES", "DEPTH POINTS"],
                [
                    *([s, n, self.species_points[s]] for s, n in sorted(self.species.items())),
                    ["total", sum(self.species.values()), sum(self.species_points.values())],
                ],
            )
        if self.spectra:
            sizes = ", ".join(f"{points:,}" for points in sorted(self.spectrum_points))
            total = sum(points * n for points, n in self.spectrum_points.items())
            out.line()
            out.line(f"OES: {self.spectra:,} spectra of {sizes} points ({total:,} points)")
            out.table(
                ["ELEMENT", "PEAKS", "SPECTRA"],
                [[e, n, self.element_spectra[e]] for e, n in sorted(self.elements.items())],
            )
        if self.failures:
            out.line()
            out.line(f"Failures ({len(self.failures):,}):")
            for data_id, exc in self.failures[:_SHOWN_FAILURES]:
                out.line(f"  {data_id}: {type(exc).__name__}: {out.redact(str(exc))}")
            if len(self.failures) > _SHOWN_FAILURES:
                out.line(f"  ... and {len(self.failures) - _SHOWN_FAILURES:,} more")


def _kind_order(kind: str) -> tuple[int, str]:
    return ({"sims": 0, "oes": 1}.get(kind, 2), kind)


def _start_sandbox(entries: int, seed: int) -> SandboxServer:
    try:
        from .sandbox import SandboxServer
    except ImportError as exc:
        raise _missing_sandbox(exc) from None
    server = SandboxServer(entries=entries, seed=seed, port=0, process=True, startup_timeout=60)
    try:
        server.start()
    except (OSError, RuntimeError) as exc:
        raise CLIError(f"could not start the sandbox: {_error_line(exc)}") from None
    return server


async def _fetch_demo(
    server: SandboxServer, concurrency: int | None, progress: bool
) -> tuple[list[Any], float]:
    # The sandbox's address and key, whatever the environment says: never the real API.
    options: dict[str, Any] = {"max_concurrency": concurrency} if concurrency else {}
    key = server.api_key or SANDBOX_KEY
    async with AsyncClient(key, base_url=server.base_url, **options) as client:
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnknownDataTypeWarning)
            results = await client.get(server.data_ids, errors="return", progress=progress)
        return results, time.perf_counter() - started


def _demo(args: argparse.Namespace, out: Output) -> int:
    progress = _want_progress(args.progress, out.stderr)
    out.note(f"Starting a local sandbox with {args.entries:,} entries (seed {args.seed})...")
    server = _start_sandbox(args.entries, args.seed)
    try:
        out.note(f"Fetching every entry from {server.base_url} ...")
        results, elapsed = anyio.run(_fetch_demo, server, args.concurrency, progress)
        stats = server.stats()
        catalogue = server.state.catalogue
        kinds = {i: entry.kind for i in server.data_ids if (entry := catalogue.get(i))}
    finally:
        server.stop()
    report = DemoReport(kinds)
    for data_id, result in zip(server.data_ids, results, strict=True):
        report.add(data_id, result)
    if out.json:
        out.dump(
            {
                "entries": len(results),
                "fetched": dict(report.fetched),
                "failed": dict(report.failed),
                "sims_species": dict(report.species),
                "oes_elements": dict(report.elements),
                "elapsed_s": round(elapsed, 3),
                "results_per_s": round(len(results) / elapsed, 1),
                "requests": stats.requests,
                "bytes": stats.response_bytes,
            }
        )
        return EXIT_FAILURE if report.failures else EXIT_OK
    megabytes = stats.response_bytes / 1e6
    out.line(
        f"Fetched {len(results):,} entries from a local sandbox ({server.base_url}, "
        f"seed {args.seed}, concurrency {args.concurrency or 'default (32)'})"
    )
    out.line()
    report.render(out)
    out.line()
    out.line(
        f"Speed: {len(results):,} results in {elapsed:.2f} s = {len(results) / elapsed:,.0f} "
        f"results/s; {megabytes:,.1f} MB in {stats.requests:,} requests = "
        f"{megabytes / elapsed:,.1f} MB/s"
    )
    return EXIT_FAILURE if report.failures else EXIT_OK


# --------------------------------------------------------------------------------- main

_Command = Callable[[argparse.Namespace, Output], Coroutine[Any, Any, int]]
_ASYNC_COMMANDS: dict[tuple[str, str | None], _Command] = {
    ("instruments", "list"): _instruments_list,
    ("target-materials", "list"): _materials_list,
    ("target-materials", "create"): _materials_create,
    ("sims", "get"): _sims_get,
    ("oes", "get"): _oes_get,
    ("get", None): _get,
}


def _run(args: argparse.Namespace, out: Output) -> int:
    if args.command == "demo":
        return _demo(args, out)
    if args.command == "sandbox":
        return _sandbox(args, out)
    command = _ASYNC_COMMANDS[args.command, getattr(args, "action", None)]

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
    try:
        args = parser.parse_args(argv)
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
        out.note("interrupted")
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
        out.error(_error_line(exc))
        return EXIT_FAILURE
    except (OSError, ValueError) as exc:  # e.g. a file that cannot be read, an empty id
        out.error(_error_line(exc))
        return EXIT_FAILURE
