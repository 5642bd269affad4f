"""What a result holds, in brief: the one summary behind every view of it.

`SIMSResult.summary()`, `OESResult.summary()` and the XPS, XRD, photoluminescence and Raman
results' `summary()` build these; the HTML repr, the command line's tables and the demo's
report all read them, so that a result is described one way. A result of a kind without a
summary is described field by field (`field_rows`, `peak_table`).
"""

from __future__ import annotations

import html
import itertools
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

from ._arrays import FloatArray

if TYPE_CHECKING:
    from ._generated.models import OESResult, SIMSDepthProfile, SIMSResult
    from ._model import Model

__all__ = [
    "OESSummary",
    "ProfileSummary",
    "SIMSSummary",
    "Span",
    "SpectrumSummary",
    "field_rows",
    "html_table",
    "peak_table",
]

#: The longest text of one field or cell in `field_rows` and `peak_table`.
_CELL = 60
#: Rows an HTML summary shows at most (species, elements, peaks).
HTML_ROWS = 20
#: The spectra an OES result may lack.
_OPTIONAL_SPECTRA = ("reference", "dark")


@attrs.frozen
class Span:
    """The finite range of some values, and their unit.

    Example:
        >>> Span(0.0, 512.5, "nm").format() == "0 \N{EN DASH} 512.5 nm"
        True
    """

    low: float
    high: float
    unit: str

    @classmethod
    def of(cls, values: Iterable[float], unit: str) -> Span | None:
        """The range of the finite values, or None when there is none."""
        finite = [v for v in values if math.isfinite(v)]
        return cls(min(finite), max(finite), unit) if finite else None

    def format(self, fmt: str = "g") -> str:
        """The range as text, low and high joined by an en dash, then the unit."""
        return f"{self.low:{fmt}} \N{EN DASH} {self.high:{fmt}} {self.unit}".rstrip()


def _span_text(span: Span | None, fmt: str = "g") -> str:
    return "\N{EM DASH}" if span is None else span.format(fmt)


@attrs.frozen(kw_only=True)
class ProfileSummary:
    """One SIMS depth profile in brief.

    Attributes:
        species: The species measured.
        points: The number of points of the profile.
        depth: The range of depths, None when no depth is finite.
        concentration: The range of concentrations, None when none is finite.
        profile_type: ``species_metadata["profile_type"]``, if given.
        secondary_ion: ``species_metadata["secondary_ion"]``, if given.
    """

    species: str
    points: int
    depth: Span | None
    concentration: Span | None
    profile_type: str | None = None
    secondary_ion: str | None = None

    @classmethod
    def of(cls, profile: SIMSDepthProfile) -> ProfileSummary:
        """The summary of ``profile``."""
        metadata = profile.species_metadata
        return cls(
            species=profile.species_name,
            points=len(profile.depths),
            depth=Span.of(profile.depths, profile.depth_units),
            concentration=Span.of(profile.concentrations, profile.concentration_units),
            profile_type=_text(metadata.get("profile_type")),
            secondary_ion=_text(metadata.get("secondary_ion")),
        )

    @property
    def depth_text(self) -> str:
        """The range of depths as the tables show it."""
        return _span_text(self.depth)

    @property
    def concentration_text(self) -> str:
        """The range of concentrations as the tables show it (3 significant digits)."""
        return _span_text(self.concentration, ".3g")

    def cells(self) -> list[str]:
        """The species, points, depths and concentrations, as the tables show them."""
        return [self.species, f"{self.points:,}", self.depth_text, self.concentration_text]


@attrs.frozen(kw_only=True)
class SIMSSummary:
    """A SIMS result in brief: one `ProfileSummary` per depth profile."""

    data_id: str
    profiles: tuple[ProfileSummary, ...]

    @classmethod
    def of(cls, result: SIMSResult) -> SIMSSummary:
        """The summary of ``result``."""
        profiles = tuple(ProfileSummary.of(p) for p in result.depth_profiles)
        return cls(data_id=result.data_id, profiles=profiles)

    @property
    def points(self) -> int:
        """The points of all the profiles."""
        return sum(profile.points for profile in self.profiles)

    def describe(self) -> str:
        """One line, e.g. ``2 depth profiles (B, P), 1,234 points``."""
        count = len(self.profiles)
        if not count:
            return "no depth profiles"
        species = ", ".join(profile.species for profile in self.profiles)
        noun = "depth profile" + "s" * (count != 1)
        return f"{count} {noun} ({species}), {self.points:,} points"


@attrs.frozen(kw_only=True)
class OESSummary:
    """An OES result in brief.

    Attributes:
        data_id: The data entry id.
        spectrum_type: The kind of spectrum.
        points: The number of points of the wavelength grid.
        wavelengths: The range of the wavelengths, None when none is finite.
        spectra: The spectra captured, e.g. ``("sample", "dark", "scope_corrected")``.
        missing: The spectra not captured, e.g. ``("reference",)``.
        peaks: The number of detected peaks.
        elements: The elements of the peaks and their number of peaks, by element.
        constraint: The constraint mode, with the constrained elements if any.
        last_updated: When the result was last updated.
    """

    data_id: str
    spectrum_type: str
    points: int
    wavelengths: Span | None
    spectra: tuple[str, ...]
    missing: tuple[str, ...]
    peaks: int
    elements: tuple[tuple[str, int], ...]
    constraint: str
    last_updated: datetime

    @classmethod
    def of(cls, result: OESResult) -> OESSummary:
        """The summary of ``result``."""
        captured = tuple(n for n in _OPTIONAL_SPECTRA if getattr(result, n) is not None)
        counts = Counter(peak.element for peak in result.detected_peaks)
        constraint = result.constraint_mode
        if result.constrained_elements:
            constraint += f" ({', '.join(result.constrained_elements)})"
        return cls(
            data_id=result.data_id,
            spectrum_type=result.spectrum_type,
            points=len(result.wavelengths),
            wavelengths=Span.of(result.wavelengths, result.wavelength_unit),
            spectra=("sample", *captured, "scope_corrected"),
            missing=tuple(n for n in _OPTIONAL_SPECTRA if n not in captured),
            peaks=len(result.detected_peaks),
            elements=tuple(sorted(counts.items())),
            constraint=constraint,
            last_updated=result.last_updated,
        )

    def rows(self, max_elements: int | None = None) -> list[list[str]]:
        """The summary as ``[label, value]`` rows, as the tables show it.

        Args:
            max_elements: List at most this many elements (the rest are counted);
                all of them when None.
        """
        elements = [f"{element} ({n})" for element, n in self.elements]
        if max_elements is not None and len(elements) > max_elements:
            more = len(elements) - max_elements
            elements = [*elements[:max_elements], f"\N{HORIZONTAL ELLIPSIS} {more} more"]
        spectra = ", ".join(self.spectra)
        if self.missing:
            spectra += f" (no {' or '.join(self.missing)})"
        return [
            ["spectrum type", self.spectrum_type],
            ["points", f"{self.points:,}"],
            ["wavelengths", _span_text(self.wavelengths)],
            ["spectra", spectra],
            ["peaks", f"{self.peaks:,}"],
            ["elements", ", ".join(elements)],
            ["constraint", self.constraint],
            ["last updated", self.last_updated.isoformat(timespec="seconds")],
        ]

    def describe(self) -> str:
        """One line, e.g. ``2,048 points, 12 peaks (Ga, In, N2)``."""
        elements = ", ".join(element for element, _ in self.elements)
        return f"{self.points:,} points, {self.peaks:,} peaks ({elements})"


