"""Catalogue answers: an optional field that misfits is read as None, never failing a chunk."""

from __future__ import annotations

import logging

import httpx
import orjson
import pytest
import respx

from atomscale_async import OESResult, ResponseValidationError
from atomscale_async._convert import decode
from atomscale_async._generated.models import DataEntry

from .conftest import ClientFactory
from .payloads import OES, fresh

ENDPOINT = "GET /data_entries/"


def entry(data_id: str, **fields: object) -> dict[str, object]:
    return {"data_id": data_id, "char_source_type": "oes", **fields}


def test_a_misfit_optional_field_is_none_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    body = orjson.dumps(
        [
            entry("a", upload_datetime="yesterday", raw_name="a.spc"),
            entry("b", upload_datetime="last week", projects="P1", tags=["x"]),
            entry("c", upload_datetime="2025-01-01T00:00:00Z", projects=[{"id": "p"}]),
        ]
    )
    with caplog.at_level(logging.WARNING, logger="atomscale_async"):
        a, b, c = decode(body, list[DataEntry], ENDPOINT)
    assert (a.data_id, a.upload_datetime, a.raw_name) == ("a", None, "a.spc")
    assert (b.upload_datetime, b.projects, b.tags) == (None, None, ["x"])
    assert c.upload_datetime is not None
    assert c.projects is not None
    messages = [r.getMessage() for r in caplog.records]
    # At most one line per field (not one per entry), naming the field.
    assert sum("upload_datetime" in m for m in messages) <= 1
    assert sum("projects" in m for m in messages) <= 1
    assert all("upload_datetime" in m or "projects" in m for m in messages)


@pytest.mark.parametrize(
    "bad",
    [
        [{"char_source_type": "oes"}],
        [{"data_id": 5, "char_source_type": "oes"}],
        [{"data_id": "a", "char_source_type": None}],
        ["a"],
        {"data_id": "a"},
    ],
)
def test_an_unusable_id_or_kind_is_a_validation_error(bad: object) -> None:
    with pytest.raises(ResponseValidationError):
        decode(orjson.dumps(bad), list[DataEntry], ENDPOINT)


def test_a_body_that_is_not_json_is_a_validation_error() -> None:
    with pytest.raises(ResponseValidationError, match="not JSON"):
        decode(b"<html>", list[DataEntry], ENDPOINT)


@pytest.mark.anyio
async def test_bulk_get_keeps_every_id_of_a_chunk_with_a_misfit_field(
    router: respx.MockRouter, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    ids = [f"id-{i}" for i in range(5)]
    catalogue = [entry(i, collected_datetime="not a date", growth_length="long") for i in ids]
    router.get("data_entries/").respond(200, json=catalogue)

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=fresh(OES) | {"data_id": request.url.path.split("/")[-1]})

    router.get(url__regex=r"/oes/.+").mock(side_effect=answer)
    with caplog.at_level(logging.WARNING, logger="atomscale_async"):
        async with make_client() as client:
            results = await client.get(ids)
    assert [r.data_id for r in results] == ids
    assert all(isinstance(r, OESResult) for r in results)
    assert sum("collected_datetime" in r.getMessage() for r in caplog.records) <= 1
