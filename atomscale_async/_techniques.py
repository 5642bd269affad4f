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

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

    from ._arrays import FloatArray
    from ._frames import FloatVector
    from ._generated.models import (
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
]

_SIZE = (8.0, 4.5)


class _Spectrum:
    """What the four kinds share: one axis, one intensity array."""

    __slots__ = ()
    _axis_field = ""
    _axis_column = ""
    #: The columns of ``peaks_frame()`` when they do not depend on what was received.
    _peak_columns: tuple[str, ...] = ()

    if TYPE_CHECKING:  # fields of the generated models
        data_id: str
        intensities: FloatArray

    def _axis(self) -> FloatArray:
        return cast("FloatArray", getattr(self, self._axis_field))

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

    def _draw(self, ax: Axes | None, xlabel: str) -> Axes:
        require(f"{type(self).__name__}.plot()", "plot", "matplotlib")
        from ._plots import _new_axes

        axes = _new_axes(ax, _SIZE)
        axis, intensities = self.to_numpy()
        axes.plot(axis, intensities, linewidth=0.9)
        axes.set_xlabel(xlabel)
        axes.set_ylabel("Intensity (counts)")
        axes.set_title(f"{type(self).__name__.removesuffix('Result')} · {self.data_id}")
        return axes

    def _mark(self, ax: Axes, positions: Sequence[tuple[float, str]]) -> None:
        axis, intensities = self.to_numpy()
        if not len(axis):
            return
        for at, label in positions:
            if not math.isfinite(at):
                continue
            index = int(abs(axis - at).argmin())
            height = float(intensities[index])
            ax.plot([at], [height], marker="v", color="C3", markersize=5)
            if label:
                ax.annotate(
                    label,
                    (at, height),
                    xytext=(0, 6),
                    textcoords="offset points",
                    ha="center",
                    fontsize="small",
                )


class XPSResultMixin(_Spectrum):
    """Behaviour of ``XPSResult``."""

    __slots__ = ()
    _axis_field = "binding_energies"
    _axis_column = "binding_energy"

    def plot(self, ax: Axes | None = None, *, peaks: bool = True) -> Axes:
        """Plot intensity against binding energy, decreasing left to right (the XPS convention).

        Args:
            ax: The matplotlib axes to draw in; a new figure when None.
            peaks: Mark the detected peaks with their element and orbital.

        Returns:
            The axes drawn in.

        Raises:
            MissingExtraError: matplotlib is not installed
                (the ``plot`` extra).

        Example:
            >>> ax = xps.plot()  # doctest: +SKIP
        """
        axes = self._draw(ax, "Binding energy (eV)")
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
    _peak_columns = ("two_theta", "intensity", "d_spacing_angstrom", "prominence", "fwhm_degrees")

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

    def plot(self, ax: Axes | None = None, *, peaks: bool = True) -> Axes:
        """Plot intensity against 2θ (in the result's unit), the detected reflections marked.

        Args:
            ax: The matplotlib axes to draw in; a new figure when None.
            peaks: Mark the detected reflections with their d-spacing.

        Returns:
            The axes drawn in.

        Raises:
            MissingExtraError: matplotlib is not installed
                (the ``plot`` extra).

        Example:
            >>> ax = xrd.plot()  # doctest: +SKIP
        """
        result = cast("XRDResult", self)
        unit = (
            "°" if result.two_theta_unit in ("degrees", "degree", "deg") else result.two_theta_unit
        )
        axes = self._draw(ax, f"2θ ({unit})")
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

    def plot(self, ax: Axes | None = None, *, peaks: bool = True) -> Axes:
        """Plot intensity against photon energy (eV), the detected bands marked.

        Args:
            ax: The matplotlib axes to draw in; a new figure when None.
            peaks: Mark the detected bands that carry an energy.

        Returns:
            The axes drawn in.

        Raises:
            MissingExtraError: matplotlib is not installed
                (the ``plot`` extra).

        Example:
            >>> ax = pl.plot()  # doctest: +SKIP
        """
        axes = self._draw(ax, "Photon energy (eV)")
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

    def plot(self, ax: Axes | None = None, *, peaks: bool = True) -> Axes:
        """Plot intensity against Raman shift (cm⁻¹), the detected modes marked.

        Args:
            ax: The matplotlib axes to draw in; a new figure when None.
            peaks: Mark the detected modes that carry a position.

        Returns:
            The axes drawn in.

        Raises:
            MissingExtraError: matplotlib is not installed
                (the ``plot`` extra).

        Example:
            >>> ax = raman.plot()  # doctest: +SKIP
        """
        axes = self._draw(ax, "Raman shift (cm$^{-1}$)")
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
