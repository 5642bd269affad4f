"""Resumable export: ``client.export(data_ids, path)`` writes each outcome as it completes.

Outcomes are written in the order they complete, each as soon as it arrives,
so an interrupted pull keeps everything it got. A later run with the same path
reads what is there, skips every id already written successfully and fetches
the rest (failed ids included) again.

Formats:
    JSON Lines (``.jsonl``): one record per line, the same record the CLI's
    ``get --out`` writes (``outcome_record``). When a run ends, every id has
    exactly one success line, or (if it still fails) its latest failure line:
    older failure lines are dropped by rewriting the file through a temporary
    file and an atomic rename.

    Parquet (``_parquet.py``): a dataset directory ``PATH/kind=<kind>/part-*.parquet``
    plus ``PATH/_errors.jsonl`` for the failures and ``PATH/_parts.jsonl``, the list
    of the parts written (rows, ids, checksum). Each part is checked before a
    resume trusts it; a damaged one stops the resume (``ExportCorruptError``)
    unless ``repair=True`` moves it aside to ``PATH/_damaged/`` and fetches its
    ids again.

Verifying (``verify=True``) checks a finished export without fetching: every
part (Parquet) or every line (JSON Lines), and that each id asked is written.

Crash safety: a line is written with one ``write`` system call on an unbuffered
descriptor opened for appending, so once written it is in the kernel's page
cache and survives the process being killed (SIGKILL, a crash, Ctrl-C). A kill
in the middle of a write leaves a last line without its newline; the next run
detects it, logs it and cuts it off (the id is fetched again), instead of
keeping a torn record. The file is ``fsync``-ed at most once a second (in a
worker thread, so the event loop does not wait for the disk) and when the run
ends: an ``fsync`` per line would bound the pull by the disk's flush latency,
and only an operating-system crash or a power loss can lose what the page cache
holds; that loses at most the last second of lines, and a tail the disk left
torn is repaired like any other.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import time
from collections.abc import AsyncGenerator, Iterable
from pathlib import Path
from typing import Any, Literal, Protocol, TypeAlias

import anyio
import attrs
import orjson

from . import _bulk
from ._bulk import Outcome, Result, UnknownResult
from ._generated.kinds import KINDS
from ._generated.models import DataEntry
from ._optional import require

__all__ = [
    "DEFAULT_ROWS_PER_PART",
    "DamagedPart",
    "ExportSummary",
    "error_line",
    "export",
    "outcome_record",
]

ExportFormat: TypeAlias = Literal["jsonl", "parquet"]
FORMATS: tuple[ExportFormat, ...] = ("jsonl", "parquet")
_SUFFIXES: dict[str, ExportFormat] = {".jsonl": "jsonl", ".parquet": "parquet"}
#: Rows of one kind buffered before they are written as one Parquet part file.
DEFAULT_ROWS_PER_PART = 1000
#: The longest time a written line waits for its ``fsync``.
FSYNC_SECONDS = 1.0

_logger = logging.getLogger("atomscale_async")


@attrs.frozen(kw_only=True)
class DamagedPart:
    """A part of an export that failed its check (a Parquet part file, or a JSON Lines file).

    Attributes:
        path: Where the part is, or was expected (when missing).
        name: Its name inside the export, e.g. ``kind=oes/part-00001.parquet``.
        problem: What is wrong, e.g. ``missing`` or ``empty (0 bytes)``.
        data_ids: The ids it held, as listed when it was written (empty when unknown).
        repaired: Whether ``repair=True`` dealt with it: moved it aside (a missing
            part needs no move) and fetched its ids again.
        moved_to: Where ``repair=True`` moved it, or None (not moved, or missing).
    """

    path: Path
    name: str
    problem: str
    data_ids: tuple[str, ...] = ()
    repaired: bool = False
    moved_to: Path | None = None


@attrs.frozen(kw_only=True)
class ExportSummary:
    """What ``export`` did, or (``verify=True``) what it found.

    Attributes:
        path: The file (JSON Lines) or directory (Parquet) written.
        format: ``"jsonl"`` or ``"parquet"``.
        total: Distinct ids asked for (verifying with no ids: the ids the export holds).
        skipped: Ids already written successfully by an earlier run, not fetched again
            (verifying: the ids asked that are written, in a sound part).
        succeeded: Ids fetched and written successfully by this run (verifying: 0).
        failed: Ids that failed in this run, each with a failure record (verifying:
            ids asked whose latest record is a failure).
        repaired_bytes: Bytes of a torn last record cut off the file before resuming.
        damaged: The damaged parts found: moved aside by ``repair=True`` (``moved_to``),
            or, verifying, as they are.
    """

    path: Path
    format: ExportFormat
    total: int
    skipped: int
    succeeded: int
    failed: int
    repaired_bytes: int = 0
    damaged: tuple[DamagedPart, ...] = ()

    @property
    def complete(self) -> bool:
        """Whether every id asked for is now written successfully, in sound parts."""
        sound = all(part.repaired for part in self.damaged)
        return sound and self.failed == 0 and self.skipped + self.succeeded == self.total


def error_line(exc: BaseException) -> str:
    """The exception's message on one line (its type name when it has none)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def outcome_record(outcome: Outcome[Result]) -> dict[str, Any]:
    """The JSON object written for one outcome (by ``export`` and the CLI's ``get --out``).

    A success is ``{"data_id", "data_type", "result"}`` (an entry of a kind this
    SDK does not know has ``"result": null`` and its ``"catalogue_entry"``); a
    failure is ``{"data_id", "error": {"type", "message"}}``.
    """
    if outcome.error is not None:
        error = {"type": type(outcome.error).__name__, "message": error_line(outcome.error)}
        return {"data_id": outcome.data_id, "error": error}
    result = outcome.result
    if isinstance(result, UnknownResult):
        return {
            "data_id": outcome.data_id,
            "data_type": result.data_type,
            "result": None,
            "catalogue_entry": result.catalogue_entry.to_dict(),
        }
    assert result is not None
    return {"data_id": outcome.data_id, "data_type": kind_of(result), "result": result.to_dict()}


