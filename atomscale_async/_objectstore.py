"""The object store side of files: presigned PUTs and GETs, without the API key.

Presigned URLs carry their own signature in the query: they are never logged or shown
whole (`store_url` keeps the scheme, host and path). A part PUT is idempotent: it is
retried on a dropped connection, a timeout, a 5xx or a 429.
"""

from __future__ import annotations

import random
from typing import Protocol

import anyio
import httpx

from ._errors import ObjectStoreError
from ._generated.resources import AsyncDataEntries, AsyncDataFiles, AsyncUploads

__all__ = ["RETRYABLE_STATUSES", "FilesClient", "StoreRetry", "new_store_client", "store_url"]

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class FilesClient(Protocol):
    """What uploads and downloads need of a client (no module it uses imports it back)."""

    @property
    def uploads(self) -> AsyncUploads: ...

    @property
    def data_files(self) -> AsyncDataFiles: ...

    @property
    def data_entries(self) -> AsyncDataEntries: ...

    @property
    def timeout(self) -> httpx.Timeout: ...

    @property
    def max_retries(self) -> int: ...


def store_url(url: str) -> str:
    """A presigned URL without its query (which holds the signature)."""
    return url.partition("?")[0]


def new_store_client(timeout: httpx.Timeout, connections: int) -> httpx.AsyncClient:
    """An HTTP client for the object store: no API key, no cookies, its own pool."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=True)


class StoreRetry:
    """Backoff of one request to the store: ``attempts`` in all, jittered exponential pauses.

    Args:
        name: The file or data id, for the error.
        attempts: Attempts in all (at least 1).
    """

    def __init__(self, name: str, attempts: int) -> None:
        self.name = name
        self.attempts = max(1, attempts)
        self.attempt = 0

    async def failed(self, what: str, status_code: int | None = None) -> None:
        """Wait before the next attempt, or raise `ObjectStoreError` when none is left."""
        self.attempt += 1
        if self.attempt >= self.attempts:
            raise ObjectStoreError(
                f"{self.name}: {what} (after {self.attempt} attempts)",
                name=self.name,
                status_code=status_code,
            )
        await anyio.sleep(min(8.0, 0.1 * 2**self.attempt) * (0.5 + random.random()))
