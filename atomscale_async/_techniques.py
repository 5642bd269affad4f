"""Behaviour of the XPS, XRD, photoluminescence and Raman results (their mixins).

Their endpoints are inferred from the platform's public SDK, so the loosely
described ``detected_peaks`` (XPS, photoluminescence, Raman) stay the JSON
received; ``peaks_frame()`` reads the shapes seen (a list of objects, an object
holding such a list, or label -> position) and never fails on another shape.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from ._optional import require
from ._summary import Span, SpectrumSummary, brief

if TYPE_CHECKING:
    from datetime import datetime

    import pandas as pd
    from matplotlib.axes import Axes

    from ._arrays import FloatArray
    from ._frames import FloatVector
    from ._generated.models import (
        DataEntry,
        PhotoluminescenceResult,
        RamanResult,
        XPSResult,
        XRDResult,
    )

__all__ = [
    "PhotoluminescenceResultMixin",
    "RamanResultMixin",
    "XPSResultMixin",
    "XRDResultMixin",
    "radiation",
]

_SIZE = (8.0, 4.5)
#: Planck's constant times the speed of light (eV nm): a photon of λ nm carries HC / λ eV.
_HC_EV_NM = 1239.84
#: The K-alpha lines of the usual X-ray anodes (Å): K-alpha-1 and the K-alpha average.
_ANODES = (
    ("Cu", (1.5406, 1.5418)),
    ("Mo", (0.7093, 0.7107)),
    ("Co", (1.7890, 1.7903)),
    ("Cr", (2.2897, 2.2910)),
    ("Fe", (1.9360, 1.9373)),
    ("Ag", (0.5594, 0.5609)),
)


def radiation(wavelength_angstrom: float) -> str:
    """The X-rays of a wavelength, as a figure or table states them.

    Example:
        >>> radiation(1.5406) == "Cu K\N{GREEK SMALL LETTER ALPHA}, λ = 1.5406 Å"
        True
        >>> radiation(1.2)
        'λ = 1.2 Å'
    """
    text = f"λ = {wavelength_angstrom:g} Å"
    for anode, lines in _ANODES:
        if any(abs(wavelength_angstrom - line) < 5e-4 for line in lines):
            return f"{anode} K\N{GREEK SMALL LETTER ALPHA}, {text}"
    return text


class _Spectrum:
    """What the four kinds share: one axis, one intensity array."""

    __slots__ = ()
    _axis_field = ""
    _axis_column = ""
    #: What the axis measures, as the tables and plots name it.
    _axis_name = ""
    #: The columns of ``peaks_frame()`` when they do not depend on what was received.
    _peak_columns: tuple[str, ...] = ()

    if TYPE_CHECKING:  # fields of the generated models
        data_id: str
        intensities: FloatArray
        last_updated: datetime | None

    def _axis(self) -> FloatArray:
        return cast("FloatArray", getattr(self, self._axis_field))

    @property
    def _technique(self) -> str:
        return type(self).__name__.removesuffix("Result")

    def _axis_unit(self) -> str:
        """The unit of the axis, as the tables and plots write it."""
        return ""

    def _peak_headers(self) -> dict[str, str]:
        """The peaks' fields as the tables head them (with units), in the order shown."""
        return {}

    def _details(self) -> list[tuple[str, str]]:
        """``(label, value)`` of what else the result says, for its summary."""
        return []

    def summary(self) -> SpectrumSummary:
        """The result in brief: its axis and unit, intensities, details and peaks.

        Example:
            >>> print(result.summary().describe())  # doctest: +SKIP
            2,401 points, binding energy 0 to 1200 eV, 6 peaks
        """
        records = self._peak_rows()
        received = dict.fromkeys(k for r in records for k in r if r[k] is not None)
        named = self._peak_headers()
        keys = [k for k in named if k in received] + [k for k in received if k not in named]
        return SpectrumSummary(
            data_id=self.data_id,
            technique=self._technique,
            points=len(self._axis()),
            axis_name=self._axis_name,
            axis=Span.of(self._axis(), self._axis_unit()),
            intensity=Span.of(self.intensities, ""),
            details=tuple(self._details()),
            peak_header=tuple(named.get(k, k.replace("_", " ")) for k in keys),
            peaks=tuple(
                tuple("" if r.get(k) is None else brief(r[k]) for k in keys) for r in records
            ),
            last_updated=self.last_updated,
        )

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    def __repr__(self) -> str:
        axis = self._axis()
        text = f"{type(self).__name__}(data_id={self.data_id!r}, points={len(axis)}"
        span = _span(axis)
        if span:
            text += f", {self._axis_column}={span}"
        peaks = self._peak_count()
        if peaks is not None:
            text += f", peaks={peaks}"
        return text + ")"

    def _peak_count(self) -> int | None:
        peaks = getattr(self, "detected_peaks", None)
        return None if peaks is None else len(_peak_records(peaks))

    def to_numpy(self) -> tuple[FloatVector, FloatVector]:
        """The axis and the intensities as read-only float64 numpy arrays (no copy).

        Returns:
            ``(axis, intensities)``, two arrays of the same length.

        Raises:
            MissingExtraError: numpy is not installed.
            ValueError: the two arrays differ in length.

        Example:
            >>> axis, intensities = result.to_numpy()  # doctest: +SKIP
            >>> axis[intensities.argmax()]  # where the strongest signal is  # doctest: +SKIP
        """
        from ._frames import view

        require(f"{type(self).__name__}.to_numpy()", "pandas", "numpy")
        axis = self._axis()
        intensities = self.intensities
        if len(axis) != len(intensities):
            raise ValueError(
                f"{type(self).__name__} {self.data_id!r}: {len(intensities)} "
                f"intensities for {len(axis)} {self._axis_field}"
            )
        return view(axis), view(intensities)

    def to_pandas(self) -> pd.DataFrame:
        """The spectrum as a frame: the axis column and ``intensity``.

        ``frame.attrs`` holds ``data_id``.

        Raises:
            MissingExtraError: pandas is not installed
                (the ``pandas`` extra).
            ValueError: the axis and the intensities differ in length.

        Example:
            >>> result.to_pandas().nlargest(3, "intensity")  # doctest: +SKIP
        """
        require(f"{type(self).__name__}.to_pandas()", "pandas", "pandas", "numpy")
        import pandas as pd

        axis, intensities = self.to_numpy()
        frame = pd.DataFrame({self._axis_column: axis, "intensity": intensities})
        frame.attrs["data_id"] = self.data_id
        return frame

    def peaks_frame(self) -> pd.DataFrame:
        """The detected peaks as a frame, one row per peak, one column per field received.

        Raises:
            MissingExtraError: pandas is not installed
                (the ``pandas`` extra).

        Example:
            >>> result.peaks_frame()  # doctest: +SKIP
        """
        require(f"{type(self).__name__}.peaks_frame()", "pandas", "pandas", "numpy")
        import pandas as pd

        frame = pd.DataFrame(self._peak_rows())
        frame.attrs["data_id"] = self.data_id
        return frame

    def _peak_rows(self) -> list[dict[str, Any]]:
        """The rows of ``peaks_frame()``, one dict per peak."""
        return _peak_records(getattr(self, "detected_peaks", None))

    @classmethod
    def _frames_of(cls, results: Sequence[Any]) -> dict[str, pd.DataFrame]:
        """The frames of ``results_to_frames``: ``{"": spectra, "peaks": peaks}``."""
        from ._frames import spectrum_frames

        return spectrum_frames(results, cls._axis_column, cls._peak_columns)

    def _sample(self) -> str | None:
        """The sample the result names itself, when no catalogue entry is given."""
        return None

    def _draw(self, ax: Axes | None, xlabel: str, entry: DataEntry | None) -> Axes:
        require(f"{type(self).__name__}.plot()", "plot", "matplotlib", "numpy")
        from ._plots import _new_axes, plot_title, set_title

        title = plot_title(self._technique, self.data_id, entry, self._sample())
        axes = _new_axes(ax, _SIZE)
        axis, intensities = self.to_numpy()
        axes.plot(axis, intensities, linewidth=0.9)
        axes.set_xlabel(xlabel)
        axes.set_ylabel("Intensity (counts)")
        set_title(axes, title)
        return axes

    def _mark(self, ax: Axes, positions: Sequence[tuple[float, str]]) -> None:
        from ._plots import mark_spectrum_peaks

        axis, intensities = self.to_numpy()
        mark_spectrum_peaks(ax, axis, intensities, positions)


