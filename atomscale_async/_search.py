"""Catalogue search: ``client.search(...)`` and the ``SearchResult`` it returns.

The catalogue (``GET data_entries/``) takes one ``data_type`` a request and at most
``CATALOGUE_CHUNK`` ``data_ids``; a search for several kinds or more ids sends one request
for each and merges the answers in order, each entry once. Every argument is checked before
anything is sent: a wrong type is a ``TypeError``, a wrong value a ``ValueError``, each
naming the argument.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, overload

from ._convert import decode
from ._generated.kinds import CATALOGUE_CHUNK
from ._generated.models import DataEntry
from ._kinds import canonical_kind, check_search_kinds
from ._optional import require

if TYPE_CHECKING:
    import pandas as pd

    from ._generated.resources import RequestSender

__all__ = ["STATUSES", "DateLike", "SearchResult", "search"]

STATUSES: Final = (
    "success",
    "pending",
    "error",
    "running",
    "stream_active",
    "stream_interrupted",
    "stream_finalizing",
    "stream_error",
    "all",
)
"""The values ``status=`` takes; ``"all"`` (the default) matches every entry."""

DateLike = datetime | str
"""A moment: an aware ``datetime``, a naive one (taken as UTC) or an ISO 8601 string."""

_HTML_ROWS: Final = 10


class SearchResult(Sequence[DataEntry]):
    """The entries a search found, in the catalogue's order: an immutable sequence.

    Hand it to ``client.get(...)`` or ``client.iter_results(...)`` as it is: the kind of
    each entry is known, so no catalogue lookup is sent.

    Example:
        >>> found = SearchResult([DataEntry(data_id="a", char_source_type="xps")])
        >>> found.data_ids, found.by_kind()["xps"][0].data_id
        (['a'], 'a')
    """

    __slots__ = ("_entries",)

    def __init__(self, entries: Iterable[DataEntry] = ()) -> None:
        self._entries: tuple[DataEntry, ...] = tuple(entries)

    @overload
    def __getitem__(self, index: int) -> DataEntry: ...
    @overload
    def __getitem__(self, index: slice) -> SearchResult: ...
    def __getitem__(self, index: int | slice) -> DataEntry | SearchResult:
        if isinstance(index, slice):
            return SearchResult(self._entries[index])
        return self._entries[index]

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[DataEntry]:
        return iter(self._entries)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SearchResult):
            return self._entries == other._entries
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __add__(self, other: object) -> SearchResult:
        """The entries of both, in order, each data id once (as a search merges)."""
        if not isinstance(other, SearchResult):
            return NotImplemented
        merged: dict[str, DataEntry] = {}
        for entry in (*self._entries, *other._entries):
            merged.setdefault(entry.data_id, entry)
        return SearchResult(merged.values())

    @property
    def data_ids(self) -> list[str]:
        """The data ids of the entries, in order."""
        return [entry.data_id for entry in self._entries]

    def by_kind(self) -> dict[str, SearchResult]:
        """The entries grouped by kind, each group in order.

        A kind is keyed by its canonical name (``DataEntry.kind``): the ``pl`` entries are
        among the ``photoluminescence`` ones.
        """
        groups: dict[str, list[DataEntry]] = {}
        for entry in self._entries:
            groups.setdefault(canonical_kind(entry.char_source_type), []).append(entry)
        return {kind: SearchResult(entries) for kind, entries in sorted(groups.items())}

    def to_pandas(self) -> pd.DataFrame:
        """One row an entry, with the columns a scientist reads first (the ``pandas`` extra).

        Columns: ``data_id``, ``kind``, ``status``, ``physical_sample``, ``material``,
        ``instrument``, ``upload_datetime``, ``collected_datetime``, ``growth_length``,
        ``projects`` (names, comma-separated), ``file``, ``owner``.
        """
        require("SearchResult.to_pandas", "pandas", "pandas")
        import pandas

        rows = [_row(entry) for entry in self._entries]
        frame = pandas.DataFrame(rows, columns=list(_row(_EMPTY)))
        for column in ("upload_datetime", "collected_datetime"):
            frame[column] = pandas.to_datetime(frame[column], utc=True)
        return frame

    def _counts(self) -> str:
        counts: dict[str, int] = {}
        for entry in self._entries:
            kind = canonical_kind(entry.char_source_type)
            counts[kind] = counts.get(kind, 0) + 1
        return ", ".join(f"{kind} {n:,}" for kind, n in sorted(counts.items()))

    def __repr__(self) -> str:
        counts = self._counts()
        noun = "entry" if len(self) == 1 else "entries"
        return f"SearchResult({len(self):,} {noun}{': ' + counts if counts else ''})"

    def _repr_html_(self) -> str:
        columns = ("data_id", "kind", "status", "physical_sample", "instrument", "upload_datetime")
        head = "".join(f"<th>{c}</th>" for c in columns)
        body = "".join(
            "<tr>"
            + "".join(f"<td>{html.escape(str(_row(entry)[c] or ''))}</td>" for c in columns)
            + "</tr>"
            for entry in self._entries[:_HTML_ROWS]
        )
        more = len(self) - _HTML_ROWS
        tail = f"<p>... and {more:,} more</p>" if more > 0 else ""
        return (
            f"<p><b>{html.escape(repr(self))}</b></p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{tail}"
        )


_EMPTY: Final = DataEntry(data_id="", char_source_type="")


def _row(entry: DataEntry) -> dict[str, Any]:
    return {
        "data_id": entry.data_id,
        "kind": canonical_kind(entry.char_source_type),
        "status": entry.pipeline_status,
        "physical_sample": entry.physical_sample_name,
        "material": entry.sample_name,
        "instrument": entry.source_name,
        "upload_datetime": entry.upload_datetime,
        "collected_datetime": entry.collected_datetime,
        "growth_length": entry.growth_length,
        "projects": ", ".join(p.name or p.id for p in entry.projects or ()),
        "file": entry.raw_name,
        "owner": entry.name,
    }


# ------------------------------------------------------------------------ arguments


def _strings(name: str, value: object, *, allow_one: bool = False) -> list[str] | None:
    """A list of non-empty strings, or None for None; one string where `allow_one`."""
    if value is None:
        return None
    if isinstance(value, str):
        if not allow_one:
            msg = f"{name} must be a sequence of strings, not a string"
            raise TypeError(msg)
        value = [value]
    if not isinstance(value, Iterable):
        msg = f"{name} must be a sequence of strings, not {type(value).__name__}"
        raise TypeError(msg)
    items = list(value)
    for item in items:
        if not isinstance(item, str):
            msg = f"{name} must hold strings, not {type(item).__name__} ({item!r})"
            raise TypeError(msg)
        if not item.strip():
            msg = f"{name} must not hold an empty string"
            raise ValueError(msg)
    return items


def _moment(name: str, value: object) -> str | None:
    """A moment as the API takes it: ISO 8601 in UTC with a ``Z``."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            msg = f"{name}: {value!r} is not an ISO 8601 date or datetime"
            raise ValueError(msg) from None
    if not isinstance(value, datetime):
        msg = f"{name} bounds must be datetimes or ISO 8601 strings, not {type(value).__name__}"
        raise TypeError(msg)
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ").replace(".000000Z", "Z")


