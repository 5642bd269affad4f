"""The request loop: the one place that sends.

It adds the API key; lets each attempt in through the client's adaptive limiter
(``_limiter``: the width and pace shared by the whole client, and its pause when
most answers are 429) and tells it each answer; retries what is safe to retry
(see ``_retry``); maps failures to the SDK's exceptions and logs one debug line
per attempt. It returns the body of a 2xx response. The bytes move through
``_transports``.

A 429 whose ``Retry-After`` is at most ``max_retry_after`` is waited out and
re-sent without using up ``max_retries`` (only ``total_timeout`` bounds how often),
and so is a 429 without one, after a short wait of its own (``rate_limited_wait``);
a longer one raises ``RateLimitError`` at once. The wait holds no slot of the
limiter, and never ends before the ``Retry-After``. Inside ``deferring()`` (the
bulk fetch) a wait is not slept here: ``RetryLater`` hands it to the caller, which
resumes the request later and meanwhile sends others.
"""

from __future__ import annotations

import contextvars
import email.utils
import logging
import platform
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import anyio
import attrs
import httpx
import orjson

from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AtomscaleError,
    MalformedResponseError,
    ResponseTooLargeError,
    status_error,
)
from ._limiter import AdaptiveLimiter, Answer
from ._retry import (
    Clock,
    backoff,
    parse_retry_after,
    rate_limited_wait,
    retryable_status,
    retryable_transport_error,
)
from ._secret import KEY_HEADER, APIKey, redact_url
from ._transports import (
    CertificateRefused,
    HttpxSender,
    ResponseTooLarge,
    describe,
    is_malformed,
)
from ._version import __version__

__all__ = [
    "USER_AGENT",
    "Deferral",
    "RequestOptions",
    "RetryLater",
    "SharedState",
    "deferring",
    "request",
]

logger = logging.getLogger("atomscale_async")

USER_AGENT = (
    f"atomscale-async/{__version__} python/{platform.python_version()} httpx/{httpx.__version__}"
)


CATALOGUE_PATH = "data_entries/"


@attrs.frozen
class RequestOptions:
    """Per-call settings; ``with_options`` makes a client with other values."""

    timeout: httpx.Timeout
    max_retries: int
    max_retry_after: float
    total_timeout: float | None
    max_response_bytes: int
    max_catalogue_response_bytes: int

    def max_bytes(self, path: str) -> int:
        """The limit on the decoded body of ``path``'s answer."""
        # The catalogue is unpaged: one answer for up to 100 ids at a time.
        if path.startswith(CATALOGUE_PATH):
            return self.max_catalogue_response_bytes
        return self.max_response_bytes


@attrs.define(eq=False)
class SharedState:
    """What every copy of a client made by ``with_options`` shares.

    Its ``repr`` (and so a traceback's locals) shows neither the key nor a
    password in the base URL.
    """

    http: httpx.AsyncClient
    owns_http: bool
    base_url: str = attrs.field(repr=redact_url)
    api_key: APIKey
    limiter: AdaptiveLimiter
    clock: Clock
    closed: bool = False
    #: The base URL as error messages show it.
    shown_base_url: str = attrs.field(init=False, repr=False)
    sender: HttpxSender = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        self.shown_base_url = redact_url(self.base_url)
        self.sender = HttpxSender(
            self.http,
            owned=self.owns_http,
            base_url=self.base_url,
            headers={
                KEY_HEADER: self.api_key.reveal(),
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
                "Accept-Encoding": "gzip, deflate",
            },
        )


@attrs.define
class Deferral:
    """A request handed back to its caller to be resumed later (see ``deferring``).

    Attributes:
        not_before: When it may be sent again, on the client's clock.
        attempt: Retries it has used so far.
        deadline: Its ``total_timeout`` deadline on ``anyio.current_time()``, if any.
        limited: 429 answers without ``Retry-After`` it has had so far.
    """

    not_before: float = 0.0
    attempt: int = 0
    deadline: float | None = None
    #: 429s without ``Retry-After`` it has had so far (they set its own wait).
    limited: int = 0


