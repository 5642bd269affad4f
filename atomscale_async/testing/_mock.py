"""`AtomscaleMock`: a respx router that answers every endpoint of the API like the sandbox."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import unquote

import httpx

from atomscale_async._generated.kinds import KINDS
from atomscale_async._optional import MissingExtraError

try:
    import respx
    from respx.models import AllMockedAssertionError, ResolvedRoute
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise MissingExtraError("atomscale_async.testing", "respx", "testing") from exc

from atomscale_async.sandbox._config import SandboxConfig
from atomscale_async.sandbox._state import Answer, SandboxState, path_pattern

__all__ = ["DEFAULT_API_KEY", "DEFAULT_BASE_URL", "AtomscaleMock", "Override"]

DEFAULT_BASE_URL: Final = "https://api.atomscale.test/"
"""Where the mock answers by default: a reserved domain, so nothing real is ever reached."""
DEFAULT_API_KEY: Final = "atomscale-test-key"

SideEffect = Exception | type[Exception] | Callable[[httpx.Request], httpx.Response]

# (route name, method, path under the base URL): the API's endpoints; those of the
# kinds of result come from the generated kind table.
_ENDPOINTS: Final = (
    ("instruments.list", "GET", "instruments/synthesis/"),
    ("target_materials.list", "GET", "target-materials/"),
    ("target_materials.create", "POST", "target-materials/"),
    ("data_entries.list", "GET", "data_entries/"),
    ("physical_samples.list", "GET", "physical_samples/"),
    ("projects.list", "GET", "projects/"),
    ("projects.physical_samples", "GET", "projects/{project_id}/physical_samples"),
    *{
        (f"{kind.attribute}.{kind.method}", "GET", kind.path.lstrip("/")): None
        for kind in KINDS.values()
    },
)


class Override:
    """A replacement answer for matching requests, made by `AtomscaleMock.override`.

    Attributes:
        method: The HTTP method it answers.
        path: The path it answers, relative to the base URL (`{name}` is any segment).
        calls: The requests it answered.
    """

    def __init__(
        self,
        owner: AtomscaleMock,
        method: str,
        path: str,
        side_effect: SideEffect | None,
        respond: dict[str, Any],
    ) -> None:
        self.method = method.upper()
        self.path = path.lstrip("/")
        self.calls: list[httpx.Request] = []
        self._pattern = path_pattern(path)
        self._side_effect = side_effect
        self._respond = respond
        self._owner = owner

    @property
    def called(self) -> bool:
        """Whether it answered a request."""
        return bool(self.calls)

    @property
    def call_count(self) -> int:
        """How many requests it answered."""
        return len(self.calls)

    def matches(self, method: str, path: str) -> bool:
        """Whether it answers `method path` (a path relative to the base URL)."""
        return method == self.method and self._pattern.fullmatch(path) is not None

    def answer(self, request: httpx.Request) -> httpx.Response:
        """Answer a request: raise the side effect, call it, or build the response."""
        self.calls.append(request)
        effect = self._side_effect
        if isinstance(effect, type) and issubclass(effect, httpx.RequestError):
            raise effect(f"injected by atomscale_mock.override({self.path!r})", request=request)
        if isinstance(effect, BaseException | type):
            raise effect
        if effect is not None:
            return effect(request)
        respond = dict(self._respond)
        return httpx.Response(respond.pop("status_code", 200), **respond)

    def remove(self) -> None:
        """Stop overriding: matching requests get the sandbox's answers again."""
        with contextlib.suppress(ValueError):
            self._owner.overrides.remove(self)

    def __repr__(self) -> str:
        return f"<Override {self.method} {self.path} calls={len(self.calls)}>"


class _Router(respx.MockRouter):
    """A respx router that also remembers the requests it had no route for."""

    def __init__(self, unmocked: list[httpx.Request], **settings: Any) -> None:
        super().__init__(**settings)
        self.unmocked = unmocked

    @contextlib.contextmanager
    def resolver(self, request: httpx.Request) -> Iterator[ResolvedRoute]:
        """Resolve a request as respx does, noting the ones left unmocked."""
        try:
            with super().resolver(request) as resolved:
                yield resolved
        except AllMockedAssertionError:
            self.unmocked.append(request)
            raise


