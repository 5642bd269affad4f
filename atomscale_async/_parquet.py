"""Export to a Parquet dataset (the ``parquet`` extra): ``PATH/kind=<kind>/part-*.parquet``.

Each kind of result has one fixed schema, generated from its attrs model:
``str`` -> string, ``int`` -> int64, ``float`` -> float64, ``bool`` -> bool,
``datetime`` -> timestamp[us, UTC], numeric arrays (``FloatArray``) and lists
-> list columns, nested models -> structs, ``dict[str, float]`` -> map, and a
free-form JSON object (``dict[str, Any]``) -> its JSON text. One row per id.
Entries of a kind this SDK does not know go to ``kind=unknown`` (the
``UnknownResult`` schema). Failures go to ``PATH/_errors.jsonl`` (JSON Lines,
as in a ``.jsonl`` export). Names starting with ``_`` or ``.`` are skipped by
pandas, polars, DuckDB and pyarrow, so the directory reads as it is::

    pandas.read_parquet(PATH)          # a "kind" column from the directory names

Rows are buffered per kind and written ``rows_per_part`` at a time: each part
is written to a hidden temporary file, ``fsync``-ed and renamed into place, so
a part file is either whole or absent. A run killed meanwhile loses only the
buffered rows (those ids are fetched again); a leftover temporary file is
removed by the next run.

A whole part can still be damaged later (a disk, a copy cut short, a stray
write), so nothing is trusted unchecked. Each part is written with Parquet page
checksums and listed, once in place, in ``PATH/_parts.jsonl`` (its rows, ids
and SHA-256). A resume (and ``verify``) checks every part: listed parts are
there, each footer reads, the whole table decodes (pages checked against their
checksums), its rows and ids are those listed, its bytes those written. A
damaged part stops the resume with ``ExportCorruptError``; ``repair=True``
moves it to ``PATH/_damaged/`` (readers skip ``_`` names) and fetches its ids
again. A sound part not yet listed (the run was killed just after the rename,
or the export predates the list) is listed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import logging
import os
import re
import types
import typing
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import orjson

from ._arrays import FloatArray
from ._bulk import Outcome, Result, UnknownResult
from ._errors import ExportCorruptError
from ._export import (
    DamagedPart,
    ExportSummary,
    JsonLinesFile,
    _lock,
    _parse,
    error_line,
    fsync_directory,
    kind_of,
    verified_summary,
    write_all,
)
from ._generated.kinds import KINDS
from ._optional import require

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "DAMAGED_DIRECTORY",
    "ERRORS_FILE",
    "PARTS_FILE",
    "ParquetDataset",
    "arrow_schema",
    "verify_dataset",
]

#: The failures of a Parquet export, beside the kind directories.
ERRORS_FILE = "_errors.jsonl"
#: One line per part file in place: ``{"part", "rows", "sha256", "data_ids"}``.
PARTS_FILE = "_parts.jsonl"
#: Where ``repair`` moves damaged parts (under their ``kind=<kind>/`` name).
DAMAGED_DIRECTORY = "_damaged"
UNKNOWN_KIND = "unknown"
#: Rows converted to Arrow at a time while buffering (Arrow holds them compactly).
_BATCH_ROWS = 64
_PART = re.compile(r"part-(\d+)\.parquet")
#: A part's name in the dataset: one directory down, never outside it.
_PART_NAME = re.compile(r"kind=[^/\\]+/part-[^/\\]+\.parquet")
_TEMPORARY = ".tmp"

Convert = Callable[[Any], Any]

_logger = logging.getLogger("atomscale_async")


def _models() -> dict[str, type]:
    """Each kind's model (canonical names from the kind table), and unknown entries'."""
    models: dict[str, type] = {kind.canonical: kind.model for kind in KINDS.values()}
    models[UNKNOWN_KIND] = UnknownResult
    return models


def _identity(value: Any) -> Any:
    return value


def _float_list(values: FloatArray) -> list[float]:
    return values.tolist()  # one C call; Arrow would otherwise iterate the sequence


def _json_text(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _arrow_type(tp: Any) -> tuple[pa.DataType, Convert]:
    """The Arrow type of a model field's type, and what turns a value into an Arrow value."""
    import pyarrow as pa

    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"no Arrow type for the union {tp!r}")
        arrow, convert = _arrow_type(args[0])
        return arrow, lambda value: None if value is None else convert(value)
    if tp is typing.Any:
        return pa.string(), _json_text  # passed through as received: kept as JSON text
    if tp is FloatArray:
        return pa.list_(pa.float64()), _float_list
    if origin is list:
        (item,) = typing.get_args(tp)
        arrow, convert = _arrow_type(item)
        if convert is _identity:
            return pa.list_(arrow), _identity
        return pa.list_(arrow), lambda values: [convert(v) for v in values]
    if origin is dict:
        key, value = typing.get_args(tp)
        if key is str and value in (float, int, str, bool):
            return pa.map_(pa.string(), _arrow_type(value)[0]), lambda d: list(d.items())
        return pa.string(), _json_text  # a free-form JSON object
    if attrs.has(tp):
        fields, converters = _struct(tp)
        return pa.struct(fields), lambda model: {
            name: convert(getattr(model, name)) for name, convert in converters
        }
    scalars: dict[Any, pa.DataType] = {
        str: pa.string(),
        int: pa.int64(),
        float: pa.float64(),
        bool: pa.bool_(),
        dt.datetime: pa.timestamp("us", tz="UTC"),
    }
    if tp in scalars:
        return scalars[tp], _identity
    raise TypeError(f"no Arrow type for {tp!r}")


