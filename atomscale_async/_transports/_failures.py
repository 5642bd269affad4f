"""What went wrong in one attempt, in httpx's terms, for the request loop to map.

Every transport reports failures as ``httpx.RequestError`` subclasses; this
module adds the one distinction httpx does not make: an answer that broke
HTTP (``MalformedResponse``) as against a connection that was dropped.
"""

from __future__ import annotations

import ssl

import httpx

__all__ = [
    "CertificateRefused",
    "MalformedResponse",
    "certificate_failure",
    "describe",
    "is_malformed",
]

#: How httpcore and h11 word a dropped connection (the rest of their
#: RemoteProtocolErrors are parse errors: status line, headers, framing).
_DROPPED = ("server disconnected", "peer closed connection")


class MalformedResponse(httpx.RemoteProtocolError):
    """The server's answer broke HTTP/1.1 (status line, headers, framing) or its encoding."""


class CertificateRefused(httpx.ConnectError):
    """The server's TLS certificate failed verification; the message says why."""


def certificate_failure(exc: BaseException) -> str | None:
    """Why TLS verification failed, if ``exc`` or an exception it chains says it did."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        if isinstance(link, ssl.SSLCertVerificationError):
            return str(link.verify_message or link.reason or link)
        link = link.__cause__ or link.__context__
    return None


def is_malformed(exc: httpx.RequestError) -> bool:
    """Whether ``exc`` means the answer was malformed (not merely cut off)."""
    if isinstance(exc, MalformedResponse | httpx.DecodingError):
        return True
    if type(exc) is httpx.RemoteProtocolError:
        return not str(exc).lower().startswith(_DROPPED)
    return False


def describe(exc: BaseException | str) -> str:
    """One line about ``exc`` for an error message: its text, whitespace folded, at most 300."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300] + ("..." if len(text) > 300 else "")
