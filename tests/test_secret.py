"""The key (and a password in the base URL) stays out of reprs, messages and tracebacks.

Error trackers record every local variable of every frame by its ``repr``
(``traceback.TracebackException(..., capture_locals=True)``). Frames inside
httpx or aiohttp necessarily hold the plain header; the SDK's own must not.
"""

from __future__ import annotations

import contextlib
import pickle
import socket
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
import anyio
import httpx
import orjson
import pytest

import atomscale_async
from atomscale_async import AsyncClient, Client
from atomscale_async._secret import APIKey, KeyHeaders, redact_url

from .local_http import Answer, LocalServer, Received
from .payloads import OES
from .servers import CUT_OFF, MALFORMED, RawServer, http_head

KEY = "sk-live-traceback-key-77"
PASSWORD = "url-pass-word-31"
SECRETS = (KEY, PASSWORD)
PACKAGE = str(Path(atomscale_async.__file__).parent)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception reachable from it (causes, contexts, groups, bulk errors)."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [e for e in (current.__cause__, current.__context__) if e is not None]
        todo += list(getattr(current, "exceptions", ()))
        errors = getattr(current, "errors", None)
        todo += list(errors.values()) if isinstance(errors, dict) else []


def _frames(tb: TracebackType | None) -> Iterator[Any]:
    while tb is not None:
        yield tb.tb_frame
        tb = tb.tb_next


def assert_no_secret_shown(exc: BaseException) -> None:
    """What a traceback with locals shows of ``exc`` holds no secret in the SDK's part."""
    assert not isinstance(exc, ExceptionGroup), "a bare group escaped"
    for error in _chain(exc):
        text = [str(error), repr(error), *map(repr, vars(error).values())]
        text += getattr(error, "__notes__", [])
        assert not any(s in t for s in SECRETS for t in text), (type(error), text)
        shown = traceback.TracebackException(
            type(error), error, error.__traceback__, capture_locals=True, compact=True
        )
        for frame in shown.stack:
            if not frame.filename.startswith(PACKAGE):
                continue
            for name, value in (frame.locals or {}).items():
                assert not any(s in value for s in SECRETS), (frame.name, name, value)
        # An SDK object anywhere on the stack (httpx's frames included) has a safe repr.
        for frame in _frames(error.__traceback__):
            for value in list(frame.f_locals.values()):
                if type(value).__module__.startswith("atomscale_async"):
                    assert not any(s in repr(value) for s in SECRETS), repr(value)


# ----------------------------------------------------------------------- the error cases

Call = Callable[[Any], Any]


def _status(status: int, **headers: str) -> Callable[[Received], Answer]:
    return lambda _: Answer(status, b'{"detail": "no"}', headers)


STATUS_CASES: dict[str, tuple[Callable[[Received], Answer], Call]] = {
    f"{status}-{name}": (_status(status, **headers), call)
    for status, headers, calls in (
        (400, {}, ("oes",)),
        (401, {}, ("oes", "list", "create")),
        (403, {}, ("oes",)),
        (404, {}, ("oes",)),
        (409, {}, ("create",)),
        (422, {}, ("oes", "create")),
        (429, {"Retry-After": "9999"}, ("oes", "list")),
        (500, {}, ("oes", "list", "create")),
        (503, {}, ("oes",)),
    )
    for name, call in (
        ("oes", lambda c: c.oes.get("x")),
        ("list", lambda c: c.data_entries.list(["a", "b"])),
        (
            "create",
            lambda c: c.target_materials.create(sample={"sample_name": "s", "substrate": "Si"}),
        ),
    )
    if name in calls
}
BODY_CASES: dict[str, tuple[Callable[[Received], Answer], Call]] = {
    "not-json": (lambda _: Answer(200, b"<html>"), lambda c: c.oes.get("x")),
    "wrong-shape": (lambda _: Answer(200, b'{"data_id": 3}'), lambda c: c.oes.get("x")),
    "bulk-some-fail": (
        lambda r: Answer(200, _oes_body()) if r.path.endswith("/ok") else Answer(404),
        lambda c: c.get(["ok", "missing", "gone"], data_type="oes"),
    ),
    "bulk-unknown-kind": (
        lambda _: Answer(200, b'{"data_entries": []}'),
        lambda c: c.get(["a", "b"]),
    ),
    "echoed-key": (
        lambda r: Answer(
            401,
            orjson.dumps({"detail": f"key {r.headers['x-api-key']} refused"}),
            {"X-Echo": r.headers["x-api-key"]},
        ),
        lambda c: c.oes.get("x"),
    ),
    "bad-input": (lambda _: Answer(), lambda c: c.target_materials.create(sample={"x": 1})),
    "bad-data-type": (lambda _: Answer(), lambda c: c.get(["a"], data_type="xps")),
}


