"""How the command line prints: tables for people, JSON for programs, one-line errors."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import IO, Any, cast

import orjson

from .._export import error_line

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "SHOWN_FAILURES",
    "CLIError",
    "Output",
    "error_line",
    "format_table",
]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
#: Failures listed one by one in a summary; the rest are counted.
SHOWN_FAILURES = 10


class CLIError(Exception):
    """A failure to report as one ``error: ...`` line, with an exit status."""

    def __init__(self, message: str, status: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.status = status


class _RedactingStream:
    """A text stream that hides the key in everything written to it (a server may echo it)."""

    def __init__(self, stream: IO[str], scrub: Callable[[str], str]) -> None:
        self._stream = stream
        self._scrub = scrub

    def write(self, text: str) -> int:
        return self._stream.write(self._scrub(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class Output:
    """Where and how a command prints: the streams, the format, and the key to hide.

    Whatever reaches stdout, stderr or ``scrub_bytes`` (``--out`` files) shows
    the key as ``***``, as typed or as JSON escapes it.
    """

    def __init__(self, stdout: IO[str], stderr: IO[str], fmt: str, secret: str | None) -> None:
        self.secret = secret if secret and len(secret) >= 4 else None
        forms: set[str] = set()
        if self.secret:
            forms = {self.secret, orjson.dumps(self.secret).decode()[1:-1]}
        self._forms = sorted(forms, key=len, reverse=True)
        self.stdout: IO[str] = (
            cast(IO[str], _RedactingStream(stdout, self.scrub)) if self._forms else stdout
        )
        self.stderr = stderr
        self.format = fmt

    def scrub(self, text: str) -> str:
        """``text`` with the key replaced by ``***``."""
        for form in self._forms:
            text = text.replace(form, "***")
        return text

    def scrub_bytes(self, data: bytes) -> bytes:
        """``data`` (UTF-8) with the key replaced by ``***``."""
        for form in self._forms:
            data = data.replace(form.encode(), b"***")
        return data

    @property
    def json(self) -> bool:
        """Whether to print JSON rather than tables."""
        return self.format == "json"

    def redact(self, text: str) -> str:
        """The text on one line, with the API key (if it appears) replaced by ``***``."""
        return self.scrub(" ".join(text.split()))

    def line(self, text: str = "") -> None:
        """Print a line on stdout."""
        self.stdout.write(text + "\n")

    def note(self, text: str) -> None:
        """Print a line for people on stderr."""
        self.stderr.write(self.redact(text) + "\n")
        self.stderr.flush()

    def error(self, text: str) -> None:
        """Print an ``error: ...`` line on stderr."""
        self.note(f"error: {text}")

    def dump(self, value: Any) -> None:
        """Print a value as one line of JSON on stdout."""
        self.stdout.write(orjson.dumps(value).decode() + "\n")

    def table(self, headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
        """Print rows as aligned columns (numbers on the right) under a header."""
        for text in format_table(headers, rows):
            self.line(text)


def format_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    r"""Aligned plain-text columns: numbers right-aligned, everything else left-aligned.

    Example:
        >>> print("\n".join(format_table(["kind", "n"], [["sims", 3], ["oes", 12]])))
        kind   n
        sims   3
        oes   12
    """
    values = [list(row) for row in rows]
    cells = [[_cell(value) for value in row] for row in values]
    numeric = [
        bool(values) and all(_is_number(row[i]) for row in values if row[i] is not None)
        for i in range(len(headers))
    ]
    widths = [
        max([len(header), *(len(row[i]) for row in cells)]) for i, header in enumerate(headers)
    ]

    def render(values: Sequence[str]) -> str:
        parts = [
            value.rjust(width) if right else value.ljust(width)
            for value, width, right in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    return [render(list(headers)), *(render(row) for row in cells)]


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.6g}"
    return " ".join(str(value).split())


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
