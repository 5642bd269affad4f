"""The commands that call the API: list, create, get."""

from __future__ import annotations

import argparse
import contextlib
import inspect
import sys
import warnings
from collections.abc import Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import anyio
import orjson

from .._bulk import Outcome, Result, UnknownDataTypeWarning, UnknownResult
from .._client import AsyncClient
from .._errors import AtomscaleError, ExportCorruptError, MissingAPIKeyError, NotFoundError
from .._export import (
    DamagedPart,
    ExportSummary,
    kind_of,
    outcome_record,
    resolve_format,
    verify_export,
)
from .._generated.kinds import KINDS, KnownResult, fetch_function
from .._generated.models import DataEntry
from .._optional import MissingExtraError, require
from .._summary import OESSummary, SIMSSummary, SpectrumSummary, field_rows, peak_table
from .._warnings import warn_at
from ._catalogue import run_project_samples, run_projects_list, run_samples_list, run_search
from ._files import run_download, run_upload
from ._kinds import technique
from ._output import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    SHOWN_FAILURES,
    CLIError,
    Output,
    error_line,
)

__all__ = ["API_COMMANDS", "Command", "api_client", "outcome_record", "want_progress"]

#: The longest description of one result in the table of ``get``.
_DESCRIBED = 120


def api_client(args: argparse.Namespace, **options: Any) -> AsyncClient:
    """The client a command calls the API with, from ``--api-key`` and ``--base-url``."""
    try:
        return AsyncClient(
            getattr(args, "api_key", None),
            base_url=getattr(args, "base_url", None),
            allow_insecure_http=getattr(args, "allow_insecure_http", None),
            **options,
        )
    except MissingAPIKeyError:
        raise CLIError("no API key: pass --api-key or set ATOMSCALE_API_KEY") from None
    except ValueError as exc:  # e.g. $ATOMSCALE_BASE_URL: not a URL, or http:// elsewhere
        raise CLIError(error_line(exc)) from None


@contextlib.contextmanager
def _no_id_involved() -> Iterator[None]:
    """Report a 404 of a path without an id as a wrong base URL, which it must be."""
    try:
        yield
    except NotFoundError as exc:
        raise CLIError(
            f"{exc.method} {exc.url} -> 404: not found; check the base URL "
            "(--base-url or $ATOMSCALE_BASE_URL)"
        ) from None


