"""``upload``: files to the platform by S3 multipart upload through presigned URLs.

One file: stage it (one ``POST``, never re-sent once it may have been applied), ``PUT``
each part to its presigned URL (no API key; retried, a PUT being idempotent), ``complete``
with the parts' ETags, then compare the catalogue's ``sha3_256`` with the one computed
while the parts were read.

Parts of every file share one bounded pool. A part is read from disk as it is sent, and
kept until the file's checksum has taken it in: the checksum takes the parts in order,
so a part holds its slot of the pool until then (parts take their slots in order, so the
lowest part of a file always has one). Memory stays near ``part_size x max_concurrency``.

Resume: a small JSON manifest per file in ``state_dir`` holds the upload id, the staged
name, the part URLs, the parts done with their ETags, and the file's size and
modification time; it is rewritten (atomically) as each part is acknowledged. A later
call with ``resume=True`` sends only the parts not acknowledged; a file that changed since
starts over, with a warning.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from os import PathLike
from pathlib import Path
from stat import S_ISREG
from typing import Any, Final

import anyio
import attrs
import httpx
import orjson

from ._errors import (
    APIConnectionError,
    AtomscaleError,
    ChecksumMismatchError,
    ObjectStoreError,
)
from ._objectstore import RETRYABLE_STATUSES, FilesClient, StoreRetry, new_store_client, store_url

__all__ = [
    "DEFAULT_PART_SIZE",
    "MAX_PART_SIZE",
    "MIN_PART_SIZE",
    "UploadOutcome",
    "default_state_dir",
    "first_error",
    "upload",
]

_logger = logging.getLogger("atomscale_async")

DEFAULT_PART_SIZE: Final = 40 * 2**20
"""The platform's own part size."""
MIN_PART_SIZE: Final = 5 * 2**20
"""S3's smallest part (but the last)."""
MAX_PART_SIZE: Final = 5 * 2**30
MAX_PARTS: Final = 10_000
DEFAULT_UPLOAD_CONCURRENCY: Final = 8
_CHUNK: Final = 1 << 20
_MANIFEST_VERSION: Final = 1


@attrs.frozen
class UploadOutcome:
    """One file's upload: exactly one of ``data_id`` / ``error`` is set.

    Attributes:
        path: The file.
        data_id: The new data entry's id, when the upload completed and was verified.
        error: The exception, when it failed.
        resumed_parts: Parts an earlier run had sent, not sent again.
    """

    path: Path
    data_id: str | None = None
    error: Exception | None = None
    resumed_parts: int = 0

    @property
    def ok(self) -> bool:
        """Whether the upload succeeded."""
        return self.error is None


