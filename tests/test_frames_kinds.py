"""``results_to_frames`` gathers every kind of the kind table, and a kind added to it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs
import pytest

from atomscale_async import AsyncClient, Client, results_to_frames
from atomscale_async._convert import structure
from atomscale_async._generated.kinds import KINDS, Kind
from atomscale_async._generated.models import XPSResult, XRDResult
from atomscale_async._model import Model

if TYPE_CHECKING:
    from atomscale_async.testing import AtomscaleMock

pytest_plugins = ["atomscale_async.testing"]

CANONICAL = list(dict.fromkeys(kind.canonical for kind in KINDS.values()))
#: The kinds whose frames are built from one axis and one intensity array.
SPECTRA = {
    "xps": "binding_energy",
    "xrd": "two_theta",
    "photoluminescence": "energy",
    "raman": "raman_shift",
}


@pytest.fixture
def pd() -> Any:
    return pytest.importorskip("pandas")


@pytest.fixture
def atomscale_mock_options() -> dict[str, Any]:
    return {"entries": 300}  # every kind, the pl alias included


def _fetch_two_of_each(mock: AtomscaleMock) -> tuple[dict[str, list[str]], list[Any]]:
    wanted = {kind: mock.state.ids(kind)[:2] for kind in KINDS}
    ids = [data_id for chunk in wanted.values() for data_id in chunk]
    with Client() as client:
        results = client.get(ids)
    return wanted, results


def test_every_kind_of_the_table_has_its_frame_and_each_peaks_frame(
    pd: Any, atomscale_mock: AtomscaleMock
) -> None:
    wanted, results = _fetch_two_of_each(atomscale_mock)
    frames = results_to_frames(results)
    assert list(frames)[:3] == ["sims", "oes", "oes_peaks"]  # the keys of old stay first
    assert set(frames) == {
        *CANONICAL,
        *(f"{kind}_peaks" for kind in ("oes", *SPECTRA)),
    }
    assert "pl" not in frames  # an alias shares its kind's frame
    for kind in CANONICAL:
        expected = {i for name, ids in wanted.items() if KINDS[name].canonical == kind for i in ids}
        found = set(frames[kind]["data_id"])
        # A SIMS result without depth profiles has no row.
        assert found == expected if kind in SPECTRA else found <= expected, kind
        assert frames[kind].columns[0] == "data_id"
    assert len(set(frames["photoluminescence"]["data_id"])) == 4  # its own ids and pl's


@pytest.mark.parametrize("kind", sorted(SPECTRA))
def test_a_kinds_frame_is_its_results_frames_under_a_data_id(
    kind: str, pd: Any, atomscale_mock: AtomscaleMock
) -> None:
    _, results = _fetch_two_of_each(atomscale_mock)
    frames = results_to_frames(results)
    mine: list[Any] = [r for r in results if isinstance(r, KINDS[kind].model)]
    assert mine
    frame = frames[kind]
    assert list(frame.columns) == ["data_id", SPECTRA[kind], "intensity"]
    assert frame[SPECTRA[kind]].dtype == "float64"
    assert len(frame) == sum(len(r.intensities) for r in mine)
    for result in mine:
        rows = frame[frame["data_id"] == result.data_id].drop(columns="data_id")
        pd.testing.assert_frame_equal(
            rows.reset_index(drop=True), result.to_pandas(), check_exact=True, check_like=False
        )
        peaks = frames[f"{kind}_peaks"]
        own = peaks[peaks["data_id"] == result.data_id].drop(columns="data_id")
        alone = result.peaks_frame()
        assert len(own) == len(alone)
        if len(alone):
            pd.testing.assert_frame_equal(
                own[list(alone.columns)].reset_index(drop=True),
                alone,
                check_dtype=False,
            )


XPS = {
    "binding_energies": [290.0, 285.0, 280.0],
    "intensities": [10.0, 200.5, 12.0],
    "detected_peaks": [{"binding_energy": 284.8, "element": "C", "orbital": "1s"}],
}


def test_peaks_of_several_shapes_share_one_frame(pd: Any) -> None:
    carbon = structure({**XPS, "data_id": "c"}, XPSResult, "test")
    oxygen = structure(
        {**XPS, "data_id": "o", "detected_peaks": [{"binding_energy": 531.0, "area": 7.5}]},
        XPSResult,
        "test",
    )
    bare = structure({**XPS, "data_id": "n", "detected_peaks": None}, XPSResult, "test")
    peaks = results_to_frames([carbon, bare, oxygen])["xps_peaks"]
    assert list(peaks.columns) == ["data_id", "binding_energy", "element", "orbital", "area"]
    assert peaks["data_id"].tolist() == ["c", "o"]
    assert peaks["binding_energy"].tolist() == [284.8, 531.0]
    assert peaks["area"].isna().tolist() == [True, False]


def test_empty_frames_of_the_new_kinds_keep_the_columns_they_know(pd: Any) -> None:
    frames = results_to_frames([])
    for kind, axis in SPECTRA.items():
        assert list(frames[kind].columns) == ["data_id", axis, "intensity"]
        assert frames[kind][axis].dtype == "float64"
    assert list(frames["xrd_peaks"].columns) == [
        "data_id",
        "two_theta",
        "intensity",
        "d_spacing_angstrom",
        "prominence",
        "fwhm_degrees",
    ]
    assert list(frames["xps_peaks"].columns) == ["data_id"]  # its fields are those received
    xrd = structure(
        {"data_id": "x", "two_theta": [30.0], "intensities": [1.0], "detected_peaks": []},
        XRDResult,
        "test",
    )
    assert list(results_to_frames([xrd])["xrd_peaks"].columns) == list(frames["xrd_peaks"].columns)


def test_a_result_whose_arrays_differ_in_length_is_an_error(pd: Any) -> None:
    broken = structure({**XPS, "data_id": "b", "intensities": [1.0]}, XPSResult, "test")
    with pytest.raises(ValueError, match="1 intensities for 3 binding_energies"):
        results_to_frames([broken])


@pytest.mark.anyio
async def test_outcomes_of_iter_results_give_every_kind(
    pd: Any, atomscale_mock: AtomscaleMock
) -> None:
    ids = [atomscale_mock.state.ids(kind)[0] for kind in KINDS]
    async with AsyncClient() as client:
        outcomes = [outcome async for outcome in client.iter_results(ids)]
    frames = results_to_frames(outcomes)
    assert {kind: frames[kind]["data_id"].nunique() for kind in CANONICAL} == {
        kind: sum(KINDS[name].canonical == kind for name in KINDS) for kind in CANONICAL
    }


# -- a kind added to the table ------------------------------------------------------------


@attrs.frozen(kw_only=True)
class HologramResult(Model):
    """A kind described without hand-written behaviour: no ``to_pandas()``."""

    data_id: str
    phase: list[float]
    wavelength_nm: float = 632.8


@attrs.frozen(kw_only=True)
class EllipsometryResult(Model):
    """A kind with ``to_pandas()`` and ``peaks_frame()`` but no ``_frames_of``."""

    data_id: str
    angles: list[float]

    def to_pandas(self) -> Any:
        import pandas as pd

        frame = pd.DataFrame({"angle": self.angles})
        frame.attrs["data_id"] = self.data_id
        return frame

    def peaks_frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame({"angle": self.angles[:1]})


def _with_kinds(monkeypatch: pytest.MonkeyPatch, *models: tuple[str, type[Model]]) -> None:
    from types import MappingProxyType

    from atomscale_async import _frames

    table = dict(KINDS)
    for name, model in models:
        table[name] = Kind(
            name=name,
            canonical=name,
            attribute=name,
            method="get",
            path=f"/{name}/{{data_id}}",
            model=model,
        )
    monkeypatch.setattr(_frames, "KINDS", MappingProxyType(table))


def _gather(results: Sequence[object]) -> dict[str, Any]:
    return results_to_frames(results)


def test_a_kind_without_to_pandas_gets_one_row_per_result(
    pd: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _with_kinds(monkeypatch, ("hologram", HologramResult))
    empty = _gather([])["hologram"]
    assert list(empty.columns) == ["data_id", "phase", "wavelength_nm"]
    assert empty.empty
    frames = _gather(
        [HologramResult(data_id="h1", phase=[0.1, 0.2]), HologramResult(data_id="h2", phase=[])]
    )
    assert "hologram_peaks" not in frames
    holograms = frames["hologram"]
    assert holograms.to_dict("records") == [
        {"data_id": "h1", "phase": [0.1, 0.2], "wavelength_nm": 632.8},
        {"data_id": "h2", "phase": [], "wavelength_nm": 632.8},
    ]


def test_a_kind_with_to_pandas_gets_its_frames_stacked(
    pd: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _with_kinds(monkeypatch, ("ellipsometry", EllipsometryResult))
    frames = _gather(
        [
            EllipsometryResult(data_id="e1", angles=[50.0, 60.0]),
            EllipsometryResult(data_id="e2", angles=[70.0]),
        ]
    )
    assert frames["ellipsometry"].to_dict("list") == {
        "data_id": ["e1", "e1", "e2"],
        "angle": [50.0, 60.0, 70.0],
    }
    assert frames["ellipsometry"].attrs == {}
    assert frames["ellipsometry_peaks"].to_dict("list") == {
        "data_id": ["e1", "e2"],
        "angle": [50.0, 70.0],
    }
    assert list(_gather([])["ellipsometry"].columns) == ["data_id"]
