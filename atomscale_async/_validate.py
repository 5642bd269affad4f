"""Checks of what the caller hands over, made before anything is sent.

A data id goes into a URL path (``/oes/<id>``) or a query string, so only
what is safe there is accepted: 1 to 1,024 characters, not ``.`` or ``..``
(dot-segments, which servers resolve even percent-encoded), without control
characters or lone surrogates (which have no UTF-8 form).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["MAX_DATA_ID_LENGTH", "data_id", "data_ids"]

MAX_DATA_ID_LENGTH = 1024

# C0 and C1 control characters, DEL, and the surrogate range (in a Python
# str every surrogate is a lone one).
_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def data_id(value: object, name: str = "data_id") -> str:
    """Return ``value`` if it is a valid data id; else raise naming ``name``.

    Raises:
        TypeError: ``value`` is not a str.
        ValueError: ``value`` is empty, too long, ``.`` or ``..``, or holds a
            control character or a lone surrogate.
    """
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__} {_show(value)}")
    problem = _problem(value)
    if problem is not None:
        raise ValueError(f"{name} {problem}, got {_show(value)}")
    return value


def data_ids(values: Iterable[object], name: str = "data_ids") -> list[str]:
    """Return ``values`` as a list of valid data ids; else raise naming the bad item.

    Raises:
        TypeError: ``values`` is a single str or bytes, or an item is not a str.
        ValueError: An item is not a valid data id (see ``data_id``).
    """
    if isinstance(values, str | bytes | bytearray):
        raise TypeError(f"{name} must be a sequence of str, not a single {type(values).__name__}")
    ids = list(values)
    for index, value in enumerate(ids):
        data_id(value, f"{name}[{index}]")
    return ids  # type: ignore[return-value]  # every item was checked above


def _problem(value: str) -> str | None:
    if not value:
        return "must not be empty"
    if len(value) > MAX_DATA_ID_LENGTH:
        return f"must be at most {MAX_DATA_ID_LENGTH:,} characters long (it has {len(value):,})"
    if value in (".", ".."):
        return "must not be '.' or '..' (a URL path step)"
    found = _FORBIDDEN.search(value)
    if found is None:
        return None
    char = found.group()
    if "\ud800" <= char <= "\udfff":
        return f"must not contain a lone surrogate ({char!r} at index {found.start()})"
    return f"must not contain a control character ({char!r} at index {found.start()})"


def _show(value: object) -> str:
    """A short repr: an id may be a megabyte long."""
    text = repr(value)
    return text if len(text) <= 80 else text[:60] + f"... ({len(text):,} characters)"