class XPSResultMixin(_Spectrum):
    """Behaviour of ``XPSResult``."""

    __slots__ = ()
    _axis_field = "binding_energies"
    _axis_column = "binding_energy"
    _axis_name = "binding energy"

    def _axis_unit(self) -> str:
        return "eV"

    def _peak_headers(self) -> dict[str, str]:
        return {
            "binding_energy": "binding energy (eV)",
            "element": "element",
            "orbital": "orbital",
            "peak_area": "area",
            "fwhm": "FWHM (eV)",
        }

    def _details(self) -> list[tuple[str, str]]:
        result = cast("XPSResult", self)
        details = []
        if result.predicted_composition:
            shares = sorted(result.predicted_composition.items(), key=lambda item: -item[1])
            text = ", ".join(f"{element} {share:.1%}" for element, share in shares)
            details.append(("composition", text))
        if result.set_elements is not None:
            details.append(("elements set by hand", brief(result.set_elements)))
        return details

    def plot(
        self, ax: Axes | None = None, *, peaks: bool = True, entry: DataEntry | None = None
    ) -> Axes:
        """Plot intensity against binding energy, decreasing left to right (the XPS convention).

        Args:
            ax: The matplotlib axes to draw in; a new figure when None.
            peaks: Mark the detected peaks with their element and orbital.
            entry: The result's catalogue entry (from ``search``), to name its sample in
                the title.

        Returns:
            The axes drawn in.

        Raises:
            MissingExtraError: matplotlib is not installed
                (the ``plot`` extra).
            ValueError: ``entry`` is the entry of another data id.

        Example:
            >>> ax = xps.plot(entry=found[0])  # doctest: +SKIP
        """
        axes = self._draw(ax, "Binding energy (eV)", entry)
        low, high = sorted(axes.get_xlim())
        axes.set_xlim(high, low)
        if peaks:
            marks = []
            for record in _peak_records(cast("XPSResult", self).detected_peaks):
                at = _number(record.get("binding_energy"))
                if at is not None:
                    label = " ".join(
                        str(record[k]) for k in ("element", "orbital") if record.get(k)
                    )
                    marks.append((at, label))
            self._mark(axes, marks)
        return axes