def default_state_dir() -> Path:
    """Where upload manifests are kept by default (``$XDG_CACHE_HOME/atomscale-async/uploads``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "atomscale-async" / "uploads"


class _Progress:
    """Bytes over all files and files done: a bar (``progress=True``) and/or a callback."""

    def __init__(
        self, total: int, files: int, bar: bool, on_progress: Callable[[int, int], object] | None
    ) -> None:
        self.total, self.done, self.files, self.files_done = total, 0, files, 0
        self.on_progress = on_progress
        self.bar: Any = None
        if bar:
            from ._optional import require

            require("progress=True", "progress", "tqdm")
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="upload"
            )
            self.bar.set_postfix_str(f"files 0/{files}")

    def add(self, count: int) -> None:
        self.done += count
        if self.bar is not None:
            self.bar.update(count)
        if self.on_progress is not None:
            self.on_progress(self.done, self.total)

    def file_done(self) -> None:
        self.files_done += 1
        if self.bar is not None:
            self.bar.set_postfix_str(f"files {self.files_done}/{self.files}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class _Manifest:
    """The resumable state of one file's upload, in ``state_dir``."""

    def __init__(self, state_dir: Path, path: Path) -> None:
        key = hashlib.sha256(os.fsencode(path)).hexdigest()[:32]
        self.file = state_dir / f"{key}.json"
        self.data: dict[str, Any] = {}

    def load(self) -> dict[str, Any] | None:
        try:
            loaded = orjson.loads(self.file.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return None
        if not isinstance(loaded, dict) or loaded.get("version") != _MANIFEST_VERSION:
            return None
        return loaded

    def save(self) -> None:
        self.file.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.file.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_bytes(orjson.dumps(self.data))
        os.replace(temporary, self.file)

    def remove(self) -> None:
        self.file.unlink(missing_ok=True)


class _OrderedHash:
    """A file's ``sha3_256``, fed its parts in order as they are read for sending."""

    def __init__(self, path: Path, part_size: int, size: int) -> None:
        self.path, self.part_size, self.size = path, part_size, size
        self.hash = hashlib.sha3_256()
        self.next = 1
        self.changed = anyio.Event()
        self.lock = anyio.Lock()
        self.resumed: set[int] = set()

    async def feed(self, part: int, chunks: list[bytes]) -> None:
        while True:
            async with self.lock:
                while self.next < part and self.next in self.resumed:
                    await self._read_back(self.next)  # sent by an earlier run: read it back
                if self.next == part:
                    for chunk in chunks:
                        self.hash.update(chunk)
                    self._advance()
                    return
                changed = self.changed
            await changed.wait()

    async def finish(self, parts: int) -> str:
        while self.next <= parts:
            if self.next not in self.resumed:  # pragma: no cover - every part was fed
                raise RuntimeError(f"part {self.next} of {self.path} was never read")
            await self._read_back(self.next)
        return self.hash.hexdigest()

    async def _read_back(self, part: int) -> None:
        offset = (part - 1) * self.part_size
        length = min(self.part_size, self.size - offset)

        def read() -> None:
            with open(self.path, "rb") as f:
                f.seek(offset)
                left = length
                while left > 0:
                    chunk = f.read(min(_CHUNK, left))
                    if not chunk:
                        raise OSError(f"{self.path} is shorter than when its upload started")
                    self.hash.update(chunk)
                    left -= len(chunk)

        await anyio.to_thread.run_sync(read)
        self._advance()

    def _advance(self) -> None:
        self.next += 1
        event, self.changed = self.changed, anyio.Event()
        event.set()


def first_error(exc: Exception) -> Exception:
    """The first failure of a (nested) exception group of parts, or ``exc`` itself."""
    while isinstance(exc, ExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _check_part_size(part_size: object) -> int:
    if not isinstance(part_size, int) or isinstance(part_size, bool):
        raise TypeError(f"part_size must be an int (bytes), got {type(part_size).__name__}")
    if not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE:
        raise ValueError(
            f"part_size must be from {MIN_PART_SIZE} (5 MiB, S3's smallest part) to "
            f"{MAX_PART_SIZE} bytes, got {part_size}"
        )
    return part_size


def _paths(paths: str | PathLike[str] | Iterable[str | PathLike[str]]) -> list[Path]:
    if isinstance(paths, str | PathLike):
        return [Path(paths)]
    if isinstance(paths, bytes | bytearray):
        raise TypeError("paths must be a path or an iterable of paths, not bytes")
    found = []
    for item in paths:
        if not isinstance(item, str | PathLike):
            raise TypeError(f"each path must be a str or os.PathLike, got {type(item).__name__}")
        found.append(Path(item))
    return found


async def upload(
    client: FilesClient,
    paths: str | PathLike[str] | Iterable[str | PathLike[str]],
    *,
    metadata: Mapping[str, Any] | None = None,
    part_size: int = DEFAULT_PART_SIZE,
    max_concurrency: int = DEFAULT_UPLOAD_CONCURRENCY,
    progress: bool = False,
    on_progress: Callable[[int, int], object] | None = None,
    resume: bool = False,
    state_dir: str | PathLike[str] | None = None,
) -> list[UploadOutcome]:
    """Upload files; one `UploadOutcome` per path, in order (see `AsyncClient.upload`)."""
    files = _paths(paths)
    part_size = _check_part_size(part_size)
    if not isinstance(max_concurrency, int) or max_concurrency < 1:
        raise ValueError(f"max_concurrency must be a positive int, got {max_concurrency!r}")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise TypeError(f"metadata must be a mapping, got {type(metadata).__name__}")
    directory = Path(state_dir) if state_dir is not None else default_state_dir()
    outcomes: list[UploadOutcome | None] = [None] * len(files)
    sizes = []
    for path in files:
        try:
            sizes.append((await anyio.Path(path).stat()).st_size)
        except OSError:
            sizes.append(0)
    bar = _Progress(sum(sizes), len(files), progress, on_progress)
    pool = anyio.Semaphore(max_concurrency)
    job = _Job(client, part_size, pool, bar, directory, resume, metadata)
    try:
        async with (
            new_store_client(client.timeout, max_concurrency) as store,
            anyio.create_task_group() as group,
        ):
            job.store = store

            async def one(index: int, path: Path) -> None:
                try:
                    outcomes[index] = await job.upload_file(Path(await anyio.Path(path).absolute()))
                except Exception as exc:  # that file's error, never the whole call's
                    outcomes[index] = UploadOutcome(path=path, error=first_error(exc))
                bar.file_done()

            for index, path in enumerate(files):
                group.start_soon(one, index, path)
    finally:
        bar.close()
    return [
        o if o is not None else UploadOutcome(path=p, error=RuntimeError("lost"))
        for o, p in zip(outcomes, files, strict=True)
    ]


class _PartBody(httpx.AsyncByteStream):
    """One part's bytes, read from the open file as they are sent (and kept for the hash).

    An iterator class, not a generator: a PUT cancelled mid-body leaves nothing to finalize.
    """

    def __init__(self, file: Any, path: Path, offset: int, length: int, bar: _Progress) -> None:
        self.file, self.path, self.offset, self.left = file, path, offset, length
        self.bar = bar
        self.chunks: list[bytes] = []
        self.sent = 0
        self.started = False

    def __aiter__(self) -> _PartBody:
        return self

    async def __anext__(self) -> bytes:
        if not self.started:
            self.started = True
            await self.file.seek(self.offset)
        if self.left <= 0:
            raise StopAsyncIteration
        chunk: bytes = await self.file.read(min(_CHUNK, self.left))
        if not chunk:
            raise OSError(f"{self.path} is shorter than when its upload started")
        self.left -= len(chunk)
        self.chunks.append(chunk)
        self.sent += len(chunk)
        self.bar.add(len(chunk))
        return chunk

    async def aclose(self) -> None:
        """Nothing to close: the file is the caller's."""


@attrs.define
class _Job:
    client: FilesClient
    part_size: int
    pool: anyio.Semaphore
    bar: _Progress
    state_dir: Path
    resume: bool
    metadata: Mapping[str, Any] | None
    store: httpx.AsyncClient | None = None

    async def upload_file(self, path: Path) -> UploadOutcome:
        stat = await anyio.Path(path).stat()
        if not S_ISREG(stat.st_mode):
            raise IsADirectoryError(f"{path} is not a file")
        size = stat.st_size
        num_parts = max(1, -(-size // self.part_size))
        if num_parts > MAX_PARTS:
            raise ValueError(
                f"{path}: {num_parts} parts of {self.part_size} bytes is more than S3's "
                f"{MAX_PARTS}: use a larger part_size"
            )
        manifest = _Manifest(self.state_dir, path)
        state = self._resumable(manifest, path, stat, num_parts)
        if state is None:
            staged = await self.client.uploads.stage(path.name, num_parts, metadata=self.metadata)
            if len(staged) != num_parts or sorted(p.part for p in staged) != list(
                range(1, num_parts + 1)
            ):
                raise AtomscaleError(
                    f"{path}: the staging answer has {len(staged)} parts, not {num_parts}"
                )
            first = staged[0]
            state = {
                "version": _MANIFEST_VERSION,
                "path": str(path),
                "size": size,
                "mtime_ns": stat.st_mtime_ns,
                "part_size": self.part_size,
                "upload_id": first.upload_id,
                "new_filename": first.new_filename,
                "data_id": first.data_id,
                "urls": {str(p.part): p.url for p in staged},
                "etags": {},
                "completing": False,
            }
            manifest.data = state
            manifest.save()
        manifest.data = state
        etags: dict[str, str] = state["etags"]
        hasher = _OrderedHash(path, self.part_size, size)
        hasher.resumed = {int(n) for n in etags}
        self.bar.add(sum(min(self.part_size, size - (int(n) - 1) * self.part_size) for n in etags))
        name = str(path)
        if not state["completing"]:
            async with anyio.create_task_group() as group:
                for part in range(1, num_parts + 1):
                    if str(part) in etags:
                        continue
                    await self.pool.acquire()  # in part order: the lowest part gets a slot first
                    group.start_soon(self._send_part, path, part, size, state, manifest, hasher)
        sha3 = await hasher.finish(num_parts)
        data_id = state["data_id"]
        if state["upload_id"]:
            await self._complete(path, state, manifest, num_parts)
        entry = await self._catalogued(name, str(data_id))
        manifest.remove()
        if entry is not None and entry != sha3:
            raise ChecksumMismatchError(name, expected=entry, actual=sha3)
        return UploadOutcome(path=path, data_id=str(data_id), resumed_parts=len(hasher.resumed))

    def _resumable(
        self, manifest: _Manifest, path: Path, stat: os.stat_result, num_parts: int
    ) -> dict[str, Any] | None:
        if not self.resume:
            return None
        state = manifest.load()
        if state is None:
            return None
        if (
            state.get("size") != stat.st_size
            or state.get("mtime_ns") != stat.st_mtime_ns
            or state.get("part_size") != self.part_size
            or len(state.get("urls", {})) != num_parts
        ):
            _logger.warning(
                "%s changed since its upload started (or the part size did): starting it over",
                path,
            )
            manifest.remove()
            return None
        return state

    async def _send_part(
        self,
        path: Path,
        part: int,
        size: int,
        state: dict[str, Any],
        manifest: _Manifest,
        hasher: _OrderedHash,
    ) -> None:
        try:
            offset = (part - 1) * self.part_size
            length = min(self.part_size, size - offset)
            chunks, etag = await self._put(path, str(state["urls"][str(part)]), offset, length)
            state["etags"][str(part)] = etag
            manifest.save()
            await hasher.feed(part, chunks)
        finally:
            self.pool.release()

    async def _put(self, path: Path, url: str, offset: int, length: int) -> tuple[list[bytes], str]:
        assert self.store is not None
        retry = StoreRetry(str(path), max(3, self.client.max_retries + 1))
        while True:
            # Opened here, not in the body: a cancelled PUT leaves the body unfinished,
            # and the file must close all the same.
            file = await anyio.open_file(path, "rb")
            body = _PartBody(file, path, offset, length, self.bar)
            # Given as a stream, the body is httpx's to read as it sends (and respx's to
            # read when mocked); httpx then adds no header of its own: Host is ours.
            target = httpx.URL(url)
            headers = {"Host": target.netloc.decode("ascii"), "Content-Length": str(length)}
            request = httpx.Request("PUT", target, headers=headers, stream=body)
            try:
                response = await self.store.send(request)
            except httpx.TransportError as exc:
                self.bar.add(-body.sent)
                await retry.failed(f"PUT {store_url(url)} failed: {type(exc).__name__}")
                continue
            finally:
                with anyio.CancelScope(shield=True):
                    await file.aclose()
            if response.status_code in RETRYABLE_STATUSES:
                self.bar.add(-body.sent)
                await retry.failed(
                    f"PUT {store_url(url)} answered {response.status_code}", response.status_code
                )
                continue
            if response.status_code >= 300:
                raise ObjectStoreError(
                    f"{path}: PUT {store_url(url)} answered {response.status_code}",
                    name=str(path),
                    status_code=response.status_code,
                )
            etag = response.headers.get("ETag")
            if not etag:
                raise ObjectStoreError(f"{path}: the store answered no ETag", name=str(path))
            return body.chunks, etag

    async def _complete(
        self, path: Path, state: dict[str, Any], manifest: _Manifest, num_parts: int
    ) -> None:
        if state["completing"] and await self.client.data_entries.list(
            data_ids=[str(state["data_id"])]
        ):
            return  # an earlier run's complete was applied
        state["completing"] = True
        manifest.save()
        etags = state["etags"]
        try:
            await self.client.uploads.complete(
                upload_id=str(state["upload_id"]),
                new_filename=str(state["new_filename"]),
                etag_data=[
                    {"ETag": etags[str(n)], "PartNumber": n} for n in range(1, num_parts + 1)
                ],
            )
        except APIConnectionError as exc:
            # The POST may have been applied: not re-sent here; resume=True checks first.
            raise AtomscaleError(
                f"{path}: completing the upload failed ({type(exc).__name__}) and may have "
                "been applied: run again with resume=True to check and finish"
            ) from None

    async def _catalogued(self, name: str, data_id: str, tries: int = 12) -> str | None:
        """The catalogue's sha3_256 of the new entry (None when it gives none)."""
        for attempt in range(tries):
            found = await self.client.data_entries.list(data_ids=[data_id])
            if found:
                return found[0].sha3_256
            if attempt + 1 < tries:
                await anyio.sleep(min(2.0, 0.1 * 2**attempt))
        raise AtomscaleError(f"{name}: the upload completed but {data_id} is not in the catalogue")
