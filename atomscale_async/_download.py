"""``download``: the raw or processed files of data entries, into a directory.

Each id: ask the API where its file is (a presigned URL), stream it (no API key) to
``<name>.part`` beside its final name, and rename it when complete. A ``.part`` left by
an interrupted run is resumed with a ``Range`` request where the store honours it
(``206``), and started over where it does not (``200``). A raw file's ``sha3_256`` is
compared with the catalogue's (the partial bytes already on disk are hashed once, then
every new byte as it arrives). File names come from the answer, made safe: the last path
component only, no leading dots; when another id's file already has the name, the data
id goes into it.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
from collections.abc import Callable, Iterable
from os import PathLike
from pathlib import Path
from typing import Any, Final, Literal

import anyio
import attrs
import httpx
import orjson

from ._bulk import split_entries
from ._errors import ChecksumMismatchError, DiskFullError, ObjectStoreError
from ._generated.models import DataEntry
from ._objectstore import RETRYABLE_STATUSES, FilesClient, StoreRetry, new_store_client, store_url
from ._upload import _Progress

__all__ = ["DEFAULT_DOWNLOAD_CONCURRENCY", "DownloadOutcome", "download", "safe_file_name"]

DEFAULT_DOWNLOAD_CONCURRENCY: Final = 8
_CHUNK: Final = 1 << 20
_UNSAFE: Final = re.compile(r"[\x00-\x1f/\\:*?\"<>|]")
_OWNERS: Final = ".atomscale-downloads.json"


@attrs.frozen
class DownloadOutcome:
    """One id's download: exactly one of ``path`` / ``error`` is set.

    Attributes:
        data_id: The data entry.
        path: The file written, when the download succeeded.
        error: The exception, when it failed.
        resumed_bytes: Bytes an earlier run had written, not fetched again.
    """

    data_id: str
    path: Path | None = None
    error: Exception | None = None
    resumed_bytes: int = 0

    @property
    def ok(self) -> bool:
        """Whether the download succeeded."""
        return self.error is None


def safe_file_name(name: str | None, data_id: str, file_format: str | None = None) -> str:
    """A file name from an answer's name, safe to join under the destination directory.

    Example:
        >>> safe_file_name("../../etc/passwd", "4e7e978f")
        'passwd'
        >>> safe_file_name(None, "4e7e978f", "vms")
        '4e7e978f.vms'
    """
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE.sub("_", base).strip().lstrip(".")
    if not base:
        suffix = _UNSAFE.sub("_", file_format or "").strip(". ") or "bin"
        base = f"{data_id}.{suffix}"
    return base[:200]


class _Owners:
    """Which data id each file name of the directory belongs to (a small JSON file)."""

    def __init__(self, directory: Path) -> None:
        self.file = directory / _OWNERS
        try:
            self.names: dict[str, str] = orjson.loads(self.file.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            self.names = {}

    def claim(self, name: str, data_id: str, directory: Path) -> str:
        owner = self.names.get(name)
        if owner == data_id:
            return name
        if owner is None and not (directory / name).exists():
            self.names[name] = data_id
            self.save()
            return name
        stem, dot, suffix = name.rpartition(".")
        other = f"{stem}.{data_id}.{suffix}" if dot and stem else f"{name}.{data_id}"
        self.names[other] = data_id
        self.save()
        return other

    def save(self) -> None:
        temporary = self.file.with_name(f"{_OWNERS}.{os.getpid()}.tmp")
        temporary.write_bytes(orjson.dumps(self.names))
        os.replace(temporary, self.file)


async def download(
    client: FilesClient,
    ids: str | DataEntry | Iterable[str | DataEntry],
    dest_dir: str | PathLike[str],
    *,
    kind: Literal["raw", "processed"] = "raw",
    max_concurrency: int = DEFAULT_DOWNLOAD_CONCURRENCY,
    progress: bool = False,
    on_progress: Callable[[int, int], object] | None = None,
    resume: bool = True,
) -> list[DownloadOutcome]:
    """Download files; one `DownloadOutcome` per distinct id (see `AsyncClient.download`)."""
    if kind not in ("raw", "processed"):
        raise ValueError(f"kind must be 'raw' or 'processed', got {kind!r}")
    if not isinstance(max_concurrency, int) or max_concurrency < 1:
        raise ValueError(f"max_concurrency must be a positive int, got {max_concurrency!r}")
    given, _entries = split_entries(ids)
    from ._bulk import normalize_ids

    data_ids = list(dict.fromkeys(normalize_ids(given)))
    directory = Path(dest_dir)
    await anyio.Path(directory).mkdir(parents=True, exist_ok=True)
    owners = _Owners(directory)
    outcomes: dict[str, DownloadOutcome] = {}
    bar = _Progress(0, len(data_ids), progress, on_progress)
    pool = anyio.Semaphore(max_concurrency)
    try:
        async with (
            new_store_client(client.timeout, max_concurrency) as store,
            anyio.create_task_group() as group,
        ):

            async def one(data_id: str) -> None:
                async with pool:
                    try:
                        outcomes[data_id] = await _download_one(
                            client, store, data_id, directory, kind, owners, bar, resume
                        )
                    except Exception as exc:  # that id's error, never the whole call's
                        outcomes[data_id] = DownloadOutcome(data_id=data_id, error=exc)
                bar.file_done()

            for data_id in data_ids:
                group.start_soon(one, data_id)
    finally:
        bar.close()
    return [outcomes[i] for i in data_ids]


async def _download_one(
    client: FilesClient,
    store: httpx.AsyncClient,
    data_id: str,
    directory: Path,
    kind: str,
    owners: _Owners,
    bar: _Progress,
    resume: bool,
) -> DownloadOutcome:
    where = client.data_files.raw if kind == "raw" else client.data_files.processed
    location = await where(data_id)
    name = owners.claim(
        safe_file_name(location.file_name, data_id, location.file_format), data_id, directory
    )
    target = directory / name
    partial = directory / f"{name}.part"
    if not resume:
        partial.unlink(missing_ok=True)
    digest = hashlib.sha3_256()
    have = partial.stat().st_size if partial.exists() else 0
    resumed = 0
    retry = StoreRetry(data_id, max(3, client.max_retries + 1))
    while True:
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            async with store.stream("GET", location.url, headers=headers) as response:
                status = response.status_code
                if status in RETRYABLE_STATUSES:
                    await retry.failed(f"GET {store_url(location.url)} answered {status}", status)
                    have = partial.stat().st_size if partial.exists() else 0
                    continue
                if status == 416 and have:  # nothing beyond what is on disk: start over
                    partial.unlink(missing_ok=True)
                    have = 0
                    continue
                if status not in (200, 206):
                    raise ObjectStoreError(
                        f"{data_id}: GET {store_url(location.url)} answered {status}",
                        name=data_id,
                        status_code=status,
                    )
                append = status == 206 and have > 0
                if append:
                    resumed = have
                    await anyio.to_thread.run_sync(_hash_file, partial, digest)
                else:
                    digest = hashlib.sha3_256()
                    have = 0
                length = response.headers.get("Content-Length")
                if length is not None and length.isdigit():
                    bar.total += int(length) + have
                bar.add(have)
                await _write(response, partial, append, digest, bar)
        except httpx.TransportError as exc:
            have = partial.stat().st_size if partial.exists() else 0
            digest = hashlib.sha3_256()
            await retry.failed(f"GET {store_url(location.url)} failed: {type(exc).__name__}")
            continue
        break
    if kind == "raw":
        await _verify(client, data_id, partial, digest.hexdigest())
    os.replace(partial, target)
    return DownloadOutcome(data_id=data_id, path=target, resumed_bytes=resumed)


async def _verify(client: FilesClient, data_id: str, partial: Path, actual: str) -> None:
    found = await client.data_entries.list(data_ids=[data_id])
    expected = found[0].sha3_256 if found else None
    if expected and expected.lower() != actual:
        await anyio.Path(partial).unlink(missing_ok=True)  # bad bytes: start over next run
        raise ChecksumMismatchError(data_id, expected=expected, actual=actual)


def _hash_file(path: Path, digest: Any) -> None:
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)


async def _write(
    response: httpx.Response, partial: Path, append: bool, digest: Any, bar: _Progress
) -> None:
    try:
        chunks: Any = response.aiter_bytes(_CHUNK)  # an async generator: closed below
        async with (
            await anyio.open_file(partial, "ab" if append else "wb") as f,
            contextlib.aclosing(chunks),
        ):
            async for chunk in chunks:
                await f.write(chunk)
                digest.update(chunk)
                bar.add(len(chunk))
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise DiskFullError(str(partial)) from None
        raise