class RetryLater(Exception):
    """A request inside ``deferring()`` must wait before its next attempt; resume it later."""

    def __init__(self, deferral: Deferral) -> None:
        super().__init__("resume this request at deferral.not_before")
        self.deferral = deferral


_DEFERRAL: contextvars.ContextVar[Deferral | None] = contextvars.ContextVar(
    "atomscale_async_deferral", default=None
)


def deferring(deferral: Deferral | None = None) -> _Deferring:
    """Within this block, a request that must wait raises ``RetryLater`` instead.

    Pass the ``Deferral`` of a ``RetryLater`` to resume that request where it stopped.
    """
    return _Deferring(deferral or Deferral())


class _Deferring:
    """``deferring()``'s block: a class, not a generator, as it wraps every bulk request."""

    __slots__ = ("_deferral", "_token")

    def __init__(self, deferral: Deferral) -> None:
        self._deferral = deferral

    def __enter__(self) -> None:
        self._token = _DEFERRAL.set(self._deferral)

    def __exit__(self, *exc_info: object) -> None:
        _DEFERRAL.reset(self._token)


async def request(
    state: SharedState,
    options: RequestOptions,
    method: str,
    path: str,
    *,
    params: list[tuple[str, str]] | None = None,
    body: bytes | None = None,
) -> bytes:
    """Send a request with retries; return the body of its 2xx response."""
    if state.closed:
        raise RuntimeError("this client is closed; create a new one")
    url = state.shown_base_url + path  # as shown in errors: no password
    deferral = _DEFERRAL.get()
    if deferral is not None:
        _DEFERRAL.set(None)  # for this request only: not for any it may cause
    if options.total_timeout is None:
        return await _attempts(state, options, method, url, path, params, body, deferral)
    if deferral is not None and deferral.deadline is not None:
        deadline = deferral.deadline
    else:
        deadline = anyio.current_time() + options.total_timeout
        if deferral is not None:
            deferral.deadline = deadline
    with anyio.CancelScope(deadline=deadline) as scope:
        return await _attempts(state, options, method, url, path, params, body, deferral)
    assert scope.cancelled_caught
    raise APITimeoutError(
        f"{method} {url}: the call did not finish within its total_timeout of "
        f"{options.total_timeout:g} s (retries and waits included)",
        method=method,
        url=url,
    )


def _answer(status: int) -> Answer:
    if status == 429:
        return Answer.RATE_LIMITED
    if status == 503:
        return Answer.OVERLOADED
    return Answer.OK


