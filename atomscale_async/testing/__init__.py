"""Test helpers for code that uses atomscale-async: the Atomscale API, mocked, in your tests.

The `atomscale_mock` pytest fixture intercepts every HTTP request of the process (with
respx), answers every endpoint of the API with the seeded, realistic data of
`atomscale_async.sandbox`, and fails the test on any request it does not mock. It sets
`ATOMSCALE_API_KEY` and `ATOMSCALE_BASE_URL`, so that `AsyncClient()` and `Client()`
built without arguments (in your code, as in your tests) talk to it.

Opt in from your `conftest.py` (nothing is loaded into test runs that do not)::

    pytest_plugins = ["atomscale_async.testing"]

and use it::

    async def test_my_report(atomscale_mock):
        report = await my_code.build_report(atomscale_mock.sims_ids[:3])
        assert report.species

    def test_my_code_survives_an_outage(atomscale_mock):
        atomscale_mock.override("GET", "oes/{data_id}", status_code=503)
        ...

The `atomscale_sandbox` fixture serves a real sandbox on 127.0.0.1 instead, with its S3
object store (moto's server), for uploads and downloads end to end; it sets the same
variables. It needs the `sandbox` extra.

Override the `atomscale_mock_options` fixture to change the data (e.g.
`{"entries": 200, "seed": 3}`), or use `AtomscaleMock` as a context manager outside
pytest. Requires the `testing` extra (respx and pytest):
`pip install -e '.[testing]'` from a checkout.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from atomscale_async.testing._mock import (
    DEFAULT_API_KEY,
    DEFAULT_BASE_URL,
    AtomscaleMock,
    Override,
)

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_BASE_URL",
    "AtomscaleMock",
    "Override",
    "atomscale_mock",
    "atomscale_mock_options",
    "atomscale_sandbox",
    "atomscale_sandbox_options",
]


@pytest.fixture
def atomscale_mock_options() -> dict[str, Any]:
    """The arguments of the `AtomscaleMock` that `atomscale_mock` builds.

    Override this fixture (in a conftest.py, a module or a class) to change them.

    Example:
        >>> @pytest.fixture  # doctest: +SKIP
        ... def atomscale_mock_options():
        ...     return {"entries": 200, "seed": 3}
    """
    return {}


@pytest.fixture
def atomscale_mock(
    atomscale_mock_options: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> Iterator[AtomscaleMock]:
    """The Atomscale API, mocked for one test; clients built without arguments use it.

    Yields an `AtomscaleMock`: `.router` (the respx router), `.data_ids`, `.sims_ids`,
    `.oes_ids`, `.api_key`, `.base_url`, `.state` and `.override(method, path, ...)`.
    The test fails if a request was not mocked, even when the code under test caught
    the error.
    """
    mock = AtomscaleMock(**atomscale_mock_options)
    if mock.api_key is not None:
        monkeypatch.setenv("ATOMSCALE_API_KEY", mock.api_key)
    monkeypatch.setenv("ATOMSCALE_BASE_URL", mock.base_url)
    if mock.base_url.startswith("http://"):
        # Nothing leaves the process: the mock answers every request itself.
        monkeypatch.setenv("ATOMSCALE_ALLOW_INSECURE_HTTP", "1")
    with mock:
        yield mock
    if mock.unmocked:
        shown = "; ".join(f"{r.method} {r.url}" for r in mock.unmocked[:5])
        more = f" and {len(mock.unmocked) - 5} more" if len(mock.unmocked) > 5 else ""
        pytest.fail(
            f"atomscale_mock: {len(mock.unmocked)} request(s) were not mocked: {shown}{more}",
            pytrace=False,
        )


@pytest.fixture
def atomscale_sandbox_options() -> dict[str, Any]:
    """The options of the `SandboxServer` that `atomscale_sandbox` starts (override it)."""
    return {"entries": 100}


@pytest.fixture
def atomscale_sandbox(
    atomscale_sandbox_options: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """A sandbox served on 127.0.0.1 for one test, with its S3 object store started.

    Yields the `atomscale_async.sandbox.SandboxServer`; clients built without arguments
    talk to it. Uploads and downloads go to its object store (moto's S3 server), which
    it stops with the sandbox.
    """
    from atomscale_async.sandbox import SandboxServer, sandbox_files

    with SandboxServer(**atomscale_sandbox_options) as server:
        sandbox_files(server.app).start()
        if server.api_key is not None:
            monkeypatch.setenv("ATOMSCALE_API_KEY", server.api_key)
        monkeypatch.setenv("ATOMSCALE_BASE_URL", server.base_url)
        yield server
