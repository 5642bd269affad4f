"""Tests of atomscale_async.testing, used the way the SDK's users use it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import orjson
import pytest

from atomscale_async import (
    APIConnectionError,
    AsyncClient,
    AuthenticationError,
    Client,
    InternalServerError,
    NotFoundError,
    OESResult,
    PhotoluminescenceResult,
    RamanResult,
    SIMSResult,
    UnknownDataTypeWarning,
    UnknownResult,
    UnprocessableEntityError,
    XPSResult,
    XRDResult,
)

if TYPE_CHECKING:
    from atomscale_async.testing import AtomscaleMock

# As a user's conftest.py does. The module is imported by pytest here, before any test
# imports from it (an earlier import would keep pytest from registering it cleanly).
pytest_plugins = ["atomscale_async.testing"]

pytestmark = pytest.mark.filterwarnings("ignore::atomscale_async.UnknownDataTypeWarning")


# ------------------------------------------------------------------ clients built by users


@pytest.mark.anyio
async def test_async_client_built_without_arguments_uses_the_mock(
    atomscale_mock: AtomscaleMock,
) -> None:
    async with AsyncClient() as client:  # the key and URL come from the environment
        assert client.base_url == atomscale_mock.base_url == "https://api.atomscale.test/"
        instruments = await client.synthesis_instruments.list()
        assert {i.synth_source_type for i in instruments} >= {"mbe", "sputter", "pld"}
        materials = await client.target_materials.list()
        created = await client.target_materials.create(
            sample={"sample_name": "HEMT 7", "substrate": "SiC"},
            layers=[{"composition_string": "AlN", "orientation": "0001"}],
        )
        assert created.sample_id not in {m.sample_id for m in materials}
        assert len(await client.target_materials.list()) == len(materials) + 1

        sims = await client.sims.get(atomscale_mock.state.sims_ids(empty=False)[0])
        assert sims.depth_profiles
        oes = await client.oes.get(atomscale_mock.oes_ids[0])
        assert oes.detected_peaks
        entries = await client.data_entries.list(data_ids=atomscale_mock.data_ids[:10])
        assert [e.data_id for e in entries] == atomscale_mock.data_ids[:10]

        results = await client.get(atomscale_mock.data_ids, errors="return")
    assert not [r for r in results if isinstance(r, Exception)]
    # Every typed kind, and UnknownResult for rheed_image where the catalogue holds one.
    assert {type(r) for r in results} - {UnknownResult} == {
        SIMSResult,
        OESResult,
        XPSResult,
        XRDResult,
        PhotoluminescenceResult,
        RamanResult,
    }
    assert atomscale_mock.router["sims.get"].call_count == len(atomscale_mock.sims_ids) + 1


def test_sync_client_built_without_arguments_uses_the_mock(
    atomscale_mock: AtomscaleMock,
) -> None:
    with Client() as client:
        result = client.oes.get(atomscale_mock.oes_ids[0])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnknownDataTypeWarning)
            outcomes = list(client.iter_results(atomscale_mock.data_ids[:20]))
    assert result.data_id == atomscale_mock.oes_ids[0]
    assert len(outcomes) == 20
    assert all(o.ok for o in outcomes)


@pytest.mark.anyio
async def test_answers_are_the_sandbox_data(atomscale_mock: AtomscaleMock) -> None:
    catalogue = atomscale_mock.state.catalogue
    sims_id, oes_id = atomscale_mock.sims_ids[0], atomscale_mock.oes_ids[0]
    async with httpx.AsyncClient(
        base_url=atomscale_mock.base_url, headers={"X-API-KEY": atomscale_mock.api_key or ""}
    ) as http:
        assert (await http.get(f"sims/{sims_id}")).content == catalogue.sims_json(sims_id)
        oes = await http.get(f"oes/{oes_id}")
        assert oes.headers["content-type"] == "application/json"
        assert oes.content == catalogue.oes_json(oes_id)
        too_many = await http.get("data_entries/", params={"data_ids": ["x"] * 101})
        assert too_many.status_code == 422


@pytest.mark.anyio
async def test_errors_are_the_apis(atomscale_mock: AtomscaleMock) -> None:
    async with AsyncClient() as client:
        with pytest.raises(NotFoundError, match="has no OES data"):
            await client.oes.get(atomscale_mock.sims_ids[0])
        with pytest.raises(NotFoundError):
            await client.sims.get("00000000-0000-4000-8000-000000000000")
        with pytest.raises(UnprocessableEntityError):
            await client.target_materials.create(sample={"sample_name": " ", "substrate": "Si"})
    async with AsyncClient(api_key="not-the-key") as client:
        with pytest.raises(AuthenticationError):
            await client.synthesis_instruments.list()


# ------------------------------------------------------------------------------ overrides


@pytest.mark.anyio
async def test_override_one_route(atomscale_mock: AtomscaleMock) -> None:
    failing = atomscale_mock.oes_ids[0]
    override = atomscale_mock.override(
        "GET", f"oes/{failing}", status_code=500, json={"detail": "boom"}
    )
    async with AsyncClient(max_retries=0) as client:
        with pytest.raises(InternalServerError, match="boom"):
            await client.oes.get(failing)
        assert (await client.oes.get(atomscale_mock.oes_ids[1])).data_id  # others still work
        assert override.call_count == 1
        assert override.calls[0].url.path == f"/oes/{failing}"

        every = atomscale_mock.override("GET", "sims/{data_id}", json=[])
        assert (await client.sims.get("any-id-at-all")).depth_profiles == []
        every.remove()
        override.remove()
        with pytest.raises(NotFoundError):
            await client.sims.get("any-id-at-all")
        assert (await client.oes.get(failing)).data_id == failing


@pytest.mark.anyio
async def test_override_with_a_network_failure(atomscale_mock: AtomscaleMock) -> None:
    override = atomscale_mock.override(
        "GET", "instruments/synthesis/", side_effect=httpx.ConnectError
    )
    async with AsyncClient(max_retries=1) as client:
        with pytest.raises(APIConnectionError):
            await client.synthesis_instruments.list()
    assert override.call_count == 2  # a connection failure is retried


def test_override_with_a_function(atomscale_mock: AtomscaleMock) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["x-api-key"] == atomscale_mock.api_key
        return httpx.Response(200, json=[])

    atomscale_mock.override("GET", "/target-materials/", side_effect=answer)
    with Client() as client:
        assert client.target_materials.list() == []
    with pytest.raises(TypeError, match="not both"):
        atomscale_mock.override("GET", "x/", side_effect=answer, status_code=200)


class TestOptions:
    @pytest.fixture
    def atomscale_mock_options(self) -> dict[str, Any]:
        return {"entries": 7, "seed": 5, "api_key": "k-123", "base_url": "http://mock.test:9/v2"}

    def test_options_choose_the_data_and_the_address(self, atomscale_mock: AtomscaleMock) -> None:
        assert len(atomscale_mock.data_ids) == 7
        assert os.environ["ATOMSCALE_BASE_URL"] == "http://mock.test:9/v2/"
        with Client() as client:
            assert client.base_url == "http://mock.test:9/v2/"
            assert client.sims.get(atomscale_mock.sims_ids[0]).data_id
        assert type(atomscale_mock)(entries=7, seed=5).data_ids == atomscale_mock.data_ids


# ------------------------------------------------------------------- unmocked requests


def test_an_unmocked_request_raises_at_once() -> None:
    from atomscale_async.testing import AtomscaleMock

    with AtomscaleMock(entries=3) as mock, Client(mock.api_key, base_url=mock.base_url) as client:
        with pytest.raises(AssertionError, match="not an endpoint"):
            client._run(lambda: client._async._request("GET", "elsewhere/"))
        with pytest.raises(AssertionError, match="not mocked"):
            httpx.get("https://another-service.test/")
        assert [str(r.url) for r in mock.unmocked] == [
            f"{mock.base_url}elsewhere/",
            "https://another-service.test/",
        ]
    assert "AtomscaleMock" in repr(mock)


def test_base_url_must_be_http() -> None:
    from atomscale_async.testing import AtomscaleMock

    with pytest.raises(ValueError, match="http"):
        AtomscaleMock(base_url="ftp://x/")


# ------------------------------------------------------------- a user's project, opting in

CONFTEST = 'pytest_plugins = ["atomscale_async.testing"]\n'
USER_TESTS = """
    import sys

    import pytest

    from atomscale_async import AsyncClient, Client


    @pytest.mark.anyio
    async def test_async(atomscale_mock):
        async with AsyncClient() as client:
            result = await client.sims.get(atomscale_mock.sims_ids[0])
        assert result.data_id == atomscale_mock.sims_ids[0]


    def test_sync(atomscale_mock):
        with Client() as client:
            assert client.synthesis_instruments.list()


    def test_unmocked_request_fails_even_when_caught(atomscale_mock):
        with Client() as client:
            try:
                client.sims.get(atomscale_mock.sims_ids[0])
                client._run(lambda: client._async._request("GET", "v9/new"))
            except Exception:
                pass  # the code under test swallows the error...
