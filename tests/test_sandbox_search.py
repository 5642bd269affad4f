"""The sandbox's catalogue search, physical samples, projects and the four newer kinds."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from atomscale_async.sandbox import create_app, sandbox_state
from atomscale_async.sandbox._spectra import CU_K_ALPHA, bragg_two_theta

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def app() -> Starlette:
    return create_app(entries=600, seed=3)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://sandbox/",
        headers={"X-API-KEY": "sandbox-key"},
    ) as client:
        yield client


async def search(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    answer = await client.get("data_entries/", params=params)
    assert answer.status_code == 200, answer.text
    entries: list[dict[str, Any]] = answer.json()
    return entries


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_no_filter_is_the_whole_catalogue_with_every_field(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    entries = await search(client)
    assert [e["data_id"] for e in entries] == sandbox_state(app).data_ids
    fields = {
        "data_id", "char_source_type", "raw_name", "pipeline_status", "raw_file_type",
        "source_name", "sample_name", "growth_length", "physical_sample_id",
        "physical_sample_name", "detail_note_content", "detail_note_last_updated",
        "file_metadata", "tags", "name", "workspaces", "projects", "sha3_256",
        "upload_datetime", "last_accessed_datetime", "collected_datetime",
    }  # fmt: skip
    assert all(fields <= e.keys() for e in entries)
    uploads = sorted(moment(e["upload_datetime"]) for e in entries)
    assert (uploads[-1] - uploads[0]).days > 365  # spread over months
    assert {e["pipeline_status"] for e in entries} > {"success", "pending", "error"}


async def test_each_filter_narrows_to_matching_entries(client: httpx.AsyncClient) -> None:
    everything = await search(client)
    xps = await search(client, data_type="xps")
    assert xps
    assert {e["char_source_type"] for e in xps} == {"xps"}
    pl = await search(client, data_type="photoluminescence")
    assert {e["char_source_type"] for e in pl} == {"photoluminescence", "pl"}
    assert await search(client, data_type="pl") == pl

    errors = await search(client, status="error")
    assert errors
    assert {e["pipeline_status"] for e in errors} == {"error"}
    assert len(await search(client, status="all")) == len(everything)

    sample = everything[0]["physical_sample_id"]
    of_sample = await search(client, physical_sample_ids=[sample])
    assert of_sample
    assert all(e["physical_sample_id"] == sample for e in of_sample)

    project = everything[0]["projects"][0]["id"]
    of_project = await search(client, project_ids=project)
    assert of_project
    assert all(project in {p["id"] for p in e["projects"]} for e in of_project)

    long = await search(client, growth_length_min=3600, growth_length_max=7200)
    assert long
    assert all(3600 <= e["growth_length"] <= 7200 for e in long)

    start, end = "2025-01-01T00:00:00Z", "2025-03-31T00:00:00"
    window = await search(client, upload_datetime_min=start, upload_datetime_max=end)
    assert window
    assert all(moment(start) <= moment(e["upload_datetime"]) for e in window)
    assert all(moment(e["upload_datetime"]) <= moment(end + "Z") for e in window)
    accessed = await search(client, last_accessed_datetime_min="2025-06-01T00:00:00+00:00")
    assert accessed
    assert all(e["last_accessed_datetime"] for e in accessed)

    own = await search(client, include_organization_data="false")
    assert 0 < len(own) < len(everything)

    gan = await search(client, keywords="gan on sapphire", data_type="oes")
    assert gan
    assert all(
        e["sample_name"] == "GaN on sapphire" and e["char_source_type"] == "oes" for e in gan
    )
    both = await search(client, keywords=["gan", "for-paper"])
    assert both
    assert all("for-paper" in e["tags"] for e in both)


async def test_data_ids_and_filters_combine(app: Starlette, client: httpx.AsyncClient) -> None:
    state = sandbox_state(app)
    ids = state.ids("oes")[:3] + state.ids("sims")[:3]
    assert [e["data_id"] for e in await search(client, data_ids=ids, data_type="oes")] == ids[:3]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("status", "done"),
        ("include_organization_data", ""),
        ("include_organization_data", "maybe"),
        ("growth_length_min", "long"),
        ("growth_length_max", "nan"),
        ("upload_datetime_min", "yesterday"),
        ("last_accessed_datetime_max", "2025-13-01"),
        ("data_type", ""),
    ],
)
async def test_a_bad_filter_is_a_422_naming_it(
    client: httpx.AsyncClient, name: str, value: str
) -> None:
    answer = await client.get("data_entries/", params={name: value})
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == ["query", name]


async def test_physical_samples_and_projects_link_up(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    samples = (await client.get("physical_samples/")).json()
    entries = await search(client)
    assert len(samples) == len({e["physical_sample_id"] for e in entries})
    assert sum(s["num_data_items"] for s in samples) == len(entries)
    one = await client.get("physical_samples/", params={"physical_sample_id": samples[3]["id"]})
    assert one.json() == [samples[3]]
    missing = await client.get("physical_samples/", params={"physical_sample_id": "nope"})
    assert missing.status_code == 404

    projects = (await client.get("projects/")).json()
    assert len(projects) == 5
    for project in projects:
        members = (await client.get(f"projects/{project['id']}/physical_samples")).json()
        assert len(members) == project["physical_sample_count"] > 0
        assert all(project["id"] in {p["id"] for p in m["projects"]} for m in members)
    assert (await client.get("projects/nope/physical_samples")).status_code == 404


def peak_near(axis: list[float], values: list[float], where: float, within: float) -> bool:
    """Whether `values` has its largest value near `where` inside the window around it."""
    window = [(v, x) for x, v in zip(axis, values, strict=True) if abs(x - where) <= within * 4]
    best = max(window)[1]
    return abs(best - where) <= within


async def test_xrd_peaks_sit_at_the_bragg_angles(app: Starlette, client: httpx.AsyncClient) -> None:
    state = sandbox_state(app)
    data_id = next(
        i
        for i in state.ids("xrd")
        if state.catalogue.get(i).sample_name.startswith("GaN-S")  # type: ignore[union-attr]
    )
    result = (await client.get(f"xrd/{data_id}")).json()
    assert result["wavelength_angstrom"] == CU_K_ALPHA
    gan_0002 = bragg_two_theta(5.185 / 2)
    assert abs(gan_0002 - 34.57) < 0.02
    assert peak_near(result["two_theta"], result["intensities"], gan_0002, 0.1)
    sapphire = bragg_two_theta(12.991 / 6)
    assert abs(sapphire - 41.68) < 0.02
    found = [p["two_theta"] for p in result["detected_peaks"]]
    assert any(abs(t - gan_0002) < 0.1 for t in found)
    assert any(abs(t - sapphire) < 0.1 for t in found)
    for peak in result["detected_peaks"]:
        d = CU_K_ALPHA / (2 * math.sin(math.radians(peak["two_theta"] / 2)))
        assert abs(d - peak["d_spacing_angstrom"]) < 0.01


async def test_xps_pl_and_raman_show_the_materials_signatures(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    state = sandbox_state(app)

    def first(kind: str, prefix: str) -> str:
        return next(
            i
            for i in state.ids(kind)
            if state.catalogue.get(i).sample_name.startswith(prefix)  # type: ignore[union-attr]
        )

    xps = (await client.get(f"xps/{first('xps', 'GaN-S')}")).json()
    lines = {(p["element"], p["orbital"]): p["binding_energy"] for p in xps["detected_peaks"]}
    assert abs(lines["Ga", "2p3/2"] - 1117.0) < 1
    assert abs(lines["N", "1s"] - 397.0) < 1
    assert abs(lines["C", "1s"] - 284.8) < 1
    assert abs(sum(xps["predicted_composition"].values()) - 1) < 0.01
    assert peak_near(xps["binding_energies"], xps["intensities"], lines["Ga", "2p3/2"], 1.0)

    pl_id = first("photoluminescence", "GaN-S")
    pl = (await client.get(f"photoluminescence/{pl_id}")).json()
    assert ("photoluminescence_id" in pl) != ("id" in pl)
    assert peak_near(pl["energies"], pl["intensities"], 3.42, 0.05)

    raman = (await client.get(f"raman/{first('raman', 'Si-')}")).json()
    axis = raman.get("wavenumbers") or raman["energies"]
    assert peak_near(axis, raman["intensities"], 520.7, 2.0)
    assert abs(raman["detected_peaks"]["Si TO"] - 520.7) < 2


async def test_a_result_path_of_the_wrong_kind_is_404(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    state = sandbox_state(app)
    for kind in ("xps", "xrd", "photoluminescence", "raman"):
        assert (await client.get(f"{kind}/{state.ids('oes')[0]}")).status_code == 404
        assert (await client.get(f"{kind}/missing")).status_code == 404
    pl = state.ids("pl")[0]
    assert (await client.get(f"photoluminescence/{pl}")).status_code == 200


async def test_details_do_not_depend_on_the_catalogue_size(client: httpx.AsyncClient) -> None:
    small = create_app(entries=50, seed=3)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=small),
        base_url="http://sandbox/",
        headers={"X-API-KEY": "sandbox-key"},
    ) as other:
        assert await search(other) == (await search(client))[:50]


def test_upload_times_are_aware_and_past() -> None:
    state = sandbox_state(create_app(entries=30, seed=1))
    for data_id in state.data_ids:
        record, details = state.catalogue.record(data_id)
        assert details.upload.tzinfo is UTC
        assert moment(record["upload_datetime"]) < datetime(2027, 1, 1, tzinfo=UTC)


async def test_a_wrong_method_lists_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    answer = await client.request("OPTIONS", "target-materials/")
    assert answer.status_code == 405
    assert {m.strip() for m in answer.headers["allow"].split(",")} >= {"GET", "POST"}


def test_the_descriptions_example_ids_are_in_the_seeded_sandbox() -> None:
    """The ids schemathesis starts from (``nox -s schemathesis``) are of the right kind."""
    import yaml

    from atomscale_async._codegen import SPEC
    from tests.schemathesis_sandbox import EXAMPLES_ENTRIES, EXAMPLES_SEED

    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    state = sandbox_state(create_app(entries=EXAMPLES_ENTRIES, seed=EXAMPLES_SEED))
    checked = 0
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                example = parameter.get("example")
                if example is None:
                    continue
                checked += 1
                if parameter["name"] == "data_id":
                    entry = state.catalogue.get(example)
                    assert entry is not None, path
                    assert entry.kind in operation["x-sdk-kind"], path
                elif parameter["name"] == "physical_sample_id":
                    assert example in {s["id"] for s in state.physical_samples()}
                else:
                    assert parameter["name"] == "project_id", path
                    assert state.answer_project_samples(example)[0] == 200
    assert checked >= 8