async def _attempts(
    state: SharedState,
    options: RequestOptions,
    method: str,
    url: str,
    path: str,
    params: list[tuple[str, str]] | None,
    body: bytes | None,
    deferral: Deferral | None,
) -> bytes:
    timeout = options.timeout
    max_bytes = options.max_bytes(path)
    query = tuple(params) if params else None
    clock = state.clock
    attempt = 0 if deferral is None else deferral.attempt
    limited = 0 if deferral is None else deferral.limited

    async def wait(seconds: float, next_attempt: int) -> None:
        if deferral is None:
            await clock.sleep(seconds)
            return
        deferral.attempt = next_attempt
        deferral.limited = limited
        deferral.not_before = clock.monotonic() + seconds
        raise RetryLater(deferral)

    while True:
        response, content, retry_after, failure, retry = await _attempt(
            state, method, url, path, query, body, timeout, max_bytes, attempt, options
        )
        if failure is not None:
            if retry and attempt < options.max_retries:
                delay = backoff(attempt, clock)
                _log_retry(method, path, attempt, options, delay, _failure_text(failure, url))
                await wait(delay, attempt + 1)
                attempt += 1
                continue
            raise failure
        assert response is not None
        status = response.status_code
        if status < 300:
            return content
        # A server may echo the key back: an error (and this frame) shows it as ***.
        content = state.api_key.redact_bytes(content)
        if status == 429:
            if retry_after is not None and retry_after > options.max_retry_after:
                logger.warning(
                    "rate limited: %s /%s answered 429 with Retry-After %g s, longer than "
                    "max_retry_wait=%g s: RateLimitError",
                    method,
                    path,
                    retry_after,
                    options.max_retry_after,
                )
                _count_rate_limited(0.0)
                raise _status_error(response, content, method, url, retry_after, state.api_key)
            # No Retry-After (many gateways send none) is a rate limit all the same:
            # the limiter paces the client down; this request waits a short while
            # of its own, then its turn.
            delay = rate_limited_wait(limited, clock) if retry_after is None else retry_after
            limited += retry_after is None
            # Waited out and re-sent, no retry used up (the limiter logs how the
            # client as a whole slows down).
            _log_rate_limited(method, path, delay, retry_after)
            await wait(delay, attempt)
            continue
        if retryable_status(method, status) and attempt < options.max_retries:
            if retry_after is None:
                delay = backoff(attempt, clock)
                _log_retry(method, path, attempt, options, delay, _status_text(response))
                await wait(delay, attempt + 1)
            elif retry_after > options.max_retry_after:
                raise _status_error(response, content, method, url, retry_after, state.api_key)
            else:
                _log_retry(method, path, attempt, options, retry_after, _status_text(response))
                await wait(retry_after, attempt + 1)
            attempt += 1
            continue
        raise _status_error(response, content, method, url, retry_after, state.api_key)


async def _attempt(
    state: SharedState,
    method: str,
    url: str,
    path: str,
    query: tuple[tuple[str, str], ...] | None,
    body: bytes | None,
    timeouts: httpx.Timeout,
    max_bytes: int,
    attempt: int,
    options: RequestOptions,
) -> tuple[
    httpx.Response | None,
    bytes,
    float | None,
    APIConnectionError | ResponseTooLargeError | None,
    bool,
]:
    """One attempt through the limiter: (response, body, Retry-After, failure, retryable)."""
    limiter = state.limiter
    ticket = await limiter.acquire()
    started = time.perf_counter()
    try:
        response, content = await state.sender.send(method, path, query, body, timeouts, max_bytes)
    except (httpx.TransportError, httpx.DecodingError) as exc:
        limiter.release(ticket, Answer.FAILED)
        # Built here, raised by the caller: the httpx exception carries the
        # request and its X-API-KEY header, so it must not become the new
        # exception's __context__.
        failure = _connection_error(exc, method, url, state.api_key)
        _log(method, path, type(failure).__name__, started, attempt)
        return None, b"", None, failure, retryable_transport_error(method, exc)
    except BaseException:
        limiter.cancel()
        raise
    status = response.status_code
    retry_after = None
    if status >= 300:
        # An HTTP date is read against the server's own Date: clock skew does not count.
        retry_after = parse_retry_after(
            response.headers.get("retry-after"), now=_server_date(response.headers.get("date"))
        )
    # The client pauses for no longer than the longest wait it honours.
    limiter.release(
        ticket,
        _answer(status),
        None if retry_after is None else min(retry_after, options.max_retry_after),
    )
    _log(method, path, status, started, attempt)
    return response, content, retry_after, None, False


