"""client.upload against the sandbox's real S3 server (moto), on asyncio and trio."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import anyio
import orjson
import pytest
import respx

from atomscale_async import ChecksumMismatchError, Client, ObjectStoreError, UploadOutcome
from atomscale_async.sandbox import SandboxServer

from .conftest import API_KEY, ClientFactory
from .files_sandbox import PART, client_of, sandbox

__all__ = ["sandbox"]

pytestmark = pytest.mark.anyio


def _file(directory: Path, name: str, size: int) -> Path:
    path = directory / name
    path.write_bytes(os.urandom(size))
    return path


async def _catalogue_sha3(server: SandboxServer, data_id: str) -> str | None:
    async with client_of(server) as client:
        (entry,) = await client.data_entries.list(data_ids=[data_id])
    return entry.sha3_256


async def test_files_upload_in_order_with_their_checksums_and_one_failure_loses_no_other(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    files = [
        _file(tmp_path, "big.vms", 2 * PART + 777),
        _file(tmp_path, "small.csv", 1000),
        _file(tmp_path, "empty.txt", 0),
    ]
    missing = tmp_path / "missing.vms"
    async with client_of(sandbox) as client:
        outcomes = await client.upload(
            [files[0], missing, *files[1:]], part_size=PART, state_dir=tmp_path / "state"
        )
    assert [o.path.name for o in outcomes] == ["big.vms", "missing.vms", "small.csv", "empty.txt"]
    assert isinstance(outcomes[1].error, FileNotFoundError)
    for outcome, path in zip([outcomes[0], *outcomes[2:]], files, strict=True):
        assert outcome.ok
        assert outcome.data_id is not None
        expected = hashlib.sha3_256(path.read_bytes()).hexdigest()
        assert await _catalogue_sha3(sandbox, outcome.data_id) == expected
    assert list((tmp_path / "state").iterdir()) == []  # done: no manifest left


async def test_a_killed_upload_resumes_sending_only_the_parts_not_acknowledged(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    path = _file(tmp_path, "growth.vms", 4 * PART + 5)
    state = tmp_path / "state"
    async with client_of(sandbox) as client:
        with anyio.CancelScope() as scope:

            def kill(done: int, total: int) -> None:
                if done > total // 2:
                    scope.cancel()

            await client.upload(
                path, part_size=PART, max_concurrency=2, on_progress=kill, state_dir=state
            )
        assert scope.cancelled_caught
        manifest = orjson.loads(next(state.iterdir()).read_bytes())
        assert 1 <= len(manifest["etags"]) < 5
        sent: list[int] = []
        (outcome,) = await client.upload(
            path,
            part_size=PART,
            resume=True,
            state_dir=state,
            on_progress=lambda done, total: sent.append(done),
        )
    assert outcome.ok, outcome.error
    assert outcome.resumed_parts == len(manifest["etags"])
    assert outcome.data_id == manifest["data_id"]
    expected = hashlib.sha3_256(path.read_bytes()).hexdigest()
    assert await _catalogue_sha3(sandbox, str(outcome.data_id)) == expected


async def test_a_file_changed_since_its_upload_started_starts_over_saying_so(
    sandbox: SandboxServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _file(tmp_path, "changing.vms", 2 * PART + 1)
    state = tmp_path / "state"
    async with client_of(sandbox) as client:
        with anyio.CancelScope() as scope:
            await client.upload(
                path,
                part_size=PART,
                max_concurrency=1,
                state_dir=state,
                on_progress=lambda done, total: scope.cancel() if done >= PART else None,
            )
        first = orjson.loads(next(state.iterdir()).read_bytes())
        path.write_bytes(os.urandom(2 * PART + 1))
        with caplog.at_level(logging.WARNING, "atomscale_async"):
            (outcome,) = await client.upload(path, part_size=PART, resume=True, state_dir=state)
    assert "changed since its upload started" in caplog.text
    assert outcome.ok, outcome.error
    assert outcome.resumed_parts == 0
    assert outcome.data_id != first["data_id"]
    expected = hashlib.sha3_256(path.read_bytes()).hexdigest()
    assert await _catalogue_sha3(sandbox, str(outcome.data_id)) == expected


@pytest.mark.parametrize("part_size", [1024, 6 * 2**30])
async def test_a_part_size_s3_refuses_is_refused_before_anything_is_sent(
    sandbox: SandboxServer, tmp_path: Path, part_size: int
) -> None:
    async with client_of(sandbox) as client:
        with pytest.raises(ValueError, match="part_size must be from 5242880"):
            await client.upload(_file(tmp_path, "a.vms", 10), part_size=part_size)


def test_the_blocking_client_uploads(sandbox: SandboxServer, tmp_path: Path) -> None:
    path = _file(tmp_path, "blocking.vms", 3000)
    with Client(sandbox.api_key, base_url=sandbox.base_url) as client:
        (outcome,) = client.upload([path], state_dir=tmp_path / "state")
    assert isinstance(outcome, UploadOutcome)
    assert outcome.ok, outcome.error


# -- the wire, through respx ------------------------------------------------------------

# The presigned URLs point at the mocked host too: respx mocks one base URL.
STORE = "https://api.atomscale.ai/store/x.vms"


def _staging(router: respx.MockRouter, parts: int) -> None:
    router.post("data_entries/raw_data/staged/upload_urls/").respond(
        json=[
            {
                "part": n,
                "url": f"{STORE}?uploadId=u&partNumber={n}&X-Amz-Signature=s{n}",
                "upload_id": "u",
                "new_filename": "staged/x.vms",
                "data_id": "d290f1ee-6c54-4b01-90e6-d701748f0851",
            }
            for n in range(1, parts + 1)
        ]
    )


def _catalogue(router: respx.MockRouter, sha3: str) -> None:
    router.get("data_entries/").respond(
        json=[
            {
                "data_id": "d290f1ee-6c54-4b01-90e6-d701748f0851",
                "char_source_type": "xps",
                "sha3_256": sha3,
            }
        ]
    )


async def test_part_puts_carry_no_api_key_and_their_length_and_a_500_is_retried(
    router: respx.MockRouter, make_client: ClientFactory, tmp_path: Path
) -> None:
    path = _file(tmp_path, "x.vms", PART + 10)
    _staging(router, 2)
    answers = iter([500, 200, 200])
    puts = router.put("store/x.vms").mock(
        side_effect=lambda request: respx.MockResponse(
            next(answers), headers={"ETag": f'"{len(request.content)}"'}
        )
    )
    complete = router.post("data_entries/raw_data/staged/upload_urls/complete/").respond(json={})
    _catalogue(router, hashlib.sha3_256(path.read_bytes()).hexdigest())
    async with make_client() as client:
        (outcome,) = await client.upload(
            path, part_size=PART, max_concurrency=1, state_dir=tmp_path / "s"
        )
    assert outcome.ok, outcome.error
    assert puts.call_count == 3
    for call in puts.calls:
        assert "X-API-KEY" not in call.request.headers
        assert API_KEY not in str(call.request.headers)
        assert call.request.headers["Content-Length"] == str(len(call.request.content))
    assert orjson.loads(complete.calls.last.request.content)["etag_data"] == [
        {"ETag": f'"{PART}"', "PartNumber": 1},
        {"ETag": '"10"', "PartNumber": 2},
    ]


async def test_a_checksum_the_catalogue_does_not_share_is_an_error_naming_the_file(
    router: respx.MockRouter, make_client: ClientFactory, tmp_path: Path
) -> None:
    path = _file(tmp_path, "x.vms", 100)
    _staging(router, 1)
    router.put("store/x.vms").respond(200, headers={"ETag": '"e"'})
    router.post("data_entries/raw_data/staged/upload_urls/complete/").respond(json={})
    _catalogue(router, "0" * 64)
    async with make_client() as client:
        (outcome,) = await client.upload(path, state_dir=tmp_path / "s")
    assert isinstance(outcome.error, ChecksumMismatchError)
    assert str(path) in str(outcome.error)


async def test_a_store_refusal_is_that_files_error_without_the_signature(
    router: respx.MockRouter, make_client: ClientFactory, tmp_path: Path
) -> None:
    path = _file(tmp_path, "x.vms", 100)
    _staging(router, 1)
    router.put("store/x.vms").respond(403)
    complete = router.post("data_entries/raw_data/staged/upload_urls/complete/").respond(json={})
    async with make_client() as client:
        (outcome,) = await client.upload(path, state_dir=tmp_path / "s")
    assert isinstance(outcome.error, ObjectStoreError)
    assert outcome.error.status_code == 403
    assert "X-Amz-Signature" not in str(outcome.error)
    assert not complete.called


async def test_a_staging_post_that_failed_is_not_sent_again(
    router: respx.MockRouter, make_client: ClientFactory, tmp_path: Path
) -> None:
    path = _file(tmp_path, "x.vms", 100)
    staging = router.post("data_entries/raw_data/staged/upload_urls/").respond(503)
    async with make_client() as client:
        (outcome,) = await client.upload(path, state_dir=tmp_path / "s")
    assert outcome.error is not None
    assert staging.call_count == 1


async def test_uploads_and_downloads_go_through_a_faulty_slow_store(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    from atomscale_async.sandbox import StoreFaults, sandbox_files

    store = sandbox_files(sandbox.app).store
    files = [_file(tmp_path, f"f{i}.vms", PART + 100 * i) for i in range(3)]
    store.faults = StoreFaults(error_rate=0.2, drop_rate=0.2, latency_ms=5, seed=3)
    before = store.injected
    try:
        async with client_of(sandbox, max_retries=8) as client:
            uploaded = await client.upload(files, part_size=PART, state_dir=tmp_path / "s")
            assert all(o.ok for o in uploaded), [o.error for o in uploaded]
            downloaded = await client.download([str(o.data_id) for o in uploaded], tmp_path / "out")
    finally:
        store.faults = StoreFaults()
    assert store.injected > before  # faults were met, and retried through
    assert all(o.ok for o in downloaded), [o.error for o in downloaded]
    for source, outcome in zip(files, downloaded, strict=True):
        assert outcome.path is not None
        assert outcome.path.read_bytes() == source.read_bytes()
