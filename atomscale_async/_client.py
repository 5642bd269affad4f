"""AsyncClient: configuration, lifecycle, ``with_options`` and the API areas."""

from __future__ import annotations

import ipaddress
import logging
import math
import os
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping, Sequence
from os import PathLike
from types import TracebackType
from typing import Any, Literal, Self

import attrs
import httpx

from . import _bulk, _download, _export, _search, _upload
from ._bulk import Outcome, Result
from ._download import DEFAULT_DOWNLOAD_CONCURRENCY, DownloadOutcome
from ._export import DEFAULT_ROWS_PER_PART, ExportFormat, ExportSummary
from ._generated.bulk import AsyncBulkMethods
from ._generated.models import DataEntry
from ._generated.resources import AsyncResources
from ._limiter import AdaptiveLimiter, RateLimitState
from ._request import RequestOptions, SharedState, request
from ._retry import Clock
from ._search import DateLike, SearchResult
from ._secret import redact_url, resolve_api_key
from ._transports import build_http_client
from ._upload import DEFAULT_PART_SIZE, DEFAULT_UPLOAD_CONCURRENCY, UploadOutcome

__all__ = ["DEFAULT_MAX_CONCURRENCY", "DEFAULT_TIMEOUT", "AsyncClient"]

DEFAULT_BASE_URL = "https://api.atomscale.ai/"
#: 5 s to connect; 60 s between bytes while reading (large spectra take a while).
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
DEFAULT_MAX_CONCURRENCY = 32
DEFAULT_MAX_RETRY_AFTER = 60.0
DEFAULT_MAX_RESPONSE_BYTES = 256 * 2**20
DEFAULT_MAX_CATALOGUE_RESPONSE_BYTES = 2**30

_logger = logging.getLogger("atomscale_async")


_LOG_LEVELS = ("debug", "info")
_warned_log_levels: set[str] = set()


def _setup_logging() -> None:
    level = os.environ.get("ATOMSCALE_LOG", "").strip().lower()
    if level and level not in _LOG_LEVELS and level not in _warned_log_levels:
        _warned_log_levels.add(level)  # once a value, not once a client
        _logger.warning(
            "ATOMSCALE_LOG=%r is not a level: use one of %s (or leave it unset)",
            level,
            ", ".join(_LOG_LEVELS),
        )
    if level not in _LOG_LEVELS or _logger.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    _logger.addHandler(handler)
    _logger.setLevel(logging.DEBUG if level == "debug" else logging.INFO)


_INSECURE_HTTP_ENV = "ATOMSCALE_ALLOW_INSECURE_HTTP"


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _resolve_base_url(base_url: str | httpx.URL | None, allow_insecure_http: bool | None) -> str:
    raw = str(
        base_url
        or os.environ.get("ATOMSCALE_BASE_URL")
        or os.environ.get("AS_API_ENDPOINT")
        or DEFAULT_BASE_URL
    )
    try:
        url = httpx.URL(raw)
    except httpx.InvalidURL:
        url = httpx.URL()
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(
            f"base_url must be an http(s) URL such as {DEFAULT_BASE_URL!r}, got {redact_url(raw)!r}"
        )
    if allow_insecure_http is None:
        allow_insecure_http = os.environ.get(_INSECURE_HTTP_ENV, "").strip().lower() in (
            "1",
            "true",
            "yes",
        )
    if url.scheme == "http" and not _is_loopback(url.host) and not allow_insecure_http:
        raise ValueError(
            f"base_url {redact_url(raw)!r} would send the API key unencrypted to another "
            "machine: use https://, or, for a server you trust on your own network (such as "
            "a sandbox in a container), pass allow_insecure_http=True, set "
            f"{_INSECURE_HTTP_ENV}=1, or give the command line --allow-insecure-http"
        )
    return raw if raw.endswith("/") else raw + "/"


def _check_timeout_part(name: str, value: object, *, optional: bool) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise ValueError(
            f"timeout's {name} part must be a positive, finite number of seconds"
            f"{' or None' if optional else ''}, got {value!r}"
        )