class XRDResultMixin(_Spectrum):
    """Behaviour of ``XRDResult``."""

    __slots__ = ()
    _axis_field = "two_theta"
    _axis_column = "two_theta"
    _axis_name = "2θ"
    _peak_columns = ("two_theta", "intensity", "d_spacing_angstrom", "prominence", "fwhm_degrees")

    def _axis_unit(self) -> str:
        unit = cast("XRDResult", self).two_theta_unit
        return "°" if unit in ("degrees", "degree", "deg") else unit

    def _peak_headers(self) -> dict[str, str]:
        unit = self._axis_unit()
        return {
            "two_theta": f"2θ ({unit})",
            "intensity": "intensity",
            "d_spacing_angstrom": "d-spacing (Å)",
            "prominence": "prominence",
            "fwhm_degrees": "FWHM (°)",
        }

    def _details(self) -> list[tuple[str, str]]:
        result = cast("XRDResult", self)
        details = [("radiation", radiation(result.wavelength_angstrom))]
        for key, value in (result.spectral_metadata or {}).items():
            details.append((str(key).replace("_", " "), brief(value)))
        return details

    def _sample(self) -> str | None:
        sample = (cast("XRDResult", self).spectral_metadata or {}).get("sample")
        return sample if isinstance(sample, str) and sample else None

    def _peak_count(self) -> int | None:
        peaks = cast("XRDResult", self).detected_peaks
        return None if peaks is None else len(peaks)

    def peaks_frame(self) -> pd.DataFrame:
        """The detected reflections as a frame, one row per reflection.

        Columns: ``two_theta``, ``intensity``, ``d_spacing_angstrom``, ``prominence``,
        ``fwhm_degrees``.

        Raises:
            MissingExtraError: pandas is not installed
                (the ``pandas`` extra).

        Example:
            >>> xrd.peaks_frame().sort_values("intensity").tail(3)  # doctest: +SKIP
        """
        require("XRDResult.peaks_frame()", "pandas", "pandas", "numpy")
        import pandas as pd

        frame = pd.DataFrame(self._peak_rows(), columns=list(self._peak_columns), dtype="float64")
        frame.attrs["data_id"] = cast("XRDResult", self).data_id
        return frame

    def _peak_rows(self) -> list[dict[str, Any]]:
        peaks = cast("XRDResult", self).detected_peaks or []
        return [{c: getattr(p, c) for c in self._peak_columns} for p in peaks]

    def plot(
        self, ax: Axes | None = None, *, peaks: bool = True, entry: DataEntry | None = None
    ) -> Axes:
        """Plot intensity against 2θ (in the result's unit), the detected reflections marked.

        The x label states the radiation (``Cu K-alpha, λ = 1.5406 Å``); the title names the
        sample (the entry's, else the one in ``spectral_metadata``) and the data id.

        Args:
            ax: The matplotlib axes to draw in; a new figure when None.
            peaks: Mark the detected reflections with their d-spacing.
            entry: The result's catalogue entry (from ``search``), to name its sample in
                the title.

        Returns:
            The axes drawn in.

        Raises:
            MissingExtraError: matplotlib is not installed
                (the ``plot`` extra).
            ValueError: ``entry`` is the entry of another data id.

        Example:
            >>> ax = xrd.plot()  # doctest: +SKIP
        """
        result = cast("XRDResult", self)
        xlabel = f"2θ ({self._axis_unit()}) · {radiation(result.wavelength_angstrom)}"
        axes = self._draw(ax, xlabel, entry)
        if _positive(result.intensities):
            axes.set_yscale("log")  # reflections span decades
        if peaks:
            marks = [
                (
                    p.two_theta,
                    "" if p.d_spacing_angstrom is None else f"{p.d_spacing_angstrom:.3f} Å",
                )
                for p in result.detected_peaks or []
            ]
            self._mark(axes, marks)
        return axes


