"""The kinds beyond SIMS and OES (XPS, XRD, photoluminescence, Raman) and the kind table."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pytest

from atomscale_async import AsyncClient, Client, FloatArray
from atomscale_async._convert import _dropped_reported, structure
from atomscale_async._errors import ResponseValidationError
from atomscale_async._generated.kinds import CATALOGUE_CHUNK, KINDS, fetch_function
from atomscale_async._generated.models import (
    CharSourceType,
    DataEntry,
    PhotoluminescenceResult,
    RamanResult,
    XPSResult,
    XRDResult,
)

if TYPE_CHECKING:
    from atomscale_async.testing import AtomscaleMock

pytest_plugins = ["atomscale_async.testing"]


@pytest.fixture
def atomscale_mock_options() -> dict[str, Any]:
    return {"entries": 300}  # every kind, the pl alias included


NEW_KINDS: dict[str, type[Any]] = {
    "xps": XPSResult,
    "xrd": XRDResult,
    "photoluminescence": PhotoluminescenceResult,
    "pl": PhotoluminescenceResult,
    "raman": RamanResult,
}

XPS = {
    "xps_id": "xps_1",
    "binding_energies": [290.0, 285.0, 280.0],
    "intensities": [10, 200.5, 12],
    "predicted_composition": {"C": 0.7, "O": 0.3},
    "detected_peaks": [{"binding_energy": 284.8, "element": "C", "orbital": "1s", "x": [1]}],
    "set_elements": False,
}
XRD = {
    "id": "xrd_1",
    "two_theta": [30.0, 34.5, 40.0],
    "intensities": [5.0, 900.0, 6.0],
    "detected_peaks": [{"two_theta": 34.5, "intensity": 900.0, "d_spacing_angstrom": 2.598}],
}
PL = {"energies": [3.0, 3.4, 3.8], "intensities": [1, 50, 2], "detected_peaks": {"peaks": []}}
RAMAN = {"intensities": [1, 9], "detected_peaks": {"E2h": 568.0, "laser": "532 nm"}}


def test_every_result_carries_the_requested_data_id_and_typed_arrays() -> None:
    xps = structure({**XPS, "data_id": "d1"}, XPSResult, "e")
    assert xps.data_id == "d1"
    assert xps.binding_energies == FloatArray([290.0, 285.0, 280.0])
    assert xps.predicted_composition == {"C": 0.7, "O": 0.3}
    assert xps.set_elements is False
    assert xps.detected_peaks == XPS["detected_peaks"]  # passed through as received
    with pytest.raises(ResponseValidationError, match=r"expected a boolean.*@ \$\.set_elements"):
        structure({**XPS, "data_id": "d1", "set_elements": "no"}, XPSResult, "e")
    with pytest.raises(ResponseValidationError, match=r"@ \$\.intensities"):
        structure({**XPS, "data_id": "d1", "intensities": ["1"]}, XPSResult, "e")


def test_xrd_defaults_to_copper_k_alpha_and_types_its_peaks() -> None:
    xrd = structure({**XRD, "data_id": "d"}, XRDResult, "e")
    assert xrd.wavelength_angstrom == 1.5406
    assert xrd.two_theta_unit == "degrees"
    assert xrd.detected_peaks is not None
    assert xrd.detected_peaks[0].d_spacing_angstrom == 2.598
    assert xrd.detected_peaks[0].fwhm_degrees is None
    explicit = structure({**XRD, "data_id": "d", "wavelength_angstrom": 0.7093}, XRDResult, "e")
    assert explicit.wavelength_angstrom == 0.7093


@pytest.mark.parametrize("key", ["photoluminescence_id", "id"])
def test_photoluminescence_takes_either_id_key(key: str) -> None:
    result = structure({**PL, key: "pl_7", "data_id": "d"}, PhotoluminescenceResult, "e")
    assert result.photoluminescence_id == "pl_7"
    assert (
        structure({**PL, "data_id": "d"}, PhotoluminescenceResult, "e").photoluminescence_id is None
    )


@pytest.mark.parametrize("axis", ["wavenumbers", "energies"])
@pytest.mark.parametrize("id_key", ["raman_id", "id"])
def test_raman_shift_comes_from_either_axis_key(axis: str, id_key: str) -> None:
    payload = {**RAMAN, axis: [520.0, 568.0], id_key: "r1", "data_id": "d"}
    result = structure(payload, RamanResult, "e")
    assert result.raman_shift == FloatArray([520.0, 568.0])
    assert result.raman_id == "r1"
    assert result.to_dict()["raman_shift"] == [520.0, 568.0]
    with pytest.raises(ResponseValidationError, match="required field missing"):
        structure({**RAMAN, "data_id": "d"}, RamanResult, "e")


def test_the_kind_table_is_the_one_list_of_kinds() -> None:
    assert set(KINDS) == {"sims", "oes", *NEW_KINDS}
    assert frozenset(KINDS) == CharSourceType.KNOWN
    assert KINDS["pl"].canonical == "photoluminescence"
    assert KINDS["pl"].model is KINDS["photoluminescence"].model is PhotoluminescenceResult
    assert KINDS["raman"].path == "/raman/{data_id}"
    assert CATALOGUE_CHUNK == 100
    client = AsyncClient(api_key="k", base_url="https://api.atomscale.test/")
    fetch = fetch_function(client, "pl")
    assert fetch is not None
    assert fetch.__self__ is client.photoluminescence  # type: ignore[attr-defined]
    assert fetch_function(client, "rheed_image") is None


def test_a_catalogue_field_that_does_not_fit_becomes_none_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    _dropped_reported.clear()
    entry = {"data_id": "a", "char_source_type": "xps", "upload_datetime": "last tuesday"}
    with caplog.at_level(logging.WARNING, logger="atomscale_async"):
        first = structure(entry, DataEntry, "e")
        second = structure({**entry, "data_id": "b"}, DataEntry, "e")
    assert first.upload_datetime is None
    assert second.data_id == "b"
    assert second.upload_datetime is None
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1
    assert "DataEntry.upload_datetime" in lines[0]
    with pytest.raises(ResponseValidationError, match=r"\$\.char_source_type"):
        structure({"data_id": "a", "char_source_type": 3}, DataEntry, "e")


@pytest.mark.anyio
@pytest.mark.parametrize("kind", sorted(NEW_KINDS))
async def test_each_new_kind_is_fetched_by_its_resource(
    kind: str, atomscale_mock: AtomscaleMock
) -> None:
    ids = atomscale_mock.state.ids(kind)
    async with AsyncClient() as client:
        resource: Any = getattr(client, KINDS[kind].attribute)
        result = await resource.get(ids[0])
    assert isinstance(result, NEW_KINDS[kind])
    assert result.data_id == ids[0]
    assert len(repr(result)) < 200
    assert repr(result).startswith(f"{NEW_KINDS[kind].__name__}(data_id={ids[0]!r}, points=")


def test_the_new_resources_work_blocking(atomscale_mock: AtomscaleMock) -> None:
    xrd_id = atomscale_mock.state.ids("xrd")[0]
    with Client() as client:
        assert client.xrd.get(xrd_id).data_id == xrd_id
        samples = client.physical_samples.list()
        projects = client.projects.list()
        assert samples
        assert all(isinstance(s.id, str) for s in samples)
        in_project = client.projects.physical_samples(projects[0].id)
        assert {s.id for s in in_project} <= {s.id for s in samples}


def test_frames_of_the_new_kinds_are_read_only_and_named_by_their_axis() -> None:
    pytest.importorskip("pandas")
    xps = structure({**XPS, "data_id": "d1"}, XPSResult, "e")
    energies, intensities = xps.to_numpy()
    assert not energies.flags.writeable
    assert not intensities.flags.writeable
    assert list(xps.to_pandas().columns) == ["binding_energy", "intensity"]
    assert xps.peaks_frame()["element"].tolist() == ["C"]
    xrd = structure({**XRD, "data_id": "d"}, XRDResult, "e")
    assert xrd.peaks_frame()["two_theta"].tolist() == [34.5]
    raman = structure({**RAMAN, "wavenumbers": [520.0, 568.0], "data_id": "d"}, RamanResult, "e")
    assert list(raman.to_pandas().columns) == ["raman_shift", "intensity"]
    assert raman.peaks_frame().to_dict("records") == [{"label": "E2h", "position": 568.0}]
    pl = structure({**PL, "data_id": "d"}, PhotoluminescenceResult, "e")
    assert pl.peaks_frame().empty


def test_plots_follow_each_fields_conventions() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    xps = structure({**XPS, "data_id": "d1"}, XPSResult, "e")
    ax = xps.plot()
    left, right = ax.get_xlim()
    assert left > right  # binding energy decreases left to right
    assert ax.get_xlabel() == "Binding energy (eV)"
    xrd = structure({**XRD, "data_id": "d"}, XRDResult, "e")
    ax = xrd.plot()
    assert (
        ax.get_xlabel() == "2θ (°) · Cu K\N{GREEK SMALL LETTER ALPHA}, λ = 1.5406 Å"
    )  # the radiation stated
    assert len(ax.lines) == 2  # the pattern and one marked reflection
    raman = structure({**RAMAN, "energies": [520.0, 568.0], "data_id": "d"}, RamanResult, "e")
    assert "cm" in raman.plot().get_xlabel()
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.mark.anyio
async def test_bulk_get_fetches_every_kind_of_the_table_typed(
    atomscale_mock: AtomscaleMock,
) -> None:
    wanted = {kind: atomscale_mock.state.ids(kind)[:2] for kind in KINDS}
    ids = [data_id for chunk in wanted.values() for data_id in chunk]
    async with AsyncClient() as client:
        results = await client.get(ids)
        pl_only = await client.get(wanted["pl"], data_type="pl")
    by_id = dict(zip(ids, results, strict=True))
    for kind, chunk in wanted.items():
        for data_id in chunk:
            assert isinstance(by_id[data_id], KINDS[kind].model), (kind, data_id)
            assert by_id[data_id].data_id == data_id
    assert all(isinstance(r, PhotoluminescenceResult) for r in pl_only)
    with pytest.raises(ValueError, match="data_type must be one of"):
        await AsyncClient(api_key="k").get(ids, data_type="rheed_image")


def test_bulk_depends_on_a_resources_protocol_not_on_the_client() -> None:
    import ast
    import inspect

    from atomscale_async import _bulk

    tree = ast.parse(inspect.getsource(_bulk))
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert "_client" not in imported
    client: _bulk.BulkClient = AsyncClient(api_key="k")  # an AsyncClient fits the protocol
    assert fetch_function(client, "raman") is not None


def test_no_module_the_client_uses_imports_the_client_back() -> None:
    import ast
    import importlib
    import inspect

    from atomscale_async import _client

    def imported(module: object) -> set[str]:
        tree = ast.parse(inspect.getsource(module))  # type: ignore[arg-type]
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                names.update([node.module] if node.module else [a.name for a in node.names])
        return names

    used = {name for name in imported(_client) if name.startswith("_") and name != "_client"}
    assert {"_bulk", "_export", "_search"} <= used
    for name in sorted(used):
        module = importlib.import_module(f"atomscale_async.{name}")
        assert "_client" not in imported(module), name
