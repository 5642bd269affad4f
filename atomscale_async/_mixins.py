"""Hand-written behaviour of generated models.

The generator makes a model inherit ``<Name>Mixin`` from this module when its
schema carries ``x-mixin: true``; add methods here, never in ``_generated/``.
Mixins hold no state (``__slots__ = ()``). With ``x-custom-repr: true`` attrs
leaves ``__repr__`` to the mixin.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, cast

from ._summary import HTML_ROWS as _HTML_ROWS
from ._summary import OESSummary, ProfileSummary, SIMSSummary
from ._summary import html_table as _table
from ._techniques import (
    PhotoluminescenceResultMixin,
    RamanResultMixin,
    XPSResultMixin,
    XRDResultMixin,
)

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

    from ._frames import FloatVector
    from ._generated.models import DataEntry, OESResult, SIMSDepthProfile, SIMSResult

__all__ = [
    "DataEntryMixin",
    "OESResultMixin",
    "PhotoluminescenceResultMixin",
    "RamanResultMixin",
    "SIMSDepthProfileMixin",
    "SIMSResultMixin",
    "XPSResultMixin",
    "XRDResultMixin",
]


class DataEntryMixin:
    """A catalogue entry's kind under its canonical name."""

    __slots__ = ()
    char_source_type: str

    @property
    def kind(self) -> str:
        """The entry's kind, canonical: ``photoluminescence`` for one stored as ``pl``.

        ``char_source_type`` keeps the name the catalogue sent.
        """
        from ._kinds import canonical_kind  # the kind table imports the models

        return canonical_kind(self.char_source_type)


class SIMSDepthProfileMixin:
    """Behaviour of ``SIMSDepthProfile``."""

    __slots__ = ()

    def __repr__(self) -> str:
        profile = cast("SIMSDepthProfile", self)
        return (
            f"SIMSDepthProfile(data_id={profile.data_id!r}, species_name={profile.species_name!r}, "
            f"points={len(profile.depths)}, depth_units={profile.depth_units!r}, "
            f"concentration_units={profile.concentration_units!r})"
        )

    def _repr_html_(self) -> str:
        profile = cast("SIMSDepthProfile", self)
        caption = f"SIMSDepthProfile {profile.species_name} · {profile.data_id}"
        return _table(caption, _PROFILE_HEADER, [ProfileSummary.of(profile).cells()])

    def to_numpy(self) -> tuple[FloatVector, FloatVector]:
        """The depths and concentrations as numpy arrays.

        The arrays are read-only views of the model's data (no copy); call
        ``.copy()`` on one to modify it. numpy comes with the ``pandas`` and
        ``plot`` extras.

        Returns:
            ``(depths, concentrations)``, two float64 arrays of the same length.

        Raises:
            MissingExtraError: numpy is not installed.
            ValueError: the two arrays have different lengths.

        Example:
            >>> depths, concentrations = profile.to_numpy()  # doctest: +SKIP
            >>> depths[concentrations.argmax()]  # depth of the peak concentration  # doctest: +SKIP
        """
        from ._frames import profile_to_numpy

        return profile_to_numpy(cast("SIMSDepthProfile", self))


class SIMSResultMixin:
    """Behaviour of ``SIMSResult``."""

    __slots__ = ()

    def __repr__(self) -> str:
        result = cast("SIMSResult", self)
        species = [p.species_name for p in result.depth_profiles]
        return f"SIMSResult(data_id={result.data_id!r}, species={species!r})"

    def summary(self) -> SIMSSummary:
        """The result in brief: each profile's species, points and ranges.

        Example:
            >>> print(result.summary().describe())  # doctest: +SKIP
            2 depth profiles (B, P), 1,234 points
        """
        return SIMSSummary.of(cast("SIMSResult", self))

    def _repr_html_(self) -> str:
        summary = self.summary()
        profiles = summary.profiles
        rows = [p.cells() for p in profiles[:_HTML_ROWS]]
        if not profiles:
            rows.append(["no depth profiles", "", "", ""])
        elif len(profiles) > _HTML_ROWS:
            rows.append([f"… {len(profiles) - _HTML_ROWS} more", "", "", ""])
        return _table(f"SIMSResult · {summary.data_id}", _PROFILE_HEADER, rows)

    def to_pandas(self) -> pd.DataFrame:
        """The depth profiles as one tidy frame, one row per point of each profile.

        Columns: ``species``, ``depth``, ``depth_units``, ``concentration``,
        ``concentration_units``. ``frame.attrs`` holds ``data_id`` and
        ``units``: ``{"depth": ..., "concentration": ...}``, each None when the
        profiles disagree.

        Raises:
            MissingExtraError: pandas is not installed
                (the ``pandas`` extra).
            ValueError: a profile's depths and concentrations differ in length.

        Example:
            >>> frame = result.to_pandas()  # doctest: +SKIP
            >>> frame.pivot(  # doctest: +SKIP
            ...     index="depth", columns="species", values="concentration"
            ... )
        """
        from ._frames import sims_frame

        return sims_frame(cast("SIMSResult", self))

    @classmethod
    def _frames_of(cls, results: Sequence[SIMSResult]) -> dict[str, pd.DataFrame]:
        """The frames of ``results_to_frames``: ``{"": sims}``."""
        from ._frames import sims_frames

        return sims_frames(results)

    def plot(
        self,
        ax: Axes | None = None,
        *,
        species: str | Iterable[str] | None = None,
        entry: DataEntry | None = None,
    ) -> Axes:
        """Plot concentration (log scale) against depth, one line per species.

        Args:
            ax: The matplotlib axes to draw in; a new figure when None.
            species: Plot only this species (or these); all of them when None.
            entry: The result's catalogue entry (from ``search``), to name its sample in
                the title.

        Returns:
            The axes drawn in.

        Raises:
            MissingExtraError: matplotlib is not installed
                (the ``plot`` extra).
            ValueError: ``species`` names a species the result has no profile of, or
                ``entry`` is the entry of another data id.

        Example:
            >>> ax = result.plot()  # doctest: +SKIP
            >>> ax.figure.savefig("sims.png")  # doctest: +SKIP
        """
        from ._plots import plot_sims

        return plot_sims(cast("SIMSResult", self), ax, species=species, entry=entry)


