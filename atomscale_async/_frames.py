"""NumPy arrays and pandas frames of SIMS and OES results (the ``pandas`` extra).

Importing this module needs neither numpy nor pandas: each function checks for
them (raising ``MissingExtraError``) and imports them when called.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ._generated.models import OESResult, SIMSResult
from ._optional import require

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

    from ._arrays import FloatArray
    from ._generated.models import SIMSDepthProfile

    FloatVector = npt.NDArray[np.float64]
    FloatMatrix = npt.NDArray[np.float64]

__all__ = [
    "OES_COLUMNS",
    "OES_SPECTRA",
    "PEAK_COLUMNS",
    "SIMS_COLUMNS",
    "oes_frame",
    "oes_to_numpy",
    "peaks_frame",
    "profile_to_numpy",
    "results_to_frames",
    "sims_frame",
]

#: Columns of ``SIMSResult.to_pandas()``.
SIMS_COLUMNS = ("species", "depth", "depth_units", "concentration", "concentration_units")
#: The intensity arrays of an OES result, in column order.
OES_SPECTRA = ("sample", "reference", "dark", "scope_corrected")
#: Columns of ``OESResult.to_pandas()``.
OES_COLUMNS = ("wavelength", *OES_SPECTRA)
#: Columns of ``OESResult.peaks_frame()``.
PEAK_COLUMNS = ("peak_id", "wavelength_nm", "element")

_STR_COLUMNS = frozenset(
    {
        "data_id",
        "species",
        "depth_units",
        "concentration_units",
        "wavelength_unit",
        "peak_id",
        "element",
    }
)


def _require_numpy(feature: str) -> None:
    require(feature, "pandas", "numpy")


def _require_pandas(feature: str) -> None:
    require(feature, "pandas", "pandas", "numpy")


def view(values: FloatArray) -> FloatVector:
    """A read-only, zero-copy float64 view of a ``FloatArray`` (numpy must be importable)."""
    import numpy as np

    out: FloatVector = np.asarray(values, dtype=np.float64)
    out.flags.writeable = False
    return out


def _check_length(owner: str, field: str, values: FloatArray, expected: int, of: str) -> None:
    if len(values) != expected:
        raise ValueError(
            f"{owner}: {field} has {len(values)} values but {of} has {expected}; "
            "the arrays must have the same length"
        )


def profile_to_numpy(profile: SIMSDepthProfile) -> tuple[FloatVector, FloatVector]:
    """``(depths, concentrations)`` of a profile as read-only, zero-copy float64 arrays."""
    _require_numpy("SIMSDepthProfile.to_numpy()")
    _check_length(
        f"SIMS profile {profile.species_name!r} of {profile.data_id}",
        "concentrations",
        profile.concentrations,
        len(profile.depths),
        "depths",
    )
    return view(profile.depths), view(profile.concentrations)


def _spectrum(result: OESResult, name: str) -> FloatVector:
    """One intensity array of ``result``; NaN when it is missing (None or empty)."""
    import numpy as np

    values: FloatArray | None = getattr(result, name)
    points = len(result.wavelengths)
    if values is None or (len(values) == 0 and points):
        missing: FloatVector = np.full(points, np.nan)
        missing.flags.writeable = False
        return missing
    _check_length(f"OES result {result.data_id}", name, values, points, "wavelengths")
    return view(values)


def oes_to_numpy(
    result: OESResult, spectrum: str = "scope_corrected"
) -> tuple[FloatVector, FloatVector]:
    """``(wavelengths, intensities)`` of one spectrum of ``result`` as float64 arrays."""
    _require_numpy("OESResult.to_numpy()")
    if spectrum not in OES_SPECTRA:
        raise ValueError(f"spectrum must be one of {', '.join(OES_SPECTRA)}; got {spectrum!r}")
    return view(result.wavelengths), _spectrum(result, spectrum)


def _frame(columns: dict[str, Any]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(
        {
            name: pd.Series(values, dtype=str if name in _STR_COLUMNS else "float64", copy=True)
            for name, values in columns.items()
        }
    )


def _repeat(labels: Sequence[str], counts: Sequence[int]) -> Any:
    import numpy as np

    return np.repeat(np.array(labels, dtype=object), np.array(counts, dtype=np.intp))


def _concat(parts: list[FloatVector]) -> FloatVector:
    import numpy as np

    return np.concatenate(parts) if parts else np.empty(0)


def _sims_columns(results: Sequence[SIMSResult], *, with_data_id: bool) -> dict[str, Any]:
    ids: list[str] = []
    species: list[str] = []
    depth_units: list[str] = []
    concentration_units: list[str] = []
    counts: list[int] = []
    depths: list[FloatVector] = []
    concentrations: list[FloatVector] = []
    for result in results:
        for profile in result.depth_profiles:
            depth, concentration = profile_to_numpy(profile)
            ids.append(result.data_id)
            species.append(profile.species_name)
            depth_units.append(profile.depth_units)
            concentration_units.append(profile.concentration_units)
            counts.append(len(depth))
            depths.append(depth)
            concentrations.append(concentration)
    columns: dict[str, Any] = {"data_id": _repeat(ids, counts)} if with_data_id else {}
    columns.update(
        species=_repeat(species, counts),
        depth=_concat(depths),
        depth_units=_repeat(depth_units, counts),
        concentration=_concat(concentrations),
        concentration_units=_repeat(concentration_units, counts),
    )
    return columns


def _units(result: SIMSResult) -> dict[str, str | None]:
    def common(values: set[str]) -> str | None:
        return values.pop() if len(values) == 1 else None

    profiles = result.depth_profiles
    return {
        "depth": common({p.depth_units for p in profiles}),
        "concentration": common({p.concentration_units for p in profiles}),
    }


def sims_frame(result: SIMSResult) -> pd.DataFrame:
    """The tidy frame of ``SIMSResult.to_pandas()``."""
    _require_pandas("SIMSResult.to_pandas()")
    frame = _frame(_sims_columns([result], with_data_id=False))
    frame.attrs.update(data_id=result.data_id, units=_units(result))
    return frame


def _oes_columns(results: Sequence[OESResult], *, with_data_id: bool) -> dict[str, Any]:
    ids: list[str] = []
    units: list[str] = []
    counts: list[int] = []
    arrays: dict[str, list[FloatVector]] = {name: [] for name in OES_COLUMNS}
    for result in results:
        ids.append(result.data_id)
        units.append(result.wavelength_unit)
        counts.append(len(result.wavelengths))
        arrays["wavelength"].append(view(result.wavelengths))
        for name in OES_SPECTRA:
            arrays[name].append(_spectrum(result, name))
    columns: dict[str, Any] = {}
    if with_data_id:
        columns.update(data_id=_repeat(ids, counts))
    columns["wavelength"] = _concat(arrays["wavelength"])
    if with_data_id:
        columns["wavelength_unit"] = _repeat(units, counts)
    for name in OES_SPECTRA:
        columns[name] = _concat(arrays[name])
    return columns


def oes_frame(result: OESResult) -> pd.DataFrame:
    """The frame of ``OESResult.to_pandas()``: one row per wavelength."""
    _require_pandas("OESResult.to_pandas()")
    frame = _frame(_oes_columns([result], with_data_id=False))
    frame.attrs.update(data_id=result.data_id, units={"wavelength": result.wavelength_unit})
    return frame


def _peak_columns(results: Sequence[OESResult], *, with_data_id: bool) -> dict[str, Any]:
    peaks = [(result.data_id, peak) for result in results for peak in result.detected_peaks]
    columns: dict[str, Any] = {"data_id": [i for i, _ in peaks]} if with_data_id else {}
    columns.update(
        peak_id=[p.peak_id for _, p in peaks],
        wavelength_nm=[p.wavelength_nm for _, p in peaks],
        element=[p.element for _, p in peaks],
    )
    return columns


def peaks_frame(result: OESResult) -> pd.DataFrame:
    """The frame of ``OESResult.peaks_frame()``: one row per detected peak."""
    _require_pandas("OESResult.peaks_frame()")
    frame = _frame(_peak_columns([result], with_data_id=False))
    frame.attrs.update(data_id=result.data_id, units={"wavelength_nm": "nm"})
    return frame


def results_to_frames(results: Iterable[object]) -> dict[str, pd.DataFrame]:
    """Gather a bulk fetch's results into one pandas frame per kind of result.

    Each frame starts with a ``data_id`` column, so one frame holds every
    result of its kind; select one with ``frame[frame.data_id == some_id]``.
    Results of another kind, and the exceptions of ``errors="return"``, are
    skipped; outcomes of ``client.iter_results`` are unwrapped. Every key is
    always present (an empty frame keeps its columns):

    - ``"sims"``: ``data_id, species, depth, depth_units, concentration,
      concentration_units`` (one row per point of every depth profile);
    - ``"oes"``: ``data_id, wavelength, wavelength_unit, sample, reference,
      dark, scope_corrected`` (one row per wavelength; a spectrum that was
      not captured is NaN);
    - ``"oes_peaks"``: ``data_id, peak_id, wavelength_nm, element``.

    Args:
        results: What ``client.get(data_ids)`` returns (any iterable of results).

    Returns:
        The frames, keyed ``"sims"``, ``"oes"`` and ``"oes_peaks"``.

    Raises:
        MissingExtraError: pandas or numpy is not installed.

    Example:
        >>> results = await client.get(data_ids, errors="return")  # doctest: +SKIP
        >>> frames = results_to_frames(results)  # doctest: +SKIP
        >>> frames["sims"].groupby(["data_id", "species"]).concentration.max()  # doctest: +SKIP
    """
    _require_pandas("results_to_frames()")
    sims: list[SIMSResult] = []
    oes: list[OESResult] = []
    for item in results:
        # An outcome of ``client.iter_results`` carries its result (None on failure).
        result = item if isinstance(item, SIMSResult | OESResult) else getattr(item, "result", None)
        if isinstance(result, SIMSResult):
            sims.append(result)
        elif isinstance(result, OESResult):
            oes.append(result)
    return {
        "sims": _frame(_sims_columns(sims, with_data_id=True)),
        "oes": _frame(_oes_columns(oes, with_data_id=True)),
        "oes_peaks": _frame(_peak_columns(oes, with_data_id=True)),
    }
