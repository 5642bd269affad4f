"""Reading the catalogue's answers (``GET data_entries/``) without losing a chunk to one field.

The catalogue's fields are known only from the platform's public SDK (``x-sdk-inferred`` in
the description): what a bulk fetch needs of an entry is its ``data_id`` and its
``char_source_type``. So an entry whose optional field does not fit its type keeps the entry,
with that field None, and the first misfit of each field in a call is logged as a warning;
only an entry whose id or kind is unusable makes the answer a ``ResponseValidationError``.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import attrs
import orjson

from ._convert import converter, structure
from ._errors import ResponseValidationError
from ._generated.kinds import CATALOGUE_CHUNK
from ._generated.models import DataEntry

__all__ = ["CATALOGUE_CHUNK", "decode_catalogue"]

_REQUIRED: Final = tuple(f.name for f in attrs.fields(DataEntry) if f.default is attrs.NOTHING)
_logger = logging.getLogger("atomscale_async")


def decode_catalogue(content: bytes, endpoint: str) -> list[DataEntry]:
    """The entries of a catalogue answer, each optional field that misfits set to None.

    Raises:
        ResponseValidationError: The body is not a JSON array of objects, or an entry's
            ``data_id`` or ``char_source_type`` is missing or not a string.
    """
    try:
        items = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        preview = content[:60].decode("utf-8", "replace")
        raise ResponseValidationError(
            endpoint, [f"the body is not JSON ({exc}; starts with {preview!r}) @ $"]
        ) from None
    if not isinstance(items, list):
        return structure(items, list[DataEntry], endpoint)  # raises, naming the type
    entries: list[DataEntry] = []
    warned: set[str] = set()
    for position, item in enumerate(items):
        try:
            entries.append(converter.structure(item, DataEntry))
        except Exception:
            entries.append(_salvage(item, position, endpoint, warned))
    return entries


def _salvage(item: Any, position: int, endpoint: str, warned: set[str]) -> DataEntry:
    """The entry without the optional fields that do not fit; strict on id and kind."""
    if not isinstance(item, dict):
        return structure(item, DataEntry, f"{endpoint} [{position}]")
    kept: dict[str, Any] = {name: item[name] for name in _REQUIRED if name in item}
    structure(kept, DataEntry, endpoint)  # the id and the kind must fit: raises otherwise
    for name, value in item.items():
        if name in kept:
            continue
        try:
            converter.structure({**kept, name: value}, DataEntry)
        except Exception:
            if name not in warned:
                warned.add(name)
                _logger.warning(
                    "%s: the catalogue's %r of entry %r does not fit its type (%s); "
                    "read as None (logged once per field and call)",
                    endpoint,
                    name,
                    item.get("data_id"),
                    type(value).__name__,
                )
            continue
        kept[name] = value
    return converter.structure(kept, DataEntry)