def _resolve_timeout(timeout: float | httpx.Timeout | None) -> httpx.Timeout:
    if isinstance(timeout, httpx.Timeout):
        # Without a connect or read bound, a dead server holds a request forever.
        _check_timeout_part("connect", timeout.connect, optional=False)
        _check_timeout_part("read", timeout.read, optional=False)
        _check_timeout_part("write", timeout.write, optional=True)
        _check_timeout_part("pool", timeout.pool, optional=True)
        return timeout
    if timeout is None:
        raise ValueError("timeout=None would wait forever; pass seconds or an httpx.Timeout")
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not 0 < timeout < math.inf
    ):
        raise ValueError(f"timeout must be a positive, finite number of seconds, got {timeout!r}")
    return httpx.Timeout(float(timeout))


def _check_count(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _retry_wait(max_retry_wait: float | None, max_retry_after: float | None) -> float:
    """``max_retry_wait``, or its former name ``max_retry_after``, checked."""
    if max_retry_after is None:
        return _check_seconds("max_retry_wait", max_retry_wait)
    if max_retry_wait is not None and max_retry_wait != DEFAULT_MAX_RETRY_AFTER:
        raise ValueError("pass max_retry_wait or its former name max_retry_after, not both")
    return _check_seconds("max_retry_after", max_retry_after)


def _check_seconds(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise ValueError(f"{name} must be a positive, finite number of seconds, got {value!r}")
    return float(value)


class AsyncClient(AsyncResources, AsyncBulkMethods):
    """The asynchronous Atomscale client.

    One client serves a whole application: it keeps a connection pool, and
    every request it sends (single or bulk) shares one adaptive limit: up to
    ``max_concurrency`` in flight, fewer and paced when the server refuses
    (see ``rate_limit_state``). Use it as an async context manager, or call
    ``aclose()``.

    Example:
        >>> async with AsyncClient() as client:  # doctest: +SKIP
        ...     profiles = (await client.sims.get(data_id)).depth_profiles

    Args:
        api_key: The API key; else ``ATOMSCALE_API_KEY``, else ``AS_API_KEY``.
        base_url: The API root; else ``ATOMSCALE_BASE_URL``, else ``AS_API_ENDPOINT``,
            else ``https://api.atomscale.ai/``. A path prefix is kept.
        timeout: Seconds, or an ``httpx.Timeout`` (connect and read bounded);
            defaults to 5 s connect, 60 s read. The one timeout of every request,
            also through an ``http_client``.
        max_retries: Retries after the first attempt (see the README's retry policy).
        max_concurrency: The most requests in flight at once, for the whole client
            (the width adapts below it); the connection pool is sized to it.
        http_client: An ``httpx.AsyncClient`` to send through instead of the
            default one; the SDK does not close it. Its headers, auth, hooks and
            cookies apply, but not its timeout: ``timeout=`` above wins.
        max_retry_wait: The longest ``Retry-After`` (seconds) honoured by
            waiting, 60 s by default; a longer one raises ``RateLimitError`` (with
            its ``retry_after``) at once, logs a warning, and pauses the client for
            no longer than this.
        max_retry_after: The former name of ``max_retry_wait``.
        total_timeout: Seconds one request may take, its retries and waits included
            (each request of a bulk call on its own; ``get(total_timeout=)`` bounds a
            whole bulk call). Reading a body counts.
        max_response_bytes: The largest decoded body of a result (and any other
            non-catalogue) answer, 256 MiB by default; checked while the body
            streams in and while it is decompressed (``ResponseTooLargeError``).
        max_catalogue_response_bytes: The same for catalogue answers
            (``data_entries``), which are unpaged: 1 GiB by default.
        allow_insecure_http: Allow an ``http://`` base URL to a host other than
            this machine (loopback is always allowed); else
            ``ATOMSCALE_ALLOW_INSECURE_HTTP=1``.
        trust_env: Send through the proxies ``HTTP_PROXY``, ``HTTPS_PROXY`` and
            ``ALL_PROXY`` name, except for ``NO_PROXY`` hosts and loopback, by
            httpx's rules (an HTTP proxy; a SOCKS one is an error). An
            ``http_client`` follows its own settings instead.
        adaptive_concurrency: Follow the server's refusals below ``max_concurrency``
            (429: pace the requests; 503: narrow the width). False keeps the width
            at ``max_concurrency``.
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
        _setup_logging()
        try:
            key = resolve_api_key(api_key)
        finally:
            del api_key  # only ``key`` (whose repr is redacted) stays in this frame
        max_concurrency = _check_count("max_concurrency", max_concurrency, 1)
        if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
            raise TypeError(
                f"http_client must be an httpx.AsyncClient, got {type(http_client).__name__}"
            )
        options = RequestOptions(
            timeout=_resolve_timeout(timeout),
            max_retries=_check_count("max_retries", max_retries, 0),
            max_retry_after=_retry_wait(max_retry_wait, max_retry_after),
            total_timeout=None
            if total_timeout is None
            else _check_seconds("total_timeout", total_timeout),
            max_response_bytes=_check_count("max_response_bytes", max_response_bytes, 1),
            max_catalogue_response_bytes=_check_count(
                "max_catalogue_response_bytes", max_catalogue_response_bytes, 1
            ),
        )
        clock = Clock()
        state = SharedState(
            http=http_client or build_http_client(max_concurrency, trust_env=trust_env),
            owns_http=http_client is None,
            base_url=_resolve_base_url(base_url, allow_insecure_http),
            api_key=key,
            limiter=AdaptiveLimiter(max_concurrency, clock, adaptive=bool(adaptive_concurrency)),
            clock=clock,
        )
        self._setup(state, options)

    def _setup(self, state: SharedState, options: RequestOptions) -> None:
        self._state = state
        self._options = options
        self._init_resources(self)

    @property
    def base_url(self) -> str:
        """The API root every path is joined under."""
        return self._state.base_url

    @property
    def max_concurrency(self) -> int:
        """Requests this client (and its ``with_options`` copies) sends at once, at most."""
        return self._state.limiter.ceiling

    @property
    def rate_limit_state(self) -> RateLimitState:
        """How the client sends now: its width, ceiling, state and any pause.

        ``state`` is ``"normal"`` (full width), ``"backing_off"`` (after refusals:
        a narrower width or a paced rate) or ``"paused"`` (most recent answers
        were 429: nothing starts before ``paused_until``, on ``time.monotonic()``).

        Example:
            >>> client.rate_limit_state  # doctest: +SKIP
            RateLimitState(width=32, ceiling=32, state='normal', paused_until=None, rate=None)
        """
        return self._state.limiter.snapshot()

    @property
    def timeout(self) -> httpx.Timeout:
        """The per-request timeout."""
        return self._options.timeout

    @property
    def max_retries(self) -> int:
        """Retries after the first attempt."""
        return self._options.max_retries

    @property
    def is_closed(self) -> bool:
        """Whether ``aclose()`` was called."""
        return self._state.closed

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
        """A client with other per-call settings that shares this one's pool and limits.

        ``total_timeout`` bounds each request with its retries, as in ``AsyncClient``.

        Example:
            >>> slow = client.with_options(timeout=300, max_retries=5)
            >>> await slow.oes.get(data_id)  # doctest: +SKIP
        """
        changes: dict[str, Any] = {}
        if timeout is not None:
            changes["timeout"] = _resolve_timeout(timeout)
        if max_retries is not None:
            changes["max_retries"] = _check_count("max_retries", max_retries, 0)
        if max_retry_wait is not None or max_retry_after is not None:
            changes["max_retry_after"] = _retry_wait(max_retry_wait, max_retry_after)
        if total_timeout is not None:
            changes["total_timeout"] = _check_seconds("total_timeout", total_timeout)
        for name, limit in (
            ("max_response_bytes", max_response_bytes),
            ("max_catalogue_response_bytes", max_catalogue_response_bytes),
        ):
            if limit is not None:
                changes[name] = _check_count(name, limit, 1)
        clone = object.__new__(type(self))
        clone._setup(self._state, attrs.evolve(self._options, **changes))
        return clone

    async def _get_many(
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
        return await _bulk.get(
            self,
            data_ids,
            data_type=data_type,
            errors=errors,
            concurrency=concurrency,
            on_progress=on_progress,
            progress=progress,
            total_timeout=total_timeout,
            call_site=call_site,
        )

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
    ) -> AsyncGenerator[Outcome[Result], None]:
        return _bulk.iter_results(
            self,
            data_ids,
            data_type=data_type,
            concurrency=concurrency,
            on_progress=on_progress,
            progress=progress,
            total_timeout=total_timeout,
            call_site=call_site,
        )

    async def export(
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
        """Fetch many results and write each to ``path`` as it completes; resume a pull.

        A later call with the same ``path`` skips every id already written
        successfully and fetches the others (failed ones included) again, so an
        interrupted pull (a crash, Ctrl-C, a kill) loses nothing it wrote. A torn
        last record is cut off and its id fetched again. Memory stays O(concurrency)
        beyond the id list and the set of ids done.

        - ``.jsonl``: JSON Lines, one record per id as the CLI's ``get --out`` writes
          (``data_id``, ``data_type``, ``result``; or ``data_id``, ``error``). When the
          call returns, each id has one success line, or its latest failure line.
        - ``.parquet`` (or ``format="parquet"``): a dataset directory
          ``path/kind=<kind>/part-*.parquet`` (one fixed schema per kind, arrays as
          list columns), failures in ``path/_errors.jsonl``; needs the ``parquet`` extra.
          A resume first checks every part written (footer, rows and ids, every
          page's data, checksum): a damaged or missing part raises
          ``ExportCorruptError``, or with ``repair=True`` is moved aside to
          ``path/_damaged/`` and its ids are fetched again.

        Example:
            >>> summary = await client.export(ids, "pull.jsonl", progress=True)  # doctest: +SKIP
            >>> summary.complete  # doctest: +SKIP
            True

        Args:
            data_ids: Ids, or the ``DataEntry`` items of a ``search`` (or a mix); an
                entry's kind is known, so its id needs no catalogue lookup.
            path: The ``.jsonl`` file or the Parquet directory.
            format: ``"jsonl"`` or ``"parquet"``; by default from the suffix. A ``.json``
                file (one array) cannot be resumed: ``ValueError``.
            overwrite: Start afresh, discarding what ``path`` holds.
            data_type: The kind of every id, when the caller knows it (``"oes"``, ``"xps"``...).
            concurrency: Narrow the client's ``max_concurrency`` for this call.
            rows_per_part: Parquet: rows of a kind per part file.
            on_progress: Called with ``(done, total)`` after each id, counting the ids
                done by earlier runs.
            progress: Show a progress bar (rate and time left; needs the ``progress`` extra).
            verify: Fetch nothing and change nothing: check the export at ``path``
                as a resume would (every part, or every line) and count which of
                ``data_ids`` are written (none given: every id it holds). The summary's
                ``damaged`` lists what is wrong; ``complete`` is True when nothing is.
            repair: Parquet: move damaged parts aside and fetch their ids again
                (those listed when written, asked this time or not).

        Returns:
            An ``ExportSummary``: counts of ids skipped, written and failed, and the
            damaged parts found (moved aside when repairing).

        Raises:
            ValueError: A ``.json`` path, an unknown suffix, or a file that is not an export.
            ExportCorruptError: A Parquet part is damaged or missing, without ``repair``.
            BlockingIOError: Another export is writing ``path`` now.
            FileNotFoundError: Verifying, and nothing is at ``path``.
        """
        return await _export.export(
            self,
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

    async def search(
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
        """Search the catalogue: the entries that pass every filter given.

        Args:
            keywords: Text searched over every catalogue field (each keyword must match).
            data_ids: Only these data ids.
            physical_sample_ids: Only entries of these physical samples.
            project_ids: Only entries of these projects.
            data_type: One kind (``"xps"``) or several (one request each, merged): a
                kind of the kind table, an alias finding its kind's every entry (``pl``
                and ``photoluminescence`` alike), or one the catalogue lists that the
                SDK does not type yet (``"rheed_image"``, ``"optical"``...).
            status: A pipeline status (``"success"``, ``"error"``, ...) or ``"all"``.
            growth_length: ``(min, max)`` growth length in seconds; either end may be None.
            upload_datetime: ``(start, end)`` of the upload time; ``datetime`` (naive is
                UTC) or ISO 8601 strings; either end may be None.
            last_accessed_datetime: ``(start, end)`` of the last access, likewise.
            include_organization_data: Include the organization's entries, not only yours.

        Returns:
            A ``SearchResult``: an immutable sequence of ``DataEntry`` with ``.data_ids``,
            ``.by_kind()`` and ``.to_pandas()``, which ``get`` and ``iter_results`` take as
            they are.

        Raises:
            TypeError: An argument has the wrong type (before anything is sent).
            ValueError: An argument has a wrong value, e.g. an unknown status or kind.
            APIStatusError: The server answered an error status.
            APIConnectionError: The server could not be reached.

        Example:
            >>> found = await client.search(data_type=["xps", "sims"], project_ids=[project])
            >>> results = await client.get(found)
        """
        return await _search.search(
            self,
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

    async def upload(
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
        """Upload files to the platform (S3 multipart through presigned URLs), verified.

        Parts of all files share one pool of ``max_concurrency`` PUTs; each part is read
        from disk as it is sent. A part PUT is retried; the staging and ``complete``
        POSTs are not re-sent once they may have been applied. After ``complete``, the
        catalogue's ``sha3_256`` is compared with the file's (computed while reading).

        Example:
            >>> outcomes = await client.upload(["growth.vms"], resume=True)  # doctest: +SKIP
            >>> outcomes[0].data_id  # doctest: +SKIP
            '6f1c...'

        Args:
            paths: One path or several.
            metadata: JSON metadata attached to every new entry.
            part_size: Bytes a part (5 MiB to 5 GiB), 40 MiB as the platform uses.
            max_concurrency: Part PUTs in flight at once, over all files.
            progress: Show a bar of bytes over all files, files done and rate (needs the
                ``progress`` extra).
            on_progress: Called with ``(bytes_done, bytes_total)``.
            resume: Continue each file's upload from its manifest in ``state_dir``:
                only the parts not acknowledged are sent; a file changed since starts
                over (with a warning).
            state_dir: Where manifests are kept (default: the user's cache directory).

        Returns:
            One ``UploadOutcome`` per path, in order: its ``data_id``, or its error
            (``ChecksumMismatchError``, ``ObjectStoreError``, ``APIStatusError``, ``OSError``...).

        Raises:
            TypeError: ``paths`` or ``metadata`` has the wrong type.
            ValueError: ``part_size`` or ``max_concurrency`` is out of range.
        """
        return await _upload.upload(
            self,
            paths,
            metadata=metadata,
            part_size=part_size,
            max_concurrency=max_concurrency,
            progress=progress,
            on_progress=on_progress,
            resume=resume,
            state_dir=state_dir,
        )

    async def download(
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
        """Download the raw (or processed) files of data entries into ``dest_dir``.

        Each file streams to ``<name>.part`` and is renamed when complete; a ``.part``
        left by an interrupted run resumes with a ``Range`` request where the store
        honours it. A raw file's ``sha3_256`` is checked against the catalogue's. Names
        come from the answer, made safe; a name another id's file has gets the data id.

        Example:
            >>> found = await client.search(data_type="xps")  # doctest: +SKIP
            >>> outcomes = await client.download(found, "raw/")  # doctest: +SKIP

        Args:
            ids: Ids, or the ``DataEntry`` items of a ``search``.
            dest_dir: The directory (created if missing).
            kind: ``"raw"`` or ``"processed"``.
            max_concurrency: Files downloading at once.
            progress: Show a bar of bytes, files done and rate (``progress`` extra).
            on_progress: Called with ``(bytes_done, bytes_known_so_far)``.
            resume: Continue a ``.part`` file left by an earlier run (else start over).

        Returns:
            One ``DownloadOutcome`` per distinct id, in order: its ``path``, or its error
            (``NotFoundError``: nothing to download; ``ChecksumMismatchError``;
            ``DiskFullError``; ``ObjectStoreError``...).

        Raises:
            ValueError: An id is not valid, or ``kind`` is neither raw nor processed.
        """
        return await _download.download(
            self,
            ids,
            dest_dir,
            kind=kind,
            max_concurrency=max_concurrency,
            progress=progress,
            on_progress=on_progress,
            resume=resume,
        )

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: list[tuple[str, str]] | None = None,
        body: bytes | None = None,
    ) -> bytes:
        return await request(self._state, self._options, method, path, params=params, body=body)

    async def aclose(self) -> None:
        """Close the connection pool (not an ``http_client`` you passed in)."""
        if self._state.closed:
            return
        self._state.closed = True
        if self._state.owns_http:
            await self._state.http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        if not hasattr(self, "_state"):  # its __init__ failed: shown by traceback with locals
            return f"<{type(self).__name__} (not initialized)>"
        return (
            f"<{type(self).__name__} base_url={redact_url(self.base_url)!r} "
            f"max_concurrency={self.max_concurrency} max_retries={self.max_retries}>"
        )
