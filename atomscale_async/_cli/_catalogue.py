"""The ``search`` command: the catalogue's filters as flags, entries as a table, JSON, CSV or ids.

``--format ids`` prints one data id a line, for a pipe into ``get --ids-file -``::

    atomscale-async search --data-type xps --format ids |
        atomscale-async get --ids-file - --out xps.jsonl
"""

from __future__ import annotations

import argparse
import csv
from typing import Any

from .._generated.models import DataEntry
from .._search import STATUSES, SearchResult
from ._output import EXIT_OK, EXIT_USAGE, CLIError, Output

__all__ = ["SEARCH_FORMATS", "add_search_command", "run_search"]

SEARCH_FORMATS = ("table", "json", "csv", "ids")
#: The columns of the table and of the CSV, and how each reads an entry.
_COLUMNS: tuple[tuple[str, str], ...] = (
    ("DATA ID", "data_id"),
    ("KIND", "char_source_type"),
    ("STATUS", "pipeline_status"),
    ("SAMPLE", "physical_sample_name"),
    ("INSTRUMENT", "source_name"),
    ("UPLOADED", "upload_datetime"),
)


def add_search_command(
    commands: argparse._SubParsersAction[Any], common: argparse.ArgumentParser
) -> None:
    """Add ``search`` and its filters; `common` offers ``--format`` with `SEARCH_FORMATS`."""
    search = commands.add_parser(
        "search",
        parents=[common],
        help="search the catalogue: which data ids to fetch",
        description="Search the catalogue with the API's filters; every filter is optional "
        "and they combine. --format ids prints one data id a line, to pipe into "
        "'get --ids-file -'.",
    )
    search.add_argument(
        "--keywords", action="append", metavar="TEXT", help="text to find in any field (repeat)"
    )
    search.add_argument(
        "--data-type",
        action="append",
        metavar="KIND",
        help="a kind, e.g. xps, sims, oes (repeat for several)",
    )
    search.add_argument("--data-id", action="append", metavar="ID", help="only this id (repeat)")
    search.add_argument(
        "--physical-sample-id", action="append", metavar="ID", help="a physical sample (repeat)"
    )
    search.add_argument("--project-id", action="append", metavar="ID", help="a project (repeat)")
    search.add_argument(
        "--status",
        choices=STATUSES,
        default="all",
        help="pipeline status (default: %(default)s)",
    )
    for name, unit in (
        ("growth-length", "SECONDS"),
        ("upload-datetime", "ISO8601"),
        ("last-accessed-datetime", "ISO8601"),
    ):
        for side, word in (("min", "at least"), ("max", "at most")):
            search.add_argument(
                f"--{name}-{side}", metavar=unit, help=f"{name.replace('-', ' ')} {word} this"
            )
    search.add_argument(
        "--include-organization-data",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="include the organization's entries, not only yours (default: yes)",
    )


_FLAGS = {
    "physical_sample_ids": "--physical-sample-id",
    "project_ids": "--project-id",
    "data_ids": "--data-id",
    "data_type": "--data-type",
    "keywords": "--keywords",
    "last_accessed_datetime": "--last-accessed-datetime-min/-max",
    "upload_datetime": "--upload-datetime-min/-max",
    "growth_length": "--growth-length-min/-max",
}


def _range(args: argparse.Namespace, name: str, number: bool) -> tuple[Any, Any] | None:
    flag = name.replace("_", "-")
    ends: list[Any] = []
    for side in ("min", "max"):
        text = getattr(args, f"{name}_{side}")
        if text is not None and number:
            try:
                text = float(text)
            except ValueError:
                msg = f"--{flag}-{side}: expected a number of seconds, got {text!r}"
                raise CLIError(msg, EXIT_USAGE) from None
        ends.append(text)
    return None if ends == [None, None] else (ends[0], ends[1])


def _cell(entry: DataEntry, attribute: str) -> object:
    value = getattr(entry, attribute)
    if attribute == "upload_datetime" and value is not None:
        return value.strftime("%Y-%m-%d %H:%M")
    return value


async def run_search(args: argparse.Namespace, out: Output) -> int:
    """Run ``search``: print what the catalogue found."""
    from ._commands import api_client

    try:
        arguments = {
            "keywords": args.keywords,
            "data_ids": args.data_id,
            "physical_sample_ids": args.physical_sample_id,
            "project_ids": args.project_id,
            "data_type": args.data_type,
            "status": args.status,
            "growth_length": _range(args, "growth_length", number=True),
            "upload_datetime": _range(args, "upload_datetime", number=False),
            "last_accessed_datetime": _range(args, "last_accessed_datetime", number=False),
            "include_organization_data": args.include_organization_data,
        }
        async with api_client(args) as client:
            found = await client.search(**arguments)
    except (TypeError, ValueError) as exc:
        # Name the flag, not the Python argument.
        message = str(exc)
        for name, flag in _FLAGS.items():
            message = message.replace(name, flag)
        raise CLIError(message, EXIT_USAGE) from None
    _print(found, out)
    return EXIT_OK


def _print(found: SearchResult, out: Output) -> None:
    fmt = out.format
    if fmt == "ids":
        for data_id in found.data_ids:
            out.line(data_id)
    elif fmt == "json":
        out.dump([entry.to_dict() for entry in found])
    elif fmt == "csv":
        writer = csv.writer(out.stdout, lineterminator="\n")
        writer.writerow([attribute for _, attribute in _COLUMNS])
        for entry in found:
            plain = entry.to_dict()  # datetimes as ISO 8601 with a Z
            writer.writerow(["" if plain[a] is None else plain[a] for _, a in _COLUMNS])
    else:
        out.table(
            [header for header, _ in _COLUMNS], [[_cell(e, a) for _, a in _COLUMNS] for e in found]
        )
        out.note(repr(found))
