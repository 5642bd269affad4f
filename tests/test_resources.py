"""Every endpoint, through respx, on asyncio and trio: paths, headers, bodies, results."""

from __future__ import annotations

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
        with pytest.raises(ValueError, match="data_id must be a non-empty string"):
            await client.oes.get("")
        with pytest.raises(ValueError, match="data_id must be a non-empty string"):
            await client.oes.get(123)  # type: ignore[arg-type]
    assert route.call_count == 1


async def test_data_entries_repeat_the_query_parameter(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    route = router.get("data_entries/").respond(json=[{"data_id": "a", "char_source_type": "oes"}])
    async with make_client() as client:
        entries = await client.data_entries.list(data_ids=["a", "b"])
        with pytest.raises(TypeError, match="not a string"):
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