def _pair(name: str, value: object) -> tuple[object, object]:
    if value is None:
        return None, None
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or len(value) != 2:
        msg = f"{name} must be a (min, max) pair, either end None, not {value!r}"
        raise TypeError(msg)
    return value[0], value[1]


def _range_params(name: str, value: object, moments: bool) -> list[tuple[str, str]]:
    low, high = _pair(name, value)
    if moments:
        ends = [_moment(name, low), _moment(name, high)]
        if ends[0] is not None and ends[1] is not None and ends[0] > ends[1]:
            msg = f"{name}: the start {low!r} is after the end {high!r}"
            raise ValueError(msg)
    else:
        numbers: list[float | None] = []
        for end in (low, high):
            if end is not None and (isinstance(end, bool) or not isinstance(end, int | float)):
                msg = f"{name} bounds must be numbers of seconds, not {type(end).__name__}"
                raise TypeError(msg)
            if end is not None and not math.isfinite(end):
                msg = f"{name} bounds must be finite, not {end!r}"
                raise ValueError(msg)
            numbers.append(None if end is None else float(end))
        if numbers[0] is not None and numbers[1] is not None and numbers[0] > numbers[1]:
            msg = f"{name}: the minimum {low!r} is above the maximum {high!r}"
            raise ValueError(msg)
        ends = [None if n is None else f"{n:g}" for n in numbers]
    return [(f"{name}_{side}", end) for side, end in zip(("min", "max"), ends, strict=True) if end]


