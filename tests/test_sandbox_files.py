"""The sandbox's file endpoints against its real S3 server (moto), by plain HTTP."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator

import httpx
import pytest

from atomscale_async.sandbox import SandboxServer, sandbox_files

PART = 5 * 2**20  # S3's smallest part but the last


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(entries=20, analysis_seconds=0.2) as server:
        yield server


def _stage(server: SandboxServer, name: str, parts: int) -> list[dict[str, object]]:
    answer = httpx.post(
        f"{server.base_url}data_entries/raw_data/staged/upload_urls/",
        params={"original_filename": name, "num_parts": parts, "staging_type": "core"},
        headers={"X-API-KEY": server.api_key or ""},
        json={"operator": "ada"},
    )
    assert answer.status_code == 200, answer.text
    staged: list[dict[str, object]] = answer.json()
    return staged


def _complete(server: SandboxServer, first: dict[str, object], etags: list[str]) -> httpx.Response:
    return httpx.post(
        f"{server.base_url}data_entries/raw_data/staged/upload_urls/complete/",
        params={"staging_type": "core"},
        headers={"X-API-KEY": server.api_key or ""},
        json={
            "upload_id": first["upload_id"],
            "new_filename": first["new_filename"],
            "etag_data": [{"ETag": e, "PartNumber": n} for n, e in enumerate(etags, 1)],
        },
    )


def _entry(server: SandboxServer, data_id: str) -> dict[str, object]:
    found = httpx.get(
        f"{server.base_url}data_entries/",
        params={"data_ids": data_id},
        headers={"X-API-KEY": server.api_key or ""},
    ).json()
    assert len(found) == 1
    entry: dict[str, object] = found[0]
    return entry


def test_an_upload_becomes_a_pending_then_analysed_entry_with_the_file_checksum(
    server: SandboxServer,
) -> None:
    content = os.urandom(2 * PART + 1234)
    staged = _stage(server, "growth.vms", 3)
    assert [p["part"] for p in staged] == [1, 2, 3]
    assert len({p["url"] for p in staged}) == 3
    assert all(
        str(p["url"]).startswith(sandbox_files(server.app).store.endpoint_url) for p in staged
    )
    etags = []
    for part in staged:
        n = int(str(part["part"]))
        # No API key to the object store.
        answer = httpx.put(str(part["url"]), content=content[(n - 1) * PART : n * PART])
        assert answer.status_code == 200
        etags.append(answer.headers["ETag"])
    assert _complete(server, staged[0], etags).status_code == 200
    entry = _entry(server, str(staged[0]["data_id"]))
    assert entry["sha3_256"] == hashlib.sha3_256(content).hexdigest()
    assert entry["char_source_type"] == "xps"
    assert entry["raw_name"] == "growth.vms"
    assert entry["pipeline_status"] == "pending"
    deadline = time.monotonic() + 10
    while _entry(server, str(staged[0]["data_id"]))["pipeline_status"] == "pending":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert _entry(server, str(staged[0]["data_id"]))["pipeline_status"] == "success"
    location = httpx.get(
        f"{server.base_url}data_entries/raw_data/{staged[0]['data_id']}",
        headers={"X-API-KEY": server.api_key or ""},
    ).json()
    assert location["file_name"] == "growth.vms"
    assert httpx.get(location["url"]).content == content
    ranged = httpx.get(location["url"], headers={"Range": f"bytes={PART}-"})
    assert ranged.status_code == 206
    assert ranged.content == content[PART:]


def test_completing_with_a_wrong_etag_is_refused(server: SandboxServer) -> None:
    staged = _stage(server, "bad.csv", 1)
    assert httpx.put(str(staged[0]["url"]), content=b"x" * 100).status_code == 200
    assert _complete(server, staged[0], ['"0123456789abcdef0123456789abcdef"']).status_code == 409


def test_an_etag_no_store_could_have_answered_is_a_conflict(server: SandboxServer) -> None:
    staged = _stage(server, "ctl.csv", 1)
    assert httpx.put(str(staged[0]["url"]), content=b"x").status_code == 200
    assert _complete(server, staged[0], ['"\x0bab"']).status_code == 409


@pytest.mark.parametrize("name", ["\x13ctl\x7f.csv", ".", "..", "  ", "é è%2F.csv", "a" * 255])
def test_any_name_the_description_allows_is_staged_and_kept_as_sent(
    server: SandboxServer, name: str
) -> None:
    # S3 takes no control character in a key (moto answered 500): the key is encoded.
    staged = _stage(server, name, 1)
    assert httpx.put(str(staged[0]["url"]), content=b"x" * 10).status_code == 200
    etag = httpx.put(str(staged[0]["url"]), content=b"x" * 10).headers["ETag"]
    assert _complete(server, staged[0], [etag]).status_code == 200
    assert _entry(server, str(staged[0]["data_id"]))["raw_name"] == name


@pytest.mark.parametrize("name", ["", "dir/file.csv", "a" * 256])
def test_a_name_that_is_not_a_file_name_is_refused(server: SandboxServer, name: str) -> None:
    answer = httpx.post(
        f"{server.base_url}data_entries/raw_data/staged/upload_urls/",
        params={"original_filename": name, "num_parts": 1},
        headers={"X-API-KEY": server.api_key or ""},
    )
    assert answer.status_code == 422
    assert "original_filename" in answer.json()["detail"]


@pytest.mark.parametrize("number", [0, -3, 10_001])
def test_a_part_number_out_of_range_is_refused_not_a_server_error(
    server: SandboxServer, number: int
) -> None:
    staged = _stage(server, "range.csv", 1)
    answer = httpx.post(
        f"{server.base_url}data_entries/raw_data/staged/upload_urls/complete/",
        headers={"X-API-KEY": server.api_key or ""},
        json={
            "upload_id": staged[0]["upload_id"],
            "new_filename": staged[0]["new_filename"],
            "etag_data": [{"ETag": '"x"', "PartNumber": number}],
        },
    )
    assert answer.status_code == 422
    assert "etag_data" in answer.json()["detail"]


def test_a_seeded_entry_has_a_raw_file_matching_its_checksum_and_a_processed_one(
    server: SandboxServer,
) -> None:
    headers = {"X-API-KEY": server.api_key or ""}
    data_id = server.data_ids[0]
    raw = httpx.get(f"{server.base_url}data_entries/raw_data/{data_id}", headers=headers).json()
    content = httpx.get(raw["url"]).content
    assert len(content) == server.state.config.raw_file_bytes
    assert _entry(server, data_id)["sha3_256"] == hashlib.sha3_256(content).hexdigest()
    assert _entry(server, data_id)["raw_name"] == raw["file_name"]
    processed = httpx.get(
        f"{server.base_url}data_entries/processed_data/{data_id}", headers=headers
    ).json()
    assert processed["file_name"].endswith(".json")
    assert httpx.get(processed["url"]).status_code == 200


def test_an_unknown_entry_has_no_file(server: SandboxServer) -> None:
    answer = httpx.get(
        f"{server.base_url}data_entries/raw_data/00000000-0000-4000-8000-000000000000",
        headers={"X-API-KEY": server.api_key or ""},
    )
    assert answer.status_code == 404


@pytest.mark.parametrize("name", ["../x.vms", "", "a/b.vms"])
def test_staging_refuses_a_name_that_is_not_a_file_name(server: SandboxServer, name: str) -> None:
    answer = httpx.post(
        f"{server.base_url}data_entries/raw_data/staged/upload_urls/",
        params={"original_filename": name, "num_parts": 1},
        headers={"X-API-KEY": server.api_key or ""},
    )
    assert answer.status_code == 422