class AtomscaleMock:
    """A respx router answering every endpoint of the Atomscale API with sandbox data.

    It intercepts every `httpx` client of the process, whatever its transport (so also
    the clients that `AsyncClient()` and `Client()` build themselves), answers the
    API's endpoints under `base_url` with the seeded, realistic data of
    `atomscale_async.sandbox` (and its validation and 404s), refuses a wrong
    `X-API-KEY` with 401, and raises at once on any request it does not mock.

    Use it through the `atomscale_mock` pytest fixture, or as a context manager.

    Args:
        entries: Number of catalogue entries (every kind of the kind table, first one of
            each, and a few kinds the SDK does not type).
        seed: Seed of the data: the same seed gives the same ids and answers.
        api_key: The key requests must send; None accepts any request.
        base_url: Where the API is mocked.
        oes_points: Number of points of each OES spectrum.

    Attributes:
        router: The respx router; its routes are named after the endpoints
            (`"sims.get"`, `"oes.get"`, `"data_entries.list"`, `"instruments.list"`,
            `"target_materials.list"`, `"target_materials.create"`).
        state: The sandbox state answering (catalogue, target materials).
        overrides: The overrides in force, the most recent last.
        unmocked: The requests that were not mocked (each also raised an error).

    Example:
        >>> with AtomscaleMock(entries=20) as mock:  # doctest: +SKIP
        ...     with Client(mock.api_key, base_url=mock.base_url) as client:
        ...         result = client.sims.get(mock.sims_ids[0])
    """

    def __init__(
        self,
        *,
        entries: int = 50,
        seed: int = 0,
        api_key: str | None = DEFAULT_API_KEY,
        base_url: str = DEFAULT_BASE_URL,
        oes_points: int = 2048,
    ) -> None:
        url = httpx.URL(base_url if base_url.endswith("/") else base_url + "/")
        if url.scheme not in ("http", "https") or not url.host:
            msg = f"base_url must be an http(s) URL, got {base_url!r}"
            raise ValueError(msg)
        self.base_url = str(url)
        self.api_key = api_key
        self.state = SandboxState(
            SandboxConfig(entries=entries, seed=seed, api_key=api_key, oes_points=oes_points)
        )
        self.overrides: list[Override] = []
        self.unmocked: list[httpx.Request] = []
        self.router = _Router(
            self.unmocked, using="httpx", assert_all_mocked=True, assert_all_called=False
        )
        self._prefix = url.path
        where: dict[str, Any] = {"scheme": url.scheme, "host": url.host}
        if url.port is not None:
            where["port"] = url.port
        for name, method, path in _ENDPOINTS:
            regex = "^" + re.escape(self._prefix) + path_pattern(path).pattern + "$"
            self.router.route(method=method, path__regex=regex, name=name, **where).mock(
                side_effect=self._dispatch
            )
        # Any other request under the base URL: an override, or a loud failure.
        self.router.route(path__startswith=self._prefix, name="other", **where).mock(
            side_effect=self._dispatch
        )

    @property
    def data_ids(self) -> list[str]:
        """Every data id of the catalogue (SIMS, OES and a few kinds the SDK does not know)."""
        return self.state.data_ids

    @property
    def sims_ids(self) -> list[str]:
        """The SIMS data ids (a few answer an empty list of profiles)."""
        return self.state.sims_ids()

    @property
    def oes_ids(self) -> list[str]:
        """The OES data ids."""
        return self.state.oes_ids()

    def override(
        self,
        method: str,
        path: str,
        *,
        side_effect: SideEffect | None = None,
        **respond: Any,
    ) -> Override:
        """Answer matching requests with a response of your own instead of the sandbox's.

        The most recent override of a request wins; it takes effect at once, also
        while the mock is in use, and `Override.remove()` undoes it.

        Example:
            >>> mock.override("GET", "sims/{data_id}", status_code=500)  # doctest: +SKIP
            >>> mock.override("GET", f"oes/{mock.oes_ids[0]}", json={"detail": "x"},
            ...               status_code=404)  # doctest: +SKIP
            >>> mock.override("GET", "data_entries/", side_effect=httpx.ConnectError)
            ... # doctest: +SKIP

        Args:
            method: The HTTP method, e.g. `"GET"`.
            path: The path relative to the base URL, e.g. `"instruments/synthesis/"`;
                `{name}` matches any one path segment (`"oes/{data_id}"`).
            side_effect: An exception (class or instance) to raise, e.g.
                `httpx.ConnectError` to simulate a network failure, or a function
                taking the `httpx.Request` and returning an `httpx.Response`.
            **respond: Arguments of `httpx.Response`: `status_code` (default 200),
                `json`, `content`, `text`, `headers`.

        Returns:
            The override, which records the requests it answered.
        """
        if side_effect is not None and respond:
            msg = "give either side_effect or the response's arguments, not both"
            raise TypeError(msg)
        override = Override(self, method, path, side_effect, respond)
        self.overrides.append(override)
        return override

    def _dispatch(self, request: httpx.Request) -> httpx.Response:
        raw = request.url.raw_path.decode("ascii").partition("?")[0][len(self._prefix) :]
        relative = unquote(raw)
        method = request.method
        for override in reversed(self.overrides):
            if override.matches(method, relative):
                return override.answer(request)
        answer = self.state.authenticate(
            None if (key := request.headers.get("x-api-key")) is None else key.encode()
        )
        if answer is None:
            answer = self._answer(method, raw, request)
        if answer is None:  # the router's resolver notes it in `unmocked`
            msg = (
                f"atomscale_mock: {method} {request.url} is not an endpoint of the API; "
                "mock it with atomscale_mock.override(method, path, ...)"
            )
            raise AllMockedAssertionError(msg)
        status, body = answer
        return httpx.Response(status, content=body, headers={"content-type": "application/json"})

    def _answer(self, method: str, path: str, request: httpx.Request) -> Answer | None:
        """The sandbox's answer to `method path` (a raw path), or None: not an endpoint."""
        params = request.url.params
        query = {key: params.get_list(key) for key in params}
        segments = "/".join(unquote(part) for part in path.split("/"))
        return self.state.dispatch(method, segments, query, request.content)

    def start(self) -> Self:
        """Start intercepting every httpx client of the process."""
        self.router.start()
        return self

    def stop(self) -> None:
        """Stop intercepting."""
        self.router.stop(quiet=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return (
            f"<AtomscaleMock {self.base_url} entries={len(self.data_ids)} "
            f"overrides={len(self.overrides)}>"
        )
