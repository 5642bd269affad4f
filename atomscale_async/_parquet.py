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
"""

from __future__ import annotations

import datetime as dt
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
from ._export import JsonLinesFile, fsync_directory, kind_of
from ._generated.kinds import KINDS
from ._optional import require

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["ERRORS_FILE", "ParquetDataset", "arrow_schema"]

#: The failures of a Parquet export, beside the kind directories.
ERRORS_FILE = "_errors.jsonl"
UNKNOWN_KIND = "unknown"
#: Rows converted to Arrow at a time while buffering (Arrow holds them compactly).
_BATCH_ROWS = 64
_PART = re.compile(r"part-(\d+)\.parquet")
_TEMPORARY = ".tmp"

Convert = Callable[[Any], Any]


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


class ParquetDataset:
    """A Parquet dataset directory written part file by part file."""

    def __init__(self, root: Path, *, rows_per_part: int) -> None:
        require("export to Parquet", "parquet", "pyarrow", "pyarrow.parquet")
        self.root = root
        self.rows_per_part = rows_per_part
        self.errors = JsonLinesFile(root / ERRORS_FILE)
        self.done: set[str] = set()
        self._buffers: dict[str, _Buffer] = {}
        self._next_part: dict[str, int] = {}

    @property
    def repaired_bytes(self) -> int:
        """Bytes of a torn failure line cut off ``_errors.jsonl``."""
        return self.errors.repaired_bytes

    def open(self, *, overwrite: bool) -> None:
        """Open (and lock) the failures file; read the ids of the part files (or remove them)."""
        if self.root.exists() and not self.root.is_dir():
            raise ValueError(f"{self.root}: a Parquet export is a directory, and this is a file")
        self.root.mkdir(parents=True, exist_ok=True)
        self.errors.open(overwrite=overwrite)  # first: its lock keeps a second export out
        try:
            self._scan_parts(overwrite=overwrite)
        except BaseException:
            self.errors.close(compact=False)
            raise
        fsync_directory(self.root)

    def _scan_parts(self, *, overwrite: bool) -> None:
        import pyarrow.parquet as pq

        for directory in self.root.glob("kind=*"):
            for temporary in directory.glob(f".part-*{_TEMPORARY}"):
                temporary.unlink()  # a part being written when a run was killed
            for part in directory.glob("part-*.parquet"):
                if overwrite:
                    part.unlink()
                    continue
                match = _PART.fullmatch(part.name)
                kind = directory.name.removeprefix("kind=")
                if match:
                    number = int(match.group(1))
                    self._next_part[kind] = max(self._next_part.get(kind, 0), number + 1)
                ids = pq.read_table(part, columns=["data_id"]).column("data_id")
                self.done.update(ids.to_pylist())

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
        import pyarrow.parquet as pq

        if not len(buffer):
            return
        directory = self.root / f"kind={buffer.kind}"
        directory.mkdir(exist_ok=True)
        number = self._next_part.get(buffer.kind, 0)
        final = directory / f"part-{number:05d}.parquet"
        temporary = directory / f".{final.name}{_TEMPORARY}"
        with temporary.open("wb") as file:
            pq.write_table(buffer.table(), file)
            file.flush()
            os.fsync(file.fileno())
        temporary.replace(final)
        fsync_directory(directory)
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
            self.errors.done = self.done  # a failure line of an id now in a part is superseded
            self.errors.close(compact=compact)
