"""The sandbox's ASGI application: routes and middleware over `SandboxState`'s answers."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from atomscale_async.sandbox._config import SandboxConfig
from atomscale_async.sandbox._faults import FaultMiddleware
from atomscale_async.sandbox._files import SandboxFiles, file_routes
from atomscale_async.sandbox._state import (
    MAX_DATA_IDS,
    RESULT_ROUTES,
    Answer,
    ResultRoute,
    SandboxState,
    ServerStats,
)

__all__ = [
    "MAX_DATA_IDS",
    "SandboxState",
    "ServerStats",
    "catalogue_ids",
    "create_app",
    "sandbox_files",
    "sandbox_state",
]


def sandbox_state(app: Starlette) -> SandboxState:
    """The `SandboxState` of an app made by `create_app`."""
    state = getattr(app.state, "sandbox", None)
    if not isinstance(state, SandboxState):
        msg = "this app was not made by atomscale_async.sandbox.create_app"
        raise TypeError(msg)
    return state


def sandbox_files(app: Starlette) -> SandboxFiles:
    """The `SandboxFiles` (object store and file endpoints) of an app made by `create_app`."""
    files = getattr(app.state, "files", None)
    if not isinstance(files, SandboxFiles):
        msg = "this app was not made by atomscale_async.sandbox.create_app"
        raise TypeError(msg)
    return files


def catalogue_ids(app: Starlette, kind: str | None = None) -> list[str]:
    """The catalogue's data ids of one kind (`sims`, `oes`, ...), or all of them.

    Example:
        >>> app = create_app(entries=10)
        >>> len(catalogue_ids(app))
        10
    """
    return sandbox_state(app).ids(kind)


def _json(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def _respond(answer: Answer) -> Response:
    status, body = answer
    return Response(body, status, media_type="application/json")


class _Api:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    async def list_instruments(self, _request: Request) -> Response:
        return _respond(self.state.answer_instruments())

    async def list_target_materials(self, _request: Request) -> Response:
        return _respond(self.state.answer_target_materials())

    async def target_materials(self, request: Request) -> Response:
        if request.method == "POST":
            return await self.create_target_material(request)
        return await self.list_target_materials(request)

    async def create_target_material(self, request: Request) -> Response:
        return _respond(self.state.answer_create_target_material(await request.body()))

    def get_result(self, route: ResultRoute) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return _respond(self.state.answer_result(route, request.path_params["data_id"]))

        return endpoint

    async def list_data_entries(self, request: Request) -> Response:
        query = request.query_params
        return _respond(self.state.answer_data_entries(_multi(query)))

    async def list_physical_samples(self, request: Request) -> Response:
        return _respond(self.state.answer_physical_samples(_multi(request.query_params)))

    async def list_projects(self, _request: Request) -> Response:
        return _respond(self.state.answer_projects())

    async def list_project_samples(self, request: Request) -> Response:
        return _respond(self.state.answer_project_samples(request.path_params["project_id"]))


def _multi(query: Any) -> dict[str, list[str]]:
    """Each query parameter with all its values, as the state's answers take them."""
    return {key: query.getlist(key) for key in query}


class _StatsMiddleware:
    def __init__(self, app: ASGIApp, *, stats: ServerStats) -> None:
        self.app = app
        self.stats = stats

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        stats = self.stats
        stats.requests += 1
        if stats.first_request_at is None:
            stats.first_request_at = time.time()

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = message["status"]
                stats.statuses[status] = stats.statuses.get(status, 0) + 1
                if 200 <= status < 300:
                    stats.last_success_at = time.time()
            elif message["type"] == "http.response.body":
                stats.response_bytes += len(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, counted)


class _AuthMiddleware:
    def __init__(self, app: ASGIApp, *, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.state.api_key is None:
            await self.app(scope, receive, send)
            return
        refusal = self.state.authenticate(dict(scope["headers"]).get(b"x-api-key"))
        if refusal is None:
            await self.app(scope, receive, send)
            return
        await _respond(refusal)(scope, receive, send)


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _json({"detail": exc.detail}, exc.status_code, exc.headers)


def create_app(config: SandboxConfig | None = None, **options: Any) -> Starlette:
    """Build a sandbox app that speaks the Atomscale API.

    Args:
        config: The sandbox's options; the defaults when None.
        **options: Options to change by name, as `SandboxConfig.replace` takes them
            (e.g. ``entries=100, error_rate=0.1``). A dropped connection needs
            `SandboxServer`; in-process the client sees `ConnectionDropped`.

    Returns:
        A Starlette app; `sandbox_state(app)` holds its catalogue and faults.

    Raises:
        TypeError: An option's name is not one of `SandboxConfig`'s.
        ValueError: An option's value is not valid.

    Example:
        >>> import httpx
        >>> app = create_app(entries=100, seed=1)
        >>> client = httpx.AsyncClient(
        ...     transport=httpx.ASGITransport(app=app),
        ...     base_url="http://sandbox/",
        ...     headers={"X-API-KEY": "sandbox-key"},
        ... )
    """
    config = (SandboxConfig() if config is None else config).replace(**options)
    state = SandboxState(config)
    files = SandboxFiles(state)
    api = _Api(state)
    routes = [
        Route("/instruments/synthesis/", api.list_instruments, methods=["GET"]),
        # One route for both methods, so that a 405 lists both in its Allow header.
        Route("/target-materials/", api.target_materials, methods=["GET", "POST"]),
        Route("/data_entries/", api.list_data_entries, methods=["GET"]),
        Route("/physical_samples/", api.list_physical_samples, methods=["GET"]),
        Route("/projects/", api.list_projects, methods=["GET"]),
        Route("/projects/{project_id}/physical_samples", api.list_project_samples, methods=["GET"]),
        # Every result endpoint of the SDK's kind table.
        *(Route(route.path, api.get_result(route), methods=["GET"]) for route in RESULT_ROUTES),
        # Uploads and downloads, through presigned URLs on the object store.
        *file_routes(files),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(_StatsMiddleware, stats=state.stats),
            Middleware(FaultMiddleware, injector=state.injector),
            Middleware(_AuthMiddleware, state=state),
        ],
        exception_handlers={HTTPException: _http_error},
    )
    # The API's paths are exact: no redirect from /target-materials to /target-materials/.
    app.router.redirect_slashes = False
    app.state.sandbox = state
    app.state.files = files
    return app
