"""Proxies from the environment, by httpx's rules, on every transport; loopback goes direct.

The recording proxy answers every request itself: nothing connects beyond 127.0.0.1.
"""

from __future__ import annotations

import base64
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import orjson
import pytest

import atomscale_async
from atomscale_async import AsyncClient, Client, OESResult
from atomscale_async._transports._proxy import environment_proxies, is_loopback_host

from .local_http import Answer, LocalServer, RecordingProxy
from .payloads import OES

KEY = "sk-proxy-test-key-5150"
REMOTE = "http://api.atomscale.test/"

Call = Callable[[Any], Any]


@pytest.fixture(autouse=True)
def _no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture(autouse=True)
def _resolve_loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Should a request bypass the proxy, it fails here instead of reaching the network."""
    resolve = socket.getaddrinfo

    def loopback_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if not is_loopback_host(name):
            raise socket.gaierror(socket.EAI_NONAME, f"{name}: not resolved in these tests")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback_only)


@pytest.fixture(params=["asyncio", "trio", "sync"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _run(mode: str, call: Call, **kwargs: Any) -> Any:
    """``call`` on a fresh client of ``mode``: its result, or what it raised."""
    kwargs = {"max_retries": 0, **kwargs}
    if mode == "sync":
        with Client(KEY, **kwargs) as client:
            try:
                return call(client)
            except Exception as exc:
                return exc

    async def run() -> Any:
        async with AsyncClient(KEY, **kwargs) as client:
            try:
                return await call(client)
            except Exception as exc:
                return exc

    return anyio.run(run, backend=mode)


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"])
def test_a_plain_http_request_goes_through_the_environments_proxy(
    mode: str, variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with RecordingProxy(orjson.dumps(OES)) as proxy:
        monkeypatch.setenv(variable, proxy.url)
        result = _run(mode, lambda c: c.oes.get("x"), base_url=REMOTE, allow_insecure_http=True)
    assert isinstance(result, OESResult), result
    assert [(r.method, r.target) for r in proxy.received] == [
        ("GET", "http://api.atomscale.test/oes/x")
    ]
    assert "proxy-authorization" not in proxy.received[0].headers


def test_an_https_request_tunnels_through_the_proxy_without_showing_it_the_key(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with RecordingProxy(b"") as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        error = _run(mode, lambda c: c.oes.get("x"), base_url="https://api.atomscale.test/")
    assert isinstance(error, atomscale_async.APIConnectionError), repr(error)
    assert [(r.method, r.target) for r in proxy.received] == [("CONNECT", "api.atomscale.test:443")]
    assert KEY not in repr(proxy.received)


def test_proxy_credentials_come_from_its_url_never_from_netrc(
    mode: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login n password from-netrc\ndefault login n password d\n")
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))
    with RecordingProxy(orjson.dumps(OES)) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        plain = _run(mode, lambda c: c.oes.get("x"), base_url=REMOTE, allow_insecure_http=True)
        monkeypatch.setenv("HTTP_PROXY", proxy.url.replace("://", "://pu:pp@"))
        signed = _run(mode, lambda c: c.oes.get("x"), base_url=REMOTE, allow_insecure_http=True)
    assert isinstance(plain, OESResult), repr(plain)
    assert isinstance(signed, OESResult), repr(signed)
    first, second = (r.headers for r in proxy.received)
    assert "proxy-authorization" not in first
    assert "authorization" not in first
    assert second["proxy-authorization"] == "Basic " + base64.b64encode(b"pu:pp").decode()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_never_goes_through_a_proxy(
    mode: str, host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        RecordingProxy(b"[]") as proxy,
        LocalServer(lambda _: Answer(200, orjson.dumps(OES))) as server,
    ):
        for variable in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
            monkeypatch.setenv(variable, proxy.url)
        result = _run(mode, lambda c: c.oes.get("x"), base_url=f"http://{host}:{server.port}/")
    assert isinstance(result, OESResult), result
    assert proxy.received == []
    assert len(server.received) == 1


def test_a_socks_proxy_is_a_clear_error_before_any_connection(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with RecordingProxy(b"[]") as proxy:
        monkeypatch.setenv("ALL_PROXY", proxy.url.replace("http://", "socks5://"))
        error = _run(mode, lambda c: c.oes.get("x"), base_url=REMOTE, allow_insecure_http=True)
    assert isinstance(error, atomscale_async.APIConnectionError), repr(error)
    assert "SOCKS" in str(error)
    assert "NO_PROXY" in str(error)
    assert proxy.received == []


def _proxy_of(client: AsyncClient, url: str) -> object:
    """The proxy the client's pool would send ``url`` through (None: direct)."""
    transport = client._state.http._transport_for_url(httpx.URL(url))
    return getattr(transport, "_proxy", None)


def test_no_proxy_and_trust_env_false_send_direct(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:10")
    monkeypatch.setenv("NO_PROXY", "atomscale.test, 10.1.2.3")
    client = AsyncClient(KEY)
    assert str(_proxy_of(client, "https://api.atomscale.ai/")) == "http://127.0.0.1:10"
    assert str(_proxy_of(client, "http://other.example/")) == "http://127.0.0.1:9"
    assert _proxy_of(client, "https://api.atomscale.test/") is None
    assert _proxy_of(client, "http://10.1.2.3/") is None
    assert _proxy_of(AsyncClient(KEY, trust_env=False), "https://api.atomscale.ai/") is None
    monkeypatch.setenv("NO_PROXY", "*")
    assert _proxy_of(AsyncClient(KEY), "https://api.atomscale.ai/") is None


def test_environment_proxies_follow_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "proxy.internal:3128")
    monkeypatch.setenv("ALL_PROXY", "http://all.internal:8080")
    monkeypatch.setenv("NO_PROXY", "localhost,10.0.0.0/8,::1,.corp,http://skip.example")
    expected: dict[str, str | None] = {
        "https://": "http://proxy.internal:3128",
        "all://": "http://all.internal:8080",
        "all://localhost": None,
        "all://10.0.0.0/8": None,
        "all://[::1]": None,
        "all://*.corp": None,
        "http://skip.example": None,
    }
    found = environment_proxies()
    assert {k: found.get(k) for k in expected} == expected
    helper = getattr(getattr(httpx, "_utils", None), "get_environment_proxies", None)
    if helper is not None:  # the rules are httpx's own
        assert helper() == found


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.9.9.9", True),
        ("::1", True),
        ("[::1]", True),
        ("LocalHost", True),
        ("128.0.0.1", False),
        ("api.atomscale.ai", False),
        ("::2", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback
