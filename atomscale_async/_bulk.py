"""Bulk fetch: ``client.get(data_ids)`` and ``client.iter_results(data_ids)``.

Each distinct id is fetched once. Without ``data_type`` the kind of each id is
looked up in the catalogue (``GET data_entries/``, 100 ids a request, several
requests in flight) and the lookups feed a pool of workers that fetch results
as soon as their kind is known. Every request goes through the client's
request loop, so the client-wide adaptive limit (width, pace, pause) holds,
and a call's ``concurrency`` caps it further. A request that must wait (a 429's
``Retry-After``, a retry's backoff) is handed back by the request loop and
resumed later by a task of its own: it holds neither a worker nor a slot while
it waits, and the workers fetch other ids meanwhile.

The client's ``total_timeout`` bounds each request (with its retries); a bulk
call's own ``total_timeout`` bounds the whole call: at its deadline the fetches
in flight are cancelled and every id without an outcome yet becomes an
``APITimeoutError`` for that id, while the outcomes already fetched are kept.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import math
import sys
import warnings
import zlib
from collections.abc import (
    AsyncGenerator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeAlias, TypeVar
from urllib.parse import quote

import anyio
import attrs
import httpx
import sniffio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from . import _validate
from ._convert import decode
from ._errors import (
    APIConnectionError,
    APITimeoutError,
    AtomscaleError,
    BulkFetchError,
    NotFoundError,
)
from ._generated.kinds import (
    CATALOGUE_CHUNK,
    KINDS,
    UNTYPED_KINDS,
    KindResources,
    KnownResult,
    fetch_function,
)
from ._generated.models import DataEntry
from ._generated.resources import RequestSender
from ._limiter import RateLimitState
from ._model import Model
from ._request import (
    RATE_LIMIT_TALLY,
    Deferral,
    RateLimitTally,
    RetryLater,
    SharedState,
    deferring,
)
from ._warnings import warn_at

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = [
    "CATALOGUE_CHUNK",
    "CallSite",
    "Outcome",
    "Result",
    "UnknownDataTypeWarning",
    "UnknownResult",
    "get",
    "iter_results",
]

#: Catalogue lookups in flight at once (each resolves up to 100 ids).
CATALOGUE_WIDTH = 4
KNOWN_TYPES = tuple(KINDS)
"""The kinds this SDK fetches typed (the generated kind table, aliases included)."""

_logger = logging.getLogger("atomscale_async")


class UnknownDataTypeWarning(UserWarning):
    """The catalogue names a kind of data this SDK version cannot fetch yet."""


@attrs.frozen
class CallSite:
    """Where the caller's code called a bulk method: warnings point there.

    The warnings of a bulk call are raised in its worker tasks (under
    ``Client``, on the event-loop thread), where no ``stacklevel`` reaches
    the caller; the public method captures its caller's line instead.
    """

    filename: str
    lineno: int
    module: str
    module_globals: dict[str, Any] = attrs.field(repr=False)

    @classmethod
    def of_caller(cls, depth: int = 1) -> CallSite:
        """The line that called the function ``depth`` frames up from the one calling this."""
        frame = sys._getframe(depth + 1)
        return cls(
            frame.f_code.co_filename,
            frame.f_lineno,
            frame.f_globals.get("__name__", "<unknown>"),
            frame.f_globals,
        )

    def warn(self, message: str, category: type[Warning]) -> None:
        """Issue a warning that points at this call site (plainly, if it cannot)."""
        warn_at(
            message,
            category,
            self.filename,
            self.lineno,
            module=self.module,
            module_globals=self.module_globals,
        )


@attrs.frozen(kw_only=True, unsafe_hash=False)
class UnknownResult(Model):
    """A data entry of a kind this SDK does not know (it may be out of date).

    Attributes:
        data_id: The data entry UUID.
        data_type: The kind the catalogue gave, e.g. ``"xps"``.
        catalogue_entry: The catalogue's entry for the id.
    """

    data_id: str
    data_type: str
    catalogue_entry: DataEntry

    def plot(self, ax: Axes | None = None) -> Axes:
        """Raise: this SDK has no model, hence no plot, for the entry's kind.

        Raises:
            NotImplementedError: Always; the message names the kind.
        """
        raise NotImplementedError(self._untyped("plot"))

    def to_pandas(self) -> pd.DataFrame:
        """Raise: this SDK has no model, hence no frame, for the entry's kind.

        Raises:
            NotImplementedError: Always; the message names the kind.
        """
        raise NotImplementedError(self._untyped("frame"))

    def _untyped(self, what: str) -> str:
        return (
            f"no {what} for {self.data_id!r}: its kind {self.data_type!r} is not typed by "
            "this SDK (an UnknownResult); catalogue_entry holds what the catalogue says of it"
        )


Result: TypeAlias = KnownResult | UnknownResult


class BulkClient(KindResources, RequestSender, Protocol):
    """What a bulk call needs of a client: its request loop, limit, base URL and kinds."""

    @property
    def max_concurrency(self) -> int: ...

    @property
    def base_url(self) -> str: ...

    @property
    def rate_limit_state(self) -> RateLimitState: ...

    @property
    def _state(self) -> SharedState: ...


ProgressCallback: TypeAlias = Callable[[int, int], object]
# (data id, kind, catalogue entry or None when the caller gave the kind)
_Work: TypeAlias = tuple[str, str, DataEntry | None]


_R_co = TypeVar("_R_co", covariant=True)


@attrs.frozen
class Outcome(Generic[_R_co]):
    """What ``iter_results`` yields for each distinct id: exactly one of result / error is set.

    ``Outcome[OESResult]`` is the outcome of ``iter_results(ids, data_type="oes")``.

    Attributes:
        data_id: The data entry UUID.
        result: The result, when the fetch succeeded.
        error: The exception, when it failed.
    """

    data_id: str
    result: _R_co | None = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        """Whether the fetch succeeded."""
        return self.error is None


def split_entries(
    data_ids: str | DataEntry | Iterable[str | DataEntry],
) -> tuple[str | list[Any], dict[str, DataEntry]]:
    """The ids (entries replaced by their ``data_id``) and the catalogue entries given.

    A ``DataEntry`` (from ``search``) already says its kind: its id needs no catalogue
    lookup.
    """
    if isinstance(data_ids, str | bytes | bytearray):
        return data_ids, {}  # one id (bytes is refused by normalize_ids)
    if isinstance(data_ids, DataEntry):  # one entry, like one id
        return [data_ids.data_id], {data_ids.data_id: data_ids}
    ids: list[Any] = []
    entries: dict[str, DataEntry] = {}
    for item in data_ids:
        if isinstance(item, DataEntry):
            entries.setdefault(item.data_id, item)
            ids.append(item.data_id)
        else:
            ids.append(item)
    return ids, entries


def normalize_ids(data_ids: str | Iterable[str]) -> list[str]:
    """The ids as a list (a single id is a list of one), each checked before anything is sent."""
    if isinstance(data_ids, str):
        return [_validate.data_id(data_ids, "data_ids")]
    return _validate.data_ids(data_ids, "data_ids")


def _check_callback(on_progress: object) -> None:
    if on_progress is not None and not callable(on_progress):
        raise TypeError(
            f"on_progress must be a callable taking (done, total), got {type(on_progress).__name__}"
        )


def _transport_errors() -> tuple[type[BaseException], ...]:
    """What a transport may raise for one malformed or broken response.

    The request loop turns the transport's errors into the SDK's; this is the
    bulk layer's net under it, so that one bad answer fails only its own id.
    """
    types: list[type[BaseException]] = [
        httpx.HTTPError,  # DecodingError, TooManyRedirects, every TransportError
        OSError,  # sockets, TLS, timeouts
        EOFError,
        zlib.error,
        anyio.BrokenResourceError,
    ]
    # Only what is already imported: each could only have raised if it was.
    if (aiohttp := sys.modules.get("aiohttp")) is not None:
        types.append(aiohttp.ClientError)
        types.append(aiohttp.http_exceptions.HttpProcessingError)
    if (h11 := sys.modules.get("h11")) is not None:
        types.append(h11.ProtocolError)
    return tuple(types)


def _failed_request(exc: BaseException, url: str) -> APIConnectionError:
    detail = " ".join(str(exc).split())[:300]
    return APIConnectionError(
        f"GET {url}: the response could not be read ({type(exc).__name__}"
        + (f": {detail})" if detail else ")"),
        method="GET",
        url=url,
    )


def _unwrap(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The exception to raise for a task group's: its first that is not a cancellation.

    A bug in one task (the SDK's or a callback's) surfaces as itself, not as a
    group; a group of cancellations only is left as it is.
    """
    cancelled = anyio.get_cancelled_exc_class()
    pending: list[BaseException] = [group]
    while pending:
        exc = pending.pop(0)
        if isinstance(exc, BaseExceptionGroup):
            pending[:0] = exc.exceptions
        elif not isinstance(exc, cancelled):
            return exc
    return group


