"""FloatArray: the compact, validated numeric sequence used for spectra and profiles."""

from __future__ import annotations

import array
import functools
import struct
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, SupportsIndex

__all__ = ["FloatArray"]

if TYPE_CHECKING:
    _FloatArrayBase = array.array[float]
else:  # array.array is not subscriptable at run time before Python 3.12
    _FloatArrayBase = array.array

_PREVIEW = 3


class FloatArray(_FloatArrayBase):
    """A compact sequence of 64-bit floats (an ``array.array('d')`` subclass).

    Every numeric array of a model (``OESResult.wavelengths``,
    ``SIMSDepthProfile.depths``...) is a ``FloatArray``: 8 bytes a value instead
    of a list of boxed floats, validated as JSON numbers when a response is
    decoded. It supports ``len``, indexing, slicing, iteration and ``==``, and
    exposes the buffer protocol, so ``numpy.asarray(arr)`` is a zero-copy view.
    Treat it as read-only: it belongs to a frozen model. Like ``array.array``
    it is not hashable.

    Example:
        >>> FloatArray([1, 2.5])
        FloatArray([1.0, 2.5])
    """

    __slots__ = ()

    def __new__(cls, values: Iterable[float] | bytes = ()) -> FloatArray:
        return super().__new__(cls, "d", values)  # type: ignore[return-value]

    def __reduce_ex__(self, protocol: SupportsIndex) -> tuple[Any, ...]:
        return (type(self)._from_bytes, (self.tobytes(),))

    @classmethod
    def _from_bytes(cls, data: bytes) -> FloatArray:
        return cls(data)

    def __repr__(self) -> str:
        n = len(self)
        if n <= 2 * _PREVIEW:
            return f"FloatArray({self.tolist()!r})"
        head = ", ".join(repr(v) for v in super().__getitem__(slice(0, _PREVIEW)))
        tail = ", ".join(repr(v) for v in super().__getitem__(slice(n - _PREVIEW, n)))
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
    return FloatArray(packed)


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