def _oes_body() -> bytes:
    import orjson

    return orjson.dumps(OES)


def _base_url(port: int) -> str:
    return f"http://reader:{PASSWORD}@127.0.0.1:{port}/"


@pytest.fixture(params=["asyncio", "trio", "sync"])
def mode(request: pytest.FixtureRequest) -> str:
    """An AsyncClient on asyncio (aiohttp) or on trio (httpx's pool), or a Client."""
    return str(request.param)


def _catch(mode: str, call: Call, **kwargs: Any) -> BaseException:
    """Run ``call`` on a fresh client of ``mode``; return what it raised."""
    kwargs = {"max_retries": 0, **kwargs}
    if mode == "sync":
        with Client(KEY, **kwargs) as client:
            try:
                call(client)
            except Exception as exc:
                return exc
        raise AssertionError("no error")

    async def run() -> BaseException:
        async with AsyncClient(KEY, **kwargs) as client:
            try:
                await call(client)
            except Exception as exc:
                return exc
        raise AssertionError("no error")

    return anyio.run(run, backend=mode)


@pytest.mark.parametrize("case", [*STATUS_CASES, *BODY_CASES])
def test_no_secret_in_a_traceback_with_locals(mode: str, case: str) -> None:
    script, call = {**STATUS_CASES, **BODY_CASES}[case]
    with LocalServer(script) as server:
        error = _catch(mode, call, base_url=_base_url(server.port))
    assert isinstance(error, atomscale_async.AtomscaleError | ValueError)
    assert_no_secret_shown(error)


def test_no_secret_in_a_traceback_after_retries(mode: str) -> None:
    with LocalServer(_status(503)) as server:
        error = _catch(
            mode, lambda c: c.oes.get("x"), base_url=_base_url(server.port), max_retries=1
        )
    assert len(server.received) == 2
    assert_no_secret_shown(error)


def _refused_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


class _Silent:
    """Accepts connections and never answers (or closes them at once)."""

    def __init__(self, close: bool) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.close = close
        self.conns: list[socket.socket] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            if self.close:
                conn.settimeout(1)
                with contextlib.suppress(OSError):
                    conn.recv(65536)
                conn.close()
            else:
                self.conns.append(conn)

    def __enter__(self) -> _Silent:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()
        for conn in self.conns:
            conn.close()


@pytest.mark.parametrize("kind", ["refused", "read-timeout", "dropped", "total-timeout"])
def test_no_secret_in_a_traceback_of_a_connection_failure(mode: str, kind: str) -> None:
    if kind == "refused":
        error = _catch(mode, lambda c: c.oes.get("x"), base_url=_base_url(_refused_port()))
    else:
        with _Silent(close=kind == "dropped") as silent:
            options: dict[str, Any] = {"base_url": _base_url(silent.port)}
            options["timeout" if kind == "read-timeout" else "total_timeout"] = 0.15
            error = _catch(mode, lambda c: c.oes.get("x"), **options)
    assert isinstance(error, atomscale_async.APIConnectionError), error
    assert_no_secret_shown(error)


def test_no_secret_in_an_iter_results_outcome(mode: str) -> None:
    with LocalServer(_status(500)) as server:
        options: dict[str, Any] = {"base_url": _base_url(server.port), "max_retries": 0}
        if mode == "sync":
            with Client(KEY, **options) as client:
                outcomes = list(client.iter_results(["a", "b"], data_type="sims"))
        else:

            async def run() -> list[Any]:
                async with AsyncClient(KEY, **options) as client:
                    return [o async for o in client.iter_results(["a", "b"], data_type="sims")]

            outcomes = anyio.run(run, backend=mode)
    assert len(outcomes) == 2
    for outcome in outcomes:
        assert outcome.error is not None
        assert_no_secret_shown(outcome.error)


def test_no_secret_in_a_closed_client_error(mode: str) -> None:
    if mode == "sync":
        client = Client(KEY)
        client.close()
        with pytest.raises(RuntimeError) as sync_info:
            client.oes.get("x")
        assert_no_secret_shown(sync_info.value)
        return

    async def run() -> None:
        aclient = AsyncClient(KEY)
        await aclient.aclose()
        with pytest.raises(RuntimeError) as info:
            await aclient.oes.get("x")
        assert_no_secret_shown(info.value)

    anyio.run(run, backend=mode)