class PhotoluminescenceResultMixin(_Spectrum):
    """Behaviour of ``PhotoluminescenceResult``."""

    __slots__ = ()
    _axis_field = "energies"
    _axis_column = "energy"
    _axis_name = "energy"

    def _axis_unit(self) -> str:
        return "eV"

    def _peak_headers(self) -> dict[str, str]:
        return {
            "label": "band",
            "energy_ev": "energy (eV)",
            "energy": "energy (eV)",
            "intensity": "intensity",
        }

    def _details(self) -> list[tuple[str, str]]:
        peaks = cast("PhotoluminescenceResult", self).detected_peaks
        if not isinstance(peaks, Mapping):
            return []
        details = []
        for key, value in peaks.items():
            if _is_records(value):
                continue  # the bands themselves
            excitation = _number(value)
            if key == "excitation_nm" and excitation:
                energy = _HC_EV_NM / excitation
                details.append(("excitation", f"{excitation:g} nm ({energy:.2f} eV)"))
            else:
                details.append((str(key).replace("_", " "), brief(value)))
        return details

    def plot(
        self, ax: Axes | None = None, *, peaks: bool = True, entry: DataEntry | None = None
    ) -> Axes:
        """Plot intensity against photon energy (eV), the detected bands marked.

        Args:
            ax: The matplotlib axes to draw in; a new figure when None.
            peaks: Mark the detected bands that carry an energy.
            entry: The result's catalogue entry (from ``search``), to name its sample in
                the title.

        Returns:
            The axes drawn in.

        Raises:
            MissingExtraError: matplotlib is not installed
                (the ``plot`` extra).
            ValueError: ``entry`` is the entry of another data id.

        Example:
            >>> ax = pl.plot()  # doctest: +SKIP
        """
        axes = self._draw(ax, "Photon energy (eV)", entry)
        if peaks:
            marks = []
            for record in _peak_records(cast("PhotoluminescenceResult", self).detected_peaks):
                at = _number(record.get("energy_ev", record.get("energy")))
                if at is not None:
                    marks.append((at, str(record.get("label") or "")))
            self._mark(axes, marks)
        return axes


