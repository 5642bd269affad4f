"""Tests of atomscale_async.sandbox: conformance to openapi.yaml, realism, state, faults."""

from __future__ import annotations

import contextlib
import importlib.resources
import itertools
import math
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import quote

import httpx
import jsonschema  # type: ignore[import-untyped, unused-ignore]
import orjson
import pytest
import yaml  # type: ignore[import-untyped, unused-ignore]
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from starlette.applications import Starlette

from atomscale_async import sandbox
from atomscale_async._generated.kinds import CATALOGUE_CHUNK, KINDS
from atomscale_async.sandbox import (
    ConnectionDropped,
    Faults,
    SandboxServer,
    catalogue_ids,
    create_app,
    sandbox_state,
)

KEY = {"X-API-KEY": "sandbox-key"}

# Strong emission lines (nm) as tabulated by NIST, independently of the sandbox's table.
REAL_LINES = {
    "Ga": (403.30, 417.20),
    "In": (410.18, 451.13),
    "Al": (394.40, 396.15),
    "N2": (337.13, 357.69, 380.49),
    "N": (746.83, 868.03),
    "O": (777.4, 844.64),
    "Ar": (696.54, 750.39, 763.51, 811.53),
    "Ti": (399.86, 498.17),
    "Ba": (455.40, 553.55),
    "Sr": (407.77, 460.73),
    "Mg": (285.21, 518.36),
}
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


# ------------------------------------------------------------------------------ helpers


def _openapi() -> dict[str, Any]:
    text = importlib.resources.files("atomscale_async").joinpath("openapi.yaml").read_text()
    document: dict[str, Any] = yaml.safe_load(text)
    return document


OPENAPI = _openapi()
_DOCUMENT_URI = "urn:atomscale:openapi"
_REGISTRY: Registry[Any] = Registry().with_resource(
    _DOCUMENT_URI, DRAFT202012.create_resource(OPENAPI)
)


def _validator(*pointer: str) -> Any:
    """A Draft 2020-12 validator of the schema at a JSON pointer into openapi.yaml."""
    escaped = "/".join(quote(p.replace("~", "~0").replace("/", "~1"), safe="") for p in pointer)
    return jsonschema.Draft202012Validator(
        {"$ref": f"{_DOCUMENT_URI}#/{escaped}"},
        registry=_REGISTRY,
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )


def check_response(response: httpx.Response, path: str, method: str = "get") -> Any:
    """Validate a response against the schema openapi.yaml gives its status; return its JSON."""
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    status = str(response.status_code)
    assert status in OPENAPI["paths"][path][method]["responses"], (path, status)
    pointer = ("paths", path, method, "responses", status, "content", "application/json")
    _validator(*pointer, "schema").validate(body)
    _check_timestamps(body)
    return body