def _struct(model: type) -> tuple[list[pa.Field], list[tuple[str, Convert]]]:
    import pyarrow as pa

    hints = typing.get_type_hints(model)
    fields: list[pa.Field] = []
    converters: list[tuple[str, Convert]] = []
    for field in attrs.fields(model):
        arrow, convert = _arrow_type(hints[field.name])
        optional = type(None) in typing.get_args(hints[field.name])
        fields.append(pa.field(field.name, arrow, nullable=optional))
        converters.append((field.name, convert))
    return fields, converters


@cache
def _layout(model: type) -> tuple[pa.Schema, Callable[[Any], dict[str, Any]]]:
    import pyarrow as pa

    fields, converters = _struct(model)

    def row(result: Any) -> dict[str, Any]:
        return {name: convert(getattr(result, name)) for name, convert in converters}

    return pa.schema(fields), row


def arrow_schema(kind: str) -> pa.Schema:
    """The fixed Arrow schema of one kind's part files (``"sims"``, ``"oes"``, ``"unknown"``)."""
    require("export to Parquet", "parquet", "pyarrow")
    return _layout(_models()[kind])[0]


class _Buffer:
    """One kind's rows not yet in a part file: a few as models, the rest as Arrow batches."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.schema, self.row = _layout(_models()[kind])
        self.results: list[Any] = []
        self.batches: list[Any] = []
        self.ids: list[str] = []

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, data_id: str, result: Any) -> None:
        self.ids.append(data_id)
        self.results.append(result)
        if len(self.results) >= _BATCH_ROWS:
            self._convert()

    def _convert(self) -> None:
        import pyarrow as pa

        if self.results:
            rows = [self.row(result) for result in self.results]
            self.batches.append(pa.RecordBatch.from_pylist(rows, schema=self.schema))
            self.results = []

    def table(self) -> pa.Table:
        import pyarrow as pa

        self._convert()
        return pa.Table.from_batches(self.batches, schema=self.schema)

    def clear(self) -> None:
        self.results, self.batches, self.ids = [], [], []


@attrs.frozen(kw_only=True)
class _Listed:
    """A part file as written: one line of ``_parts.jsonl``."""

    part: str  # its name in the dataset: kind=<kind>/part-NNNNN.parquet
    rows: int
    sha256: str
    data_ids: tuple[str, ...]

    def line(self) -> bytes:
        return orjson.dumps(attrs.asdict(self)) + b"\n"

    @classmethod
    def parse(cls, line: bytes) -> _Listed | None:
        if not line.endswith(b"\n"):
            return None
        try:
            record = orjson.loads(line)
            if not isinstance(record["data_ids"], list):
                return None
            listed = cls(
                part=record["part"],
                rows=record["rows"],
                sha256=record["sha256"],
                data_ids=tuple(record["data_ids"]),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return None
        fields = (listed.part, listed.rows, listed.sha256)
        if not isinstance(fields[0], str) or not _PART_NAME.fullmatch(fields[0]):
            return None
        if not isinstance(fields[1], int):
            return None
        if not isinstance(fields[2], str) or not all(isinstance(i, str) for i in listed.data_ids):
            return None
        return listed


@attrs.define
class _Check:
    """What checking a dataset found (nothing is changed while checking)."""

    sound: dict[str, _Listed] = attrs.Factory(dict)  # by part name, listed or not
    unlisted: list[str] = attrs.Factory(list)  # sound parts not in the list yet
    damaged: list[DamagedPart] = attrs.Factory(list)
    list_torn_at: int | None = None  # where a torn last line of the list starts
    list_damaged: bool = False  # a line before the last is not a part record


def _read_list(root: Path, check: _Check) -> dict[str, _Listed]:
    path = root / PARTS_FILE
    listed: dict[str, _Listed] = {}
    try:
        file = path.open("rb")
    except FileNotFoundError:
        return listed
    bad: list[int] = []
    offset = 0
    with file:
        lines = file.readlines()
    for number, line in enumerate(lines, 1):
        entry = _Listed.parse(line)
        if entry is None:
            bad.append(number)
            if number == len(lines):
                check.list_torn_at = offset  # a run killed while listing a part
        else:
            listed[entry.part] = entry
        offset += len(line)
    if bad and bad != [len(lines)]:
        check.list_damaged = True
        check.damaged.append(
            DamagedPart(
                path=path,
                name=PARTS_FILE,
                problem=f"line {bad[0]:,} is not a part record: the list of parts is damaged",
            )
        )
    return listed


def _check_part(path: Path, name: str, listed: _Listed | None) -> _Listed | str:
    """The part as it is (when sound), or what is wrong with it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"cannot be read ({error_line(exc)})"
    if not data:
        return "empty (0 bytes)"
    # Damaged bytes raise anything from ArrowInvalid and OSError to MemoryError (a
    # length read from garbage): any exception here means the part does not read.
    try:
        file = pq.ParquetFile(pa.BufferReader(data), page_checksum_verification=True)
        footer_rows = file.metadata.num_rows
    except Exception as exc:
        return f"the footer does not read ({error_line(exc)})"
    try:
        table = file.read()
        table.validate(full=True)
    except Exception as exc:
        return f"its data does not decode ({error_line(exc)})"
    if table.num_rows != footer_rows:
        return f"its footer says {footer_rows:,} rows, its data has {table.num_rows:,}"
    kind = name.split("/", 1)[0].removeprefix("kind=")
    models = _models()
    if kind in models and table.schema.remove_metadata() != _layout(models[kind])[0]:
        return f"its columns are not those of a {kind} part"
    if "data_id" not in table.schema.names:
        return "it has no data_id column"
    ids = table.column("data_id").to_pylist()
    if any(not isinstance(data_id, str) for data_id in ids):
        return "a row has no data_id"
    sha256 = hashlib.sha256(data).hexdigest()
    if listed is not None:
        if listed.rows != len(ids):
            return f"it has {len(ids):,} rows, {listed.rows:,} were written"
        if sorted(listed.data_ids) != sorted(ids):
            return "its ids are not those written"
        if listed.sha256 != sha256:
            return "its bytes changed since it was written (SHA-256 differs)"
    return _Listed(part=name, rows=len(ids), sha256=sha256, data_ids=tuple(ids))


