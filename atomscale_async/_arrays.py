"""FloatArray: the compact, validated, immutable numeric sequence used for spectra and profiles."""

from __future__ import annotations

import array
import functools
import struct
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, cast, overload

__all__ = ["FloatArray"]

_PREVIEW = 3
_ITEMSIZE = 8
_TYPESTR = "<f8" if sys.byteorder == "little" else ">f8"


class FloatArray(Sequence[float]):
    """An immutable, compact sequence of 64-bit floats.

    Every numeric array of a model (``OESResult.wavelengths``,
    ``SIMSDepthProfile.depths``...) is a ``FloatArray``: 8 bytes a value held in
    one ``bytes`` object instead of a list of boxed floats, validated as JSON
    numbers when a response is decoded. It supports ``len``, indexing, slicing
    (a slice is a ``FloatArray``), iteration, ``in``, ``index``, ``count``,
    ``tolist()``, ``tobytes()`` and ``==`` (by value, like floats), and nothing
    that changes it: it belongs to a frozen model. ``numpy.asarray(arr)`` is a
    zero-copy **read-only** view (``numpy.array(arr)`` is a writable copy); on
    Python 3.12+ ``memoryview(arr)`` is a read-only buffer. Like the models it
    is not hashable.

    Example:
        >>> FloatArray([1, 2.5])
        FloatArray([1.0, 2.5])
    """

    __slots__ = ("_data", "_view")
    _data: bytes
    _view: memoryview[float]

    def __init__(self, values: Iterable[float] | bytes = ()) -> None:
        if isinstance(values, bytes | bytearray | memoryview):
            data = bytes(values)
            if len(data) % _ITEMSIZE:
                raise ValueError(f"a FloatArray needs a multiple of {_ITEMSIZE} bytes")
        else:
            data = array.array("d", values).tobytes()
        self._data = data
        self._view = memoryview(data).cast("d")

    @classmethod
    def _from_packed(cls, data: bytes) -> FloatArray:
        """Wrap native float64 bytes without copying or checking them."""
        new = object.__new__(cls)
        new._data = data
        new._view = memoryview(data).cast("d")
        return new

    @classmethod
    def _from_bytes(cls, data: bytes) -> FloatArray:
        """Unpickle what earlier versions (an ``array.array`` subclass) pickled."""
        return cls(data)

    def __len__(self) -> int:
        return len(self._data) // _ITEMSIZE

    @overload
    def __getitem__(self, index: int) -> float: ...

    @overload
    def __getitem__(self, index: slice) -> FloatArray: ...

    def __getitem__(self, index: int | slice) -> float | FloatArray:
        if isinstance(index, slice):
            return FloatArray._from_packed(self._view[index].tobytes())
        value: float = self._view[index]
        return value

    def __iter__(self) -> Iterator[float]:
        return iter(self.tolist())

    def __reversed__(self) -> Iterator[float]:
        return reversed(self.tolist())

    def __contains__(self, value: object) -> bool:
        return value in self.tolist()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FloatArray):
            return self._view == other._view
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def tolist(self) -> list[float]:
        """The values as a list of Python floats."""
        return cast("list[float]", self._view.tolist())

    def tobytes(self) -> bytes:
        """The values as native-endian float64 bytes (no copy)."""
        return self._data

    @property
    def __array_interface__(self) -> dict[str, Any]:
        # numpy views the read-only ``bytes`` buffer itself: zero-copy, not writeable.
        return {"version": 3, "shape": (len(self),), "typestr": _TYPESTR, "data": self._data}

    def __buffer__(self, flags: int) -> memoryview:
        """The read-only buffer (PEP 688, Python 3.12+); a writable request fails."""
        return cast("memoryview", self._view)

    def __reduce__(self) -> tuple[Any, ...]:
        return (FloatArray, (self._data,))

    def __copy__(self) -> FloatArray:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FloatArray:
        return self

    def __repr__(self) -> str:
        n = len(self)
        if n <= 2 * _PREVIEW:
            return f"FloatArray({self.tolist()!r})"
        head = ", ".join(repr(v) for v in self._view[:_PREVIEW].tolist())
        tail = ", ".join(repr(v) for v in self._view[n - _PREVIEW :].tolist())
        return f"FloatArray([{head}, ..., {tail}], len={n})"


_TOP_BYTE = 7 if sys.byteorder == "little" else 0
_FEW = 16


@functools.lru_cache(maxsize=128)
def _packer(length: int) -> struct.Struct:
    return struct.Struct(f"{length}d")


def pack_numbers(values: list[Any]) -> FloatArray:
    """Pack a decoded JSON array of numbers into a FloatArray, strictly.

    ``struct`` rejects strings, null, objects and arrays, but takes ``true`` and
    ``false`` as 1.0 and 0.0; a boolean can only hide where the packed bytes
    hold exactly 1.0 or 0.0, so only those elements are type-checked.

    Raises:
        TypeError: an element is not a JSON number; the message gives its index.
    """
    try:
        packed = _packer(len(values)).pack(*values)
    except (struct.error, TypeError, OverflowError):
        raise TypeError(_first_non_number(values)) from None
    if _contains_bool(packed[_TOP_BYTE::8], values):
        raise TypeError(_first_non_number(values))
    return FloatArray._from_packed(packed)


def _contains_bool(top: bytes, values: list[Any]) -> bool:
    """Whether a boolean is among ``values``, given the top byte of each packed double.

    True and False pack as 1.0 and 0.0, whose top bytes are 0x3F and 0x00, so
    only elements with those top bytes need a type check; memchr finds them.
    A few candidates (a depth axis starting at 0) are checked one by one; many
    (an all-zero dark spectrum) in one pass over the element types.
    """
    budget = _FEW
    for marker in (b"\x00", b"\x3f"):
        at = top.find(marker)
        while at >= 0:
            if type(values[at]) is bool:
                return True
            budget -= 1
            if not budget:
                return bool in set(map(type, values))
            at = top.find(marker, at + 1)
    return False


def _first_non_number(values: list[Any]) -> str:
    for index, value in enumerate(values):
        if type(value) is not float and type(value) is not int:
            return f"element [{index}] is {describe(value)}, expected a JSON number"
    return "a number is out of range for a 64-bit float"  # pragma: no cover - struct overflow


def describe(value: object) -> str:
    """Name a decoded JSON value's kind for an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return f"a string {value[:20]!r}"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__