def kind_of(result: object) -> str:
    """The kind of a result (``"sims"``, ``"xps"``..., or an unknown entry's ``data_type``)."""
    if isinstance(result, UnknownResult):
        return result.data_type
    for kind in KINDS.values():
        if isinstance(result, kind.model):
            return kind.canonical
    raise TypeError(f"not a result: {type(result).__name__}")


def resolve_format(path: Path, format: str | None) -> ExportFormat:
    """The format named by ``format=``, else by the path's suffix."""
    if format is not None:
        if format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS} or None, got {format!r}")
        return format
    suffix = path.suffix.lower()
    if suffix == ".json":
        raise ValueError(
            f"{path}: a .json file (one JSON array) cannot be resumed; "
            "export to .jsonl (JSON Lines) or a Parquet directory"
        )
    if suffix not in _SUFFIXES:
        raise ValueError(
            f"{path}: cannot tell the format from the suffix {suffix!r}; "
            "use .jsonl or .parquet, or pass format='jsonl' or 'parquet'"
        )
    return _SUFFIXES[suffix]


def ids_of(
    data_ids: str | DataEntry | Iterable[str | DataEntry],
) -> tuple[list[str], dict[str, DataEntry]]:
    """The distinct ids, in order, and the catalogue entries given among them."""
    ids, entries = _bulk.split_entries(data_ids)
    return list(dict.fromkeys(_bulk.normalize_ids(ids))), entries