def _server_date(value: str | None) -> datetime | None:
    """The time of a ``Date`` header, or None when it is missing or unreadable."""
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _connection_error(
    exc: httpx.TransportError | httpx.DecodingError, method: str, url: str, key: APIKey
) -> APIConnectionError | ResponseTooLargeError:
    if isinstance(exc, ResponseTooLarge):
        option = (
            "max_catalogue_response_bytes"
            if url.partition("?")[0].endswith("/" + CATALOGUE_PATH)
            else "max_response_bytes"
        )
        return ResponseTooLargeError(
            f"{method} {url}: the response is larger than {option}={exc.limit} bytes "
            f"(decoded); raise it with AsyncClient({option}=...) or with_options",
            method=method,
            url=url,
            limit=exc.limit,
        )
    # A server may echo the request back inside a malformed answer.
    detail = key.redact(describe(exc))
    if isinstance(exc, httpx.TimeoutException):
        phase = (
            "connecting" if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout) else "waiting"
        )
        return APITimeoutError(
            f"{method} {url}: timed out {phase} ({detail}); raise `timeout=` if the server is slow",
            method=method,
            url=url,
        )
    if is_malformed(exc):
        return MalformedResponseError(
            f"{method} {url}: the response was malformed ({detail})", method=method, url=url
        )
    if isinstance(exc, CertificateRefused):
        message = (
            f"{method} {url}: the server's TLS certificate failed verification ({detail}); "
            "verification stays on: fix the certificate, or pass an http_client whose "
            "verify= trusts its authority"
        )
    elif isinstance(exc, httpx.ConnectError):
        message = f"{method} {url}: could not connect ({detail}); check the base URL and network"
    else:
        message = f"{method} {url}: the connection failed ({type(exc).__name__}: {detail})"
    return APIConnectionError(message, method=method, url=url)


def _status_error(
    response: httpx.Response,
    content: bytes,
    method: str,
    url: str,
    retry_after: float | None,
    key: APIKey,
) -> APIStatusError:
    body: object
    try:
        body = orjson.loads(content) if content else None
    except orjson.JSONDecodeError:
        body = content.decode("utf-8", "replace")
    headers: Mapping[str, str] = response.headers
    return status_error(
        status_code=response.status_code,
        body=body,
        method=method,
        url=url,
        headers={name: key.redact(value) for name, value in headers.items()},  # echoes too
        request_id=headers.get("x-request-id") or headers.get("request-id"),
        retry_after=retry_after,
    )


def _failure_text(failure: AtomscaleError, url: str) -> str:
    """The class and message of ``failure``, without the ``METHOD url:`` it starts with."""
    return f"{type(failure).__name__}: {str(failure).partition(f'{url}: ')[2] or failure}"


def _status_text(response: httpx.Response) -> str:
    return f"{response.status_code} {response.reason_phrase}".strip()


def _log_retry(
    method: str, path: str, attempt: int, options: RequestOptions, wait: float, what: str
) -> None:
    """One INFO line per retry: which request, what failed, how long until the next try."""
    logger.info(
        "retrying %s /%s in %.2f s (retry %d of %d): %s",
        method,
        path,
        wait,
        attempt + 1,
        options.max_retries,
        what,
    )


@attrs.define
class RateLimitTally:
    """The 429 answers of one bulk call, and the waits they caused (for its summary)."""

    answers: int = 0
    waited: float = 0.0


#: The tally of the bulk call a request belongs to (its tasks inherit the context).
RATE_LIMIT_TALLY: contextvars.ContextVar[RateLimitTally | None] = contextvars.ContextVar(
    "atomscale_rate_limit_tally", default=None
)


def _count_rate_limited(wait: float) -> None:
    tally = RATE_LIMIT_TALLY.get()
    if tally is not None:
        tally.answers += 1
        tally.waited += wait


def _log_rate_limited(method: str, path: str, wait: float, retry_after: float | None) -> None:
    """One INFO line per 429: which request, and how long it waits before it is re-sent."""
    _count_rate_limited(wait)
    told = "no Retry-After" if retry_after is None else f"Retry-After {retry_after:g} s"
    logger.info("rate limited: %s /%s answered 429 (%s); waiting %.2f s", method, path, told, wait)


def _log(method: str, path: str, status: Any, started: float, attempt: int) -> None:
    if logger.isEnabledFor(logging.DEBUG):
        elapsed_ms = (time.perf_counter() - started) * 1000
        logger.debug(
            "%s /%s -> %s in %.1f ms (attempt %d)", method, path, status, elapsed_ms, attempt + 1
        )
