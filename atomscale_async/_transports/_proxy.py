"""Proxies from the environment, by httpx's rules, on every transport.

httpx turns environment proxies off when it is given a transport (the SDK
always gives one), and aiohttp's own ``trust_env`` differs (it ignores
``ALL_PROXY`` and reads ``~/.netrc``). So the SDK reads ``HTTP_PROXY``,
``HTTPS_PROXY``, ``ALL_PROXY`` and ``NO_PROXY`` itself, the way httpx does
(``environment_proxies``), and mounts one proxying transport per proxy on the
``httpx.AsyncClient``: httpx's own URL patterns then pick the proxy of each
request. A loopback host never goes through a proxy; ``.netrc`` is never read.
"""

from __future__ import annotations

import ipaddress
import urllib.request

import httpx

__all__ = ["SOCKS_SCHEMES", "environment_proxies", "is_loopback_host"]

SOCKS_SCHEMES = frozenset({"socks4", "socks4a", "socks5", "socks5h"})


def environment_proxies() -> dict[str, str | None]:
    """The mounts httpx would derive from the environment: URL pattern -> proxy URL, or None.

    ``None`` marks a ``NO_PROXY`` pattern (sent directly). A pattern httpx
    would refuse is left out.

    Example:
        >>> import os
        >>> os.environ["HTTPS_PROXY"] = "proxy.internal:3128"  # doctest: +SKIP
        >>> environment_proxies()  # doctest: +SKIP
        {'https://': 'http://proxy.internal:3128'}
    """
    found = urllib.request.getproxies()  # what httpx reads
    mounts: dict[str, str | None] = {}
    for scheme in ("http", "https", "all"):
        proxy = found.get(scheme)
        if proxy:
            mounts[f"{scheme}://"] = proxy if "://" in proxy else f"http://{proxy}"
    for host in (part.strip() for part in found.get("no", "").split(",")):
        if host == "*":
            return {}
        if not host:
            continue
        if "://" in host:
            pattern = host
        elif _is_ip(host, 4) or host.lower() == "localhost":
            pattern = f"all://{host}"
        elif _is_ip(host, 6):
            pattern = f"all://[{host}]"
        else:
            pattern = f"all://*{host}"
        mounts[pattern] = None
    return {key: value for key, value in mounts.items() if _valid_pattern(key)}


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` is this machine: ``localhost``, 127.0.0.0/8 or ``::1``."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _is_ip(host: str, version: int) -> bool:
    try:
        return ipaddress.ip_interface(host).version == version
    except ValueError:
        return False


def _valid_pattern(pattern: str) -> bool:
    """Whether httpx accepts ``pattern`` as a mount key (as its ``URLPattern`` checks)."""
    if ":" not in pattern:
        return False
    try:
        httpx.URL(pattern)
    except httpx.InvalidURL:
        return False
    return True
