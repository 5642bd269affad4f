"""Validators and help of the sandbox's options, shared by its classes and the command line.

Each option is one attrs field whose metadata holds its help (``knob_help``); a
`Bounds` validator both rejects a bad value in Python and tells the command line what
to expect, so that an option is declared once.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

if TYPE_CHECKING:
    from attrs import AttrsInstance

__all__ = ["HELP", "METAVAR", "Bounds", "documented", "knob_help"]

HELP = "atomscale_async.sandbox.help"
"""The metadata key of an option's help: a lower-case phrase, as ``--help`` shows it."""

METAVAR = "atomscale_async.sandbox.metavar"
"""The metadata key of the name of an option's value on the command line."""

_T = TypeVar("_T", bound="AttrsInstance")


def knob_help(text: str, metavar: str | None = None) -> Mapping[str, str]:
    """The metadata of an option: its help and, optionally, the name of its value."""
    return {HELP: text} if metavar is None else {HELP: text, METAVAR: metavar}


@attrs.frozen
class Bounds:
    """A validator of a number between ``low`` and ``high`` (inclusive).

    Example:
        >>> Bounds(0, 1).problem(1.5)
        'must be a fraction from 0 to 1, got 1.5'
    """

    low: float
    high: float | None = None
    above: bool = False
    """Whether ``low`` itself is excluded (``Bounds(0, above=True)``: a positive number)."""

    def describe(self) -> str:
        """What a valid value is, e.g. ``a number >= 0``."""
        if (self.low, self.high, self.above) == (0, 1, False):
            return "a fraction from 0 to 1"
        if (self.low, self.high, self.above) == (0, None, True):
            return "positive"
        if self.high is None:
            return f"a number {'>' if self.above else '>='} {self.low:g}"
        return f"a number from {self.low:g} to {self.high:g}"

    def problem(self, value: float) -> str | None:
        """Why ``value`` is not valid, or None when it is."""
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if (
            number
            and (self.low < value if self.above else self.low <= value)
            and (self.high is None or value <= self.high)
        ):
            return None
        return f"must be {self.describe()}, got {value!r}"

    def __call__(self, _instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
        """Raise ``ValueError`` naming the attribute when ``value`` is out of bounds."""
        problem = self.problem(value)
        if problem is not None:
            msg = f"{attribute.name} {problem}"
            raise ValueError(msg)


def documented(cls: type[_T]) -> type[_T]:
    """Append an ``Attributes:`` section, written from each field's help, to a docstring."""
    lines = ["Attributes:"]
    for field in attrs.fields(cls):
        text = field.metadata.get(HELP)
        if text is None:
            continue
        default = f" (default: {field.default!r})" if not _is_factory(field.default) else ""
        lines.append(f"    {field.name}: {text[:1].upper()}{text[1:]}{default}.")
    summary, example, rest = inspect.cleandoc(cls.__doc__ or "").partition("\nExample:")
    cls.__doc__ = f"{summary.rstrip()}\n\n" + "\n".join(lines) + f"\n{example}{rest}"
    return cls


def _is_factory(default: object) -> bool:
    return isinstance(default, attrs.Factory)  # type: ignore[arg-type]
