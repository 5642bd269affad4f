"""A sandbox with its S3 object store, shared by the upload and download tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from atomscale_async import AsyncClient
from atomscale_async.sandbox import SandboxServer, sandbox_files

PART = 5 * 2**20  # S3's smallest part but the last


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(entries=30, analysis_seconds=0.1) as server:
        sandbox_files(server.app).start()
        yield server


def client_of(server: SandboxServer, **options: object) -> AsyncClient:
    return AsyncClient(server.api_key, base_url=server.base_url, **options)  # type: ignore[arg-type]
