"""The file endpoints, through respx: staging, completing, download locations."""

from __future__ import annotations

import orjson
import pytest
import respx

from atomscale_async._generated.models import FileLocation, StagedUploadPart

from .conftest import API_KEY, ClientFactory
from .payloads import DATA_ID

pytestmark = pytest.mark.anyio

PART = {
    "part": 1,
    "url": "http://127.0.0.1:9/bucket/staged/x.vms?uploadId=u&partNumber=1",
    "upload_id": "u",
    "new_filename": "staged/x.vms",
    "data_id": DATA_ID,
}


async def test_stage_sends_the_query_and_the_metadata_as_the_body(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    route = router.post("data_entries/raw_data/staged/upload_urls/").respond(json=[PART])
    async with make_client() as client:
        parts = await client.uploads.stage("x.vms", 3, metadata={"sample": "A1"})
    assert parts == [StagedUploadPart(**PART)]  # type: ignore[arg-type]
    request = route.calls.last.request
    assert request.url.params.multi_items() == [
        ("original_filename", "x.vms"),
        ("num_parts", "3"),
        ("staging_type", "core"),
    ]
    assert request.headers["X-API-KEY"] == API_KEY
    assert orjson.loads(request.content) == {"sample": "A1"}


async def test_stage_without_metadata_sends_no_body(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    route = router.post("data_entries/raw_data/staged/upload_urls/").respond(json=[PART])
    async with make_client() as client:
        await client.uploads.stage("x.vms", 1)
    assert route.calls.last.request.content == b""


async def test_complete_sends_the_etags_by_their_wire_names(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    route = router.post("data_entries/raw_data/staged/upload_urls/complete/").respond(json={})
    async with make_client() as client:
        await client.uploads.complete(
            upload_id="u",
            new_filename="staged/x.vms",
            etag_data=[{"ETag": '"a"', "PartNumber": 1}, {"ETag": '"b"', "PartNumber": 2}],
        )
    request = route.calls.last.request
    assert request.url.params["staging_type"] == "core"
    assert orjson.loads(request.content) == {
        "upload_id": "u",
        "new_filename": "staged/x.vms",
        "etag_data": [{"ETag": '"a"', "PartNumber": 1}, {"ETag": '"b"', "PartNumber": 2}],
    }


@pytest.mark.parametrize("kind", ["raw", "processed"])
async def test_download_locations(
    router: respx.MockRouter, make_client: ClientFactory, kind: str
) -> None:
    route = router.get(f"data_entries/{kind}_data/{DATA_ID}").respond(
        json={"url": "http://127.0.0.1:9/b/k", "file_name": "a.vms"}
    )
    async with make_client() as client:
        found = await getattr(client.data_files, kind)(DATA_ID)
    assert found == FileLocation(url="http://127.0.0.1:9/b/k", file_name="a.vms")
    assert route.calls.last.request.url.params["return_as"] == "url-download"