def write_all(fd: int, data: bytes) -> None:
    """Write every byte (``os.write`` may write fewer than asked)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def fsync_directory(directory: Path) -> None:
    """Make a rename or a new file in ``directory`` durable (a no-op where unsupported)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows cannot open a directory
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _lock(fd: int, path: Path, *, shared: bool = False) -> None:
    """Take an advisory lock on an open file, or raise at once (POSIX only).

    Writing takes an exclusive lock; verifying a shared one, so it waits for no
    one and is refused while an export writes.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory lock
        return
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        raise BlockingIOError(
            errno.EWOULDBLOCK, f"{path} is being written by another export"
        ) from None


def _parse(line: bytes) -> tuple[str, bool] | None:
    """``(data_id, succeeded)`` of a complete record line, or None when it is not one."""
    if not line.endswith(b"\n"):
        return None
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(record, dict):
        return None
    data_id = record.get("data_id")
    if not isinstance(data_id, str) or not data_id:
        return None
    return data_id, "error" not in record


class JsonLinesFile:
    """A JSON Lines file of outcome records, appended to one line at a time.

    ``open`` reads what an earlier run wrote (the ids done, the failure lines),
    cuts off a torn last line, and opens the file for appending. ``close``
    drops superseded lines: failure lines of ids that succeeded since, and all
    but the latest failure line of an id.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.done: set[str] = set()
        self.failures: dict[str, int] = {}  # failure lines per id
        self.duplicates = 0  # success lines of an id that already has one
        self.repaired_bytes = 0
        self.damaged: list[DamagedPart] = []  # a torn line is repaired, a foreign one refused
        self.refetch: list[str] = []
        self._fd: int | None = None
        self._synced_at = 0.0
        self._dirty = False

    @property
    def _compacting(self) -> Path:
        return self.path.with_name(f".{self.path.name}.compacting")

    def open(self, *, overwrite: bool, repair: bool = False) -> None:
        """Lock the file; scan and repair it (or empty it); keep it open for appending.

        A torn last line is always cut off (``repair`` changes nothing here).

        Raises:
            BlockingIOError: Another export (in any process) is writing this file.
        """
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            _lock(fd, self.path)
            self._compacting.unlink(missing_ok=True)  # left by a run killed while compacting
            if overwrite:
                os.ftruncate(fd, 0)
            else:
                self._scan()
            fsync_directory(self.path.parent)
        except BaseException:
            os.close(fd)  # and so the lock
            raise
        self._fd = fd
        self._synced_at = time.monotonic()

    def _scan(self) -> None:
        good_end = 0  # the end of the last complete record
        size = 0
        bad_line = 0
        with self.path.open("rb") as file:
            for number, line in enumerate(file, 1):
                if bad_line:
                    raise ValueError(
                        f"{self.path}, line {bad_line}: not a record written by export; "
                        "refusing to append to a file that is not an export"
                    )
                size += len(line)
                parsed = _parse(line)
                if parsed is None:
                    bad_line = number
                    continue
                good_end = size
                data_id, succeeded = parsed
                if not succeeded:
                    self.failures[data_id] = self.failures.get(data_id, 0) + 1
                elif data_id in self.done:
                    self.duplicates += 1
                else:
                    self.done.add(data_id)
        if bad_line:
            # Only the last line can be torn: a run killed in the middle of a write.
            self.repaired_bytes = size - good_end
            _logger.warning(
                "%s: the last line (%d bytes) is torn, from an interrupted run; "
                "cut it off, its id will be fetched again",
                self.path,
                self.repaired_bytes,
            )
            os.truncate(self.path, good_end)

    def write(self, outcome: Outcome[Result]) -> None:
        """Append the outcome's record as one line."""
        assert self._fd is not None
        write_all(self._fd, orjson.dumps(outcome_record(outcome)) + b"\n")
        self._dirty = True
        if outcome.error is None:
            self.done.add(outcome.data_id)
        else:
            self.failures[outcome.data_id] = self.failures.get(outcome.data_id, 0) + 1

    async def sync_now_and_then(self) -> None:
        """``fsync`` in a worker thread when the last one is ``FSYNC_SECONDS`` old."""
        if self._fd is None or not self._dirty:
            return
        if time.monotonic() - self._synced_at < FSYNC_SECONDS:
            return
        self._dirty = False
        await anyio.to_thread.run_sync(os.fsync, self._fd)
        self._synced_at = time.monotonic()

    def close(self, *, compact: bool) -> None:
        """``fsync`` and close; with ``compact``, drop superseded lines first."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        if compact and self._superseded():
            self._compact()

    def _superseded(self) -> bool:
        return bool(self.duplicates) or any(
            data_id in self.done or count > 1 for data_id, count in self.failures.items()
        )

    def _compact(self) -> None:
        # Keep the first success line of an id, and the last failure line of an
        # id that has no success line.
        left = {i: n for i, n in self.failures.items() if i not in self.done}
        seen: set[str] | None = set() if self.duplicates else None
        temporary = self._compacting
        with self.path.open("rb") as source, temporary.open("wb") as target:
            for line in source:
                parsed = _parse(line)
                assert parsed is not None, "scanned and repaired when opened"
                data_id, succeeded = parsed
                if succeeded:
                    if seen is not None:
                        if data_id in seen:
                            continue
                        seen.add(data_id)
                    target.write(line)
                elif data_id in left:
                    left[data_id] -= 1
                    if not left[data_id]:
                        target.write(line)
            target.flush()
            os.fsync(target.fileno())
        os.replace(temporary, self.path)
        fsync_directory(self.path.parent)
        self.failures = {i: 1 for i in self.failures if i not in self.done}
        self.duplicates = 0


class Sink(Protocol):
    """Where ``export`` writes: a JSON Lines file or a Parquet dataset."""

    @property
    def done(self) -> set[str]:
        """Ids written successfully (by earlier runs, and by this one so far)."""
        ...

    @property
    def repaired_bytes(self) -> int:
        """Bytes of a torn record cut off when opened."""
        ...

    @property
    def damaged(self) -> list[DamagedPart]:
        """The damaged parts found when opened (and moved aside: ``repair``)."""
        ...

    @property
    def refetch(self) -> list[str]:
        """Ids of the damaged parts, to fetch again whether or not they are asked."""
        ...

    def open(self, *, overwrite: bool, repair: bool) -> None:
        """Read what is there and check it (or start afresh); get ready to write."""

    def write(self, outcome: Outcome[Result]) -> None:
        """Write one outcome."""

    async def sync_now_and_then(self) -> None:
        """Make what was written durable, now and then."""

    def close(self, *, compact: bool) -> None:
        """Write what is buffered, make it durable, drop superseded records if asked."""


def _sink(path: Path, format: ExportFormat, rows_per_part: int) -> Sink:
    if format == "jsonl":
        return JsonLinesFile(path)
    from ._parquet import ParquetDataset

    return ParquetDataset(path, rows_per_part=rows_per_part)


class ExportClient(_bulk.BulkClient, Protocol):
    """What an export needs of a client: a bulk client that streams outcomes."""

    def iter_results(
        self,
        data_ids: str | DataEntry | Iterable[str | DataEntry],
        *,
        data_type: str | None = None,
        concurrency: int | None = None,
    ) -> AsyncGenerator[Outcome[Result], None]: ...


async def export(
    client: ExportClient,
    data_ids: str | DataEntry | Iterable[str | DataEntry],
    path: str | os.PathLike[str],
    *,
    format: ExportFormat | None = None,
    overwrite: bool = False,
    data_type: str | None = None,
    concurrency: int | None = None,
    rows_per_part: int = DEFAULT_ROWS_PER_PART,
    on_progress: _bulk.ProgressCallback | None = None,
    progress: bool = False,
    verify: bool = False,
    repair: bool = False,
) -> ExportSummary:
    """Fetch and write each id's outcome as it completes; see ``AsyncClient.export``."""
    target = Path(path)
    fmt = resolve_format(target, format)
    if verify and (overwrite or repair):
        raise ValueError(
            "verify=True checks an export as it is: pass it without overwrite=True or repair=True"
        )
    if repair and overwrite:
        raise ValueError(
            "repair=True keeps the sound parts and overwrite=True discards everything: "
            "pass one of them"
        )
    if isinstance(rows_per_part, bool) or not isinstance(rows_per_part, int) or rows_per_part < 1:
        raise ValueError(f"rows_per_part must be an integer >= 1, got {rows_per_part!r}")
    ids, entries = ids_of(data_ids)
    if verify:
        return await anyio.to_thread.run_sync(lambda: verify_export(target, fmt, ids))
    _bulk._check(data_type, concurrency, client)  # before the file is touched
    if progress:
        require("progress=True", "progress", "tqdm")
    sink = _sink(target, fmt, rows_per_part)
    await anyio.to_thread.run_sync(lambda: sink.open(overwrite=overwrite, repair=repair))
    asked = set(ids)
    ids += [data_id for data_id in sink.refetch if data_id not in asked]  # a moved part's
    # An entry (from search) is handed on as it is: its kind needs no catalogue lookup.
    todo = [entries.get(data_id, data_id) for data_id in ids if data_id not in sink.done]
    skipped = len(ids) - len(todo)
    counts = {"succeeded": 0, "failed": 0}
    bar = _bulk._progress_bar(len(ids), initial=skipped) if progress else None
    finished = False
    try:
        if todo:
            async with contextlib.aclosing(
                client.iter_results(todo, data_type=data_type, concurrency=concurrency)
            ) as stream:
                async for outcome in stream:
                    sink.write(outcome)
                    counts["succeeded" if outcome.error is None else "failed"] += 1
                    if on_progress is not None:
                        on_progress(skipped + counts["succeeded"] + counts["failed"], len(ids))
                    if bar is not None:
                        bar.update(1)
                    await sink.sync_now_and_then()
        finished = True
    finally:
        if bar is not None:
            bar.close()
        if finished:
            await anyio.to_thread.run_sync(lambda: sink.close(compact=True))
        else:  # cancelled or failed: keep what was written, promptly
            sink.close(compact=False)
    return ExportSummary(
        path=target,
        format=fmt,
        total=len(ids),
        skipped=skipped,
        succeeded=counts["succeeded"],
        failed=counts["failed"],
        repaired_bytes=sink.repaired_bytes,
        damaged=tuple(sink.damaged),
    )