def _query(
    *,
    keywords: object,
    physical_sample_ids: object,
    project_ids: object,
    status: object,
    growth_length: object,
    upload_datetime: object,
    last_accessed_datetime: object,
    include_organization_data: object,
) -> list[tuple[str, str]]:
    """The query parameters every request of one search shares."""
    if not isinstance(status, str):
        msg = f"status must be a string, not {type(status).__name__}"
        raise TypeError(msg)
    if status not in STATUSES:
        msg = f"status must be one of {', '.join(map(repr, STATUSES))}, not {status!r}"
        raise ValueError(msg)
    if not isinstance(include_organization_data, bool):
        kind = type(include_organization_data).__name__
        msg = f"include_organization_data must be True or False, not {kind}"
        raise TypeError(msg)
    params = [
        ("include_organization_data", "true" if include_organization_data else "false"),
        ("status", status),
    ]
    for name, values in (
        ("keywords", _strings("keywords", keywords, allow_one=True)),
        ("physical_sample_ids", _strings("physical_sample_ids", physical_sample_ids)),
        ("project_ids", _strings("project_ids", project_ids)),
    ):
        params += [(name, v) for v in values or ()]
    params += _range_params("growth_length", growth_length, moments=False)
    params += _range_params("upload_datetime", upload_datetime, moments=True)
    params += _range_params("last_accessed_datetime", last_accessed_datetime, moments=True)
    return params


async def search(
    sender: RequestSender,
    *,
    keywords: str | Sequence[str] | None = None,
    data_ids: Sequence[str] | None = None,
    physical_sample_ids: Sequence[str] | None = None,
    project_ids: Sequence[str] | None = None,
    data_type: str | Sequence[str] | None = None,
    status: str = "all",
    growth_length: tuple[float | None, float | None] | None = None,
    upload_datetime: tuple[DateLike | None, DateLike | None] | None = None,
    last_accessed_datetime: tuple[DateLike | None, DateLike | None] | None = None,
    include_organization_data: bool = True,
) -> SearchResult:
    """Search the catalogue (see ``AsyncClient.search``)."""
    shared = _query(
        keywords=keywords,
        physical_sample_ids=physical_sample_ids,
        project_ids=project_ids,
        status=status,
        growth_length=growth_length,
        upload_datetime=upload_datetime,
        last_accessed_datetime=last_accessed_datetime,
        include_organization_data=include_organization_data,
    )
    named_kinds = _strings("data_type", data_type, allow_one=True)
    # Every name of a kind: a catalogue may store it under an alias (``pl``).
    kinds: list[str | None] = (
        list(check_search_kinds("data_type", named_kinds)) if named_kinds else [None]
    )
    ids = _strings("data_ids", data_ids)
    if ids is not None:
        ids = list(dict.fromkeys(ids))
        if not ids:
            return SearchResult()
    chunks: list[list[str] | None] = (
        [ids[i : i + CATALOGUE_CHUNK] for i in range(0, len(ids), CATALOGUE_CHUNK)]
        if ids is not None
        else [None]
    )
    requests = [
        [
            *shared,
            *([("data_type", kind)] if kind else []),
            *[("data_ids", i) for i in chunk or ()],
        ]
        for kind in kinds
        for chunk in chunks
    ]
    # One after another: a search is a handful of requests, and the first failure
    # raises as itself (a typed API error), never wrapped in an exception group.
    answers = [
        decode(
            await sender._request("GET", "data_entries/", params=params),
            list[DataEntry],
            "GET /data_entries/",
        )
        for params in requests
    ]
    seen: set[str] = set()
    merged: list[DataEntry] = []
    for answer in answers:
        for entry in answer:
            if entry.data_id not in seen:
                seen.add(entry.data_id)
                merged.append(entry)
    return SearchResult(merged)
