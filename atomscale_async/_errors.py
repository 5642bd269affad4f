"""The exception tree of the SDK and the HTTP status -> exception map."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._secret import redact_url

if TYPE_CHECKING:
    from ._export import DamagedPart

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AtomscaleError",
    "AuthenticationError",
    "BadRequestError",
    "BulkFetchError",
    "ChecksumMismatchError",
    "ConflictError",
    "DiskFullError",
    "ExportCorruptError",
    "InternalServerError",
    "MalformedResponseError",
    "MissingAPIKeyError",
    "NotFoundError",
    "ObjectStoreError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseTooLargeError",
    "ResponseValidationError",
    "UnprocessableEntityError",
    "status_error",
]


class AtomscaleError(Exception):
    """Base class of every error the SDK raises."""


class MissingAPIKeyError(AtomscaleError, ValueError):
    """No API key was given, and none is set in the environment (``ATOMSCALE_API_KEY``).

    A `ValueError` too, as the other invalid arguments of `AsyncClient` and `Client` are.
    """


class APIConnectionError(AtomscaleError):
    """The server could not be reached, or the connection failed mid-request.

    Attributes:
        method: The HTTP method of the failed request.
        url: The URL of the failed request (never carries the API key).
    """

    def __init__(self, message: str, *, method: str, url: str) -> None:
        super().__init__(message)
        self.method = method
        self.url = url


class APITimeoutError(APIConnectionError):
    """The request timed out (connecting, reading, or the whole call's deadline)."""


class MalformedResponseError(APIConnectionError):
    """The server's answer broke HTTP or its content encoding.

    A bad status line, a header without a colon, a negative or conflicting
    ``Content-Length``, a bad chunk size, an over-long header, bytes that are
    not HTTP at all, or a body whose gzip/deflate encoding is corrupt or cut
    short. Retried like a connection failure (GETs only).
    """


class APIStatusError(AtomscaleError):
    """The server answered with an error status (4xx or 5xx).

    Attributes:
        status_code: The HTTP status code.
        body: The decoded JSON body, or the raw text when it is not JSON.
        request_id: The server's request id (``x-request-id``), if any.
        method: The HTTP method of the request.
        url: The URL of the request.
        headers: The response headers.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: object,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body
        self.method = method
        self.url = url
        self.headers: Mapping[str, str] = dict(headers or {})
        self.request_id = request_id


class BadRequestError(APIStatusError):
    """400: the server refused the request as malformed."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing or wrong."""


class PermissionDeniedError(APIStatusError):
    """403: the API key may not access this resource."""


class NotFoundError(APIStatusError):
    """404: the resource (e.g. a data id) does not exist."""


class ConflictError(APIStatusError):
    """409: the request conflicts with the resource's current state."""


class UnprocessableEntityError(APIStatusError):
    """422: the request body failed the server's validation."""


class RateLimitError(APIStatusError):
    """429: too many requests.

    Attributes:
        retry_after: Seconds the server asked to wait, if it said.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class InternalServerError(APIStatusError):
    """5xx: the server failed."""


class ResponseTooLargeError(AtomscaleError):
    """A response body exceeded the client's size limit; it was not read further.

    The limits (``max_response_bytes``, ``max_catalogue_response_bytes``) count
    decoded bytes and are checked while the body streams in and while it is
    decompressed, so a gzip bomb or an endless body stops early. Not retried.

    Attributes:
        method: The HTTP method of the request.
        url: The URL of the request.
        limit: The limit that was exceeded, in bytes.
    """

    def __init__(self, message: str, *, method: str, url: str, limit: int) -> None:
        super().__init__(message)
        self.method = method
        self.url = url
        self.limit = limit


class ResponseValidationError(AtomscaleError):
    """A response did not fit the API description (missing field, wrong type, not JSON).

    Attributes:
        endpoint: The endpoint that answered, e.g. ``GET /oes/{data_id}``.
        errors: One ``message @ $.path`` line per problem found.
    """

    def __init__(self, endpoint: str, errors: list[str]) -> None:
        shown = "; ".join(errors[:5]) + (f"; and {len(errors) - 5} more" if len(errors) > 5 else "")
        super().__init__(f"{endpoint} answered a response that does not fit its model: {shown}")
        self.endpoint = endpoint
        self.errors = errors


class BulkFetchError(AtomscaleError):
    """Some ids of a bulk fetch failed; every id was still attempted.

    Attributes:
        results: Every success, by data id.
        errors: Every failure, by data id.
    """

    def __init__(self, results: dict[str, Any], errors: dict[str, Exception]) -> None:
        n_err = len(errors)
        first = next(iter(errors.items()), None)
        detail = f"; first: {first[0]}: {type(first[1]).__name__}: {first[1]}" if first else ""
        super().__init__(
            f"{n_err} of {n_err + len(results)} data ids failed{detail}. "
            "Successes are in .results, failures in .errors."
        )
        self.results = results
        self.errors = errors


class ExportCorruptError(AtomscaleError, ValueError):
    """An export's existing data is damaged: resuming on it would keep a bad part.

    Raised by ``export`` on resume when a Parquet part file is missing, cut
    short, zeroed, or no longer decodes (or its contents changed since it was
    written). Nothing was fetched or changed. Resume with ``repair=True`` (CLI:
    ``--resume --repair``) to move the damaged parts aside and fetch their ids
    again, or with ``overwrite=True`` to start afresh. A `ValueError` too, like
    the other refusals of a path that is not a sound export.

    Attributes:
        path: The export (the Parquet dataset directory).
        damaged: Each damaged part: its path, what is wrong, the ids it held.
    """

    def __init__(self, path: Path, damaged: Sequence[DamagedPart]) -> None:
        shown = "; ".join(f"{part.name}: {part.problem}" for part in damaged[:5])
        more = f"; and {len(damaged) - 5} more" if len(damaged) > 5 else ""
        super().__init__(
            f"{path}: {len(damaged)} damaged part file{'s' if len(damaged) != 1 else ''} "
            f"({shown}{more}); resume with repair=True (CLI: --resume --repair) to move "
            f"{'them' if len(damaged) != 1 else 'it'} aside and fetch the ids again, "
            "or overwrite=True to start afresh"
        )
        self.path = path
        self.damaged = tuple(damaged)


_HINTS: dict[int, tuple[type[APIStatusError], str]] = {
    400: (BadRequestError, "the server refused the request as malformed"),
    401: (
        AuthenticationError,
        "the API key was refused; check ATOMSCALE_API_KEY or the api_key argument",
    ),
    403: (PermissionDeniedError, "this API key may not access the resource"),
    404: (NotFoundError, "not found; check the id"),
    409: (ConflictError, "the request conflicts with the resource's state"),
    422: (UnprocessableEntityError, "the server rejected the request body"),
    429: (RateLimitError, "rate limited; slow down or retry later"),
}


def status_error(
    *,
    status_code: int,
    body: object,
    method: str,
    url: str,
    headers: Mapping[str, str],
    request_id: str | None,
    retry_after: float | None = None,
) -> APIStatusError:
    """Build the exception for an error status, with a message that says what to do."""
    if status_code >= 500:
        cls: type[APIStatusError] = InternalServerError
        hint = "the server failed; retry later"
    elif 300 <= status_code < 400:
        cls = APIStatusError
        where = redact_url(headers.get("location") or headers.get("Location") or "elsewhere")
        hint = (
            f"redirected to {where}; the SDK follows redirects only within the base URL's "
            "origin (the API key goes nowhere else): check the base URL"
        )
    else:
        cls, hint = _HINTS.get(status_code, (APIStatusError, "the request failed"))
        if status_code == 404 and url.partition("?")[0].endswith("/"):
            hint = "not found; check the base URL"  # a list endpoint: no id in its path
    detail = _detail(body)
    message = f"{method} {url} -> {status_code}: {hint}"
    if detail:
        message += f" (server said: {detail})"
    if request_id:
        message += f" [request id {request_id}]"
    kwargs: dict[str, Any] = {
        "status_code": status_code,
        "body": body,
        "method": method,
        "url": url,
        "headers": headers,
        "request_id": request_id,
    }
    if cls is RateLimitError:
        if retry_after is not None:
            message += f"; retry after {retry_after:g} s"
        return RateLimitError(message, retry_after=retry_after, **kwargs)
    return cls(message, **kwargs)


def _detail(body: object) -> str:
    if isinstance(body, dict):
        body = body.get("detail", body.get("message", body))
    text = body if isinstance(body, str) else repr(body)
    text = " ".join(text.split())
    return text[:300] + ("..." if len(text) > 300 else "")


# -- Files ------------------------------------------------------------------------------


class ObjectStoreError(AtomscaleError):
    """A presigned part PUT or file GET to the object store failed (after its retries).

    Attributes:
        name: The file (upload) or data id (download) it was for.
        status_code: The store's HTTP status, or None when the connection failed.
    """

    def __init__(self, message: str, *, name: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.name = name
        self.status_code = status_code


class ChecksumMismatchError(AtomscaleError):
    """A file's ``sha3_256`` is not the catalogue's: the bytes did not arrive intact.

    Attributes:
        name: The file (upload) or data id (download).
        expected: The catalogue's checksum.
        actual: The checksum of the bytes sent or received.
    """

    def __init__(self, name: str, *, expected: str, actual: str) -> None:
        super().__init__(f"{name}: sha3_256 {actual} does not match the catalogue's {expected}")
        self.name = name
        self.expected = expected
        self.actual = actual


class DiskFullError(AtomscaleError, OSError):
    """No space left to write a downloaded file; its partial file stays, to resume.

    Attributes:
        path: The file being written.
    """

    def __init__(self, path: str) -> None:
        super().__init__(f"no space left on the device writing {path}; free some and resume")
        self.path = path
