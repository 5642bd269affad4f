"""``client.search``: filters sent as the platform names them, typed entries, merged kinds."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import respx

from atomscale_async import AsyncClient, Client, DataEntry, NotFoundError, SearchResult
from atomscale_async.sandbox import SandboxServer

from .conftest import API_KEY, BASE_URL, ClientFactory


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(entries=300, seed=11) as server:
        yield server


def sandbox_client(server: SandboxServer) -> AsyncClient:
    return AsyncClient(api_key=server.api_key, base_url=server.base_url)


@pytest.mark.anyio
async def test_search_finds_typed_entries_in_the_sandbox(server: SandboxServer) -> None:
    async with sandbox_client(server) as client:
        everything = await client.search()
        assert everything.data_ids == server.data_ids
        xps = await client.search(data_type="xps")
    assert xps
    assert all(isinstance(e, DataEntry) for e in xps)
    assert {e.char_source_type for e in xps} == {"xps"}
    entry = xps[0]
    assert isinstance(entry.upload_datetime, datetime)
    assert entry.upload_datetime.tzinfo is not None
    assert entry.projects
    assert entry.projects[0].name
    assert entry.physical_sample_id


@pytest.mark.anyio
async def test_several_kinds_are_merged_in_order_without_duplicates(
    server: SandboxServer,
) -> None:
    async with sandbox_client(server) as client:
        both = await client.search(data_type=["xps", "sims", "xps"])
        xps = await client.search(data_type="xps")
        sims = await client.search(data_type="sims")
    assert both.data_ids == xps.data_ids + sims.data_ids
    assert set(both.by_kind()) == {"xps", "sims"}
    assert both.by_kind()["sims"] == sims


@pytest.mark.anyio
async def test_filters_reach_the_sandbox(server: SandboxServer) -> None:
    async with sandbox_client(server) as client:
        everything = await client.search()
        sample = everything[0].physical_sample_id
        assert sample is not None
        of_sample = await client.search(physical_sample_ids=[sample])
        start = datetime(2025, 1, 1)  # naive: taken as UTC
        recent = await client.search(upload_datetime=(start, None), status="success")
        window = await client.search(upload_datetime=("2024-06-01", "2024-09-01T00:00:00Z"))
        long = await client.search(growth_length=(3600, None))
        ids = await client.search(data_ids=server.data_ids[:250])
    assert of_sample
    assert all(e.physical_sample_id == sample for e in of_sample)
    assert recent
    assert all(e.upload_datetime and e.upload_datetime >= start.replace(tzinfo=UTC) for e in recent)
    assert all(e.pipeline_status == "success" for e in recent)
    low, high = datetime(2024, 6, 1, tzinfo=UTC), datetime(2024, 9, 1, tzinfo=UTC)
    assert window
    assert all(e.upload_datetime and low <= e.upload_datetime <= high for e in window)
    assert long
    assert all(e.growth_length is not None and e.growth_length >= 3600 for e in long)
    assert ids.data_ids == server.data_ids[:250]  # three catalogue requests of at most 100


def test_the_blocking_client_searches_too(server: SandboxServer) -> None:
    with Client(api_key=server.api_key, base_url=server.base_url) as client:
        found = client.search(keywords="GaN on sapphire", data_type="oes")
    assert found
    assert all(e.sample_name == "GaN on sapphire" for e in found)
    assert repr(found).startswith(f"SearchResult({len(found):,} entries: oes {len(found):,}")


@pytest.fixture
def recorder(router: respx.MockRouter) -> list[httpx.Request]:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        kind = request.url.params.get("data_type", "oes")
        return httpx.Response(200, json=[{"data_id": f"{kind}-1", "char_source_type": kind}])

    router.get("data_entries/").mock(side_effect=answer)
    return seen


@pytest.mark.anyio
async def test_filters_are_sent_as_the_platform_names_them(
    recorder: list[httpx.Request], make_client: ClientFactory
) -> None:
    paris = timezone(timedelta(hours=1))
    async with make_client() as client:
        await client.search(
            keywords=["GaN", "anneal"],
            physical_sample_ids=["ps-1"],
            project_ids=["p-1", "p-2"],
            data_type="xps",
            status="error",
            growth_length=(60, 120.5),
            upload_datetime=(datetime(2025, 1, 1, 1, 0, tzinfo=paris), None),
            last_accessed_datetime=(None, "2025-02-01T00:00:00"),
            include_organization_data=False,
        )
    (request,) = recorder
    params = request.url.params
    assert params.get_list("keywords") == ["GaN", "anneal"]
    assert params.get_list("project_ids") == ["p-1", "p-2"]
    assert params["physical_sample_ids"] == "ps-1"
    assert params["data_type"] == "xps"
    assert params["status"] == "error"
    assert params["growth_length_min"] == "60"
    assert params["growth_length_max"] == "120.5"
    assert params["upload_datetime_min"] == "2025-01-01T00:00:00Z"
    assert "upload_datetime_max" not in params
    assert params["last_accessed_datetime_max"] == "2025-02-01T00:00:00Z"
    assert params["include_organization_data"] == "false"
    assert "data_ids" not in params


@pytest.mark.anyio
async def test_status_defaults_to_all_and_one_kind_is_one_request(
    recorder: list[httpx.Request], make_client: ClientFactory
) -> None:
    async with make_client() as client:
        found = await client.search()
        several = await client.search(data_type=("xps", "raman"))
    assert recorder[0].url.params["status"] == "all"
    assert "data_type" not in recorder[0].url.params
    assert found.data_ids == ["oes-1"]
    assert [r.url.params["data_type"] for r in recorder[1:]] == ["xps", "raman"]
    assert several.data_ids == ["xps-1", "raman-1"]


@pytest.mark.parametrize(
    ("arguments", "error", "names"),
    [
        ({"status": "done"}, ValueError, "status"),
        ({"status": 1}, TypeError, "status"),
        ({"data_ids": "abc"}, TypeError, "data_ids"),
        ({"data_ids": [1]}, TypeError, "data_ids"),
        ({"project_ids": [""]}, ValueError, "project_ids"),
        ({"data_type": ""}, ValueError, "data_type"),
        ({"keywords": 5}, TypeError, "keywords"),
        ({"growth_length": 5}, TypeError, "growth_length"),
        ({"growth_length": (10, 1)}, ValueError, "growth_length"),
        ({"growth_length": (float("nan"), None)}, ValueError, "growth_length"),
        ({"growth_length": ("1", None)}, TypeError, "growth_length"),
        ({"upload_datetime": ("yesterday", None)}, ValueError, "upload_datetime"),
        ({"upload_datetime": (1, None)}, TypeError, "upload_datetime"),
        ({"upload_datetime": ("2025-02-01", "2025-01-01")}, ValueError, "upload_datetime"),
        ({"last_accessed_datetime": ("2025-01-01",)}, TypeError, "last_accessed_datetime"),
        ({"include_organization_data": "no"}, TypeError, "include_organization_data"),
    ],
)
@pytest.mark.anyio
async def test_argument_mistakes_raise_before_any_request(
    recorder: list[httpx.Request],
    make_client: ClientFactory,
    arguments: dict[str, Any],
    error: type[Exception],
    names: str,
) -> None:
    async with make_client() as client:
        with pytest.raises(error, match=names):
            await client.search(**arguments)
    assert recorder == []


@pytest.mark.anyio
async def test_an_api_error_raises_typed(router: respx.MockRouter) -> None:
    router.get("data_entries/").respond(404, json={"detail": "Not Found"})
    async with AsyncClient(api_key=API_KEY, base_url=BASE_URL, max_retries=0) as client:
        with pytest.raises(NotFoundError):
            await client.search(data_type=["xps", "sims"])


def test_search_result_is_an_immutable_sequence() -> None:
    entries = [
        DataEntry(data_id="a", char_source_type="xps"),
        DataEntry(data_id="b", char_source_type="sims"),
        DataEntry(data_id="c", char_source_type="xps"),
    ]
    found = SearchResult(entries)
    assert len(found) == 3
    assert found[1].data_id == "b"
    assert isinstance(found[:2], SearchResult)
    assert found[:2].data_ids == ["a", "b"]
    assert found.by_kind()["xps"].data_ids == ["a", "c"]
    assert repr(found) == "SearchResult(3 entries: sims 1, xps 2)"
    assert repr(SearchResult()) == "SearchResult(0 entries)"
    with pytest.raises(TypeError):
        found[0] = entries[0]  # type: ignore[index]
    with pytest.raises(AttributeError):
        found.extra = 1  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        hash(found)
    html = found._repr_html_()
    assert "<table>" in html
    assert "xps" in html


def test_search_result_to_pandas_reads_like_a_catalogue(server: SandboxServer) -> None:
    pytest.importorskip("pandas")
    with Client(api_key=server.api_key, base_url=server.base_url) as client:
        found = client.search(data_type="raman")
    frame = found.to_pandas()
    assert list(frame.columns)[:6] == [
        "data_id",
        "kind",
        "status",
        "physical_sample",
        "material",
        "instrument",
    ]
    assert list(frame["data_id"]) == found.data_ids
    assert str(frame["upload_datetime"].dtype).startswith("datetime64")
    assert SearchResult().to_pandas().empty


@pytest.mark.anyio
async def test_get_takes_a_search_result_without_catalogue_lookups(
    server: SandboxServer,
) -> None:
    async with sandbox_client(server) as client:
        found = await client.search(data_type=["sims", "oes"])
        found = found[:30] + found[-30:] + found[:5]
        assert len(found) == 60
        before = server.state.stats.requests
        results = await client.get(found)
        sent = server.state.stats.requests - before
        outcomes = [o async for o in client.iter_results(SearchResult(found))]
    assert [r.data_id for r in results] == [e.data_id for e in found]
    assert sent == len(found)  # one request an id, none to the catalogue
    assert {o.data_id for o in outcomes} == {e.data_id for e in found}
    assert all(o.ok for o in outcomes)


def test_the_blocking_get_takes_entries_mixed_with_ids(server: SandboxServer) -> None:
    with Client(api_key=server.api_key, base_url=server.base_url) as client:
        entries = client.search(data_type="oes")[:3]
        ids = client.search(data_type="sims").data_ids[:2]
        results = client.get([*entries, *ids, entries[0]])
    assert [r.data_id for r in results] == [*entries.data_ids, *ids, entries[0].data_id]


def test_bulk_get_types_every_kind_of_the_kind_table(server: SandboxServer) -> None:
    from atomscale_async._generated.kinds import KINDS

    with Client(api_key=server.api_key, base_url=server.base_url) as client:
        found = client.search(data_type=sorted(KINDS))
        first: dict[str, DataEntry] = {}
        for entry in found:  # one of each name, an alias's apart from its kind's
            first.setdefault(entry.char_source_type, entry)
        picked = list(first.values())
        by_id = client.get([entry.data_id for entry in picked])  # through the catalogue
        by_entry = client.get(picked)  # no catalogue lookup
    assert {e.char_source_type for e in picked} == set(KINDS)
    for entry, via_id, via_entry in zip(picked, by_id, by_entry, strict=True):
        model = KINDS[entry.char_source_type].model
        assert isinstance(via_id, model), (entry.char_source_type, via_id)
        assert isinstance(via_entry, model)
        assert via_id.data_id == entry.data_id