def _check(root: Path) -> _Check:
    """Check every part of the dataset at ``root``: listed ones and those on disk."""
    check = _Check()
    listed = _read_list(root, check)
    on_disk = {
        f"{directory.name}/{part.name}"
        for directory in root.glob("kind=*")
        if directory.is_dir()
        for part in directory.glob("part-*.parquet")
    }
    for name in sorted(on_disk | set(listed)):
        entry = listed.get(name)
        found = _check_part(root / name, name, entry)
        if isinstance(found, _Listed):
            check.sound[name] = found
            if entry is None:
                check.unlisted.append(name)
        else:
            ids = entry.data_ids if entry is not None else ()
            check.damaged.append(
                DamagedPart(path=root / name, name=name, problem=found, data_ids=ids)
            )
    return check


def _aside(root: Path, name: str) -> Path:
    """A free path for a damaged file under ``root/_damaged/`` (never over an earlier one)."""
    target = root / DAMAGED_DIRECTORY / name
    target.parent.mkdir(parents=True, exist_ok=True)
    candidate, n = target, 1
    while candidate.exists():
        candidate = target.with_name(f"{target.name}.{n}")
        n += 1
    return candidate


def verify_dataset(root: Path, ids: list[str]) -> ExportSummary:
    """Check a Parquet export without changing it; see ``export(verify=True)``."""
    require("verify a Parquet export", "parquet", "pyarrow", "pyarrow.parquet")
    if not root.is_dir():
        raise FileNotFoundError(errno.ENOENT, f"{root}: no Parquet export here to verify")
    failed: set[str] = set()
    errors = root / ERRORS_FILE
    with contextlib.ExitStack() as stack:
        if errors.exists():
            file = stack.enter_context(errors.open("rb"))
            _lock(file.fileno(), errors, shared=True)  # refused while an export writes
            for line in file:
                parsed = _parse(line)
                if parsed is not None and not parsed[1]:
                    failed.add(parsed[0])
        check = _check(root)
    written = {data_id for part in check.sound.values() for data_id in part.data_ids}
    return verified_summary(root, "parquet", ids, written, failed, check.damaged)