def _check_total_timeout(total_timeout: float | None) -> float | None:
    if total_timeout is None:
        return None
    if (
        isinstance(total_timeout, bool)
        or not isinstance(total_timeout, int | float)
        or not 0 < total_timeout < math.inf
    ):
        raise ValueError(
            f"total_timeout must be a positive number of seconds or None, got {total_timeout!r}"
        )
    return float(total_timeout)


def _check(data_type: str | None, concurrency: int | None, client: BulkClient) -> int:
    if data_type is not None and data_type not in KINDS:
        msg = f"data_type must be one of {tuple(KINDS)} or None, got {data_type!r}"
        if data_type in UNTYPED_KINDS:
            msg += (
                f": {data_type!r} is searchable but not typed yet (leave data_type out "
                "and its entries come back as UnknownResult)"
            )
        elif isinstance(data_type, str) and (
            close := difflib.get_close_matches(data_type.strip().lower(), KINDS, n=1)
        ):
            msg += f"; did you mean {close[0]!r}?"
        raise ValueError(msg)
    limit = client.max_concurrency
    if concurrency is None:
        return limit
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be an integer >= 1, got {concurrency!r}")
    return min(concurrency, limit)


class _Run:
    """The state of one bulk call."""

    def __init__(
        self,
        client: BulkClient,
        *,
        name: str,
        data_type: str | None,
        width: int,
        ids: Sequence[str],
        emit: Callable[[Outcome[Result]], Awaitable[None]] | None = None,
        store: Callable[[Outcome[Result]], None] | None = None,
        on_progress: ProgressCallback | None,
        progress: bool,
        total_timeout: float | None,
        call_site: CallSite | None,
        entries: Mapping[str, DataEntry] | None = None,
    ) -> None:
        self.client = client
        self.name = name
        self.rate_limited = RateLimitTally()
        self.entries = entries or {}
        self.call_site = call_site
        self.data_type = data_type
        self.width = width
        self.ids = ids
        self.total = len(ids)
        self.done = 0
        self.failed = 0
        self.timed_out_count = 0
        # Exactly one: ``emit`` may wait (a stream to a consumer), ``store`` never does.
        assert (emit is None) != (store is None)
        self.emit_outcome = emit
        self.store_outcome = store
        self.on_progress = on_progress
        self.total_timeout = total_timeout
        # The ids without an outcome yet, and the kind of each once it is known.
        self.pending: dict[str, None] = dict.fromkeys(ids)
        self.kinds: dict[str, str] = {}
        self.warned: set[str] = set()
        self.transport_errors = _transport_errors()
        self.bar = _progress_bar(self.total) if progress else None
        self.postfix = ""
        # The call's own cap: workers and resumed requests share it.
        self.slots = anyio.Semaphore(width, fast_acquire=True)
        self.tg: anyio.abc.TaskGroup | None = None

    async def emit(self, outcome: Outcome[Result]) -> None:
        del self.pending[outcome.data_id]
        self.done += 1
        self.failed += outcome.error is not None
        if self.on_progress is not None:
            self.on_progress(self.done, self.total)
        if self.bar is not None:
            self.show_rate_limit_state(self.bar)
            self.bar.update(1)
        if self.store_outcome is not None:
            self.store_outcome(outcome)  # no checkpoint: nothing to shield
            return
        assert self.emit_outcome is not None
        # An outcome once fetched is delivered: the call's deadline does not
        # interrupt a hand-over to a slow consumer. (A consumer that stops
        # listening closes its end, which ends the hand-over at once.)
        with anyio.CancelScope(shield=True):
            await self.emit_outcome(outcome)

    def show_rate_limit_state(self, bar: Any) -> None:
        state = self.client.rate_limit_state
        postfix = state.state.replace("_", " ")
        if state.state != "normal":
            postfix += f", width {state.width}/{state.ceiling}"
            if state.rate is not None:
                postfix += f", {state.rate:.0f} req/s"
        if postfix != self.postfix:
            self.postfix = postfix
            bar.set_postfix_str(postfix, refresh=False)

    def close(self, started: float) -> None:
        if self.bar is not None:
            self.bar.close()
        if _logger.isEnabledFor(logging.INFO):
            # Counts only: no id, URL or header, so never the key.
            detail = f" ({self.timed_out_count} timed out)" if self.timed_out_count else ""
            if self.done < self.total:
                detail += f", {self.total - self.done} not fetched (stopped early)"
            limited, waits = self.rate_limited, ""
            if limited.answers:
                waits = f" ({limited.answers} rate-limited, waited {limited.waited:.1f} s)"
            _logger.info(
                "%s: %d ids, %d ok, %d failed%s in %.2f s%s",
                self.name,
                self.total,
                self.done - self.failed,
                self.failed,
                detail,
                anyio.current_time() - started,
                waits,
            )

    async def fetch(
        self, data_id: str, kind: str, entry: DataEntry | None, deferral: Deferral | None = None
    ) -> None:
        """Fetch one id and emit its outcome, or leave it to a task that resumes it later."""
        async with self.slots:
            try:
                with deferring(deferral):
                    outcome = await self.fetch_now(data_id, kind, entry)
            except RetryLater as later:
                assert self.tg is not None
                self.tg.start_soon(self.resume, data_id, kind, entry, later.deferral)
                return
        await self.emit(outcome)

    async def resume(
        self, data_id: str, kind: str, entry: DataEntry | None, deferral: Deferral
    ) -> None:
        clock = self.client._state.clock
        if (wait := deferral.not_before - clock.monotonic()) > 0:
            await clock.sleep(wait)
        await self.fetch(data_id, kind, entry, deferral)

    async def fetch_now(self, data_id: str, kind: str, entry: DataEntry | None) -> Outcome[Result]:
        try:
            fetch = fetch_function(self.client, kind)
            if fetch is not None:
                return Outcome(data_id, await fetch(data_id))
            assert entry is not None
            self.warn_unknown(kind)
            unknown = UnknownResult(data_id=data_id, data_type=kind, catalogue_entry=entry)
            return Outcome(data_id, unknown)
        except AtomscaleError as exc:  # an API failure is this id's outcome; a bug propagates
            return Outcome(data_id, error=exc)
        except self.transport_errors as exc:
            # Built here, returned below; never raised here, so the transport's
            # exception (which may hold the request) is not its __context__.
            failure = _failed_request(exc, self.url_of(data_id))
        return Outcome(data_id, error=failure)

    def url_of(self, data_id: str) -> str:
        kind = self.kinds.get(data_id)
        if kind is None:
            return self.client.base_url + "data_entries/"
        template = KINDS[kind].path if kind in KINDS else "/" + kind + "/{data_id}"
        return self.client.base_url + template.lstrip("/").format(data_id=quote(data_id, safe=""))

    def warn_unknown(self, kind: str) -> None:
        if kind in self.warned:
            return
        self.warned.add(kind)
        message = (
            f"data_type {kind!r} is not known to atomscale-async; its entries are returned as "
            "UnknownResult. Upgrade atomscale-async to fetch them."
        )
        try:
            if self.call_site is None:
                warnings.warn(message, UnknownDataTypeWarning, stacklevel=2)
            else:
                self.call_site.warn(message, UnknownDataTypeWarning)
        except Exception:
            # Turned into an error by a warnings filter (-W error), or raised by a
            # showwarning hook: say it in the log instead of aborting the fetch and
            # losing the other results.
            _logger.warning(message)

    async def run(self, started: float) -> None:
        """Fetch every id; at the call's deadline, time out the ids left."""
        ids = self.ids
        deadline = math.inf if self.total_timeout is None else started + self.total_timeout
        RATE_LIMIT_TALLY.set(self.rate_limited)  # the fetch tasks started below share it
        try:
            bug: BaseException | None = None
            try:
                with anyio.CancelScope(deadline=deadline):
                    async with anyio.create_task_group() as tg:
                        self.tg = tg
                        if self.data_type is not None:
                            # The kind is known: the workers share one iterator of ids.
                            self.kinds = dict.fromkeys(ids, self.data_type)
                            todo = iter(ids)
                            for _ in range(min(self.width, len(ids))):
                                tg.start_soon(self.known_kind_worker, todo, self.data_type)
                        else:
                            work_send, work_receive = anyio.create_memory_object_stream[_Work](
                                self.width
                            )
                            for _ in range(min(self.width, len(ids))):
                                tg.start_soon(self.worker, work_receive.clone())
                            work_receive.close()
                            await self.resolve(ids, work_send)
            except BaseExceptionGroup as group:
                bug = _unwrap(group)
                if bug is group:
                    raise
            if bug is not None:
                raise bug  # outside the handler: the group does not become its __context__
            # Ids are left only when the deadline cancelled the fetches.
            for data_id in list(self.pending):
                self.timed_out_count += 1
                await self.emit(Outcome(data_id, error=self.timed_out(data_id)))
        finally:
            self.close(started)

    def timed_out(self, data_id: str) -> APITimeoutError:
        url = self.url_of(data_id)
        return APITimeoutError(
            f"GET {url}: data id {data_id!r} was not fetched within the bulk call's "
            f"total_timeout of {self.total_timeout:g} s",
            method="GET",
            url=url,
        )

    async def known_kind_worker(self, todo: Iterator[str], kind: str) -> None:
        for data_id in todo:
            await self.fetch(data_id, kind, None)

    async def worker(self, work: MemoryObjectReceiveStream[_Work]) -> None:
        async with work:
            async for data_id, kind, entry in work:
                await self.fetch(data_id, kind, entry)

    async def resolve(self, ids: Sequence[str], work: MemoryObjectSendStream[_Work]) -> None:
        entries = self.entries
        known = [i for i in ids if i in entries]
        ids = [i for i in ids if i not in entries]
        chunks = [ids[i : i + CATALOGUE_CHUNK] for i in range(0, len(ids), CATALOGUE_CHUNK)]
        chunk_send, chunk_receive = anyio.create_memory_object_stream[Sequence[str]](math.inf)
        for chunk in chunks:
            chunk_send.send_nowait(chunk)
        chunk_send.close()
        async with work, chunk_receive, anyio.create_task_group() as tg:
            for _ in range(min(CATALOGUE_WIDTH, len(chunks))):
                tg.start_soon(self.lookup, chunk_receive.clone(), work.clone())
            # Entries from a search already say their kind: no lookup for those.
            for data_id in known:
                kind = entries[data_id].char_source_type
                self.kinds[data_id] = kind
                await work.send((data_id, kind, entries[data_id]))

    async def lookup(
        self,
        chunks: MemoryObjectReceiveStream[Sequence[str]],
        work: MemoryObjectSendStream[_Work],
    ) -> None:
        async with chunks, work:
            async for chunk in chunks:
                error: AtomscaleError | None = None
                try:
                    params = [("data_ids", data_id) for data_id in chunk]
                    content = await self.client._request("GET", "data_entries/", params=params)
                    entries = decode(content, list[DataEntry], "GET /data_entries/")
                except AtomscaleError as exc:
                    error = exc
                except self.transport_errors as exc:
                    error = _failed_request(exc, self.client.base_url + "data_entries/")
                if error is not None:
                    for data_id in chunk:
                        await self.emit(Outcome(data_id, error=error))
                    continue
                found = {entry.data_id: entry for entry in entries}
                for data_id in chunk:
                    entry = found.get(data_id)
                    if entry is None:
                        await self.emit(Outcome(data_id, error=_unknown_id(data_id, self.client)))
                    else:
                        self.kinds[data_id] = entry.char_source_type
                        await work.send((data_id, entry.char_source_type, entry))


