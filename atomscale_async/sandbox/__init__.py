"""A local server that speaks the Atomscale API, for tests and demos (like stripe-mock).

Serve seeded, realistic data (synthesis instruments, target materials, SIMS depth
profiles, OES spectra) in-process or on 127.0.0.1, and inject faults (latency, 5xx, 429
with `Retry-After`, dropped connections) to exercise a client's error handling.

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

Requires the `sandbox` extra (starlette, uvicorn, httptools).
"""

from atomscale_async.sandbox._app import (
    MAX_DATA_IDS,
    SandboxState,
    catalogue_ids,
    create_app,
    sandbox_state,
)
from atomscale_async.sandbox._data import EMISSION_LINES_NM, CatalogueEntry
from atomscale_async.sandbox._faults import ConnectionDropped, Faults
from atomscale_async.sandbox._server import SandboxServer, serve

__all__ = [
    "EMISSION_LINES_NM",
    "MAX_DATA_IDS",
    "CatalogueEntry",
    "ConnectionDropped",
    "Faults",
    "SandboxServer",
    "SandboxState",
    "catalogue_ids",
    "create_app",
    "sandbox_state",
    "serve",
]
