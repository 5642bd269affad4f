"""FloatArray: the compact, validated numeric sequence used for spectra and profiles."""

from __future__ import annotations

import array
import struct
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


def pack_numbers(values: list[Any]) -> FloatArray:
    """Pack a decoded JSON array of numbers into a FloatArray.

    Raises:
        TypeError: an element is not a number (a string, null, an object...).
    """
    try:
        return FloatArray(struct.pack(f"{len(values)}d", *values))
    except (struct.error, TypeError, OverflowError):
        for index, value in enumerate(values):
            if type(value) is not float and type(value) is not int:
                raise TypeError(
                    f"element [{index}] is {describe(value)}, expected a JSON number"
                ) from None
        raise


def first_non_number(values: list[Any]) -> int | None:
    """Index of the first element that is not a JSON number (bools included)."""
    for index, value in enumerate(values):
        if type(value) is not float and type(value) is not int:
            return index
    return None


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
