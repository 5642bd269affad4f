"""Client: the blocking facade over one long-lived event-loop thread.

Every ``Client`` method runs the matching ``AsyncClient`` coroutine on an
event loop that lives on its own daemon thread for the client's whole life, so
pooled connections are reused between calls. It works from any thread, also one
whose event loop is running (Jupyter, async frameworks). A Ctrl-C landing at any
moment of a call cancels it and returns once nothing of it runs any more.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import threading
import time
import weakref
from collections.abc import (
    AsyncGenerator,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Mapping,
    Sequence,
)
from os import PathLike
from types import TracebackType
from typing import Any, Generic, Literal, Self, TypeVar

import anyio
import httpx
import sniffio
from anyio.abc import TaskGroup
from anyio.from_thread import BlockingPortal

from . import _bulk
from ._bulk import Outcome, Result
from ._client import (
    DEFAULT_MAX_CATALOGUE_RESPONSE_BYTES,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MAX_RETRY_AFTER,
    DEFAULT_TIMEOUT,
    AsyncClient,
)
from ._download import DEFAULT_DOWNLOAD_CONCURRENCY, DownloadOutcome
from ._export import DEFAULT_ROWS_PER_PART, ExportFormat, ExportSummary
from ._generated.bulk import SyncBulkMethods
from ._generated.models import DataEntry
from ._generated.sync_resources import SyncResources
from ._limiter import RateLimitState
from ._optional import MissingExtraError
from ._search import DateLike, SearchResult
from ._secret import redact_url, resolve_api_key
from ._upload import DEFAULT_PART_SIZE, DEFAULT_UPLOAD_CONCURRENCY, UploadOutcome

__all__ = ["Client"]

T = TypeVar("T")

_STREAM_BUFFER = 256
_SYNC_NOTE = """
        In ``Client`` this blocks; an async iterator becomes a plain iterator, and
        ``on_progress`` runs on the client's event-loop thread.
        """

# How often a waiting thread wakes up: a blocked wait would not see a Ctrl-C that
# the OS delivered to another thread.
_POLL_SECONDS = 0.1
# How long a Ctrl-C waits for the interrupted call to stop.
_CANCEL_GRACE_SECONDS = 5.0


class _Job(Generic[T]):
    """One coroutine that a calling thread runs on the loop thread.

    The calling thread hands it over by appending it to a deque and learns that it
    ended by acquiring a bare lock: single C calls, so that a Ctrl-C landing anywhere
    in the calling thread can neither lose a job the loop thread will run nor leave a
    lock held that the loop thread needs (as a Python-level wait such as
    ``Event.wait`` or ``concurrent.futures.Future.result`` can). All else about a job
    happens on the loop thread.
    """

    __slots__ = (
        "_call",
        "_scope",
        "cancel_requested",
        "context",
        "done",
        "finished",
        "outcome",
        "taken",
    )

    def __init__(self, call: Callable[[], Awaitable[T]]) -> None:
        self._call = call
        self._scope: anyio.CancelScope | None = None
        # The caller's context variables, as anyio's portal passes them on.
        self.context = contextvars.copy_context()
        self.context.run(sniffio.current_async_library_cvar.set, "asyncio")
        self.done = threading.Lock()
        self.done.acquire()
        self.taken = False  # set by the loop thread before the job leaves the queue
        self.cancel_requested = False  # set by the calling thread
        self.finished = False  # set by the loop thread before it releases ``done``
        self.outcome: tuple[Literal[True], T] | tuple[Literal[False], Exception] | None = None

    async def run(self) -> None:
        """Run the call unless cancelled first (loop thread)."""
        try:
            with anyio.CancelScope() as scope:
                self._scope = scope
                if self.cancel_requested:
                    return
                try:
                    self.outcome = (True, await self._call())
                except Exception as exc:
                    self.outcome = (False, exc)
        finally:
            self._scope = None
            self.finish()

    def cancel(self) -> None:
        """Cancel the running call (loop thread)."""
        if self._scope is not None:
            self._scope.cancel()

    def finish(self) -> None:
        """Mark the job ended and wake its caller (loop thread)."""
        self.finished = True
        self.done.release()

    def result(self) -> T:
        """The call's value, or its exception raised (calling thread, once finished)."""
        if self.outcome is None:
            raise RuntimeError("the call was cancelled: the client was closed meanwhile")
        if self.outcome[0]:
            return self.outcome[1]
        raise self.outcome[1]


