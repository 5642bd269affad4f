"""Reading a response body: decoded as it streams, with a limit on its decoded size.

httpx's ``aread`` decodes a gzip chunk whole (a 64 KiB chunk of a gzip bomb can
give 64 MiB) and has no limit at all. Here each chunk is inflated with
``zlib``'s ``max_length``, so no more than the limit plus one byte is ever held,
and a body that ends inside its gzip/deflate stream is malformed, not short.
"""

from __future__ import annotations

import zlib

import httpx

from ._failures import MalformedResponse

__all__ = ["ResponseTooLarge", "read_body"]


class ResponseTooLarge(httpx.TransportError):
    """The body exceeds the caller's limit; ``limit`` is the limit in bytes (decoded)."""

    def __init__(self, limit: int, *, request: httpx.Request) -> None:
        super().__init__(f"the response body exceeds {limit} bytes", request=request)
        self.limit = limit


class _Inflater:
    """gzip or deflate (zlib-wrapped, or raw as some servers send it), bounded per call."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._gzip = encoding in ("gzip", "x-gzip")
        self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16 if self._gzip else zlib.MAX_WBITS)
        self._first = True

    def feed(self, data: bytes, max_length: int) -> bytes:
        """Inflate ``data``; at most ``max_length`` bytes (0: no limit) come out."""
        try:
            return self._feed(data, max_length)
        except zlib.error as exc:
            raise ValueError(f"the {self.encoding} encoding is corrupt ({exc})") from None

    def _feed(self, data: bytes, max_length: int) -> bytes:
        if self._first and not self._gzip:
            self._first = False
            try:
                return self._zlib.decompress(data, max_length)
            except zlib.error:
                # deflate without the zlib wrapper, as some servers send it
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
        self._first = False
        return self._zlib.decompress(data, max_length)

    def finish(self) -> None:
        """Check that the stream was complete."""
        if not self._first and not self._zlib.eof:
            raise ValueError(f"the {self.encoding} stream ends early")


def _framing(response: httpx.Response) -> tuple[str, str]:
    """Its ``Content-Encoding`` and ``Content-Length`` as ``headers.get`` gives them, else "".

    One pass over the raw headers: each ``headers.get`` would re-encode its key
    and scan every header.
    """
    encodings: list[bytes] = []
    lengths: list[bytes] = []
    for name, value in response.headers.raw:
        if len(name) == 16 and name.lower() == b"content-encoding":
            encodings.append(value)
        elif len(name) == 14 and name.lower() == b"content-length":
            lengths.append(value)
    encoding = b", ".join(encodings)
    length = b", ".join(lengths)
    if encoding.isascii() and length.isascii():
        return encoding.decode("ascii"), length.decode("ascii")
    # Not ASCII (and so not valid): decoded as httpx decodes it, for the error message.
    return response.headers.get("content-encoding", ""), response.headers.get("content-length", "")


def _inflater(response: httpx.Response, encoding: str) -> _Inflater | None:
    codings = [
        c.strip().lower() for c in encoding.split(",") if c.strip().lower() not in ("", "identity")
    ]
    if not codings:
        return None
    if len(codings) == 1 and codings[0] in ("gzip", "x-gzip", "deflate"):
        return _Inflater(codings[0])
    raise MalformedResponse(
        f"content-encoding {response.headers['content-encoding']!r} was not asked for",
        request=response.request,
    )


async def read_body(response: httpx.Response, limit: int) -> bytes:
    """The body of ``response``, decoded, at most ``limit`` bytes; closes the response.

    Raises:
        ResponseTooLarge: The decoded body would exceed ``limit``; raised as soon
            as that is known (from ``Content-Length``, or while reading).
        MalformedResponse: The encoding is corrupt, cut short or not gzip/deflate.
    """
    request = response.request
    try:
        encoding, declared = _framing(response)
        inflater = _inflater(response, encoding) if encoding else None
        if inflater is None and declared.isdigit() and int(declared) > limit:
            raise ResponseTooLarge(limit, request=request)
        chunks: list[bytes] = []
        size = 0
        stream = response.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        iterator = aiter(stream)
        try:
            async for raw in iterator:
                data = raw if inflater is None else _feed(inflater, raw, limit - size, request)
                size += len(data)
                if size > limit:
                    raise ResponseTooLarge(limit, request=request)
                chunks.append(data)
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()
        if inflater is not None:
            try:
                inflater.finish()
            except ValueError as exc:
                raise MalformedResponse(str(exc), request=request) from None
    finally:
        await response.aclose()
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _feed(inflater: _Inflater, raw: bytes, room: int, request: httpx.Request) -> bytes:
    try:
        return inflater.feed(raw, room + 1)
    except ValueError as exc:
        raise MalformedResponse(str(exc), request=request) from None
