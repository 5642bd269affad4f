"""NumPy arrays and pandas frames of results (the ``pandas`` extra).

Importing this module needs neither numpy nor pandas: each function checks for
them (raising ``MissingExtraError``) and imports them when called.

``results_to_frames`` reads the kind table: a model gathers its results itself
when it has a ``_frames_of(results)`` class method (the mixins define it), and
is otherwise gathered from its public ``to_pandas()`` / ``peaks_frame()`` or,
without them, its ``to_dict()``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from ._generated.kinds import KINDS
from ._generated.models import OESResult, SIMSResult
from ._model import Model
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
    "spectrum_frames",
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
#: The key suffix of a kind's peaks frame (``"oes_peaks"``).
PEAKS = "peaks"


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


def sims_frames(results: Sequence[SIMSResult]) -> dict[str, pd.DataFrame]:
    """The frame of ``results_to_frames()["sims"]``."""
    return {"": _frame(_sims_columns(results, with_data_id=True))}


def oes_frames(results: Sequence[OESResult]) -> dict[str, pd.DataFrame]:
    """The frames of ``results_to_frames()["oes"]`` and ``["oes_peaks"]``."""
    return {
        "": _frame(_oes_columns(results, with_data_id=True)),
        PEAKS: _frame(_peak_columns(results, with_data_id=True)),
    }


def spectrum_frames(
    results: Sequence[Any], axis_column: str, peak_columns: Sequence[str] = ()
) -> dict[str, pd.DataFrame]:
    """The frames of results of one axis and one intensity array (XPS, XRD, PL, Raman).

    Args:
        results: Results with ``to_numpy()`` giving ``(axis, intensities)`` and
            ``_peak_rows()`` giving the rows of their ``peaks_frame()``.
        axis_column: The name of the axis column, as in the result's ``to_pandas()``.
        peak_columns: The fixed float columns of the peaks frame, if any (XRD's).

    Returns:
        ``{"": data_id, axis_column, intensity}`` (one row per point) and
        ``{"peaks": data_id and the columns of each result's peaks_frame()}``.
    """
    import pandas as pd

    ids: list[str] = []
    counts: list[int] = []
    axes: list[FloatVector] = []
    intensities: list[FloatVector] = []
    for result in results:
        axis, intensity = result.to_numpy()
        ids.append(result.data_id)
        counts.append(len(axis))
        axes.append(axis)
        intensities.append(intensity)
    spectra = _frame(
        {
            "data_id": _repeat(ids, counts),
            axis_column: _concat(axes),
            "intensity": _concat(intensities),
        }
    )
    # One frame of every peak: far faster than stacking one peaks_frame() per result.
    rows = [{**row, "data_id": result.data_id} for result in results for row in result._peak_rows()]
    names = list(dict.fromkeys(itertools.chain(["data_id", *peak_columns], *rows)))
    if not rows:
        return {"": spectra, PEAKS: _frame({name: [] for name in names})}
    peaks = pd.DataFrame.from_records(rows, columns=names)
    peaks["data_id"] = pd.Series(peaks["data_id"], dtype=str)
    for name in peak_columns:
        peaks[name] = peaks[name].astype("float64")
    return {"": spectra, PEAKS: peaks}


def _stack(results: Sequence[Any], frame_of: Callable[[Any], pd.DataFrame]) -> pd.DataFrame:
    """Each result's frame under a ``data_id`` column, one after the other."""
    import pandas as pd

    frames = []
    for result in results:
        frame = frame_of(result).drop(columns="data_id", errors="ignore")
        frame.insert(0, "data_id", [result.data_id] * len(frame))
        frames.append(frame)
    if not frames or all(frame.empty for frame in frames):
        columns: dict[str, list[Any]] = {"data_id": []}
        columns.update({name: [] for frame in frames for name in frame.columns})
        return _frame(columns)
    stacked = pd.concat([f for f in frames if not f.empty], ignore_index=True)
    stacked.attrs.clear()
    return stacked


def _records(model: type[Model], results: Sequence[Any]) -> pd.DataFrame:
    """One row per result of a model without ``to_pandas()``: its ``to_dict()``."""
    import pandas as pd

    fields = [field.name for field in attrs.fields(model)] if attrs.has(model) else []
    rows = [result.to_dict() for result in results]
    columns = list(dict.fromkeys(itertools.chain(["data_id"], fields, *rows)))
    return pd.DataFrame.from_records(rows, columns=columns)


def _frames_of_model(model: type[Model], results: Sequence[Any]) -> dict[str, pd.DataFrame]:
    """The frames of ``results`` of ``model``, keyed by suffix (``""`` for the main one)."""
    gather: Callable[[Sequence[Any]], dict[str, pd.DataFrame]] | None = getattr(
        model, "_frames_of", None
    )
    if gather is not None:
        return gather(results)
    if not callable(getattr(model, "to_pandas", None)):
        return {"": _records(model, results)}
    frames = {"": _stack(results, lambda result: result.to_pandas())}
    if callable(getattr(model, "peaks_frame", None)):
        frames[PEAKS] = _stack(results, lambda result: result.peaks_frame())
    return frames


def results_to_frames(results: Iterable[object]) -> dict[str, pd.DataFrame]:
    """Gather a bulk fetch's results into one pandas frame per kind of result.

    Each frame starts with a ``data_id`` column, so one frame holds every
    result of its kind; select one with ``frame[frame.data_id == some_id]``.
    Results of a kind the SDK does not know (``UnknownResult``), and the
    exceptions of ``errors="return"``, are skipped; outcomes of
    ``client.iter_results`` are unwrapped. There is one key per kind of the
    kind table (aliases share their kind's: ``pl`` results are under
    ``"photoluminescence"``), plus ``"<kind>_peaks"`` for a kind whose results
    have ``peaks_frame()``; every key is always present (an empty frame keeps
    the columns it can know):

    - ``"sims"``: ``data_id, species, depth, depth_units, concentration,
      concentration_units`` (one row per point of every depth profile);
    - ``"oes"``: ``data_id, wavelength, wavelength_unit, sample, reference,
      dark, scope_corrected`` (one row per wavelength; a spectrum that was
      not captured is NaN);
    - ``"oes_peaks"``: ``data_id, peak_id, wavelength_nm, element``;
    - ``"xps"``, ``"xrd"``, ``"photoluminescence"``, ``"raman"``: ``data_id``,
      the axis column of the result's ``to_pandas()`` (``binding_energy``,
      ``two_theta``, ``energy``, ``raman_shift``) and ``intensity``;
    - ``"xps_peaks"``, ``"xrd_peaks"``, ``"photoluminescence_peaks"``,
      ``"raman_peaks"``: ``data_id`` and the columns of each result's
      ``peaks_frame()`` (XRD's are fixed; the others' are the fields received);
    - a kind whose model has no ``to_pandas()`` (one added to the API
      description without hand-written behaviour): one row per result, the
      ``data_id`` column first, then the fields as ``to_dict()`` gives them
      (arrays as lists).

    Args:
        results: What ``client.get(data_ids)`` returns (any iterable of results).

    Returns:
        The frames, keyed by kind (``"sims"``, ``"oes"``, ``"oes_peaks"``, ...).

    Raises:
        MissingExtraError: pandas or numpy is not installed.
        ValueError: a result's arrays differ in length.

    Example:
        >>> results = await client.get(data_ids, errors="return")  # doctest: +SKIP
        >>> frames = results_to_frames(results)  # doctest: +SKIP
        >>> frames["sims"].groupby(["data_id", "species"]).concentration.max()  # doctest: +SKIP
    """
    _require_pandas("results_to_frames()")
    kinds = {kind.model: kind.canonical for kind in KINDS.values() if kind.name == kind.canonical}
    gathered: dict[type[Model], list[Any]] = {model: [] for model in kinds}
    for item in results:
        # An outcome of ``client.iter_results`` carries its result (None on failure).
        result = item if isinstance(item, Model) else getattr(item, "result", None)
        for model, found in gathered.items():
            if isinstance(result, model):
                found.append(result)
                break
    frames: dict[str, pd.DataFrame] = {}
    for model, kind in kinds.items():
        for suffix, frame in _frames_of_model(model, gathered[model]).items():
            frames[f"{kind}_{suffix}" if suffix else kind] = frame
    return frames
