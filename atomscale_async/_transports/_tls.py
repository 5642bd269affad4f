"""The TLS settings of the default transports: one verifying context for the process."""

from __future__ import annotations

import functools
import ssl

import certifi

__all__ = ["default_ssl_context"]


@functools.cache
def default_ssl_context() -> ssl.SSLContext:
    """Certificate and host-name verification on, against certifi's CA bundle (as httpx does).

    Built once: loading the bundle costs about 0.1 s, which every client would
    otherwise pay; both transports use it, so they trust the same authorities.
    """
    return ssl.create_default_context(cafile=certifi.where())