class _LoopThread:
    """An event loop on a daemon thread: a blocking portal, and jobs run for other threads."""

    def __init__(self) -> None:
        ready = threading.Event()
        self.portal: BlockingPortal | None = None
        self.error: BaseException | None = None
        self._event_loop: asyncio.AbstractEventLoop | None = None
        self._task_group: TaskGroup | None = None
        self._accepting = False
        self._queue: collections.deque[_Job[Any]] = collections.deque()
        self._running: set[_Job[Any]] = set()

        async def serve() -> None:
            self._event_loop = asyncio.get_running_loop()
            try:
                async with BlockingPortal() as portal, anyio.create_task_group() as jobs:
                    self.portal = portal
                    self._task_group = jobs
                    self._accepting = True
                    ready.set()
                    await portal.sleep_until_stopped()
                    self._accepting = False
                    jobs.cancel_scope.cancel()
            finally:
                self._accepting = False
                self._drain()  # ends the jobs still queued, without running them

        def run() -> None:
            try:
                anyio.run(serve, backend="asyncio")
            except BaseException as exc:  # pragma: no cover - reported to the caller
                self.error = exc
                ready.set()

        # A daemon thread: a Client that is never closed must not keep the
        # interpreter from exiting. weakref.finalize still closes it at exit.
        self.thread = threading.Thread(target=run, name="atomscale-async-loop", daemon=True)
        self.thread.start()
        ready.wait()
        if self.portal is None:
            raise RuntimeError(f"could not start the event-loop thread: {self.error!r}")

    def run(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run ``call()`` on the loop and block until it ends; Ctrl-C cancels it and waits."""
        job = _Job(call)
        try:
            self.submit(job)
            self.wait(job)
        except BaseException:
            self.cancel(job)
            raise
        return job.result()

    def submit(self, job: _Job[Any]) -> None:
        """Hand ``job`` to the loop thread, which runs it (calling thread)."""
        self._queue.append(job)
        self._wake()

    def wait(self, job: _Job[Any], timeout: float | None = None) -> None:
        """Block until the loop thread has ended ``job``, it stopped, or ``timeout`` passed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not job.finished and self.thread.is_alive():
            if job.done.acquire(timeout=_POLL_SECONDS):
                return
            if deadline is not None and time.monotonic() > deadline:
                return

    def cancel(self, job: _Job[Any]) -> None:
        """Cancel ``job`` and wait until it has stopped (calling thread; no-op once ended)."""
        job.cancel_requested = True
        # Once queued, the job belongs to the loop thread, which marks it taken before
        # it leaves the queue: a job in neither state was never handed over.
        try:
            handed_over = job in self._queue or job.taken
        except RuntimeError:  # the queue changed while it was searched
            handed_over = True
        if handed_over and not job.finished:
            self._wake()
            self.wait(job, _CANCEL_GRACE_SECONDS)

    def _wake(self) -> None:
        loop = self._event_loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has ended
                loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        """Start the queued jobs and cancel those whose caller asked (loop thread)."""
        while self._queue:
            job = self._queue[0]
            job.taken = True
            self._queue.popleft()
            if job.cancel_requested or not self._accepting or self._task_group is None:
                job.finish()
            else:
                self._running.add(job)
                job.context.run(self._task_group.start_soon, self._run_job, job)
        for job in self._running:
            if job.cancel_requested:
                job.cancel()

    async def _run_job(self, job: _Job[Any]) -> None:
        try:
            await job.run()
        finally:
            self._running.discard(job)

    def stop(self) -> None:
        portal = self.portal
        if portal is None or not self.thread.is_alive():
            return
        if threading.current_thread() is self.thread:
            raise RuntimeError("a Client cannot be closed from its own event-loop thread")
        with contextlib.suppress(RuntimeError):  # already stopped
            portal.call(portal.stop, True)
        self.thread.join(timeout=10)


def _shutdown(loop: _LoopThread, client: AsyncClient) -> None:
    portal = loop.portal
    if portal is not None and loop.thread.is_alive():
        with contextlib.suppress(Exception):  # best effort at exit
            portal.call(client.aclose)
    loop.stop()


class Client(SyncResources, SyncBulkMethods):
    """The blocking Atomscale client: the same API as ``AsyncClient``, without ``await``.

    Example:
        >>> with Client() as client:  # doctest: +SKIP
        ...     client.sims.get(data_id).depth_profiles

    Takes the same arguments as ``AsyncClient``; its ``http_client`` (an
    ``httpx.AsyncClient``) is driven on the client's own event-loop thread.
    Safe to share between threads. Ctrl-C during a call (or while iterating
    ``iter_results``) cancels it and returns once none of its requests runs.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | httpx.URL | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        http_client: httpx.AsyncClient | None = None,
        max_retry_wait: float = DEFAULT_MAX_RETRY_AFTER,
        max_retry_after: float | None = None,
        total_timeout: float | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_catalogue_response_bytes: int = DEFAULT_MAX_CATALOGUE_RESPONSE_BYTES,
        allow_insecure_http: bool | None = None,
        trust_env: bool = True,
        adaptive_concurrency: bool = True,
    ) -> None:
        try:
            key = resolve_api_key(api_key)
        finally:
            del api_key  # only ``key`` (whose repr is redacted) stays in this frame
        client = AsyncClient(
            key.reveal(),
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            max_concurrency=max_concurrency,
            http_client=http_client,
            max_retry_wait=max_retry_wait,
            max_retry_after=max_retry_after,
            total_timeout=total_timeout,
            max_response_bytes=max_response_bytes,
            max_catalogue_response_bytes=max_catalogue_response_bytes,
            allow_insecure_http=allow_insecure_http,
            trust_env=trust_env,
            adaptive_concurrency=adaptive_concurrency,
        )
        loop = _LoopThread()
        self._setup(client, loop)
        self._finalizer = weakref.finalize(self, _shutdown, loop, client)

    def _setup(self, client: AsyncClient, loop: _LoopThread) -> None:
        self._parent: Client | None = None
        self._async = client
        self._loop = loop
        self._init_resources(self)

    @property
    def _async_client(self) -> AsyncClient:
        return self._async

    def _run(self, call: Callable[[], Awaitable[T]]) -> T:
        portal = self._loop.portal
        if self._async.is_closed or portal is None or not self._loop.thread.is_alive():
            raise RuntimeError("this client is closed; create a new one")
        if threading.current_thread() is self._loop.thread:
            raise RuntimeError("a Client method was called from its own event-loop thread")
        try:
            return self._loop.run(call)
        except MissingExtraError as exc:
            # Raised before any work starts: the event-loop thread's frames would only
            # bury the one line that says which extra to install.
            raise exc.with_traceback(None) from exc.__cause__

    def _stream(self, make: Callable[[], AsyncGenerator[T, None]]) -> Generator[T, None, None]:
        """Run an async iterator in one task on the loop thread; hand its items over in batches.

        One task owns the whole async iteration (its task groups must not change
        task); the items cross over a bounded stream, so memory stays bounded.
        Closing this iterator early cancels that task.
        """
        portal = self._loop.portal
        if self._async.is_closed or portal is None or not self._loop.thread.is_alive():
            raise RuntimeError("this client is closed; create a new one")
        send, receive = anyio.create_memory_object_stream[T](_STREAM_BUFFER)

        async def pump() -> None:
            # aclosing: on cancellation the iterator is closed in this very task.
            async with send, contextlib.aclosing(make()) as items:
                async for item in items:
                    await send.send(item)

        async def next_batch() -> list[T]:
            try:
                batch = [await receive.receive()]
            except anyio.EndOfStream:
                return []
            while len(batch) < _STREAM_BUFFER:
                try:
                    batch.append(receive.receive_nowait())
                except (anyio.WouldBlock, anyio.EndOfStream):
                    break
            return batch

        pumping = _Job(pump)
        try:
            self._loop.submit(pumping)
            while batch := self._run(next_batch):
                yield from batch
            self._loop.wait(pumping)
            pumping.result()  # an error raised before or during the iteration
        finally:
            # Closed early, interrupted or failed: stop the fetches before returning.
            self._loop.cancel(pumping)
            receive.close()

    def _get_many(
        self,
        data_ids: str | DataEntry | Iterable[str | DataEntry],
        *,
        data_type: str | None,
        errors: Literal["raise", "return"],
        concurrency: int | None,
        on_progress: Callable[[int, int], object] | None,
        progress: bool,
        total_timeout: float | None,
        call_site: _bulk.CallSite,
    ) -> list[Result] | list[Result | Exception]:
        # ``on_progress`` runs on the client's event-loop thread, not the calling thread.
        async def call() -> list[Result] | list[Result | Exception]:
            return await _bulk.get(
                self._async,
                data_ids,
                data_type=data_type,
                errors=errors,
                concurrency=concurrency,
                on_progress=on_progress,
                progress=progress,
                total_timeout=total_timeout,
                call_site=call_site,
            )

        return self._run(call)

    def _iter_many(
        self,
        data_ids: str | DataEntry | Iterable[str | DataEntry],
        *,
        data_type: str | None,
        concurrency: int | None,
        on_progress: Callable[[int, int], object] | None,
        progress: bool,
        total_timeout: float | None,
        call_site: _bulk.CallSite,
    ) -> Generator[Outcome[Result], None, None]:
        # Built here, so that bad arguments raise at the call and warnings point at it.
        stream = _bulk.iter_results(
            self._async,
            data_ids,
            data_type=data_type,
            concurrency=concurrency,
            on_progress=on_progress,
            progress=progress,
            total_timeout=total_timeout,
            call_site=call_site,
        )
        return self._stream(lambda: stream)

    def export(
        self,
        data_ids: str | DataEntry | Iterable[str | DataEntry],
        path: str | PathLike[str],
        *,
        format: ExportFormat | None = None,
        overwrite: bool = False,
        data_type: str | None = None,
        concurrency: int | None = None,
        rows_per_part: int = DEFAULT_ROWS_PER_PART,
        on_progress: Callable[[int, int], object] | None = None,
        progress: bool = False,
        verify: bool = False,
        repair: bool = False,
    ) -> ExportSummary:
        # The docstring is AsyncClient.export's (set below).
        async def call() -> ExportSummary:
            return await self._async.export(
                data_ids,
                path,
                format=format,
                overwrite=overwrite,
                data_type=data_type,
                concurrency=concurrency,
                rows_per_part=rows_per_part,
                on_progress=on_progress,
                progress=progress,
                verify=verify,
                repair=repair,
            )

        return self._run(call)

    def search(
        self,
        *,
        keywords: str | Sequence[str] | None = None,
        data_ids: Sequence[str] | None = None,
        physical_sample_ids: Sequence[str] | None = None,
        project_ids: Sequence[str] | None = None,
        data_type: str | Sequence[str] | None = None,
        status: str = "all",
        growth_length: tuple[float | None, float | None] | None = None,
        upload_datetime: tuple[DateLike | None, DateLike | None] | None = None,
        last_accessed_datetime: tuple[DateLike | None, DateLike | None] | None = None,
        include_organization_data: bool = True,
    ) -> SearchResult:
        # The docstring is AsyncClient.search's (set below).
        async def call() -> SearchResult:
            return await self._async.search(
                keywords=keywords,
                data_ids=data_ids,
                physical_sample_ids=physical_sample_ids,
                project_ids=project_ids,
                data_type=data_type,
                status=status,
                growth_length=growth_length,
                upload_datetime=upload_datetime,
                last_accessed_datetime=last_accessed_datetime,
                include_organization_data=include_organization_data,
            )

        return self._run(call)

    def upload(
        self,
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
        # The docstring is AsyncClient.upload's (set below).
        async def call() -> list[UploadOutcome]:
            return await self._async.upload(
                paths,
                metadata=metadata,
                part_size=part_size,
                max_concurrency=max_concurrency,
                progress=progress,
                on_progress=on_progress,
                resume=resume,
                state_dir=state_dir,
            )

        return self._run(call)

    def download(
        self,
        ids: str | DataEntry | Iterable[str | DataEntry],
        dest_dir: str | PathLike[str],
        *,
        kind: Literal["raw", "processed"] = "raw",
        max_concurrency: int = DEFAULT_DOWNLOAD_CONCURRENCY,
        progress: bool = False,
        on_progress: Callable[[int, int], object] | None = None,
        resume: bool = True,
    ) -> list[DownloadOutcome]:
        # The docstring is AsyncClient.download's (set below).
        async def call() -> list[DownloadOutcome]:
            return await self._async.download(
                ids,
                dest_dir,
                kind=kind,
                max_concurrency=max_concurrency,
                progress=progress,
                on_progress=on_progress,
                resume=resume,
            )

        return self._run(call)

    upload.__doc__ = (AsyncClient.upload.__doc__ or "") + _SYNC_NOTE
    download.__doc__ = (AsyncClient.download.__doc__ or "") + _SYNC_NOTE
    search.__doc__ = (AsyncClient.search.__doc__ or "") + _SYNC_NOTE
    export.__doc__ = (AsyncClient.export.__doc__ or "") + _SYNC_NOTE

    @property
    def base_url(self) -> str:
        """The API root every path is joined under."""
        return self._async.base_url

    @property
    def max_concurrency(self) -> int:
        """Requests this client sends at once, at most."""
        return self._async.max_concurrency

    @property
    def rate_limit_state(self) -> RateLimitState:
        """How the client sends now: its width, ceiling, state and any pause.

        See ``AsyncClient.rate_limit_state``.
        """
        return self._async.rate_limit_state

    @property
    def timeout(self) -> httpx.Timeout:
        """The per-request timeout."""
        return self._async.timeout

    @property
    def max_retries(self) -> int:
        """Retries after the first attempt."""
        return self._async.max_retries

    @property
    def is_closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self._async.is_closed or not self._loop.thread.is_alive()

    def with_options(
        self,
        *,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
        max_retry_wait: float | None = None,
        max_retry_after: float | None = None,
        total_timeout: float | None = None,
        max_response_bytes: int | None = None,
        max_catalogue_response_bytes: int | None = None,
    ) -> Self:
        """A client with other per-call settings that shares this one's pool, limits and thread.

        Example:
            >>> client.with_options(timeout=300, max_retries=5).oes.get(data_id)  # doctest: +SKIP
        """
        clone = object.__new__(type(self))
        clone._setup(
            self._async.with_options(
                timeout=timeout,
                max_retries=max_retries,
                max_retry_wait=max_retry_wait,
                max_retry_after=max_retry_after,
                total_timeout=total_timeout,
                max_response_bytes=max_response_bytes,
                max_catalogue_response_bytes=max_catalogue_response_bytes,
            ),
            self._loop,
        )
        clone._finalizer = self._finalizer
        clone._parent = self  # the loop thread lives as long as its first client
        return clone

    def close(self) -> None:
        """Close the connection pool and stop the event-loop thread."""
        self._finalizer()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        if not hasattr(self, "_async"):  # its __init__ failed: shown by traceback with locals
            return f"<{type(self).__name__} (not initialized)>"
        return (
            f"<{type(self).__name__} base_url={redact_url(self.base_url)!r} "
            f"max_concurrency={self.max_concurrency} max_retries={self.max_retries}>"
        )