def check_error(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, response.text
    body = response.json()
    _validator("components", "schemas", "ErrorBody").validate(body)
    assert body["detail"]
    return body["detail"]


def _check_timestamps(value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in {"last_updated", "detail_note_last_updated", "collected_datetime"}:
                assert item is None or TIMESTAMP.match(item), (key, item)
            else:
                _check_timestamps(item)
    elif isinstance(value, list) and value and isinstance(value[0], dict):
        for item in value:
            _check_timestamps(item)


def parse_formula(formula: str) -> dict[str, float]:
    counts: dict[str, float] = {}
    assert re.fullmatch(r"(?:[A-Z][a-z]?[\d.]*)+", formula), formula
    for symbol, amount in re.findall(r"([A-Z][a-z]?)([\d.]*)", formula):
        counts[symbol] = counts.get(symbol, 0) + (float(amount) if amount else 1)
    return counts


def _client(app: Starlette, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://sandbox/",
        headers=KEY if headers is None else headers,
    )


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def app() -> Starlette:
    return create_app(entries=400, seed=11)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(app) as client:
        yield client


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(entries=200, seed=3) as server:
        yield server


@pytest.fixture
def faulty(server: SandboxServer) -> Iterator[SandboxServer]:
    """The module's real server, with its faults reset after the test."""
    try:
        yield server
    finally:
        server.faults = Faults()


# -------------------------------------------------------------------------- conformance


@pytest.mark.anyio
async def test_every_endpoint_conforms_to_openapi() -> None:
    app = create_app(entries=400, seed=11)  # its own: the test creates a sample
    state = sandbox_state(app)
    async with _client(app) as client:
        instruments = check_response(
            await client.get("instruments/synthesis/"), "/instruments/synthesis/"
        )
        assert {i["synth_source_type"] for i in instruments} >= {"mbe", "sputter", "pld"}

        check_response(await client.get("target-materials/"), "/target-materials/")
        body = {
            "sample": {"sample_name": "BTO on Si", "substrate": "Si", "sample_metadata": {"a": 1}},
            "layers": [{"composition_string": "BaTiO3", "orientation": "001"}],
        }
        created = check_response(
            await client.post("target-materials/", json=body), "/target-materials/", "post"
        )
        rows = check_response(await client.get("target-materials/"), "/target-materials/")
        assert created["sample_id"] in {row["sample_id"] for row in rows}

        sims_ids = state.sims_ids(empty=False)[:3] + state.sims_ids(empty=True)[:1]
        assert len(sims_ids) == 4
        for data_id in sims_ids:
            check_response(await client.get(f"sims/{data_id}"), "/sims/{data_id}")

        oes_ids = [
            state.oes_ids(with_reference=True, with_dark=True)[0],
            state.oes_ids(with_reference=False, with_dark=False)[0],
            state.oes_ids(with_reference=False, with_dark=True)[0],
        ]
        for data_id in oes_ids:
            result = check_response(await client.get(f"oes/{data_id}"), "/oes/{data_id}")
            reference, dark = state.catalogue.oes_capture(data_id)
            assert (result["reference"] is not None, result["dark"] is not None) == (
                reference,
                dark,
            )

        ids = [*state.data_ids[:97], "00000000-0000-4000-8000-000000000000", "nope", "x"]
        entries = check_response(
            await client.get(
                "data_entries/", params={"data_ids": ids, "include_organization_data": "true"}
            ),
            "/data_entries/",
        )
        assert [e["data_id"] for e in entries] == state.data_ids[:97]

        for response, path in [
            (await client.get("sims/unknown"), "/sims/{data_id}"),
            (await client.get("oes/unknown"), "/oes/{data_id}"),
        ]:
            assert response.status_code == 404
            check_response(response, path)
        invalid = await client.post("target-materials/", json={"layers": []})
        assert invalid.status_code == 422
        check_response(invalid, "/target-materials/", "post")


@pytest.mark.anyio
async def test_every_path_of_the_kind_table_is_served(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    state = sandbox_state(app)
    for kind in KINDS.values():
        data_id = state.ids(kind.name)[0]
        check_response(await client.get(kind.path.format(data_id=data_id)[1:]), kind.path)
        others = [k for k in KINDS.values() if k.path != kind.path]
        for other in others:
            response = await client.get(other.path.format(data_id=data_id)[1:])
            assert f"it is a {kind.name} entry" in check_error(response, 404)


def test_the_first_entries_are_one_of_each_kind_of_the_table() -> None:
    canonical = list(dict.fromkeys(kind.canonical for kind in KINDS.values()))
    state = sandbox_state(create_app(entries=len(canonical), seed=4))
    assert [state.catalogue.get(i).kind for i in state.data_ids] == canonical  # type: ignore[union-attr]
    assert sandbox.MAX_DATA_IDS == CATALOGUE_CHUNK


# ---------------------------------------------------------------------------- determinism


async def _snapshot(app: Starlette) -> list[bytes]:
    state = sandbox_state(app)
    paths = [
        "instruments/synthesis/",
        "target-materials/",
        *(f"sims/{i}" for i in state.ids("sims")[:3]),
        *(f"oes/{i}" for i in state.ids("oes")[:3]),
    ]
    async with _client(app) as client:
        answers = [await client.get(path) for path in paths]
        answers.append(await client.get("data_entries/", params={"data_ids": state.data_ids}))
    assert all(answer.status_code == 200 for answer in answers)
    return [answer.content for answer in answers]


@pytest.mark.anyio
async def test_same_seed_serves_the_same_bytes() -> None:
    first = await _snapshot(create_app(entries=60, seed=5))
    assert first == await _snapshot(create_app(entries=60, seed=5))
    assert first != await _snapshot(create_app(entries=60, seed=6))


def test_catalogue_is_deterministic_and_grows_by_prefix() -> None:
    ids = catalogue_ids(create_app(entries=50, seed=2))
    assert ids == catalogue_ids(create_app(entries=50, seed=2))
    assert catalogue_ids(create_app(entries=10, seed=2)) == ids[:10]
    assert ids != catalogue_ids(create_app(entries=50, seed=3))
    assert all(
        re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", i)
        for i in ids
    )
    assert len(set(ids)) == 50


def test_catalogue_mixes_kinds(app: Starlette) -> None:
    state = sandbox_state(app)
    kinds = ("sims", "oes", "xps", "xrd", "photoluminescence", "pl", "raman", "rheed_image")
    counts = {kind: len(state.ids(kind)) for kind in kinds}
    assert counts["sims"] > 100
    assert counts["oes"] > 100
    assert all(counts[kind] > 0 for kind in kinds), counts
    assert sum(counts.values()) == len(state.data_ids) == 400
    assert catalogue_ids(app, "oes") == state.ids("oes")
    tiny = sandbox_state(create_app(entries=2))
    assert tiny.ids("sims")
    assert tiny.ids("oes")


# -------------------------------------------------------------------------------- realism


@pytest.mark.anyio
async def test_element_dict_matches_composition(client: httpx.AsyncClient) -> None:
    rows = (await client.get("target-materials/")).json()
    assert len({row["sample_id"] for row in rows}) < len(rows)  # samples of several layers
    for row in rows:
        assert row["element_dict"] == pytest.approx(parse_formula(row["composition_string"]))
    by_composition = {row["composition_string"]: row for row in rows}
    assert by_composition["BaTiO3"]["element_dict"] == {"Ba": 1, "Ti": 1, "O": 3}
    assert by_composition["In0.15Ga0.85N"]["element_dict"] == {"In": 0.15, "Ga": 0.85, "N": 1}
    assert {"Si", "Al2O3", "SrTiO3"} <= {row["substrate"] for row in rows}
    assert {"GaN", "AlN", "SrTiO3"} <= set(by_composition)


@pytest.mark.anyio
async def test_oes_peaks_sit_at_real_lines_and_are_local_maxima(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    modes = set()
    for data_id in sandbox_state(app).ids("oes")[:25]:
        result = (await client.get(f"oes/{data_id}")).json()
        wavelengths = result["wavelengths"]
        corrected = result["scope_corrected"]
        assert len(wavelengths) == len(corrected) == len(result["sample"]) == 2048
        assert wavelengths[0] == 200.0
        assert wavelengths[-1] == 900.0
        assert all(a < b for a, b in itertools.pairwise(wavelengths))
        step = wavelengths[1] - wavelengths[0]
        if result["dark"] is not None:
            for s, d, c in zip(result["sample"], result["dark"], corrected, strict=True):
                assert c == pytest.approx(s - d, abs=0.02)
        for spectrum in (result["reference"], result["dark"]):
            assert spectrum is None or len(spectrum) == 2048
        baseline = sorted(corrected)[len(corrected) // 2]
        peaks = result["detected_peaks"]
        assert peaks
        for peak in peaks:
            line = peak["wavelength_nm"]
            assert min(abs(line - real) for real in REAL_LINES[peak["element"]]) < 0.1
            nearest = min(range(len(wavelengths)), key=lambda i: abs(wavelengths[i] - line))
            window = range(nearest - 1, nearest + 2)
            top = max(window, key=lambda i: corrected[i])
            assert corrected[top] >= corrected[top - 1]
            assert corrected[top] >= corrected[top + 1]
            assert abs(wavelengths[top] - line) <= 1.5 * step
            assert corrected[top] > baseline + 100
        elements = {peak["element"] for peak in peaks}
        mode, constrained = result["constraint_mode"], result["constrained_elements"]
        modes.add(mode)
        if mode == "auto":
            assert constrained is None
        elif mode == "include":
            assert elements <= set(constrained)
        else:
            assert mode == "exclude"
            assert constrained
            assert not elements & set(constrained)
    assert modes == {"auto", "include", "exclude"}


@pytest.mark.anyio
async def test_gan_growth_shows_gallium_and_nitrogen_lines(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    for data_id in sandbox_state(app).ids("oes")[:40]:
        result = (await client.get(f"oes/{data_id}")).json()
        if result["spectral_metadata"]["process"] == "GaN MBE growth":
            lines = {(p["element"], p["wavelength_nm"]) for p in result["detected_peaks"]}
            assert {("Ga", 403.3), ("Ga", 417.2), ("N2", 337.13), ("N2", 357.69)} <= lines
            return
    pytest.fail("no GaN growth among the first OES entries")


@pytest.mark.anyio
async def test_sims_profiles_look_like_implants_and_doping(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    species_seen: set[str] = set()
    for data_id in sandbox_state(app).sims_ids(empty=False)[:20]:
        profiles = (await client.get(f"sims/{data_id}")).json()
        names = [p["species_name"] for p in profiles]
        assert names == sorted(names)
        assert len(profiles) >= 2
        assert len({p["processed_data_id"] for p in profiles}) == 1
        for profile in profiles:
            depths, values = profile["depths"], profile["concentrations"]
            assert 100 <= len(depths) == len(values) <= 5000
            assert depths[0] == 0
            assert all(a < b for a, b in itertools.pairwise(depths))
            assert profile["depth_units"] == "nm"
            assert profile["concentration_units"] == "atoms/cm^3"
            assert min(values) > 1e12
            assert max(values) < 1e23
            assert math.log10(max(values) / min(values)) >= 3
            if profile["species_metadata"]["profile_type"] == "implant":
                peak = max(range(len(values)), key=values.__getitem__)
                assert 0 < depths[peak] < depths[-1] / 2
                assert values[peak] > 1000 * sorted(values[-50:])[25]
            species_seen.add(profile["species_name"])
    assert len(species_seen) >= 5


@pytest.mark.anyio
async def test_sims_entry_without_profiles_answers_an_empty_array(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    response = await client.get(f"sims/{sandbox_state(app).sims_ids(empty=True)[0]}")
    assert response.status_code == 200
    assert response.json() == []


# ---------------------------------------------------------------------------------- state


@pytest.mark.anyio
async def test_created_sample_appears_in_the_next_list() -> None:
    async with _client(create_app(entries=5)) as client:
        before = (await client.get("target-materials/")).json()
        body = {
            "sample": {"sample_name": "InGaN LED", "substrate": "Al2O3"},
            "layers": [
                {"composition_string": "GaN", "layer_id": 1, "orientation": "0001"},
                {"composition_string": "In0.2Ga0.8N", "layer_id": 2},
                {"composition_string": "GaN:Mg", "element_dict": {"Ga": 1, "N": 1, "Mg": 0.001}},
            ],
        }
        response = await client.post("target-materials/", json=body)
        assert response.status_code == 201
        created = response.json()
        assert created["sample_name"] == "InGaN LED"
        assert created["sample_id"] not in {row["sample_id"] for row in before}
        after = (await client.get("target-materials/")).json()
        new = [row for row in after if row["sample_id"] == created["sample_id"]]
        assert len(after) == len(before) + 3
        assert [row["layer_id"] for row in new] == [1, 2, 3]
        assert new[1]["element_dict"] == {"In": 0.2, "Ga": 0.8, "N": 1}
        assert new[2]["element_dict"] == {"Ga": 1, "N": 1, "Mg": 0.001}
        assert len({row["id"] for row in after}) == len(after)

        bare = await client.post("target-materials/", json={"sample": created | {}})
        assert bare.status_code == 201
        assert bare.json()["sample_id"] == created["sample_id"] + 1
        assert len((await client.get("target-materials/")).json()) == len(after)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b"{not json", "body"),
        (b"[1, 2]", "body"),
        (b"{}", "sample"),
        (b'{"sample": "Si"}', "sample"),
        (b'{"sample": {"substrate": "Si"}}', "sample_name"),
        (b'{"sample": {"sample_name": "x"}}', "substrate"),
        (b'{"sample": {"sample_name": 3, "substrate": "Si"}}', "sample_name"),
        (
            b'{"sample": {"sample_name": "x", "substrate": "Si", "sample_metadata": 1}}',
            "sample_metadata",
        ),
        (b'{"sample": {"sample_name": "x", "substrate": "Si"}, "layers": {}}', "layers"),
        (
            b'{"sample": {"sample_name": "x", "substrate": "Si"}, "layers": [{"layer_id": "1"}]}',
            "layer_id",
        ),
        (
            b'{"sample": {"sample_name": "x", "substrate": "Si"},'
            b' "layers": [{"element_dict": {"Ba": "1"}}]}',
            "Ba",
        ),
    ],
)
async def test_invalid_create_body_is_422_naming_the_field(
    client: httpx.AsyncClient, content: bytes, field: str
) -> None:
    response = await client.post(
        "target-materials/", content=content, headers={"content-type": "application/json"}
    )
    detail = check_error(response, 422)
    assert isinstance(detail, list)
    assert any(field in error["loc"] for error in detail), detail
    assert all(error["msg"] for error in detail)


# ----------------------------------------------------------------------- auth and errors


@pytest.mark.anyio
async def test_api_key_is_required(app: Starlette) -> None:
    for headers in ({}, {"X-API-KEY": "wrong"}):
        async with _client(app, headers) as client:
            for path in ("instruments/synthesis/", "sims/x", "not-a-path"):
                detail = check_error(await client.get(path), 401)
                assert "API key" in detail
    async with _client(create_app(entries=3, api_key=None), {}) as client:
        assert (await client.get("instruments/synthesis/")).status_code == 200


@pytest.mark.anyio
async def test_unknown_and_mismatched_ids_are_404(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    state = sandbox_state(app)
    other = (state.ids("xps") + state.ids("raman"))[0]
    for path in (
        "sims/00000000-0000-4000-8000-000000000000",
        "oes/00000000-0000-4000-8000-000000000000",
        f"sims/{state.ids('oes')[0]}",
        f"oes/{state.ids('sims')[0]}",
        f"sims/{other}",
        f"oes/{other}",
        "target-materials",  # the paths are exact: no redirect to the trailing slash
        f"oes/{state.ids('oes')[0]}/",
        "elsewhere/",
    ):
        check_error(await client.get(path), 404)
    response = await client.delete("target-materials/")
    check_error(response, 405)


@pytest.mark.anyio
async def test_data_entries_lookup(app: Starlette, client: httpx.AsyncClient) -> None:
    ids = sandbox_state(app).data_ids
    answer = await client.get(
        "data_entries/", params={"data_ids": [ids[5], "missing", ids[2], ids[5]]}
    )
    assert [e["data_id"] for e in answer.json()] == [ids[5], ids[2]]
    assert {
        e["char_source_type"]
        for e in (await client.get("data_entries/", params={"data_ids": ids[:100]})).json()
    } >= {"sims", "oes"}

    too_many = await client.get("data_entries/", params={"data_ids": ids[:101]})
    assert "data_ids" in check_error(too_many, 422)[0]["loc"]
    bad_flag = await client.get(
        "data_entries/", params={"data_ids": ids[0], "include_organization_data": "maybe"}
    )
    assert "include_organization_data" in check_error(bad_flag, 422)[0]["loc"]


# --------------------------------------------------------------------- faults in-process


def test_faults_are_validated() -> None:
    with pytest.raises(ValueError, match="error_rate"):
        Faults(error_rate=1.5)
    with pytest.raises(ValueError, match="must not exceed 1"):
        Faults(error_rate=0.5, rate_limit=0.4, drop_rate=0.2)
    with pytest.raises(ValueError, match="latency_ms"):
        create_app(latency_ms=-1)
    assert Faults(retry_after=2).retry_after_header == "2"
    assert Faults(retry_after=0.25).retry_after_header == "0.25"


async def _outcomes(app: Starlette, count: int) -> list[int | str]:
    seen: list[int | str] = []
    async with _client(app) as client:
        for _ in range(count):
            try:
                seen.append((await client.get("instruments/synthesis/")).status_code)
            except ConnectionDropped:
                seen.append("dropped")
    return seen


@pytest.mark.anyio
async def test_faults_in_process_are_seeded() -> None:

    def faulty_app(seed: int) -> Starlette:
        return create_app(entries=3, seed=seed, error_rate=0.3, rate_limit=0.2, drop_rate=0.1)

    first = await _outcomes(faulty_app(1), 60)
    assert first == await _outcomes(faulty_app(1), 60)
    assert first != await _outcomes(faulty_app(2), 60)
    assert set(first) == {200, 429, 500, 503, "dropped"}


@pytest.mark.anyio
async def test_in_process_drop_looks_like_a_transport_error() -> None:
    async with _client(create_app(entries=3, drop_rate=1)) as client:
        with pytest.raises(httpx.TransportError):
            await client.get("instruments/synthesis/")


@pytest.mark.anyio
async def test_faults_can_change_while_serving() -> None:
    app = create_app(entries=3)
    async with _client(app) as client:
        assert (await client.get("instruments/synthesis/")).status_code == 200
        sandbox_state(app).faults = Faults(rate_limit=1, retry_after=0.5)
        limited = await client.get("instruments/synthesis/")
        assert limited.status_code == 429
        assert limited.headers["retry-after"] == "0.5"


# ---------------------------------------------------------------------- the real server


def test_server_serves_the_api(server: SandboxServer) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", server.base_url)
    assert server.api_key == "sandbox-key"
    assert len(server.data_ids) == 200
    with httpx.Client(base_url=server.base_url, headers=KEY) as client:
        check_response(client.get("instruments/synthesis/"), "/instruments/synthesis/")
        oes_id = server.state.ids("oes")[0]
        check_response(client.get(f"oes/{oes_id}"), "/oes/{data_id}")
        check_error(client.get("instruments/synthesis/", headers={"X-API-KEY": "no"}), 401)


def test_server_answers_without_nagle_delays(server: SandboxServer) -> None:
    # Headers and body leave in two writes: without TCP_NODELAY on the accepted sockets,
    # each answer waited for the client's delayed ACK (~40 ms).
    with httpx.Client(base_url=server.base_url, headers=KEY) as client:
        client.get("instruments/synthesis/")
        started = time.perf_counter()
        for _ in range(20):
            client.get("instruments/synthesis/")
        assert time.perf_counter() - started < 0.5


def test_server_latency(faulty: SandboxServer) -> None:
    faulty.faults = Faults(latency_ms=150)
    with httpx.Client(base_url=faulty.base_url, headers=KEY) as client:
        started = time.perf_counter()
        assert client.get("instruments/synthesis/").status_code == 200
        assert time.perf_counter() - started >= 0.15


def test_server_5xx(faulty: SandboxServer) -> None:
    faulty.faults = Faults(error_rate=1)
    with httpx.Client(base_url=faulty.base_url, headers=KEY) as client:
        statuses = {client.get("instruments/synthesis/").status_code for _ in range(20)}
        assert statuses == {500, 503}
        response = client.get("target-materials/")
        assert response.status_code in {500, 503}
        check_error(response, response.status_code)


def test_server_429_with_retry_after(faulty: SandboxServer) -> None:
    faulty.faults = Faults(rate_limit=1, retry_after=2)
    with httpx.Client(base_url=faulty.base_url, headers=KEY) as client:
        response = client.get("instruments/synthesis/")
        check_error(response, 429)
        assert response.headers["Retry-After"] == "2"


def test_server_drops_connections(faulty: SandboxServer) -> None:
    faulty.faults = Faults(drop_rate=1)
    with httpx.Client(base_url=faulty.base_url, headers=KEY) as client:
        for _ in range(3):
            with pytest.raises(httpx.TransportError) as caught:
                client.get("instruments/synthesis/")
            assert not isinstance(caught.value, ConnectionDropped)  # a real disconnect
        faulty.faults = Faults(drop_rate=0.5)
        outcomes = set()
        for _ in range(30):
            try:
                outcomes.add(client.get("instruments/synthesis/").status_code)
            except httpx.TransportError:
                outcomes.add(0)
        assert outcomes == {0, 200}
        faulty.faults = Faults()
        assert client.get("instruments/synthesis/").status_code == 200


def _threads_end(before: set[threading.Thread], within: float = 10.0) -> bool:
    """Whether every thread started since `before` has ended, waiting up to `within` s.

    A stopped server joins its threads, but helper threads of its event loop (resolver,
    executor) may take a moment more on a loaded machine; a leaked thread never ends.
    Threads of `before` may end (trio's idle workers do).
    """
    deadline = time.monotonic() + within
    while set(threading.enumerate()) - before:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _refuses(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_server_stops_cleanly() -> None:
    threads_before = set(threading.enumerate())
    server = SandboxServer(entries=5, latency_ms=50)
    assert repr(server).endswith("not started entries=5>")
    with server, httpx.Client(base_url=server.base_url, headers=KEY) as client:
        assert server.running
        assert client.get("instruments/synthesis/").status_code == 200  # keep-alive left open
    assert not server.running
    assert _threads_end(threads_before)
    assert _refuses(server.port)
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.base_url, headers=KEY)
    server.stop()  # idempotent


def test_serve_runs_in_the_foreground_until_interrupted() -> None:
    code = "from atomscale_async.sandbox import serve; serve(port=0, entries=5, seed=1)"
    process = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        banner = process.stderr.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+/", banner)
        assert found, banner
        assert "sandbox-key" in banner
        with httpx.Client(base_url=found.group(), headers=KEY) as client:
            assert client.get("instruments/synthesis/").status_code == 200
            entries = client.get("data_entries/", params={"data_ids": "x"})
            assert entries.json() == []
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
        assert "Traceback" not in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()


def test_server_reports_a_busy_port() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(OSError):  # noqa: PT011 (the errno depends on the OS)
            SandboxServer(entries=1, port=busy.getsockname()[1]).start()


# ----------------------------------------------------------------------------- exports


def test_exported_names() -> None:
    for name in sandbox.__all__:  # the app and the server are imported when first used
        assert getattr(sandbox, name) is not None
    public = {name for name in vars(sandbox) if not name.startswith("_")}
    assert set(sandbox.__all__) == public
    assert set(dir(sandbox)) >= public
    assert orjson.loads(orjson.dumps(sandbox.EMISSION_LINES_NM))["Ga"] == [403.3, 417.2]


# ------------------------------------------------------------------- a server process


def test_process_server_serves_the_same_data_and_stops_cleanly() -> None:
    threads_before = set(threading.enumerate())
    server = SandboxServer(entries=30, seed=9, process=True)
    assert server.data_ids == catalogue_ids(create_app(entries=30, seed=9))
    with server, httpx.Client(base_url=server.base_url, headers=KEY) as client:
        assert server.running
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", server.base_url)
        sims_id = server.state.sims_ids(empty=False)[0]
        response = client.get(f"sims/{sims_id}")
        check_response(response, "/sims/{data_id}")
        assert response.content == server.state.catalogue.sims_json(sims_id)
        entries = client.get("data_entries/", params={"data_ids": server.data_ids[:5]}).json()
        assert [e["data_id"] for e in entries] == server.data_ids[:5]

        server.faults = Faults(rate_limit=1, retry_after=3)  # reaches the child
        assert server.faults.rate_limit == 1
        limited = client.get("instruments/synthesis/")
        assert limited.status_code == 429
        assert limited.headers["retry-after"] == "3"
        server.faults = Faults()
        assert client.get("instruments/synthesis/").status_code == 200
        stats = server.stats()
        assert stats.requests == 4
        assert stats.response_bytes > len(response.content)
        child = server._child
        assert child is not None
    assert not server.running
    assert child.process.returncode is not None
    assert _threads_end(threads_before)
    assert _refuses(server.port)
    with pytest.raises(RuntimeError, match="not running"):
        child.stats(1.0)
    server.stop()  # idempotent
    assert repr(server).endswith(" process entries=30>")


def test_process_server_reports_a_busy_port_and_refuses_an_app() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        server = SandboxServer(entries=1, port=busy.getsockname()[1], process=True)
        with pytest.raises(OSError, match="in use"):
            server.start()
        assert not server.running
    with pytest.raises(ValueError, match="process=True"):
        SandboxServer(create_app(entries=1), process=True)


def test_process_server_ends_with_its_parent() -> None:
    code = (
        "import os, sys\n"
        "from atomscale_async.sandbox import SandboxServer\n"
        "server = SandboxServer(entries=3, process=True).start()\n"
        "print(server._child.process.pid, server.base_url, flush=True)\n"
        "sys.stdin.read()\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        pid, url = parent.stdout.readline().split()
        assert httpx.get(url + "instruments/synthesis/", headers=KEY).status_code == 200
        parent.kill()  # no chance to stop its server: the child sees its stdin close
        parent.wait()
        deadline = time.monotonic() + 10
        while _alive(int(pid)):
            assert time.monotonic() < deadline, "the server process outlived its parent"
            time.sleep(0.05)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        for stream in (parent.stdin, parent.stdout):
            if stream is not None:
                stream.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by init) counts as gone.
    with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ")[-1][:1] != "Z"
    return True


def test_server_stats_count_requests_and_bytes(server: SandboxServer) -> None:
    before = server.stats()
    with httpx.Client(base_url=server.base_url, headers=KEY) as client:
        body = client.get("instruments/synthesis/").content
        client.get("instruments/synthesis/", headers={"X-API-KEY": "wrong"})
    after = server.stats()
    assert after.requests == before.requests + 2
    assert after.response_bytes - before.response_bytes > len(body)


def test_data_and_state_import_without_the_web_stack() -> None:
    code = (
        "import sys\n"
        "import atomscale_async.sandbox as sandbox\n"
        "from atomscale_async.sandbox import SandboxState, Faults\n"
        "import atomscale_async.testing\n"
        "assert not {'starlette', 'uvicorn'} & set(sys.modules), sorted(sys.modules)\n"
        "sandbox.create_app\n"
        "assert 'starlette' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
