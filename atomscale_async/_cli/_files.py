"""``upload FILE...`` and ``download ID... --out DIR``: files in and out, from a shell.

``upload`` prints each new data id on stdout, one a line (so that ``upload ... |
atomscale-async watch --ids-file -`` or ``get --ids-file -`` follows them), and each
failure on stderr; ``download`` prints each file written.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from .._download import DEFAULT_DOWNLOAD_CONCURRENCY
from .._export import error_line
from .._upload import DEFAULT_UPLOAD_CONCURRENCY
from ._output import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CLIError, Output

__all__ = ["add_file_commands", "run_download", "run_upload"]


def add_file_commands(
    commands: argparse._SubParsersAction[Any], calls: Sequence[argparse.ArgumentParser]
) -> None:
    """Add ``upload`` and ``download``."""
    from ._parser import progress_option

    upload = commands.add_parser(
        "upload",
        parents=list(calls),
        help="upload files (resumable, verified)",
        description="Upload files to the platform, parts of all files concurrently; print "
        "each new data id, one a line. A failed file does not stop the others (exit status 1).",
    )
    upload.add_argument("files", nargs="+", type=Path, metavar="FILE", help="files to upload")
    upload.add_argument(
        "--metadata", metavar="JSON", help="a JSON object attached to every new entry"
    )
    upload.add_argument(
        "--resume",
        action="store_true",
        help="continue interrupted uploads: send only the parts not acknowledged (default: off)",
    )
    upload.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_UPLOAD_CONCURRENCY,
        metavar="N",
        help=f"part uploads in flight at most (default: {DEFAULT_UPLOAD_CONCURRENCY})",
    )
    progress_option(upload)
    download = commands.add_parser(
        "download",
        parents=list(calls),
        help="download the raw (or processed) files of data ids",
        description="Download files into --out DIR, resuming partial ones; raw files are "
        "checked against the catalogue's sha3_256. Prints each file written.",
    )
    download.add_argument("data_ids", nargs="*", metavar="ID", help="data entry ids")
    download.add_argument(
        "--ids-file", type=Path, metavar="FILE", help="read ids from FILE, one a line (- = stdin)"
    )
    download.add_argument("--out", type=Path, required=True, metavar="DIR", help="directory")
    download.add_argument(
        "--processed", action="store_true", help="the processed files (default: raw)"
    )
    download.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_DOWNLOAD_CONCURRENCY,
        metavar="N",
        help=f"files in flight at most (default: {DEFAULT_DOWNLOAD_CONCURRENCY})",
    )
    progress_option(download)


def _metadata(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise CLIError(f"--metadata is not JSON: {exc}", EXIT_USAGE) from None
    if not isinstance(value, dict):
        raise CLIError("--metadata must be a JSON object", EXIT_USAGE)
    return value


async def run_upload(args: argparse.Namespace, out: Output) -> int:
    """``upload FILE... [--metadata JSON] [--resume]``."""
    from ._commands import api_client, want_progress

    metadata = _metadata(args.metadata)
    async with api_client(args) as client:
        outcomes = await client.upload(
            args.files,
            metadata=metadata,
            resume=args.resume,
            max_concurrency=args.concurrency,
            progress=want_progress(args.progress, out.stderr),
        )
    failed = 0
    for outcome in outcomes:
        if outcome.data_id is not None:
            out.line(outcome.data_id)
        else:
            failed += 1
            out.error(f"{outcome.path}: {error_line(outcome.error or RuntimeError())}")
    return EXIT_FAILURE if failed else EXIT_OK


async def run_download(args: argparse.Namespace, out: Output) -> int:
    """``download --ids-file F|ID... --out DIR [--processed]``."""
    from ._commands import _read_ids, api_client, want_progress

    ids = _read_ids(args)
    async with api_client(args) as client:
        outcomes = await client.download(
            ids,
            args.out,
            kind="processed" if args.processed else "raw",
            max_concurrency=args.concurrency,
            progress=want_progress(args.progress, out.stderr),
        )
    failed = 0
    for outcome in outcomes:
        if outcome.path is not None:
            out.line(str(outcome.path))
        else:
            failed += 1
            out.error(f"{outcome.data_id}: {error_line(outcome.error or RuntimeError())}")
    return EXIT_FAILURE if failed else EXIT_OK
