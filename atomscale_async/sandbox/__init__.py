"""A local server that speaks the Atomscale API, for tests and demos (like stripe-mock).

Serve seeded, realistic data (synthesis instruments, target materials, the catalogue,
SIMS, OES, XPS, XRD, photoluminescence and Raman results; any other kind of the SDK's
kind table with data synthesised from its schema) in-process or on 127.0.0.1 (from a
thread, or with `SandboxServer(process=True)` from a child process that does not share
the client's GIL), accept uploads and serve downloads through presigned URLs on a local S3
server (moto's), and inject faults (latency, 5xx, 429 with `Retry-After`, dropped connections) to
exercise a client's error handling.

Example:
    >>> import httpx
    >>> from atomscale_async.sandbox import SandboxServer
    >>> with SandboxServer(entries=50, seed=7) as server:
    ...     sims_id = server.state.sims_ids(empty=False)[0]
    ...     answer = httpx.get(
    ...         f"{server.base_url}sims/{sims_id}", headers={"X-API-KEY": server.api_key}
    ...     )
    >>> answer.status_code
    200

`create_app`, `SandboxServer` and `serve` take one `SandboxConfig` (or its options by
name, e.g. `entries=50, latency_ms=20`). They require the `sandbox` extra (starlette, uvicorn,
httptools), imported when first used; the data and `SandboxState` do not.
"""

import importlib as _importlib
import typing as _typing

from atomscale_async.sandbox._config import SandboxConfig
from atomscale_async.sandbox._data import EMISSION_LINES_NM, CatalogueEntry
from atomscale_async.sandbox._faults import ConnectionDropped, Faults
from atomscale_async.sandbox._state import MAX_DATA_IDS, SandboxState, ServerStats

if _typing.TYPE_CHECKING:
    from atomscale_async.sandbox._app import (
        catalogue_ids,
        create_app,
        sandbox_files,
        sandbox_state,
    )
    from atomscale_async.sandbox._files import ObjectStore, SandboxFiles, StoreFaults
    from atomscale_async.sandbox._server import SandboxServer, serve

__all__ = [
    "EMISSION_LINES_NM",
    "MAX_DATA_IDS",
    "CatalogueEntry",
    "ConnectionDropped",
    "Faults",
    "ObjectStore",
    "SandboxConfig",
    "SandboxFiles",
    "SandboxServer",
    "SandboxState",
    "ServerStats",
    "StoreFaults",
    "catalogue_ids",
    "create_app",
    "sandbox_files",
    "sandbox_state",
    "serve",
]

# The app and the server need starlette and uvicorn: they are imported when first used,
# so that the data and the state (which `atomscale_async.testing` serves) do not.
_LAZY = {
    "catalogue_ids": "_app",
    "create_app": "_app",
    "sandbox_files": "_app",
    "sandbox_state": "_app",
    "ObjectStore": "_files",
    "SandboxFiles": "_files",
    "StoreFaults": "_files",
    "SandboxServer": "_server",
    "serve": "_server",
}


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    try:
        value = getattr(_importlib.import_module(f"{__name__}.{module}"), name)
    except ImportError as exc:
        from atomscale_async._optional import MissingExtraError

        missing = (exc.name or "starlette").partition(".")[0]
        raise MissingExtraError(f"atomscale_async.sandbox.{name}", missing, "sandbox") from exc
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