"""
PLAIN_TESTS = """
    import sys


    def test_not_loaded():
        assert "atomscale_async.testing" not in sys.modules


    def test_no_fixture(atomscale_mock):
        pass
"""


def _pytest(project: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ATOMSCALE_", "AS_API"))}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-W", "error", "."],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_user_project_opts_in_with_pytest_plugins(tmp_path: Path) -> None:
    user = tmp_path / "user"
    user.mkdir()
    (user / "conftest.py").write_text(CONFTEST)
    (user / "test_user.py").write_text(textwrap.dedent(USER_TESTS))
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "test_plain.py").write_text(textwrap.dedent(PLAIN_TESTS))

    opted_in = _pytest(user)
    output = opted_in.stdout + opted_in.stderr
    assert opted_in.returncode == 1, output
    assert re.search(r"\b[34] passed, 1 error\b", output), output  # trio too, if installed
    assert "failed" not in output
    assert "1 request(s) were not mocked: GET https://api.atomscale.test/v9/new" in output

    not_opted_in = _pytest(plain)
    output = not_opted_in.stdout + not_opted_in.stderr
    assert "1 passed, 1 error" in output, output
    assert "fixture 'atomscale_mock' not found" in output


def test_exported_names() -> None:
    from atomscale_async import testing

    public = {n for n in vars(testing) if not n.startswith(("_", "@"))}
    assert set(testing.__all__) == public - {
        "annotations",
        "Any",
        "Iterator",
        "pytest",
    }
    assert orjson.loads(orjson.dumps(testing.__all__))
