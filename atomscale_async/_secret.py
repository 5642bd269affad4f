"""Secrets the SDK holds: the API key, and credentials inside a base URL.

Error trackers record every local variable of every frame of a traceback by
its ``repr``. So the key lives in an ``APIKey`` (whose ``repr`` and ``str``
say nothing), the headers that carry it in ``KeyHeaders`` (whose ``repr``
hides it), and every URL shown to a person goes through ``redact_url``.
"""

from __future__ import annotations

import json
import os
from typing import Final, NoReturn, final

import httpx

__all__ = ["KEY_HEADER", "APIKey", "KeyHeaders", "redact_url", "resolve_api_key"]

KEY_HEADER: Final = "X-API-KEY"
_REDACTED: Final = "***"


@final
class APIKey:
    """The API key, shown as ``***`` by ``repr``, ``str`` and f-strings alike."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The key itself, for the one header that carries it."""
        return self._value

    def redact(self, text: str) -> str:
        """``text`` with the key (as typed, or as JSON escapes it) shown as ``***``."""
        for form in self._forms():
            text = text.replace(form, _REDACTED)
        return text

    def redact_bytes(self, data: bytes) -> bytes:
        """``data`` (UTF-8) with the key (as typed, or as JSON escapes it) shown as ``***``."""
        for form in self._forms():
            data = data.replace(form.encode(), _REDACTED.encode())
        return data

    def _forms(self) -> list[str]:
        escaped = json.dumps(self._value, ensure_ascii=False)[1:-1]
        return [self._value] if escaped == self._value else [escaped, self._value]

    def __repr__(self) -> str:
        return f"APIKey('{_REDACTED}')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, APIKey) and other._value == self._value

    def __hash__(self) -> int:
        return hash((APIKey, self._value))

    def __reduce__(self) -> NoReturn:
        raise TypeError("an APIKey cannot be pickled")


def resolve_api_key(api_key: str | None) -> APIKey:
    """The key from the argument, else ``ATOMSCALE_API_KEY``, else ``AS_API_KEY``."""
    key = api_key or os.environ.get("ATOMSCALE_API_KEY") or os.environ.get("AS_API_KEY")
    del api_key  # not a local of this frame if an error below is shown with its locals
    if not key:
        from ._errors import MissingAPIKeyError  # _errors imports this module

        raise MissingAPIKeyError(
            "no API key: pass api_key=... or set the ATOMSCALE_API_KEY environment variable"
        )
    valid = isinstance(key, str) and not any(c in key for c in "\r\n")
    if not valid:
        del key
        raise ValueError("api_key must be a single-line string")
    return APIKey(key)


class KeyHeaders(httpx.Headers):
    """Request headers whose ``repr`` hides the key (httpx masks only ``Authorization``)."""

    def __repr__(self) -> str:
        shown = [
            (name, _REDACTED if name.lower() == KEY_HEADER.lower() else value)
            for name, value in self.multi_items()
        ]
        return f"{type(self).__name__}({shown!r})"


def redact_url(url: str) -> str:
    """``url`` with the password (or a lone user name) of its user info replaced by ``***``.

    Example:
        >>> redact_url("https://me:s3cret@host.example/api/")
        'https://me:***@host.example/api/'
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority_end = len(rest)
    for stop in "/?#":
        index = rest.find(stop)
        if index != -1:
            authority_end = min(authority_end, index)
    authority, tail = rest[:authority_end], rest[authority_end:]
    userinfo, at, host = authority.rpartition("@")
    if not at:
        return url
    user, colon, _ = userinfo.partition(":")
    shown = f"{user}:{_REDACTED}" if colon else _REDACTED
    return f"{scheme}://{shown}@{host}{tail}"