@pytest.mark.parametrize("cls", [AsyncClient, Client])
@pytest.mark.parametrize(
    "kwargs",
    [
        {"base_url": "ftp://x/"},
        {"timeout": -1},
        {"max_retries": -1},
        {"http_client": object()},
        {"max_concurrency": 0},
    ],
)
def test_no_secret_in_a_traceback_of_a_bad_argument(
    cls: type[AsyncClient | Client], kwargs: dict[str, Any]
) -> None:
    with pytest.raises((ValueError, TypeError)) as info:
        cls(KEY, **kwargs)
    assert_no_secret_shown(info.value)


def test_a_key_with_a_line_break_is_refused_without_showing_it() -> None:
    with pytest.raises(ValueError, match="single-line") as info:
        AsyncClient(KEY + "\n")
    assert_no_secret_shown(info.value)


# ----------------------------------------------------------------------- the pieces


def test_the_key_and_its_headers_have_redacted_reprs() -> None:
    key = APIKey(KEY)
    assert key.reveal() == KEY
    for text in (repr(key), str(key), f"{key}", repr([key]), repr(KeyHeaders({"X-API-KEY": KEY}))):
        assert KEY not in text
    assert "user-agent" in repr(KeyHeaders({"X-API-KEY": KEY, "User-Agent": "ua"}))
    with pytest.raises(TypeError):
        pickle.dumps(key)
    # httpx copies the headers (and the key) into each request it builds.
    assert (
        httpx.Request("GET", "https://h/", headers=KeyHeaders({"X-API-KEY": KEY})).headers[
            "x-api-key"
        ]
        == KEY
    )


