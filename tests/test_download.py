"""client.download against the sandbox's real S3 server (moto), on asyncio and trio."""

from __future__ import annotations

import errno
import hashlib
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import respx

from atomscale_async import (
    ChecksumMismatchError,
    Client,
    DiskFullError,
    NotFoundError,
)
from atomscale_async._download import safe_file_name
from atomscale_async.sandbox import SandboxServer

from .conftest import ClientFactory
from .files_sandbox import client_of, sandbox

__all__ = ["sandbox"]

pytestmark = pytest.mark.anyio

UNKNOWN = "00000000-0000-4000-8000-000000000000"


async def _sha3(server: SandboxServer, data_id: str) -> str | None:
    async with client_of(server) as client:
        (entry,) = await client.data_entries.list(data_ids=[data_id])
    return entry.sha3_256


async def test_raw_files_download_verified_and_an_unknown_id_is_its_own_error(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    ids = sandbox.data_ids[:3]
    async with client_of(sandbox) as client:
        outcomes = await client.download([ids[0], UNKNOWN, *ids[1:]], tmp_path)
    assert [o.data_id for o in outcomes] == [ids[0], UNKNOWN, *ids[1:]]
    assert isinstance(outcomes[1].error, NotFoundError)
    for outcome in [outcomes[0], *outcomes[2:]]:
        assert outcome.ok, outcome.error
        assert outcome.path is not None
        assert outcome.path.parent == tmp_path
        content = await anyio.Path(outcome.path).read_bytes()
        assert hashlib.sha3_256(content).hexdigest() == await _sha3(sandbox, outcome.data_id)
    assert [p async for p in anyio.Path(tmp_path).glob("*.part")] == []


async def test_processed_files_download(sandbox: SandboxServer, tmp_path: Path) -> None:
    async with client_of(sandbox) as client:
        (outcome,) = await client.download(sandbox.data_ids[3], tmp_path, kind="processed")
    assert outcome.ok, outcome.error
    assert outcome.path is not None
    assert outcome.path.suffix == ".json"


async def test_a_partial_file_resumes_with_a_range_request(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    data_id = sandbox.data_ids[4]
    async with client_of(sandbox) as client:
        (first,) = await client.download(data_id, tmp_path / "whole")
        assert first.path is not None
        content = first.path.read_bytes()
        partial = tmp_path / "again" / f"{first.path.name}.part"
        partial.parent.mkdir()
        partial.write_bytes(content[:1000])
        (outcome,) = await client.download(data_id, tmp_path / "again")
    assert outcome.ok, outcome.error
    assert outcome.resumed_bytes == 1000
    assert outcome.path is not None
    assert outcome.path.read_bytes() == content


async def test_a_corrupt_partial_file_is_a_checksum_error_and_the_next_run_starts_over(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    data_id = sandbox.data_ids[5]
    async with client_of(sandbox) as client:
        (first,) = await client.download(data_id, tmp_path / "whole")
        assert first.path is not None
        name = first.path.name
        partial = tmp_path / "bad" / f"{name}.part"
        partial.parent.mkdir()
        partial.write_bytes(b"garbage")
        (bad,) = await client.download(data_id, tmp_path / "bad")
        assert isinstance(bad.error, ChecksumMismatchError)
        assert data_id in str(bad.error)
        assert not partial.exists()
        (good,) = await client.download(data_id, tmp_path / "bad")
    assert good.ok, good.error
    assert good.path is not None
    assert good.path.read_bytes() == first.path.read_bytes()


def test_the_blocking_client_downloads(sandbox: SandboxServer, tmp_path: Path) -> None:
    with Client(sandbox.api_key, base_url=sandbox.base_url) as client:
        (outcome,) = client.download([sandbox.data_ids[6]], tmp_path)
    assert outcome.ok, outcome.error


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        (".hidden", "hidden"),
        ("/", "d.vms"),
        (None, "d.vms"),
        ("a\x00b.csv", "a_b.csv"),
    ],
)
def test_file_names_are_made_safe(name: str | None, expected: str) -> None:
    assert safe_file_name(name, "d", "vms") == expected


# -- the wire, through respx ------------------------------------------------------------

IDS = ["d290f1ee-6c54-4b01-90e6-d701748f0851", "5f3c2a1b-7d4e-4c8a-9b6f-0e1d2c3b4a59"]


def _locations(router: respx.MockRouter, name: str) -> None:
    for data_id in IDS:
        router.get(f"data_entries/raw_data/{data_id}").respond(
            json={
                "url": f"https://api.atomscale.ai/store/{data_id}?X-Amz-Signature=s",
                "file_name": name,
            }
        )
        router.get(f"store/{data_id}").respond(content=data_id.encode())
    router.get("data_entries/").mock(
        side_effect=lambda request: httpx.Response(
            200,
            json=[
                {
                    "data_id": request.url.params["data_ids"],
                    "char_source_type": "xps",
                    "sha3_256": hashlib.sha3_256(
                        request.url.params["data_ids"].encode()
                    ).hexdigest(),
                }
            ],
        )
    )


async def test_two_ids_with_one_file_name_keep_both_files_and_no_name_escapes(
    router: respx.MockRouter, make_client: ClientFactory, tmp_path: Path
) -> None:
    _locations(router, "../same.vms")
    async with make_client() as client:
        outcomes = await client.download(IDS, tmp_path / "out")
    paths = [o.path for o in outcomes]
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    # The first to claim the name keeps it; the other's name carries its data id.
    assert sorted(map(str, paths)) == sorted(
        [str(tmp_path / "out" / "same.vms"), str(tmp_path / "out" / f"same.{IDS[1]}.vms")]
    ) or sorted(map(str, paths)) == sorted(
        [str(tmp_path / "out" / "same.vms"), str(tmp_path / "out" / f"same.{IDS[0]}.vms")]
    )
    for data_id, path in zip(IDS, paths, strict=True):
        assert path is not None
        assert path.read_bytes() == data_id.encode()
    assert not (tmp_path / "same.vms").exists()
    for call in router.calls:
        if "/store/" in str(call.request.url):
            assert "X-API-KEY" not in call.request.headers


async def test_a_full_disk_is_an_error_naming_the_file_and_the_partial_stays(
    router: respx.MockRouter,
    make_client: ClientFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _locations(router, "x.vms")
    real_open = anyio.open_file

    class FullDisk:
        def __init__(self, file: Any) -> None:
            self.file = file

        async def __aenter__(self) -> FullDisk:
            return self

        async def __aexit__(self, *exc: object) -> None:
            await self.file.aclose()

        async def write(self, chunk: bytes) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    async def open_full(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        file = await real_open(path, mode, *args, **kwargs)  # type: ignore[call-overload]
        return FullDisk(file) if "b" in mode and ("w" in mode or "a" in mode) else file

    monkeypatch.setattr(anyio, "open_file", open_full)
    async with make_client() as client:
        (outcome,) = await client.download(IDS[0], tmp_path)
    assert isinstance(outcome.error, DiskFullError)
    assert "x.vms" in str(outcome.error)
    assert (tmp_path / "x.vms.part").exists()  # resumable once there is room