class OESResultMixin:
    """Behaviour of ``OESResult``."""

    __slots__ = ()

    def __repr__(self) -> str:
        result = cast("OESResult", self)
        elements = sorted({p.element for p in result.detected_peaks})
        return (
            f"OESResult(data_id={result.data_id!r}, points={len(result.wavelengths)}, "
            f"wavelength_unit={result.wavelength_unit!r}, peaks={len(result.detected_peaks)}, "
            f"elements={elements!r})"
        )

    def summary(self) -> OESSummary:
        """The result in brief: its grid, spectra, peaks by element and constraint.

        Example:
            >>> print(result.summary().describe())  # doctest: +SKIP
            2,048 points, 12 peaks (Ga, In, N2)
        """
        return OESSummary.of(cast("OESResult", self))

    def _repr_html_(self) -> str:
        summary = self.summary()
        rows = summary.rows(max_elements=_HTML_ROWS)
        return _table(f"OESResult · {summary.data_id}", None, rows)

    def to_pandas(self) -> pd.DataFrame:
        """The spectra as a frame, one row per wavelength.

        Columns: ``wavelength``, ``sample``, ``reference``, ``dark``,
        ``scope_corrected``; a spectrum that was not captured is all NaN.
        ``frame.attrs`` holds ``data_id`` and ``units``: ``{"wavelength": ...}``.

        Raises:
            MissingExtraError: pandas is not installed
                (the ``pandas`` extra).
            ValueError: a spectrum's length differs from the wavelengths'.

        Example:
            >>> frame = result.to_pandas()  # doctest: +SKIP
            >>> window = frame.wavelength.between(400, 420)  # doctest: +SKIP
            >>> frame.loc[window, "scope_corrected"].max()  # doctest: +SKIP
        """
        from ._frames import oes_frame

        return oes_frame(cast("OESResult", self))

    def peaks_frame(self) -> pd.DataFrame:
        """The detected peaks as a frame: ``peak_id``, ``wavelength_nm``, ``element``.

        Raises:
            MissingExtraError: pandas is not installed
                (the ``pandas`` extra).

        Example:
            >>> result.peaks_frame().groupby("element").wavelength_nm.min()  # doctest: +SKIP
        """
        from ._frames import peaks_frame

        return peaks_frame(cast("OESResult", self))

    @classmethod
    def _frames_of(cls, results: Sequence[OESResult]) -> dict[str, pd.DataFrame]:
        """The frames of ``results_to_frames``: ``{"": oes, "peaks": oes_peaks}``."""
        from ._frames import oes_frames

        return oes_frames(results)

    def to_numpy(self, spectrum: str = "scope_corrected") -> tuple[FloatVector, FloatVector]:
        """The wavelengths and one spectrum as numpy arrays.

        The arrays are read-only views of the model's data (no copy); a
        spectrum that was not captured comes back as NaNs.

        Args:
            spectrum: ``"scope_corrected"``, ``"sample"``, ``"reference"`` or ``"dark"``.

        Returns:
            ``(wavelengths, intensities)``, two float64 arrays of the same length.

        Raises:
            MissingExtraError: numpy is not installed.
            ValueError: ``spectrum`` is not one of the four, or its length differs
                from the wavelengths'.

        Example:
            >>> wavelengths, intensities = result.to_numpy()  # doctest: +SKIP
            >>> wavelengths[intensities.argmax()]  # the strongest line  # doctest: +SKIP
        """
        from ._frames import oes_to_numpy

        return oes_to_numpy(cast("OESResult", self), spectrum)

    def plot(
        self, ax: Axes | None = None, *, peaks: bool = True, entry: DataEntry | None = None
    ) -> Axes:
        """Plot the scope-corrected spectrum, each detected peak marked with its element.

        Args:
            ax: The matplotlib axes to draw in; a new figure when None.
            peaks: Mark and label the detected peaks.
            entry: The result's catalogue entry (from ``search``), to name its sample in
                the title.

        Returns:
            The axes drawn in.

        Raises:
            MissingExtraError: matplotlib is not installed
                (the ``plot`` extra).

        Example:
            >>> ax = result.plot()  # doctest: +SKIP
            >>> ax.set_xlim(380, 460)  # zoom on the Ga and In lines  # doctest: +SKIP
        """
        from ._plots import plot_oes

        return plot_oes(cast("OESResult", self), ax, peaks=peaks, entry=entry)


_PROFILE_HEADER = ("species", "points", "depth", "concentration")