def want_progress(requested: bool | None, stderr: IO[str]) -> bool:
    """Whether to show a progress bar: as asked, else when stderr is a terminal."""
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
    with _no_id_involved():
        async with api_client(args) as client:
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
    with _no_id_involved():
        async with api_client(args) as client:
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
    layers: list[dict[str, Any]] = [
        {"layer_id": position, "composition_string": composition, "orientation": orientation}
        for position, (composition, orientation) in enumerate(args.layer, 1)
    ]
    sample = {"sample_name": args.name, "substrate": args.substrate}
    sent = [{k: v for k, v in layer.items() if v is not None} for layer in layers]
    with _no_id_involved():
        async with api_client(args) as client:
            created = await client.target_materials.create(sample=sample, layers=sent or None)
    if out.json:
        # The API answers the sample only: the layers are those it accepted with it.
        out.dump({**created.to_dict(), "layers": layers})
        return EXIT_OK
    out.line(
        f"Created sample {created.sample_id} {created.sample_name!r} on {created.substrate} "
        f"with {len(layers)} layer{'s' * (len(layers) != 1)}."
    )
    if layers:
        out.table(
            ["LAYER", "COMPOSITION", "ORIENTATION"],
            [
                [layer["layer_id"], layer["composition_string"], layer["orientation"]]
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


async def _plot_entry(client: AsyncClient, args: argparse.Namespace) -> DataEntry | None:
    """The catalogue entry of the id to plot, to name its sample (None when not plotting).

    The plot does without it when the catalogue cannot say.
    """
    if args.plot is None:
        return None
    try:
        found = await client.search(data_ids=[args.data_id])
    except AtomscaleError:
        return None
    return next((entry for entry in found if entry.data_id == args.data_id), None)


def _save_plot(
    result: KnownResult, path: Path, out: Output, entry: DataEntry | None = None
) -> None:
    plot: Callable[..., Any] | None = getattr(result, "plot", None)
    if plot is None:
        raise CLIError("this version of atomscale-async cannot plot results")
    named = entry is not None and "entry" in inspect.signature(plot).parameters
    try:
        ax = plot(entry=entry) if named else plot()
    except NotImplementedError as exc:  # a kind whose plot is not written yet
        raise CLIError(str(exc)) from None
    if not path.suffix:  # matplotlib would add its default format's suffix: say so
        path = path.with_name(path.name + ".png")
    try:
        ax.figure.savefig(path)
    except (OSError, ValueError) as exc:
        raise CLIError(f"could not save the plot to {path}: {error_line(exc)}") from None
    finally:
        import matplotlib.pyplot as plt

        plt.close("all")
    out.note(f"saved the plot to {path}")


async def _sims_get(args: argparse.Namespace, out: Output) -> int:
    _check_plot(args.plot)
    async with api_client(args) as client:
        result = await client.sims.get(args.data_id)
        entry = await _plot_entry(client, args)
    if out.json:
        out.dump(result.to_dict())
    else:
        summary = result.summary()
        count = len(summary.profiles)
        out.line(f"SIMS {summary.data_id}: {count} depth profile{'s' * (count != 1)}")
        if summary.profiles:
            out.table(
                ["SPECIES", "POINTS", "DEPTH", "CONCENTRATION", "TYPE", "ION"],
                [
                    [
                        p.species,
                        p.points,
                        p.depth_text,
                        p.concentration_text,
                        p.profile_type,
                        p.secondary_ion,
                    ]
                    for p in summary.profiles
                ],
            )
    if args.plot is not None:
        _save_plot(result, args.plot, out, entry)
    return EXIT_OK


async def _oes_get(args: argparse.Namespace, out: Output) -> int:
    _check_plot(args.plot)
    async with api_client(args) as client:
        result = await client.oes.get(args.data_id)
        entry = await _plot_entry(client, args)
    if out.json:
        out.dump(result.to_dict())
    else:
        out.table(["OES", result.data_id], result.summary().rows())
        if result.detected_peaks:
            out.line()
            out.table(
                ["PEAK", "WAVELENGTH", "ELEMENT"],
                [[p.peak_id, p.wavelength_nm, p.element] for p in result.detected_peaks],
            )
    if args.plot is not None:
        _save_plot(result, args.plot, out, entry)
    return EXIT_OK


async def _result_get(args: argparse.Namespace, out: Output) -> int:
    """``KIND get ID`` of a kind without a command of its own: its fields in brief, or JSON."""
    _check_plot(args.plot)
    async with api_client(args) as client:
        fetch = fetch_function(client, args.command)
        if fetch is None:  # the parser offers the kinds of the table only
            raise CLIError(f"not a kind of result: {args.command!r}", EXIT_USAGE)
        result = await fetch(args.data_id)
        entry = await _plot_entry(client, args)
    if out.json:
        out.dump(result.to_dict())
    else:
        _print_result(technique(args.command), result, out)
    if args.plot is not None:
        _save_plot(result, args.plot, out, entry)
    return EXIT_OK


def _print_result(name: str, result: KnownResult, out: Output) -> None:
    """A result's summary (its fields, for a kind without one) and its peaks, as tables."""
    summary = getattr(result, "summary", None)
    brief = summary() if summary is not None else None
    rows: Sequence[Sequence[str]]
    peaks: Sequence[Sequence[str]]
    if isinstance(brief, SpectrumSummary):
        rows, header, peaks = brief.rows(), list(brief.peak_header), brief.peaks
    else:
        rows = field_rows(result)
        header, peaks = peak_table(result)
    out.table([name, result.data_id], rows)
    if peaks:
        out.line()
        out.table([_column(text) for text in header], [list(map(_number, row)) for row in peaks])


def _column(header: str) -> str:
    """A column's header as the tables write it: the quantity in capitals, its unit as is."""
    quantity, unit = header.split(" (", 1) if " (" in header else (header, "")
    capitals = "".join(c.upper() if c.isascii() else c for c in quantity)  # 2θ, not 2Θ
    return capitals + (f" ({unit}" if unit else "")


def _number(cell: str) -> str | float:
    """A cell that is a number as a number, so that its column is right-aligned."""
    try:
        return float(cell)
    except ValueError:
        return cell


def _read_ids(args: argparse.Namespace, *, required: bool = True) -> list[str]:
    ids = list(args.data_ids)
    if args.ids_file is not None:
        try:
            if str(args.ids_file) == "-":
                text = sys.stdin.read()
            else:
                text = args.ids_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CLIError(f"could not read {args.ids_file}: {error_line(exc)}") from None
        for line in text.splitlines():
            data_id = line.split("#", 1)[0].strip()
            if data_id:
                ids.append(data_id)
    if not ids and required:
        raise CLIError("give data ids, or --ids-file FILE", EXIT_USAGE)
    if not all(ids):
        raise CLIError("a data id is empty", EXIT_USAGE)
    return ids


def _describe(outcome: Outcome[Result]) -> tuple[str, str]:
    result = outcome.result
    if outcome.error is not None:
        return "error", f"{type(outcome.error).__name__}: {error_line(outcome.error)}"
    if isinstance(result, UnknownResult):
        return result.data_type, "not fetched: a kind this SDK does not know"
    summary = getattr(result, "summary", None)
    brief = summary() if summary is not None else None
    if isinstance(brief, SIMSSummary | OESSummary | SpectrumSummary):
        return kind_of(result), brief.describe()
    text = repr(result)  # short for the kinds with a repr of their own, not for a new kind
    return kind_of(result), text if len(text) <= _DESCRIBED else text[: _DESCRIBED - 1] + "…"


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
                raise CLIError(f"could not write {self.path}: {error_line(exc)}") from None
            if self.array:
                self._file.write(b"[")
        return self

    def write(self, record: dict[str, Any]) -> None:
        data = self._out.scrub_bytes(orjson.dumps(record))
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


#: What ``get --out`` writes, by the path's suffix: never one format under another's name.
_OUT_SUFFIXES = (".jsonl", ".json", ".parquet")


def _check_out(args: argparse.Namespace) -> bool:
    """Check ``--out``, ``--resume`` and ``--overwrite``; whether ``export`` writes the file."""
    path: Path | None = args.out
    if path is None:
        if args.resume or args.overwrite or args.verify:
            flag = "--resume" if args.resume else "--overwrite" if args.overwrite else "--verify"
            raise CLIError(f"{flag} needs --out FILE", EXIT_USAGE)
        return False
    if args.verify and (args.resume or args.overwrite or args.repair):
        raise CLIError(
            "--verify checks --out as it is: pass it without --resume, --overwrite or --repair",
            EXIT_USAGE,
        )
    if args.repair and not args.resume:
        raise CLIError(
            "--repair needs --resume: it repairs the export --resume continues", EXIT_USAGE
        )
    if args.resume and args.overwrite:
        raise CLIError(
            "--resume continues the file and --overwrite replaces it: pass one of them",
            EXIT_USAGE,
        )
    if path.suffix.lower() not in _OUT_SUFFIXES:
        raise CLIError(
            f"{path}: cannot tell the format from the suffix {path.suffix!r}; use "
            ".jsonl (JSON Lines), .json (one JSON array) or .parquet (a Parquet dataset)",
            EXIT_USAGE,
        )
    exporting = args.resume or args.verify or path.suffix.lower() in (".jsonl", ".parquet")
    if exporting:
        try:
            resolve_format(path, None)
        except ValueError as exc:
            raise CLIError(error_line(exc), EXIT_USAGE) from None
    if path.exists() and not args.resume and not args.overwrite and not args.verify:
        raise CLIError(
            f"{path} exists: pass --resume to continue it, or --overwrite to replace it",
            EXIT_USAGE,
        )
    return exporting


async def _export(args: argparse.Namespace, ids: list[str], out: Output) -> int:
    """``get --out FILE.jsonl|DIR.parquet``: ``client.export``, resuming with ``--resume``."""
    progress = want_progress(args.progress, out.stderr)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnknownDataTypeWarning)
        async with api_client(args) as client:
            try:
                args.exporting = ids  # what a Ctrl-C from now on reports on
                summary = await client.export(
                    ids,
                    args.out,
                    overwrite=bool(args.overwrite),
                    data_type=args.data_type,
                    concurrency=args.concurrency,
                    progress=progress,
                    repair=bool(args.repair),
                )
            except ExportCorruptError as exc:
                _report_damage(exc.path, exc.damaged, out)
                out.error(
                    f"{args.out} was left as it is; run again with --resume --repair to move "
                    "the damaged parts aside and fetch their ids again, or --overwrite to "
                    "start afresh"
                )
                return EXIT_FAILURE
            except (OSError, ValueError) as exc:
                raise CLIError(f"could not write {args.out}: {error_line(exc)}") from None
    for warning in caught:
        if issubclass(warning.category, UnknownDataTypeWarning):
            out.note(f"warning: {warning.message}")
        else:
            warn_at(str(warning.message), warning.category, warning.filename, warning.lineno)
    return _report_export(summary, ids, out)


def interrupted_note(args: argparse.Namespace) -> str:
    """What to say after Ctrl-C: for ``get --out``, how many results are safe, and how to go on."""
    ids: list[str] | None = getattr(args, "exporting", None)
    if ids is None:
        return "interrupted"
    path: Path = args.out
    go_on = "run the same command with --resume to fetch the rest"
    try:
        summary = verify_export(path, resolve_format(path, None), ids)
    except Exception:  # nothing written yet, or not readable now: --resume will tell
        return f"interrupted; {go_on}"
    return (
        f"interrupted: {summary.skipped:,} of {summary.total:,} results are safe in {path}; {go_on}"
    )


def _report_damage(path: Path, damaged: tuple[DamagedPart, ...], out: Output) -> None:
    for part in damaged:
        held = f" (held {len(part.data_ids):,} ids)" if part.data_ids else ""
        out.error(f"{part.name}: {part.problem}{held}")
    out.error(f"{path}: {len(damaged):,} damaged part{'s' if len(damaged) != 1 else ''}")


async def _verify(args: argparse.Namespace, ids: list[str], out: Output) -> int:
    """``get --verify --out PATH [ID...]``: check the export, fetching nothing (no key needed)."""
    path: Path = args.out
    summary = await anyio.to_thread.run_sync(
        lambda: verify_export(path, resolve_format(path, None), ids)
    )
    if summary.damaged:
        _report_damage(path, summary.damaged, out)
    missing = summary.total - summary.skipped
    if missing:
        failed = f", {summary.failed:,} of them failed" if summary.failed else ""
        out.error(f"{missing:,} of {summary.total:,} ids are not written{failed}")
    if summary.complete:
        every = ", every id asked" if ids else ""
        out.note(f"{path}: OK: {summary.skipped:,} records{every}")
        return EXIT_OK
    if summary.damaged:
        out.error(
            f"run get --resume --repair --out {path} with the same ids to move the damaged "
            "parts aside and fetch their ids again"
            if summary.format == "parquet"
            else f"run get --resume --out {path} with the same ids to repair it"
        )
    else:
        out.error(f"run get --resume --out {path} with the same ids to complete it")
    return EXIT_FAILURE


def _report_export(summary: ExportSummary, ids: list[str], out: Output) -> int:
    for part in summary.damaged:
        done = f"moved the damaged {part.name} aside to {part.moved_to}"
        if part.moved_to is None:
            done = f"{part.name} was {part.problem}"
        out.note(f"{done}; its {len(part.data_ids):,} ids fetched again")
    if summary.repaired_bytes:
        out.note(
            f"cut off a torn last record ({summary.repaired_bytes:,} bytes) "
            "left by an interrupted run; its id was fetched again"
        )
    written = summary.succeeded + summary.failed
    already = f" ({summary.skipped:,} ids were already there)" if summary.skipped else ""
    out.note(f"wrote {written:,} records to {summary.path}{already}")
    if not summary.failed:
        return EXIT_OK
    errors = summary.path / "_errors.jsonl" if summary.format == "parquet" else summary.path
    asked = set(ids)
    shown = 0
    with errors.open("rb") as file:
        for line in file:
            record = orjson.loads(line)
            if "error" in record and record["data_id"] in asked and shown < SHOWN_FAILURES:
                out.error(f"{record['data_id']}: {record['error']['message']}")
                shown += 1
    if summary.failed > shown:
        out.error(f"... and {summary.failed - shown:,} more failures")
    out.error(
        f"{summary.failed:,} of {summary.total:,} data ids failed "
        f"(in {errors}); run again with --resume to retry them"
    )
    return EXIT_FAILURE


async def _get(args: argparse.Namespace, out: Output) -> int:
    ids = _read_ids(args, required=not args.verify)
    if _check_out(args):
        if args.verify:
            return await _verify(args, ids, out)
        return await _export(args, ids, out)
    progress = want_progress(args.progress, out.stderr)
    # People at a terminal get a summary; JSON goes to --out, a pipe, or --format json.
    summary = args.out is None and not out.json
    # Only what the report needs is kept: results are written (or described) as they come.
    described: dict[str, tuple[str, str]] = {}
    failed: list[tuple[str, Exception]] = []
    unknown_kinds: set[str] = set()
    received = 0
    async with api_client(args) as client:
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
        for data_id, error in failed[:SHOWN_FAILURES]:
            out.error(f"{data_id}: {error_line(error)}")
        if len(failed) > SHOWN_FAILURES:
            out.error(f"... and {len(failed) - SHOWN_FAILURES:,} more failures")
    out.error(f"{len(failed):,} of {received:,} data ids failed")
    return EXIT_FAILURE


Command = Callable[[argparse.Namespace, Output], Coroutine[Any, Any, int]]
#: The kinds whose ``KIND get ID`` has a summary of its own; the others show their fields.
_KIND_COMMANDS: dict[str, Command] = {"sims": _sims_get, "oes": _oes_get}
API_COMMANDS: dict[tuple[str, str | None], Command] = {
    ("instruments", "list"): _instruments_list,
    ("target-materials", "list"): _materials_list,
    ("target-materials", "create"): _materials_create,
    **{
        (name, "get"): _KIND_COMMANDS.get(kind.canonical, _result_get)
        for name, kind in KINDS.items()
    },
    ("get", None): _get,
    ("search", None): run_search,
    ("physical-samples", "list"): run_samples_list,
    ("projects", "list"): run_projects_list,
    ("projects", "samples"): run_project_samples,
    ("upload", None): run_upload,
    ("download", None): run_download,
}