def test_client_state_repr_hides_the_key_and_the_password() -> None:
    client = AsyncClient(KEY, base_url=f"https://me:{PASSWORD}@host.example/api/")
    sync = Client(KEY, base_url=f"https://me:{PASSWORD}@host.example/api/")
    try:
        for text in (repr(client._state), repr(client), repr(sync), repr(vars(client))):
            assert not any(s in text for s in SECRETS), text
        assert "me:***@host.example" in repr(client)
    finally:
        sync.close()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://me:pw@host.example/api/", "https://me:***@host.example/api/"),
        ("https://token@host.example/", "https://***@host.example/"),
        ("http://me:p@ss@127.0.0.1:80/x?q=a@b", "http://me:***@127.0.0.1:80/x?q=a@b"),
        ("https://host.example/a@b", "https://host.example/a@b"),
        ("https://host.example/", "https://host.example/"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.anyio
async def test_a_password_in_the_base_url_is_not_in_error_messages() -> None:
    with LocalServer(_status(404)) as server:
        async with AsyncClient(KEY, base_url=_base_url(server.port), max_retries=0) as client:
            with pytest.raises(atomscale_async.NotFoundError) as info:
                await client.oes.get("x")
    assert PASSWORD not in str(info.value)
    assert PASSWORD not in info.value.url
    assert f"reader:***@127.0.0.1:{server.port}/oes/x" in str(info.value)


# ------------------------------------------- malformed answers: no exception holding the request


def _echoing(name: str) -> Callable[[bytes], list[bytes]]:
    """A malformed answer; ``echo`` puts the request's own key header into a broken header."""

    def answer(request: bytes) -> list[bytes]:
        if name == "echo":
            line = next(x for x in request.split(b"\r\n") if x.lower().startswith(b"x-api-key"))
            return [http_head(b"Content-Length: 2", b"X-Echo " + line) + b"[]"]
        return [{**MALFORMED, **CUT_OFF}[name]]

    return answer


@pytest.mark.parametrize("name", ["echo", *sorted(MALFORMED), *sorted(CUT_OFF)])
def test_a_malformed_answer_gives_an_error_holding_no_request(mode: str, name: str) -> None:
    with RawServer(_echoing(name)) as server:
        error = _catch(mode, lambda c: c.oes.get("x"), base_url=_base_url(server.port))
    assert isinstance(error, atomscale_async.AtomscaleError), repr(error)
    for part in _chain(error):
        # aiohttp's exceptions carry the request headers; httpx's carry the request.
        assert not isinstance(part, aiohttp.ClientError | httpx.HTTPError), repr(part)
        assert not any(isinstance(v, httpx.Request) for v in vars(part).values())
    assert_no_secret_shown(error)


# ------------------------------------------------------- redirects: the key stays at its origin


def _redirect(status: int, location: Callable[[Received], str]) -> Callable[[Received], Answer]:
    def answer(request: Received) -> Answer:
        if request.path.endswith("/final"):
            return Answer(200, _oes_body())
        return Answer(status, b"", {"Location": location(request)})

    return answer


def _through_callers_client(mode: str, call: Call, **kwargs: Any) -> Any:
    """``call`` on a client that sends through an httpx client following redirects."""
    kwargs = {"max_retries": 0, **kwargs}
    if mode == "sync":
        http = httpx.AsyncClient(follow_redirects=True)
        with Client(KEY, http_client=http, **kwargs) as c:
            try:
                return call(c)
            except Exception as exc:
                return exc
            finally:
                c._run(http.aclose)  # on the loop thread that drove it

    async def run() -> Any:
        async with (
            httpx.AsyncClient(follow_redirects=True) as http,
            AsyncClient(KEY, http_client=http, **kwargs) as client,
        ):
            try:
                return await call(client)
            except Exception as exc:
                return exc

    return anyio.run(run, backend=mode)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("where", ["other-port", "other-scheme", "other-host"])
def test_a_redirect_to_another_origin_is_not_followed_with_the_key(
    mode: str, status: int, where: str
) -> None:
    with LocalServer(lambda _: Answer(200, _oes_body())) as other:
        target = {
            "other-port": f"http://127.0.0.1:{other.port}/oes/final",
            # Same port, other scheme: a TLS handshake would reach the first server.
            "other-scheme": "https://127.0.0.1:{port}/oes/final",
            "other-host": f"http://localhost:{other.port}/oes/final",
        }[where]
        with LocalServer(_redirect(status, lambda r: target)) as first:
            first.script = _redirect(status, lambda r: target.format(port=first.port))
            error = _through_callers_client(mode, lambda c: c.oes.get("x"), base_url=first.base_url)
    assert isinstance(error, atomscale_async.APIStatusError), error
    assert error.status_code == status
    assert "redirected to" in str(error)
    assert "check the base URL" in str(error)
    assert other.received == []
    assert len(first.received) == 1
    assert_no_secret_shown(error)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_within_the_origin_is_followed(mode: str, status: int) -> None:
    with LocalServer(_redirect(status, lambda r: "/oes/final")) as server:
        result = _through_callers_client(mode, lambda c: c.oes.get("x"), base_url=server.base_url)
    assert not isinstance(result, Exception), result
    assert [r.path for r in server.received] == ["/oes/x", "/oes/final"]
    assert all(r.headers["x-api-key"] == KEY for r in server.received)


def test_a_post_redirected_with_303_becomes_a_get_without_body(mode: str) -> None:
    def answer(request: Received) -> Answer:
        if request.method == "GET":
            return Answer(200, b'{"sample_id": "s1", "sample_name": "s", "substrate": "Si"}')
        return Answer(303, b"", {"Location": "/target-materials/created"})

    with LocalServer(answer) as server:
        _through_callers_client(
            mode,
            lambda c: c.target_materials.create(sample={"sample_name": "s", "substrate": "Si"}),
            base_url=server.base_url,
        )
    assert [(r.method, r.path, r.body) for r in server.received][1] == (
        "GET",
        "/target-materials/created",
        b"",
    )


@pytest.mark.parametrize("follow", [True, False])
def test_the_default_client_and_a_non_following_client_answer_any_redirect_with_an_error(
    follow: bool,
) -> None:
    with LocalServer(_redirect(302, lambda r: "/oes/final")) as server:

        async def run() -> BaseException:
            http = httpx.AsyncClient(follow_redirects=False) if follow else None
            async with AsyncClient(KEY, base_url=server.base_url, http_client=http) as client:
                with pytest.raises(atomscale_async.APIStatusError) as info:
                    await client.oes.get("x")
            if http is not None:
                await http.aclose()
            return info.value

        error = anyio.run(run)
    assert getattr(error, "status_code", None) == 302
    assert [r.path for r in server.received] == ["/oes/x"]


def test_a_raise_for_status_hook_of_the_callers_client_gives_the_sdks_error(mode: str) -> None:
    async def raise_for_status(response: httpx.Response) -> None:
        response.raise_for_status()

    with LocalServer(_status(404)) as server:

        async def run() -> BaseException:
            async with (
                httpx.AsyncClient(event_hooks={"response": [raise_for_status]}) as http,
                AsyncClient(KEY, base_url=server.base_url, http_client=http) as client,
            ):
                with pytest.raises(atomscale_async.NotFoundError) as info:
                    await client.oes.get("x")
            return info.value

        error = anyio.run(run, backend="trio" if mode == "trio" else "asyncio")
    assert_no_secret_shown(error)
    assert error.__context__ is None


def test_a_key_echoed_in_a_malformed_answer_is_shown_as_everywhere_else(mode: str) -> None:
    with RawServer(_echoing("echo")) as server:
        error = _catch(mode, lambda c: c.oes.get("x"), base_url=_base_url(server.port))
    assert "***" in str(error), str(error)  # the one redaction mark of the SDK
    assert "<redacted>" not in str(error)
