"""Configuration, environment, with_options, logging, and the key never being shown."""

from __future__ import annotations

import logging
import subprocess
import sys

import httpx
import pytest
import respx

import atomscale_async
from atomscale_async import (
    APIStatusError,
    AsyncClient,
    AtomscaleError,
    AuthenticationError,
    MissingAPIKeyError,
)

from .conftest import API_KEY, BASE_URL, ClientFactory
from .payloads import OES


def test_key_from_argument_then_env_then_legacy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AS_API_KEY", "legacy")
    assert AsyncClient()._state.api_key.reveal() == "legacy"
    monkeypatch.setenv("ATOMSCALE_API_KEY", "primary")
    assert AsyncClient()._state.api_key.reveal() == "primary"
    assert AsyncClient("explicit")._state.api_key.reveal() == "explicit"


def test_missing_key_is_a_typed_error_naming_the_variable() -> None:
    with pytest.raises(MissingAPIKeyError, match="ATOMSCALE_API_KEY") as caught:
        AsyncClient()
    assert isinstance(caught.value, AtomscaleError)
    assert isinstance(caught.value, ValueError)  # as before the class existed


def test_base_url_from_argument_then_env_then_legacy_then_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert AsyncClient("k").base_url == "https://api.atomscale.ai/"
    monkeypatch.setenv("AS_API_ENDPOINT", "https://legacy.example/api")
    assert AsyncClient("k").base_url == "https://legacy.example/api/"
    monkeypatch.setenv("ATOMSCALE_BASE_URL", "https://primary.example/")
    assert AsyncClient("k").base_url == "https://primary.example/"
    assert AsyncClient("k", base_url="https://arg.example/v2").base_url == "https://arg.example/v2/"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"base_url": "ftp://x/"}, "base_url must be an http"),
        ({"base_url": "not a url"}, "base_url must be an http"),
        ({"timeout": 0}, "timeout must be a positive, finite number"),
        ({"timeout": float("nan")}, "timeout must be a positive, finite number"),
        ({"timeout": float("inf")}, "timeout must be a positive, finite number"),
        ({"timeout": httpx.Timeout(5.0, connect=None)}, "connect part"),
        ({"timeout": httpx.Timeout(5.0, read=None)}, "read part"),
        ({"timeout": httpx.Timeout(5.0, connect=float("nan"))}, "connect part"),
        ({"timeout": httpx.Timeout(5.0, read=float("inf"))}, "read part"),
        ({"timeout": httpx.Timeout(5.0, read=0)}, "read part"),
        ({"timeout": httpx.Timeout(5.0, connect=-1)}, "connect part"),
        ({"timeout": httpx.Timeout(5.0, write=float("nan"))}, "write part"),
        ({"timeout": httpx.Timeout(None)}, "connect part"),
        ({"max_retry_after": float("nan")}, "max_retry_after must be a positive"),
        ({"total_timeout": float("nan")}, "total_timeout must be a positive"),
        ({"timeout": None}, "would wait forever"),
        ({"max_retries": -1}, "max_retries must be an integer >= 0"),
        ({"max_concurrency": 0}, "max_concurrency must be an integer >= 1"),
        ({"max_concurrency": 2.5}, "max_concurrency must be an integer"),
        ({"total_timeout": -3}, "total_timeout must be a positive"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AsyncClient("k", **kwargs)  # type: ignore[arg-type]


def test_bad_timeouts_are_refused_by_with_options_too() -> None:
    client = AsyncClient("k")
    for kwargs in (
        {"timeout": float("nan")},
        {"timeout": httpx.Timeout(5.0, read=None)},
        {"max_retry_after": float("nan")},
        {"total_timeout": float("nan")},
    ):
        with pytest.raises(ValueError, match="positive, finite"):
            client.with_options(**kwargs)


def test_a_timeout_without_pool_or_write_bound_is_accepted() -> None:
    timeout = httpx.Timeout(5.0, pool=None, write=None)
    assert AsyncClient("k", timeout=timeout).timeout == timeout


@pytest.mark.parametrize(
    "base_url",
    [
        "http://127.0.0.1:8000/",
        "http://127.3.4.5/",
        "http://localhost:9/",
        "http://LOCALHOST/",
        "http://[::1]:8000/",
        "https://sandbox:8000/",
    ],
)
def test_http_to_loopback_or_https_anywhere_is_allowed(base_url: str) -> None:
    assert AsyncClient("k", base_url=base_url).base_url == base_url


@pytest.mark.parametrize(
    "base_url",
    [
        "http://sandbox:8000/",
        "http://api.atomscale.ai/",
        "http://10.0.0.7/",
        "http://[::2]/",
        "http://localhost.example/",
        "http://128.0.0.1/",
    ],
)
def test_http_to_another_machine_needs_an_opt_in(
    base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for cls in (AsyncClient, atomscale_async.Client):
        with pytest.raises(ValueError, match="unencrypted") as info:
            cls("k", base_url=base_url)
        for way in (
            "allow_insecure_http=True",
            "ATOMSCALE_ALLOW_INSECURE_HTTP=1",
            "--allow-insecure-http",
        ):
            assert way in str(info.value)
    assert AsyncClient("k", base_url=base_url, allow_insecure_http=True).base_url == base_url
    sync = atomscale_async.Client("k", base_url=base_url, allow_insecure_http=True)
    sync.close()
    monkeypatch.setenv("ATOMSCALE_BASE_URL", base_url)
    monkeypatch.setenv("ATOMSCALE_ALLOW_INSECURE_HTTP", "1")
    assert AsyncClient("k").base_url == base_url
    with pytest.raises(ValueError, match="unencrypted"):
        AsyncClient("k", allow_insecure_http=False)
    monkeypatch.setenv("ATOMSCALE_ALLOW_INSECURE_HTTP", "0")
    with pytest.raises(ValueError, match="unencrypted"):
        AsyncClient("k")


def test_the_insecure_http_error_hides_a_password() -> None:
    with pytest.raises(ValueError, match="unencrypted") as info:
        AsyncClient("k", base_url="http://me:s3cret-pw@sandbox:8000/")
    assert "s3cret-pw" not in str(info.value)
    assert "me:***@sandbox" in str(info.value)


def test_http_client_must_be_an_async_client() -> None:
    with pytest.raises(TypeError, match=r"httpx\.AsyncClient"):
        AsyncClient("k", http_client=httpx.Client())  # type: ignore[arg-type]


def test_timeouts_are_on_by_default() -> None:
    timeout = AsyncClient("k").timeout
    assert timeout.connect == 5.0
    assert timeout.read == 60.0
    assert AsyncClient("k", timeout=3).timeout == httpx.Timeout(3.0)


def test_key_never_in_repr_or_str() -> None:
    client = AsyncClient(API_KEY)
    sync = atomscale_async.Client(API_KEY)
    try:
        for text in (
            repr(client),
            str(client),
            repr(sync),
            str(sync),
            repr(client.with_options(timeout=1)),
        ):
            assert API_KEY not in text
        assert "max_concurrency=32" in repr(client)
    finally:
        sync.close()


@pytest.mark.anyio
async def test_key_not_exposed_by_errors_or_logs(
    router: respx.MockRouter, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    router.get("oes/x").respond(401, json={"detail": "bad key"})
    router.get("oes/down").mock(side_effect=httpx.ConnectError("refused"))
    caplog.set_level(logging.DEBUG, logger="atomscale_async")
    caught: list[BaseException] = []
    async with make_client(max_retries=0) as client:
        for data_id in ("x", "down"):
            try:
                await client.oes.get(data_id)
            except Exception as exc:
                caught.append(exc)
    assert isinstance(caught[0], AuthenticationError)
    assert "ATOMSCALE_API_KEY" in str(caught[0])
    for error in caught:
        seen = [error, error.__cause__, error.__context__, *vars(error).values()]
        assert all(API_KEY not in repr(part) and API_KEY not in str(part) for part in seen)
        assert error.__context__ is None, "the httpx exception carries the request and its key"
        assert API_KEY not in "".join(getattr(error, "__notes__", []))
    assert caplog.records
    assert all(API_KEY not in r.getMessage() for r in caplog.records)


def test_httpx_prints_the_key_header_in_clear() -> None:
    # Why the SDK never hands out the request: httpx masks only Authorization.
    headers = httpx.Headers({"X-API-KEY": API_KEY, "Authorization": "Bearer s"})
    assert API_KEY in repr(headers)


@pytest.mark.anyio
async def test_one_debug_line_per_attempt(
    router: respx.MockRouter, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    router.get("oes/x").mock(side_effect=[httpx.Response(503), httpx.Response(200, json=OES)])
    caplog.set_level(logging.DEBUG, logger="atomscale_async")
    async with make_client() as client:
        await client.oes.get("x")
    lines = [
        r.getMessage()
        for r in caplog.records
        if r.name == "atomscale_async" and r.levelno == logging.DEBUG
    ]
    assert len(lines) == 2
    assert lines[0].startswith("GET /oes/x -> 503 in ")
    assert lines[0].endswith("(attempt 1)")
    assert lines[1].startswith("GET /oes/x -> 200 in ")
    assert lines[1].endswith("(attempt 2)")


def test_atomscale_log_env_turns_logging_on() -> None:
    code = (
        "import respx, atomscale_async as a\n"
        "with respx.mock(using='httpx') as m:\n"
        "    m.get('https://api.atomscale.ai/sims/x').respond(json=[])\n"
        "    with a.Client('k') as c: c.sims.get('x')\n"
    )
    env = {"ATOMSCALE_LOG": "debug", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "atomscale_async DEBUG GET /sims/x -> 200" in out.stderr
    quiet = subprocess.run(
        [sys.executable, "-c", code],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert quiet.stderr == ""


@pytest.mark.anyio
async def test_with_options_shares_pool_and_limits(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    router.get("oes/x").respond(json=OES)
    async with make_client(max_concurrency=4) as client:
        slow = client.with_options(timeout=300, max_retries=5)
        assert slow.timeout == httpx.Timeout(300.0)
        assert slow.max_retries == 5
        assert client.max_retries == 2
        assert slow._state is client._state
        assert slow.max_concurrency == 4
        await slow.oes.get("x")
    assert slow.is_closed


@pytest.mark.anyio
async def test_closed_client_raises_clearly(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    client = make_client()
    await client.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await client.oes.get("x")


@pytest.mark.anyio
async def test_user_http_client_is_used_and_not_closed(router: respx.MockRouter) -> None:
    route = router.get("oes/x").respond(json=OES)
    http = httpx.AsyncClient(headers={"X-Trace": "1"})
    async with AsyncClient(API_KEY, base_url=BASE_URL, http_client=http) as client:
        await client.oes.get("x")
    assert route.calls.last.request.headers["X-Trace"] == "1"
    assert route.calls.last.request.headers["X-API-KEY"] == API_KEY
    assert not http.is_closed
    await http.aclose()


def test_status_error_is_an_atomscale_error() -> None:
    assert issubclass(AuthenticationError, APIStatusError)
    assert issubclass(APIStatusError, atomscale_async.AtomscaleError)