class RamanResultMixin(_Spectrum):
    """Behaviour of ``RamanResult``."""

    __slots__ = ()
    _axis_field = "raman_shift"
    _axis_column = "raman_shift"
    _axis_name = "Raman shift"

    def _axis_unit(self) -> str:
        return "cm⁻¹"

    def _peak_headers(self) -> dict[str, str]:
        return {"label": "mode", "position": "Raman shift (cm⁻¹)"}

    def _details(self) -> list[tuple[str, str]]:
        peaks = cast("RamanResult", self).detected_peaks
        if not isinstance(peaks, Mapping) or any(_is_records(v) for v in peaks.values()):
            return []
        # Label -> position holds the modes; a value that is no position says something else.
        return [
            (str(key).replace("_", " "), brief(value))
            for key, value in peaks.items()
            if _number(value) is None
        ]

    def plot(
        self, ax: Axes | None = None, *, peaks: bool = True, entry: DataEntry | None = None
    ) -> Axes:
        """Plot intensity against Raman shift (cm⁻¹), the detected modes marked.

        Args:
            ax: The matplotlib axes to draw in; a new figure when None.
            peaks: Mark the detected modes that carry a position.
            entry: The result's catalogue entry (from ``search``), to name its sample in
                the title.

        Returns:
            The axes drawn in.

        Raises:
            MissingExtraError: matplotlib is not installed
                (the ``plot`` extra).
            ValueError: ``entry`` is the entry of another data id.

        Example:
            >>> ax = raman.plot()  # doctest: +SKIP
        """
        axes = self._draw(ax, "Raman shift (cm$^{-1}$)", entry)
        if peaks:
            marks = []
            for record in _peak_records(cast("RamanResult", self).detected_peaks):
                at = _number(record.get("position"))
                if at is not None:
                    marks.append((at, str(record.get("label") or "")))
            self._mark(axes, marks)
        return axes


def _peak_records(peaks: Any) -> list[dict[str, Any]]:
    """The rows of loosely described peaks; a shape not seen before gives no rows.

    Seen: a list of objects, ``{"peaks": [...], ...}``, ``{label: position or text}``.
    """
    if isinstance(peaks, Mapping):
        nested = [v for v in peaks.values() if _is_records(v)]
        if len(nested) == 1:
            return [dict(r) for r in nested[0]]
        return [
            {"label": str(k), "position": v if _number(v) is not None else None}
            for k, v in peaks.items()
            if _number(v) is not None
        ]
    if _is_records(peaks):
        return [dict(r) for r in peaks]
    return []


def _is_records(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(r, Mapping) for r in value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _positive(values: Sequence[float]) -> bool:
    return bool(len(values)) and min(values) > 0


def _span(values: Sequence[float]) -> str:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return ""
    return f"{min(finite):g}..{max(finite):g}"