def _unknown_id(data_id: str, client: BulkClient) -> NotFoundError:
    url = f"{client.base_url}data_entries/"
    return NotFoundError(
        f"data id {data_id!r} is not in the catalogue; check the id",
        status_code=404,
        body=None,
        method="GET",
        url=url,
    )


def _progress_bar(total: int, initial: int = 0) -> Any:
    from ._optional import require

    require("progress=True", "progress", "tqdm")
    from tqdm import TqdmWarning

    with warnings.catch_warnings():
        # In a notebook without ipywidgets tqdm falls back to a text bar, and says
        # so in a TqdmWarning on import: the text bar is what we want, silently.
        warnings.simplefilter("ignore", TqdmWarning)
        from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="result", desc="atomscale", dynamic_ncols=True)


async def get(
    client: BulkClient,
    data_ids: str | DataEntry | Iterable[str | DataEntry],
    *,
    data_type: str | None = None,
    errors: Literal["raise", "return"] = "raise",
    concurrency: int | None = None,
    on_progress: ProgressCallback | None = None,
    progress: bool = False,
    total_timeout: float | None = None,
    call_site: CallSite | None = None,
) -> list[Any]:
    """Fetch many results concurrently; see ``AsyncClient.get``."""
    started = anyio.current_time()
    if errors not in ("raise", "return"):
        raise ValueError(f"errors must be 'raise' or 'return', got {errors!r}")
    given, entries = split_entries(data_ids)
    ids = normalize_ids(given)
    unique = list(dict.fromkeys(ids))
    width = _check(data_type, concurrency, client)
    total_timeout = _check_total_timeout(total_timeout)
    _check_callback(on_progress)
    outcomes: dict[str, Outcome[Result]] = {}

    def collect(outcome: Outcome[Result]) -> None:
        outcomes[outcome.data_id] = outcome

    if unique:
        run = _Run(
            client,
            name="get",
            data_type=data_type,
            width=width,
            ids=unique,
            store=collect,
            on_progress=on_progress,
            progress=progress,
            total_timeout=total_timeout,
            call_site=call_site,
            entries=entries,
        )
        await run.run(started)
    failed = {i: o.error for i, o in outcomes.items() if o.error is not None}
    if failed and errors == "raise":
        succeeded = {i: o.result for i, o in outcomes.items() if o.error is None}
        raise BulkFetchError(succeeded, failed)
    return [outcomes[i].result if outcomes[i].error is None else outcomes[i].error for i in ids]


