"""Every endpoint, through respx, on asyncio and trio: paths, headers, bodies, results."""

from __future__ import annotations

import re

import orjson
import pytest
import respx

from atomscale_async import (
    OESResult,
    ResponseValidationError,
    SIMSResult,
    SynthesisInstrument,
    TargetMaterial,
    TargetMaterialLayerCreate,
    TargetMaterialSample,
    TargetMaterialSampleCreate,
)
from atomscale_async._request import USER_AGENT

from .conftest import API_KEY, ClientFactory
from .payloads import CREATED_SAMPLE, DATA_ID, INSTRUMENT, OES, SIMS_PROFILE, TARGET_MATERIAL, fresh

pytestmark = pytest.mark.anyio


async def test_list_synthesis_instruments(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    route = router.get("instruments/synthesis/").respond(json=[INSTRUMENT, INSTRUMENT])
    async with make_client() as client:
        instruments = await client.synthesis_instruments.list()
    assert [type(i) for i in instruments] == [SynthesisInstrument, SynthesisInstrument]
    assert instruments[0].source_name == "MBE Chamber A"
    request = route.calls.last.request
    assert request.url == "https://api.atomscale.ai/instruments/synthesis/"
    assert request.headers["X-API-KEY"] == API_KEY
    assert request.headers["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith("atomscale-async/")


async def test_list_target_materials(router: respx.MockRouter, make_client: ClientFactory) -> None:
    router.get("target-materials/").respond(json=[TARGET_MATERIAL])
    async with make_client() as client:
        layers = await client.target_materials.list()
    assert [type(layer) for layer in layers] == [TargetMaterial]
    assert layers[0].composition_string == "BaTiO3"
    assert layers[0].mp_id == "mp-5020"


async def test_create_target_material_from_dicts(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    route = router.post("target-materials/").respond(201, json=CREATED_SAMPLE)
    async with make_client() as client:
        sample = await client.target_materials.create(
            sample={"sample_name": "BaTiO3 on Si", "substrate": "Si"},
            layers=[{"layer_id": 1, "composition_string": "BaTiO3", "orientation": "001"}],
        )
    assert isinstance(sample, TargetMaterialSample)
    assert sample.sample_id == 42
    request = route.calls.last.request
    assert request.headers["content-type"] == "application/json"
    assert orjson.loads(request.content) == {
        "sample": {"sample_name": "BaTiO3 on Si", "substrate": "Si"},
        "layers": [{"layer_id": 1, "composition_string": "BaTiO3", "orientation": "001"}],
    }


async def test_create_target_material_from_input_classes_without_layers(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    route = router.post("target-materials/").respond(200, json=CREATED_SAMPLE)
    async with make_client() as client:
        await client.target_materials.create(
            sample=TargetMaterialSampleCreate(sample_name="GaN on sapphire", substrate="Al2O3")
        )
        await client.target_materials.create(
            sample=TargetMaterialSampleCreate(sample_name="GaN", substrate="Al2O3"),
            layers=[
                TargetMaterialLayerCreate(composition_string="GaN", element_dict={"Ga": 1, "N": 1})
            ],
        )
    first, second = (orjson.loads(call.request.content) for call in route.calls)
    assert first == {"sample": {"sample_name": "GaN on sapphire", "substrate": "Al2O3"}}
    assert second["layers"] == [{"composition_string": "GaN", "element_dict": {"Ga": 1, "N": 1}}]


async def test_create_rejects_bad_input_before_sending(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    route = router.post("target-materials/").respond(200, json=CREATED_SAMPLE)
    async with make_client() as client:
        with pytest.raises(
            ValueError, match=r"invalid sample: required field missing @ sample\.substrate"
        ):
            await client.target_materials.create(sample={"sample_name": "x"})
        with pytest.raises(ValueError, match=r"layers\[1\]"):
            await client.target_materials.create(
                sample={"sample_name": "x", "substrate": "Si"}, layers=[{}, {"layer_id": "one"}]
            )
    assert not route.called


async def test_sims_get_wraps_the_array(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    oxygen = fresh(SIMS_PROFILE) | {"species_name": "O", "id": "sims_002"}
    route = router.get(f"sims/{DATA_ID}").respond(json=[oxygen, SIMS_PROFILE])
    async with make_client() as client:
        result = await client.sims.get(DATA_ID)
    assert isinstance(result, SIMSResult)
    assert result.data_id == DATA_ID
    assert [p.species_name for p in result.depth_profiles] == ["O", "Si"]
    assert result.depth_profiles[1].depths.tolist() == [0, 10, 20, 30, 40]
    assert route.calls.last.request.url.path == f"/sims/{DATA_ID}"


async def test_sims_get_empty_array_is_a_result_without_profiles(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    router.get("sims/empty").respond(json=[])
    async with make_client() as client:
        result = await client.sims.get("empty")
    assert result == SIMSResult(data_id="empty", depth_profiles=[])


async def test_oes_get(router: respx.MockRouter, make_client: ClientFactory) -> None:
    router.get(f"oes/{DATA_ID}").respond(json=OES)
    async with make_client() as client:
        result = await client.oes.get(DATA_ID)
    assert isinstance(result, OESResult)
    assert result.wavelengths.tolist() == [400.0, 400.5, 401.0, 401.5]
    assert result.detected_peaks[0].element == "Ga"


async def test_data_id_is_one_path_segment(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    route = router.get("oes/a%2Fb%3Fc").respond(json=OES)
    async with make_client() as client:
        await client.oes.get("a/b?c")
        with pytest.raises(ValueError, match="data_id must not be empty"):
            await client.oes.get("")
        with pytest.raises(TypeError, match="data_id must be a str"):
            await client.oes.get(123)  # type: ignore[arg-type]
    assert route.call_count == 1


BAD_DATA_IDS = [
    pytest.param("", "must not be empty", id="empty"),
    pytest.param(".", "must not be '.' or '..'", id="dot"),
    pytest.param("..", "must not be '.' or '..'", id="dotdot"),
    pytest.param("a\x00b", "control character", id="nul"),
    pytest.param("a\nb", "control character", id="newline"),
    pytest.param("a\x85b", "control character", id="c1-control"),
    pytest.param("a\ud800b", "lone surrogate", id="lone-surrogate"),
    pytest.param("x" * 1025, "at most 1,024 characters", id="too-long"),
    pytest.param("x" * 1_000_000, "at most 1,024 characters", id="one-megabyte"),
]


@pytest.mark.parametrize(("data_id", "problem"), BAD_DATA_IDS)
async def test_a_bad_data_id_is_refused_before_any_request(
    router: respx.MockRouter, make_client: ClientFactory, data_id: str, problem: str
) -> None:
    route = router.route().respond(json=[])
    async with make_client() as client:
        with pytest.raises(ValueError, match=rf"^data_id .*{re.escape(problem)}") as info:
            await client.oes.get(data_id)
        assert len(str(info.value)) < 300, "a long id is not repeated whole"
        with pytest.raises(ValueError, match=rf"^data_id .*{re.escape(problem)}"):
            await client.sims.get(data_id)
        with pytest.raises(ValueError, match=rf"^data_ids\[1\] .*{re.escape(problem)}"):
            await client.data_entries.list(["ok", data_id])
    assert route.call_count == 0


async def test_the_longest_data_id_is_accepted(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    route = router.route().respond(json=OES)
    async with make_client() as client:
        await client.oes.get("x" * 1024)
        await client.oes.get("...")
    assert route.call_count == 2


@pytest.mark.parametrize("item", [None, 123, b"abc"], ids=["none", "int", "bytes"])
async def test_catalogue_ids_that_are_not_strings_are_refused(
    router: respx.MockRouter, make_client: ClientFactory, item: object
) -> None:
    route = router.route().respond(json=[])
    async with make_client() as client:
        with pytest.raises(TypeError, match=r"^data_ids\[0\] must be a str"):
            await client.data_entries.list([item])  # type: ignore[list-item]
        with pytest.raises(ValueError, match=r"^data_ids\[0\] must not be empty"):
            await client.data_entries.list([""])
        with pytest.raises(TypeError, match=r"^data_ids must be a sequence of str"):
            await client.data_entries.list(b"abc")  # type: ignore[arg-type]
    assert route.call_count == 0


async def test_data_entries_repeat_the_query_parameter(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    route = router.get("data_entries/").respond(json=[{"data_id": "a", "char_source_type": "oes"}])
    async with make_client() as client:
        entries = await client.data_entries.list(data_ids=["a", "b"])
        with pytest.raises(TypeError, match="not a single str"):
            await client.data_entries.list(data_ids="ab")
    assert entries[0].char_source_type == "oes"
    params = route.calls.last.request.url.params
    assert params.get_list("data_ids") == ["a", "b"]
    assert params["include_organization_data"] == "true"


async def test_base_url_path_prefix_is_kept(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    route = router.get("https://host.example/api/v2/oes/x").respond(json=OES)
    async with make_client(base_url="https://host.example/api/v2") as client:
        await client.oes.get("x")
    assert route.called


async def test_malformed_payload_names_field_and_endpoint(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    router.get("oes/x").respond(json=fresh(OES) | {"wavelengths": "123"})
    router.get("sims/x").respond(text="not json", headers={"content-type": "text/plain"})
    async with make_client() as client:
        with pytest.raises(
            ResponseValidationError, match=r"GET /oes/\{data_id\}.*@ \$\.wavelengths"
        ):
            await client.oes.get("x")
        with pytest.raises(ResponseValidationError, match="not JSON"):
            await client.sims.get("x")


async def test_create_rejects_a_misspelled_key_naming_its_path_and_the_closest_field(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    route = router.post("target-materials/").respond(200, json=CREATED_SAMPLE)
    async with make_client() as client:
        with pytest.raises(ValueError, match="unknown field") as caught:
            await client.target_materials.create(
                sample={"sample_name": "x", "substrate": "Si"},
                layers=[{"layer_id": 1, "composition_string": "GaN", "orientatoin": "0001"}],
            )
        message = str(caught.value)
        assert "'orientatoin'" in message
        assert "layers[0].orientatoin" in message
        assert "did you mean 'orientation'?" in message
        with pytest.raises(
            ValueError, match=r"'substrat'; did you mean 'substrate'\? @ sample\.substrat$"
        ):
            await client.target_materials.create(
                sample={"sample_name": "x", "substrate": "Si", "substrat": "oops"}
            )
    assert not route.called