def verify_export(path: Path, format: ExportFormat, ids: list[str]) -> ExportSummary:
    """Check an export as it is, fetching and changing nothing (``export(verify=True)``).

    Args:
        path: The ``.jsonl`` file or the Parquet directory.
        format: Its format.
        ids: The ids that should be written; empty: the ids the export holds.

    Raises:
        FileNotFoundError: Nothing is at ``path``.
        BlockingIOError: An export is writing ``path`` now.
    """
    if format == "parquet":
        from ._parquet import verify_dataset

        return verify_dataset(path, ids)
    if not path.is_file():
        raise FileNotFoundError(errno.ENOENT, f"{path}: no JSON Lines export here to verify")
    written: set[str] = set()
    failed: set[str] = set()
    bad_lines: list[int] = []
    lines = last_size = 0
    with path.open("rb") as file:
        _lock(file.fileno(), path, shared=True)
        for lines, line in enumerate(file, 1):
            last_size = len(line)
            parsed = _parse(line)
            if parsed is None:
                bad_lines.append(lines)
            else:
                (written if parsed[1] else failed).add(parsed[0])
    damaged: list[DamagedPart] = []
    if bad_lines and bad_lines[-1] == lines:
        bad_lines.pop()  # only the last line can be torn: a run killed while writing it
        damaged.append(
            DamagedPart(
                path=path,
                name=path.name,
                problem=f"the last line ({last_size:,} bytes) is torn by an "
                "interrupted run; resuming cuts it off and fetches its id again",
            )
        )
    if bad_lines:
        more = f" (and {len(bad_lines) - 1:,} more)" if len(bad_lines) > 1 else ""
        damaged.insert(
            0,
            DamagedPart(
                path=path,
                name=path.name,
                problem=f"line {bad_lines[0]:,}{more} is not a record written by export",
            ),
        )
    return verified_summary(path, format, ids, written, failed, damaged)


def verified_summary(
    path: Path,
    format: ExportFormat,
    ids: list[str],
    written: set[str],
    failed: set[str],
    damaged: list[DamagedPart],
) -> ExportSummary:
    """The summary of a verification: of ``ids``, or (none given) of every id found."""
    if not ids:
        listed = {data_id for part in damaged for data_id in part.data_ids}
        ids = sorted(written | failed | listed)
    return ExportSummary(
        path=path,
        format=format,
        total=len(ids),
        skipped=sum(1 for data_id in ids if data_id in written),
        succeeded=0,
        failed=sum(1 for data_id in ids if data_id in failed and data_id not in written),
        damaged=tuple(damaged),
    )