def iter_results(
    client: BulkClient,
    data_ids: str | DataEntry | Iterable[str | DataEntry],
    *,
    data_type: str | None = None,
    concurrency: int | None = None,
    on_progress: ProgressCallback | None = None,
    progress: bool = False,
    total_timeout: float | None = None,
    call_site: CallSite | None = None,
) -> AsyncGenerator[Outcome[Result], None]:
    """Yield one Outcome per distinct id as each completes; see ``AsyncClient.iter_results``.

    The arguments are checked here, at the call; the fetches start with the iteration.
    """
    given, entries = split_entries(data_ids)
    unique = list(dict.fromkeys(normalize_ids(given)))
    width = _check(data_type, concurrency, client)
    total_timeout = _check_total_timeout(total_timeout)
    _check_callback(on_progress)
    return _iterate(
        client, data_type, width, unique, on_progress, progress, total_timeout, call_site, entries
    )


async def _iterate(
    client: BulkClient,
    data_type: str | None,
    width: int,
    unique: list[str],
    on_progress: ProgressCallback | None,
    progress: bool,
    total_timeout: float | None,
    call_site: CallSite | None,
    entries: Mapping[str, DataEntry],
) -> AsyncGenerator[Outcome[Result], None]:
    started = anyio.current_time()
    if not unique:
        return
    send, receive = anyio.create_memory_object_stream[Outcome[Result]](width)
    run = _Run(
        client,
        name="iter_results",
        data_type=data_type,
        width=width,
        ids=unique,
        emit=send.send,
        on_progress=on_progress,
        progress=progress,
        total_timeout=total_timeout,
        call_site=call_site,
        entries=entries,
    )
    failures: list[BaseException] = []
    finished = anyio.Event()

    async def produce() -> None:
        try:
            async with send:
                await run.run(started)
        except anyio.get_cancelled_exc_class():
            raise
        except BaseException as exc:  # handed to the consumer below
            failures.append(exc)
        finally:
            finished.set()

    # The fetches run in a task of their own, not in a task group entered by
    # this generator: a consumer that breaks out of ``async for`` leaves the
    # generator to be closed later, from another task, and a task group (or
    # cancel scope) cannot be exited there; it would cancel the consumer's task.
    cancel = _spawn_detached(produce)
    try:
        async with receive:
            async for outcome in receive:
                yield outcome
        if failures:
            raise failures[0]
    finally:
        if not finished.is_set():
            cancel()
            with anyio.CancelScope(shield=True), anyio.move_on_after(_STOP_GRACE_SECONDS):
                await finished.wait()


def _spawn_detached(fn: Callable[[], Awaitable[None]]) -> Callable[[], object]:
    """Start ``fn`` in a task of its own; return what cancels it."""
    if sniffio.current_async_library() == "trio":
        import trio

        scope = trio.CancelScope()

        async def run_in_scope() -> None:
            with scope:
                await fn()

        trio.lowlevel.spawn_system_task(run_in_scope)
        return scope.cancel

    async def run() -> None:
        await fn()

    task = asyncio.get_running_loop().create_task(run())
    _DETACHED.add(task)  # a strong reference until it is done
    task.add_done_callback(_DETACHED.discard)
    return task.cancel


_DETACHED: set[asyncio.Task[None]] = set()
_STOP_GRACE_SECONDS = 5.0
