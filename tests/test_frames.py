"""NumPy arrays, pandas frames, HTML summaries and the missing-extra errors of results."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from atomscale_async import (
    MissingExtraError,
    OESResult,
    SIMSDepthProfile,
    SIMSResult,
    results_to_frames,
)
from atomscale_async._convert import structure

SIMS_ID = "11111111-1111-4111-8111-111111111111"
OES_ID = "22222222-2222-4222-8222-222222222222"
STAMP = "2025-01-02T03:04:05Z"
DASH = "\N{EN DASH}"


def profile_json(
    species: str,
    depths: list[float],
    concentrations: list[float],
    *,
    data_id: str = SIMS_ID,
    depth_units: str = "nm",
    concentration_units: str = "atoms/cm^3",
) -> dict[str, Any]:
    return {
        "data_id": data_id,
        "id": f"profile-{species}",
        "processed_data_id": "33333333-3333-4333-8333-333333333333",
        "species_name": species,
        "depths": depths,
        "depth_units": depth_units,
        "concentrations": concentrations,
        "concentration_units": concentration_units,
        "species_metadata": {"matrix": "Si"},
        "last_updated": STAMP,
    }


def make_sims(data_id: str = SIMS_ID, profiles: list[dict[str, Any]] | None = None) -> SIMSResult:
    if profiles is None:
        profiles = [
            profile_json("B", [0.0, 1.0, 2.0], [1e16, 1e18, 1e17], data_id=data_id),
            profile_json("P", [0.0, 2.0], [5e15, 3e15], data_id=data_id),
        ]
    return structure({"data_id": data_id, "depth_profiles": profiles}, SIMSResult, "test")


def oes_json(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "data_id": OES_ID,
        "id": "oes-1",
        "wavelengths": [400.0, 400.5, 401.0, 401.5],
        "wavelength_unit": "nm",
        "sample": [110.0, 150.0, 900.0, 120.0],
        "reference": [100.0, 101.0, 102.0, 103.0],
        "dark": [10.0, 11.0, 12.0, 13.0],
        "scope_corrected": [100.0, 139.0, 888.0, 107.0],
        "spectrum_type": "sample",
        "detected_peaks": [
            {"peak_id": "p1", "wavelength_nm": 401.0, "element": "Ga"},
            {"peak_id": "p2", "wavelength_nm": 400.5, "element": "N2"},
        ],
        "constraint_mode": "auto",
        "constrained_elements": None,
        "spectral_metadata": {"points": 4},
        "last_updated": STAMP,
    }
    payload.update(changes)
    return payload


def make_oes(**changes: Any) -> OESResult:
    return structure(oes_json(**changes), OESResult, "test")


@pytest.fixture
def np() -> Any:
    return pytest.importorskip("numpy")


@pytest.fixture
def pd() -> Any:
    return pytest.importorskip("pandas")


# -- SIMS ---------------------------------------------------------------------------------


def test_profile_to_numpy_is_a_read_only_view(np: Any) -> None:
    profile = make_sims().depth_profiles[0]
    depths, concentrations = profile.to_numpy()
    assert depths.dtype == np.float64
    assert depths.tolist() == [0.0, 1.0, 2.0]
    assert concentrations.tolist() == [1e16, 1e18, 1e17]
    assert np.shares_memory(depths, np.asarray(profile.depths))
    assert not depths.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        concentrations[0] = 1.0
    assert profile.concentrations[0] == 1e16


def test_profile_to_numpy_rejects_arrays_of_different_lengths(np: Any) -> None:
    profile = structure(profile_json("B", [0.0, 1.0], [1.0]), SIMSDepthProfile, "test")
    with pytest.raises(ValueError, match=r"concentrations has 1 values but depths has 2"):
        profile.to_numpy()


def test_sims_to_pandas_is_tidy_with_units(pd: Any) -> None:
    frame = make_sims().to_pandas()
    assert list(frame.columns) == [
        "species",
        "depth",
        "depth_units",
        "concentration",
        "concentration_units",
    ]
    assert frame["species"].tolist() == ["B", "B", "B", "P", "P"]
    assert frame["depth"].tolist() == [0.0, 1.0, 2.0, 0.0, 2.0]
    assert frame["concentration"].tolist() == [1e16, 1e18, 1e17, 5e15, 3e15]
    assert set(frame["depth_units"]) == {"nm"}
    assert set(frame["concentration_units"]) == {"atoms/cm^3"}
    assert frame["depth"].dtype == "float64"
    assert frame["concentration"].dtype == "float64"
    assert frame.attrs == {
        "data_id": SIMS_ID,
        "units": {"depth": "nm", "concentration": "atoms/cm^3"},
    }
    wide: Any = frame.pivot(index="depth", columns="species", values="concentration")
    assert wide.loc[2.0, "P"] == 3e15


def test_sims_to_pandas_keeps_each_profiles_units(pd: Any) -> None:
    result = make_sims(
        profiles=[
            profile_json("Si", [0.0], [2e4], concentration_units="counts/s"),
            profile_json("B", [0.0], [1e17]),
        ]
    )
    frame = result.to_pandas()
    assert frame["concentration_units"].tolist() == ["counts/s", "atoms/cm^3"]
    assert frame.attrs["units"] == {"depth": "nm", "concentration": None}


def test_sims_frame_is_a_copy(pd: Any) -> None:
    result = make_sims()
    frame = result.to_pandas()
    frame.loc[0, "concentration"] = -1.0
    assert result.depth_profiles[0].concentrations[0] == 1e16


def test_sims_to_pandas_without_profiles(pd: Any) -> None:
    frame = make_sims(profiles=[]).to_pandas()
    assert frame.empty
    assert list(frame.columns) == [
        "species",
        "depth",
        "depth_units",
        "concentration",
        "concentration_units",
    ]
    assert frame["depth"].dtype == "float64"
    assert frame.attrs["units"] == {"depth": None, "concentration": None}


# -- OES ----------------------------------------------------------------------------------


def test_oes_to_pandas_has_one_row_per_wavelength(pd: Any) -> None:
    frame = make_oes().to_pandas()
    assert list(frame.columns) == ["wavelength", "sample", "reference", "dark", "scope_corrected"]
    assert len(frame) == 4
    assert frame["wavelength"].tolist() == [400.0, 400.5, 401.0, 401.5]
    assert frame["sample"].tolist() == [110.0, 150.0, 900.0, 120.0]
    assert frame["reference"].tolist() == [100.0, 101.0, 102.0, 103.0]
    assert frame["dark"].tolist() == [10.0, 11.0, 12.0, 13.0]
    assert frame["scope_corrected"].tolist() == [100.0, 139.0, 888.0, 107.0]
    assert (frame.dtypes == "float64").all()
    assert frame.attrs == {"data_id": OES_ID, "units": {"wavelength": "nm"}}


@pytest.mark.parametrize("missing", [None, []], ids=["null", "empty"])
def test_oes_to_pandas_fills_missing_spectra_with_nan(pd: Any, missing: Any) -> None:
    result = make_oes(reference=missing, dark=missing)
    frame = result.to_pandas()
    assert list(frame.columns) == ["wavelength", "sample", "reference", "dark", "scope_corrected"]
    assert frame["reference"].isna().all()
    assert frame["dark"].isna().all()
    assert frame["sample"].notna().all()
    assert frame["scope_corrected"].tolist() == [100.0, 139.0, 888.0, 107.0]


def test_oes_without_points(pd: Any) -> None:
    result = make_oes(
        wavelengths=[], sample=[], reference=None, dark=[], scope_corrected=[], detected_peaks=[]
    )
    frame = result.to_pandas()
    assert frame.empty
    assert len(frame.columns) == 5
    assert result.peaks_frame().empty


def test_oes_to_pandas_rejects_a_spectrum_of_another_length(pd: Any) -> None:
    with pytest.raises(ValueError, match=r"dark has 2 values but wavelengths has 4"):
        make_oes(dark=[1.0, 2.0]).to_pandas()


def test_oes_to_numpy(np: Any) -> None:
    result = make_oes(reference=None)
    wavelengths, intensities = result.to_numpy()
    assert wavelengths.tolist() == [400.0, 400.5, 401.0, 401.5]
    assert intensities.tolist() == [100.0, 139.0, 888.0, 107.0]
    assert np.shares_memory(intensities, np.asarray(result.scope_corrected))
    assert not wavelengths.flags.writeable
    assert result.to_numpy("sample")[1].tolist() == [110.0, 150.0, 900.0, 120.0]
    assert result.to_numpy("dark")[1].tolist() == [10.0, 11.0, 12.0, 13.0]
    reference = result.to_numpy("reference")[1]
    assert len(reference) == 4
    assert np.isnan(reference).all()


def test_oes_to_numpy_rejects_an_unknown_spectrum(np: Any) -> None:
    with pytest.raises(ValueError, match="spectrum must be one of"):
        make_oes().to_numpy("background")


def test_peaks_frame(pd: Any) -> None:
    frame = make_oes().peaks_frame()
    assert list(frame.columns) == ["peak_id", "wavelength_nm", "element"]
    assert frame.to_dict("records") == [
        {"peak_id": "p1", "wavelength_nm": 401.0, "element": "Ga"},
        {"peak_id": "p2", "wavelength_nm": 400.5, "element": "N2"},
    ]
    assert frame["wavelength_nm"].dtype == "float64"


def test_peaks_frame_without_peaks(pd: Any) -> None:
    frame = make_oes(detected_peaks=[]).peaks_frame()
    assert frame.empty
    assert list(frame.columns) == ["peak_id", "wavelength_nm", "element"]
    assert frame["wavelength_nm"].dtype == "float64"


# -- results_to_frames --------------------------------------------------------------------


class UnknownKind:
    """Stands for a result of a kind the SDK does not model (an XPS entry...)."""

    data_id = "44444444-4444-4444-8444-444444444444"


def test_results_to_frames_gathers_each_kind(pd: Any) -> None:
    other_sims = make_sims(
        "55555555-5555-4555-8555-555555555555",
        [
            profile_json(
                "C", [0.0, 5.0], [1e19, 1e18], data_id="55555555-5555-4555-8555-555555555555"
            )
        ],
    )
    other_oes = make_oes(data_id="66666666-6666-4666-8666-666666666666", reference=None)
    results: list[object] = [
        make_sims(),
        make_oes(),
        UnknownKind(),
        RuntimeError("failed"),
        other_sims,
        other_oes,
    ]
    frames = results_to_frames(results)
    assert list(frames)[:3] == ["sims", "oes", "oes_peaks"]
    assert all(frame.empty for key, frame in frames.items() if not key.startswith(("sims", "oes")))

    sims = frames["sims"]
    assert list(sims.columns) == [
        "data_id",
        "species",
        "depth",
        "depth_units",
        "concentration",
        "concentration_units",
    ]
    assert sims.groupby("data_id").size().to_dict() == {
        SIMS_ID: 5,
        "55555555-5555-4555-8555-555555555555": 2,
    }
    first = sims[sims["data_id"] == SIMS_ID].drop(columns="data_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(first, make_sims().to_pandas(), check_like=False)

    oes = frames["oes"]
    assert list(oes.columns) == [
        "data_id",
        "wavelength",
        "wavelength_unit",
        "sample",
        "reference",
        "dark",
        "scope_corrected",
    ]
    assert len(oes) == 8
    assert set(oes["wavelength_unit"]) == {"nm"}
    missing = oes[oes["data_id"] == "66666666-6666-4666-8666-666666666666"]
    assert missing["reference"].isna().all()
    assert missing["dark"].notna().all()

    peaks = frames["oes_peaks"]
    assert list(peaks.columns) == ["data_id", "peak_id", "wavelength_nm", "element"]
    assert len(peaks) == 4
    assert peaks["data_id"].tolist() == [OES_ID, OES_ID] + [other_oes.data_id] * 2


class FakeOutcome:
    """Stands for an outcome of ``client.iter_results``: a result, or None and an error."""

    def __init__(self, result: object) -> None:
        self.result = result


def test_results_to_frames_unwraps_outcomes(pd: Any) -> None:
    frames = results_to_frames(
        [FakeOutcome(make_sims()), FakeOutcome(None), FakeOutcome(make_oes())]
    )
    assert set(frames["sims"]["data_id"]) == {SIMS_ID}
    assert set(frames["oes"]["data_id"]) == {OES_ID}
    assert len(frames["oes_peaks"]) == 2


def test_results_to_frames_of_nothing_keeps_the_columns(pd: Any) -> None:
    frames = results_to_frames(iter([ValueError("x"), None]))
    assert {key: len(frame) for key, frame in frames.items()} == dict.fromkeys(frames, 0)
    assert "data_id" in frames["sims"].columns
    assert "scope_corrected" in frames["oes"].columns
    assert frames["oes"]["wavelength"].dtype == "float64"


# -- HTML summaries -----------------------------------------------------------------------


def test_reprs_are_kept() -> None:
    assert repr(make_sims()) == f"SIMSResult(data_id={SIMS_ID!r}, species=['B', 'P'])"
    assert repr(make_oes()).startswith(f"OESResult(data_id={OES_ID!r}, points=4,")


def test_sims_html_is_a_small_table() -> None:
    page = make_sims()._repr_html_()
    assert page.startswith("<table>")
    assert SIMS_ID in page
    cells = f"<td>B</td><td>3</td><td>0 {DASH} 2 nm</td><td>1e+16 {DASH} 1e+18 atoms/cm^3</td>"
    assert cells in page
    assert page.count("<tr>") == 3  # the header and one row per species


def test_sims_html_escapes_and_summarises_large_results() -> None:
    profiles = [profile_json(f"<X{i}>", [0.0, 1.0], [1.0, 2.0]) for i in range(50)]
    page = make_sims(profiles=profiles)._repr_html_()
    assert "&lt;X0&gt;" in page
    assert "<X0>" not in page
    assert "… 30 more" in page
    assert page.count("<tr>") == 22


def test_sims_html_without_profiles() -> None:
    assert "no depth profiles" in make_sims(profiles=[])._repr_html_()


def test_profile_html() -> None:
    page = make_sims().depth_profiles[1]._repr_html_()
    assert "<td>P</td><td>2</td>" in page
    assert page.count("<tr>") == 2


def test_oes_html_has_no_arrays() -> None:
    points = 2048
    result = make_oes(
        wavelengths=[200.0 + i * 0.5 for i in range(points)],
        sample=[1.0] * points,
        reference=None,
        dark=[0.5] * points,
        scope_corrected=[0.5] * points,
        constraint_mode="include",
        constrained_elements=["Ga", "N2"],
    )
    page = result._repr_html_()
    assert len(page) < 1500
    assert ">2,048<" in page
    assert f">200 {DASH} 1223.5 nm<" in page
    assert "sample, dark, scope_corrected (no reference)" in page
    assert ">Ga (1), N2 (1)<" in page
    assert "include (Ga, N2)" in page
    assert "2025-01-02T03:04:05+00:00" in page


# -- missing extras -----------------------------------------------------------------------


def test_missing_pandas_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    for call in (
        make_sims().to_pandas,
        make_oes().to_pandas,
        make_oes().peaks_frame,
        lambda: results_to_frames([]),
    ):
        with pytest.raises(MissingExtraError) as info:
            call()
        assert "pip install -e '.[pandas]'" in str(info.value)
        assert info.value.name == "pandas"
        assert info.value.extra == "pandas"
    assert str(info.value).startswith("results_to_frames() requires pandas, which is not installed")


def test_missing_numpy_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "numpy", None)
    with pytest.raises(MissingExtraError, match=r"SIMSDepthProfile\.to_numpy\(\) requires numpy"):
        make_sims().depth_profiles[0].to_numpy()
    with pytest.raises(ImportError, match=r"pip install -e '\.\[pandas\]'"):
        make_oes().to_numpy()


def test_missing_extra_error_pickles() -> None:
    import pickle

    error = MissingExtraError("OESResult.plot()", "matplotlib", "plot")
    copy = pickle.loads(pickle.dumps(error))
    assert isinstance(copy, MissingExtraError)
    assert str(copy) == str(error)
    assert (copy.feature, copy.module, copy.extra, copy.name) == (
        "OESResult.plot()",
        "matplotlib",
        "plot",
        "matplotlib",
    )


def test_package_imports_without_the_extras() -> None:
    script = textwrap.dedent(
        """
        import sys
        for name in ("pandas", "numpy", "matplotlib"):
            sys.modules[name] = None
        import atomscale_async
        from atomscale_async._convert import structure
        result = structure(
            {"data_id": "x", "depth_profiles": []}, atomscale_async.SIMSResult, "test"
        )
        assert "no depth profiles" in result._repr_html_()
        try:
            atomscale_async.results_to_frames([result])
        except atomscale_async.MissingExtraError as exc:
            print(exc)
        try:
            result.plot()
        except atomscale_async.MissingExtraError as exc:
            print(exc)
        """
    )
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", script],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "results_to_frames() requires pandas, which is not installed: install the [pandas] extra"
        " (pip install -e '.[pandas]' in atomscale-async's checkout)",
        "SIMSResult.plot() requires matplotlib, which is not installed: install the [plot] extra"
        " (pip install -e '.[plot]' in atomscale-async's checkout)",
    ]


def test_frames_are_finite_for_sandbox_like_sizes(pd: Any) -> None:
    points = 2048
    result = make_oes(
        wavelengths=[200.0 + i * 700 / (points - 1) for i in range(points)],
        sample=[float(i) for i in range(points)],
        reference=None,
        dark=None,
        scope_corrected=[float(i) for i in range(points)],
    )
    frame = result.to_pandas()
    assert len(frame) == points
    assert math.isclose(frame["wavelength"].iloc[-1], 900.0)