@attrs.frozen(kw_only=True)
class SpectrumSummary:
    """An XPS, XRD, photoluminescence or Raman result in brief: its axis, details and peaks.

    Attributes:
        data_id: The data entry id.
        technique: The technique, e.g. ``"XPS"``.
        points: The number of points of the spectrum.
        axis_name: What the axis measures, e.g. ``"binding energy"``.
        axis: The range of the axis and its unit (``"eV"``, ``"°"``, ``"cm⁻¹"``), None when
            no value is finite.
        intensity: The range of the intensities, None when none is finite.
        details: ``(label, value)`` of what else the result says: the radiation of an XRD
            scan, the excitation of a photoluminescence spectrum, an XPS composition...
        peak_header: The columns of the peaks, with their units, e.g. ``"binding energy (eV)"``.
        peaks: One row of text per detected peak, under ``peak_header``.
        last_updated: When the result was last updated, if known.

    Example:
        >>> print(xps.summary().describe())  # doctest: +SKIP
        2,401 points, binding energy 0 to 1200 eV, 6 peaks
    """

    data_id: str
    technique: str
    points: int
    axis_name: str
    axis: Span | None
    intensity: Span | None
    details: tuple[tuple[str, str], ...] = ()
    peak_header: tuple[str, ...] = ()
    peaks: tuple[tuple[str, ...], ...] = ()
    last_updated: datetime | None = None

    @property
    def axis_label(self) -> str:
        """The axis's name with its unit, e.g. ``"binding energy (eV)"``."""
        unit = self.axis.unit if self.axis is not None else ""
        return f"{self.axis_name} ({unit})" if unit else self.axis_name

    def rows(self) -> list[list[str]]:
        """The summary as ``[label, value]`` rows, as the tables show it (peaks apart)."""
        axis = None if self.axis is None else attrs.evolve(self.axis, unit="")  # in the label
        rows = [
            ["points", f"{self.points:,}"],
            [self.axis_label, _span_text(axis)],
            ["intensity", _span_text(self.intensity)],
            *([label, value] for label, value in self.details),
            ["peaks", f"{len(self.peaks):,}"],
        ]
        if self.last_updated is not None:
            rows.append(["last updated", self.last_updated.isoformat(timespec="seconds")])
        return rows

    def describe(self) -> str:
        """One line: points, the axis's range and unit, peaks (``2,401 points, ..., 6 peaks``)."""
        count = len(self.peaks)
        axis = "" if self.axis is None else f", {self.axis_name} {self.axis.format()}"
        return f"{self.points:,} points{axis}, {count:,} peak{'s' * (count != 1)}"

    def _repr_html_(self) -> str:
        caption = f"{self.technique} · {self.data_id}"
        page = html_table(caption, None, self.rows())
        if self.peaks:
            rows: list[Sequence[str]] = list(self.peaks[:HTML_ROWS])
            if len(self.peaks) > HTML_ROWS:
                more = f"\N{HORIZONTAL ELLIPSIS} {len(self.peaks) - HTML_ROWS} more"
                rows.append([more, *[""] * (len(self.peak_header) - 1)])
            page += html_table("detected peaks", self.peak_header, rows)
        return page


def html_table(caption: str, header: Sequence[str] | None, rows: Sequence[Sequence[str]]) -> str:
    """A small HTML table; every cell is escaped. Without a header, a key/value table."""
    parts = ["<table>", f"<caption>{html.escape(caption)}</caption>"]
    if header is not None:
        cells = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        parts.append(f"<thead><tr>{cells}</tr></thead>")
    parts.append("<tbody>")
    for row in rows:
        if header is None:  # a key/value table: the key is a row header
            key, *values = row
            cells = f'<th style="text-align:left">{html.escape(key)}</th>'
            cells += "".join(f'<td style="text-align:left">{html.escape(v)}</td>' for v in values)
        else:
            cells = "".join(f"<td>{html.escape(v)}</td>" for v in row)
        parts.append(f"<tr>{cells}</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def brief(value: Any) -> str:
    """A value as one short cell of a table (an array as its length and range)."""
    return _brief(value)


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def field_rows(result: Model) -> list[list[str]]:
    """A result of any kind as ``[field, value]`` rows, its ``data_id`` and None fields left out.

    An array is shown as its length and range, a list as its length, an object
    as its first keys and values.

    Example:
        >>> field_rows(xps)[0]  # doctest: +SKIP
        ['binding energies', '3 values, 280 \N{EN DASH} 290']
    """
    model = type(result)
    if not attrs.has(model):
        return []
    return [
        [field.name.replace("_", " "), _brief(value)]
        for field in attrs.fields(model)
        if field.name != "data_id" and (value := getattr(result, field.name)) is not None
    ]


def peak_table(result: Model) -> tuple[list[str], list[list[str]]]:
    """The detected peaks of a result as a header and rows (none when it has no peaks).

    The columns are the fields the peaks were received with, in order of appearance.
    """
    from ._techniques import _peak_records

    records = _peak_records(result.to_dict().get("detected_peaks"))
    header = list(dict.fromkeys(itertools.chain.from_iterable(records)))
    rows = [["" if r.get(key) is None else _brief(r[key]) for key in header] for r in records]
    return header, rows


def _brief(value: Any) -> str:
    if isinstance(value, FloatArray):
        span = Span.of(value, "")
        count = f"{len(value):,} value{'s' * (len(value) != 1)}"
        return count if span is None else f"{count}, {span.format()}"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return f"{len(value):,} item{'s' * (len(value) != 1)}"
    if isinstance(value, Mapping):
        text = ", ".join(f"{key}: {_brief(item)}" for key, item in value.items())
    elif attrs.has(type(value)):
        text = ", ".join(f"{key}: {_brief(item)}" for key, item in value.to_dict().items())
    else:
        text = str(value)
    return text if len(text) <= _CELL else text[: _CELL - 1] + "\N{HORIZONTAL ELLIPSIS}"