class ParquetDataset:
    """A Parquet dataset directory written part file by part file."""

    def __init__(self, root: Path, *, rows_per_part: int) -> None:
        require("export to Parquet", "parquet", "pyarrow", "pyarrow.parquet")
        self.root = root
        self.rows_per_part = rows_per_part
        self.errors = JsonLinesFile(root / ERRORS_FILE)
        self.done: set[str] = set()
        self.damaged: list[DamagedPart] = []
        self.refetch: list[str] = []
        self._buffers: dict[str, _Buffer] = {}
        self._next_part: dict[str, int] = {}
        self._parts_fd: int | None = None

    @property
    def repaired_bytes(self) -> int:
        """Bytes of a torn failure line cut off ``_errors.jsonl``."""
        return self.errors.repaired_bytes

    def open(self, *, overwrite: bool, repair: bool = False) -> None:
        """Lock the failures file; check the parts (or remove them); open the list of parts.

        Raises:
            ExportCorruptError: A part is damaged, and ``repair`` is off.
        """
        if self.root.exists() and not self.root.is_dir():
            raise ValueError(f"{self.root}: a Parquet export is a directory, and this is a file")
        self.root.mkdir(parents=True, exist_ok=True)
        self.errors.open(overwrite=overwrite)  # first: its lock keeps a second export out
        try:
            self._open_parts(overwrite=overwrite, repair=repair)
        except BaseException:
            self.errors.close(compact=False)
            raise
        fsync_directory(self.root)

    def _open_parts(self, *, overwrite: bool, repair: bool) -> None:
        for directory in self.root.glob("kind=*"):
            for temporary in directory.glob(f".part-*{_TEMPORARY}"):
                temporary.unlink()  # a part being written when a run was killed
            if overwrite:
                for part in directory.glob("part-*.parquet"):
                    part.unlink()
        parts = self.root / PARTS_FILE
        if overwrite:
            parts.unlink(missing_ok=True)
            self._open_list()
            return
        check = _check(self.root)
        if check.damaged and not repair:
            raise ExportCorruptError(self.root, check.damaged)
        for name in (*check.sound, *(part.name for part in check.damaged)):
            match = _PART.fullmatch(name.rsplit("/", 1)[-1])
            if match:  # a damaged part's number is not used again either
                kind = name.split("/", 1)[0].removeprefix("kind=")
                number = int(match.group(1)) + 1
                self._next_part[kind] = max(self._next_part.get(kind, 0), number)
        for sound in check.sound.values():
            self.done.update(sound.data_ids)
        if check.damaged:
            self._repair(check)
        elif check.list_torn_at is not None:
            _logger.warning("%s: the last line is torn, from an interrupted run; cut it off", parts)
            os.truncate(parts, check.list_torn_at)
        self._open_list()
        for name in check.unlisted:  # after the rename, before listing; or an older export
            self._list(check.sound[name])

    def _repair(self, check: _Check) -> None:
        """Move the damaged parts (and a damaged list) aside; list the sound parts afresh."""
        for part in check.damaged:
            moved_to = None
            if part.path.exists():
                moved_to = _aside(self.root, part.name)
                part.path.replace(moved_to)
                fsync_directory(moved_to.parent)
                fsync_directory(part.path.parent)
            self.damaged.append(attrs.evolve(part, repaired=True, moved_to=moved_to))
            _logger.warning(
                "%s: %s: %s; %s, its %d ids will be fetched again",
                self.root,
                part.name,
                part.problem,
                f"moved aside to {moved_to}" if moved_to else "nothing to move",
                len(part.data_ids),
            )
        self.refetch = list(
            dict.fromkeys(
                data_id
                for part in check.damaged
                for data_id in part.data_ids
                if data_id not in self.done
            )
        )
        listed = [check.sound[name] for name in check.sound if name not in check.unlisted]
        temporary = self.root / f".{PARTS_FILE}{_TEMPORARY}"
        with temporary.open("wb") as file:
            file.write(b"".join(part.line() for part in listed))
            file.flush()
            os.fsync(file.fileno())
        temporary.replace(self.root / PARTS_FILE)
        fsync_directory(self.root)

    def _open_list(self) -> None:
        path = self.root / PARTS_FILE
        self._parts_fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def _list(self, part: _Listed) -> None:
        assert self._parts_fd is not None
        write_all(self._parts_fd, part.line())
        os.fsync(self._parts_fd)

    def write(self, outcome: Outcome[Result]) -> None:
        """Write a failure to ``_errors.jsonl``; buffer a success, writing a part when full."""
        if outcome.error is not None:
            self.errors.write(outcome)
            return
        result = outcome.result
        kind = UNKNOWN_KIND if isinstance(result, UnknownResult) else kind_of(result)
        buffer = self._buffers.get(kind)
        if buffer is None:
            buffer = self._buffers[kind] = _Buffer(kind)
        buffer.add(outcome.data_id, result)
        if len(buffer) >= self.rows_per_part:
            self._write_part(buffer)

    def _write_part(self, buffer: _Buffer) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not len(buffer):
            return
        directory = self.root / f"kind={buffer.kind}"
        directory.mkdir(exist_ok=True)
        number = self._next_part.get(buffer.kind, 0)
        final = directory / f"part-{number:05d}.parquet"
        temporary = directory / f".{final.name}{_TEMPORARY}"
        sink = pa.BufferOutputStream()
        pq.write_table(buffer.table(), sink, write_page_checksum=True)
        data = sink.getvalue()
        with temporary.open("wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        temporary.replace(final)
        fsync_directory(directory)
        self._list(
            _Listed(
                part=f"{directory.name}/{final.name}",
                rows=len(buffer),
                sha256=hashlib.sha256(data).hexdigest(),
                data_ids=tuple(buffer.ids),
            )
        )
        self._next_part[buffer.kind] = number + 1
        self.done.update(buffer.ids)
        buffer.clear()

    async def sync_now_and_then(self) -> None:
        """``fsync`` the failures file now and then (part files are synced when written)."""
        await self.errors.sync_now_and_then()

    def close(self, *, compact: bool) -> None:
        """Write the buffered rows as part files; close (and compact) the failures file."""
        try:
            for buffer in self._buffers.values():
                self._write_part(buffer)
        finally:
            if self._parts_fd is not None:
                os.close(self._parts_fd)
                self._parts_fd = None
            self.errors.done = self.done  # a failure line of an id now in a part is superseded
            self.errors.close(compact=compact)
