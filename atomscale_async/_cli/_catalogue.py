"""The catalogue's commands: ``search``, ``physical-samples list``, ``projects list|samples``.

``search`` takes the API's filters as flags and prints a table, JSON, CSV or ids.

``--format ids`` prints one data id a line, for a pipe into ``get --ids-file -``::

    atomscale-async search --data-type xps --format ids |
        atomscale-async get --ids-file - --out xps.jsonl
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Sequence
from typing import Any

from .._generated.models import DataEntry, PhysicalSample
from .._kinds import canonical_kind
from .._search import STATUSES, SearchResult
from ._kinds import kinds_text, untyped_text
from ._output import EXIT_OK, EXIT_USAGE, CLIError, Output

__all__ = [
    "SEARCH_FORMATS",
    "add_sample_and_project_commands",
    "add_search_command",
    "run_project_samples",
    "run_projects_list",
    "run_samples_list",
    "run_search",
]

SEARCH_FORMATS = ("table", "json", "csv", "ids")
#: The columns of the table and of the CSV, and how each reads an entry.
_COLUMNS: tuple[tuple[str, str], ...] = (
    ("DATA ID", "data_id"),
    ("KIND", "kind"),
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
        help=f"a kind: {kinds_text()}, or one the catalogue lists untyped ({untyped_text()}); "
        "several comma-separated or repeated (default: every kind)",
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


def _kinds(values: list[str] | None) -> list[str] | None:
    """The kinds of ``--data-type`` flags, a comma-separated one split (never one kind)."""
    if values is None:
        return None
    kinds = [kind.strip() for value in values for kind in value.split(",")]
    if not all(kinds):
        msg = f"--data-type: an empty kind in {','.join(values)!r}; give kinds as oes,sims"
        raise CLIError(msg, EXIT_USAGE)
    return kinds


def _plain(entry: DataEntry) -> dict[str, Any]:
    """An entry as JSON: the catalogue's fields, and its canonical ``kind``."""
    return {**entry.to_dict(), "kind": canonical_kind(entry.char_source_type)}


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
            "data_type": _kinds(args.data_type),
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
        out.dump([_plain(entry) for entry in found])
    elif fmt == "csv":
        columns = [*(attribute for _, attribute in _COLUMNS), "char_source_type"]
        writer = csv.writer(out.stdout, lineterminator="\n")
        writer.writerow(columns)
        for entry in found:
            plain = _plain(entry)  # datetimes as ISO 8601 with a Z
            writer.writerow(["" if plain[a] is None else plain[a] for a in columns])
    else:
        out.table(
            [header for header, _ in _COLUMNS], [[_cell(e, a) for _, a in _COLUMNS] for e in found]
        )
        out.note(repr(found))


def add_sample_and_project_commands(
    commands: argparse._SubParsersAction[Any], calls: Sequence[argparse.ArgumentParser]
) -> None:
    """Add ``physical-samples list`` and ``projects list|samples``."""
    parents = list(calls)
    samples = commands.add_parser(
        "physical-samples",
        help="physical samples",
        description="The physical samples of your organization: what was grown and measured.",
    ).add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = samples.add_parser(
        "list", parents=parents, help="list the physical samples", description="List them."
    )
    listing.add_argument(
        "--physical-sample-id", metavar="ID", help="only this sample (default: all)"
    )
    projects = commands.add_parser(
        "projects",
        help="projects",
        description="The projects of your organization and their physical samples.",
    ).add_subparsers(dest="action", metavar="ACTION", required=True)
    projects.add_parser(
        "list", parents=parents, help="list the projects", description="List the projects."
    )
    members = projects.add_parser(
        "samples",
        parents=parents,
        help="list a project's physical samples",
        description="List the physical samples of one project.",
    )
    members.add_argument("project_id", metavar="PROJECT_ID", help="the project's id")


def _samples_table(samples: list[PhysicalSample], out: Output) -> None:
    if out.json:
        out.dump([sample.to_dict() for sample in samples])
        return
    out.table(
        ["ID", "NAME", "MATERIAL", "INSTRUMENT", "ENTRIES", "PROJECTS"],
        [
            [
                sample.id,
                sample.name,
                (sample.target_material or {}).get("sample_name"),
                sample.growth_instrument,
                sample.num_data_items,
                ", ".join(p.name or p.id for p in sample.projects or ()),
            ]
            for sample in samples
        ],
    )


async def run_samples_list(args: argparse.Namespace, out: Output) -> int:
    """Run ``physical-samples list``."""
    from ._commands import api_client

    if args.physical_sample_id is not None and not args.physical_sample_id.strip():
        raise CLIError("--physical-sample-id: give an id", EXIT_USAGE)
    async with api_client(args) as client:
        samples = await client.physical_samples.list(physical_sample_id=args.physical_sample_id)
    _samples_table(samples, out)
    return EXIT_OK


async def run_projects_list(args: argparse.Namespace, out: Output) -> int:
    """Run ``projects list``."""
    from ._commands import api_client

    async with api_client(args) as client:
        projects = await client.projects.list()
    if out.json:
        out.dump([project.to_dict() for project in projects])
        return EXIT_OK
    out.table(
        ["ID", "NAME", "SAMPLES", "OWNER", "LAST UPDATED"],
        [
            [
                project.id,
                project.name,
                project.physical_sample_count,
                project.owner_name,
                project.last_updated.date().isoformat() if project.last_updated else None,
            ]
            for project in projects
        ],
    )
    return EXIT_OK


async def run_project_samples(args: argparse.Namespace, out: Output) -> int:
    """Run ``projects samples PROJECT_ID``."""
    from ._commands import api_client

    if not args.project_id.strip():
        raise CLIError("PROJECT_ID: give a project id", EXIT_USAGE)
    async with api_client(args) as client:
        samples = await client.projects.physical_samples(args.project_id)
    _samples_table(samples, out)
    return EXIT_OK
