"""A warning of a bulk call never fails the call, wherever the caller's code runs."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import logging
import os
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import respx

from atomscale_async import UnknownDataTypeWarning, UnknownResult
from atomscale_async._bulk import CallSite
from atomscale_async._warnings import warn_at

from .conftest import ClientFactory
from .test_bulk import FakeAPI

pytestmark = pytest.mark.anyio


class _BrokenLoader(importlib.abc.Loader):
    """A loader whose source lookup fails, as a frozen or odd importer's may."""

    @staticmethod
    def get_source(name: str) -> str:
        raise RuntimeError(f"no source for {name}")


BROKEN = _BrokenLoader()


def prompt_globals() -> dict[str, Any]:
    """``__main__``'s globals in a Python prompt, ``python -c`` or a piped script."""
    return {"__name__": "__main__", "__loader__": importlib.machinery.BuiltinImporter}


@pytest.mark.parametrize(
    "module_globals",
    [
        pytest.param(prompt_globals(), id="builtin-importer"),
        pytest.param({"__name__": "odd", "__loader__": _BrokenLoader()}, id="broken-loader"),
        pytest.param({"__name__": "odd", "__loader__": object()}, id="loader-without-get-source"),
        pytest.param({"__name__": "odd"}, id="no-loader"),
        pytest.param(
            {
                "__name__": "odd",
                "__loader__": BROKEN,
                "__spec__": importlib.machinery.ModuleSpec("odd", BROKEN),
            },
            id="spec-with-a-broken-loader",
        ),
    ],
)
def test_a_call_site_whose_source_cannot_be_read_still_warns_there(
    module_globals: dict[str, Any],
) -> None:
    site = CallSite("<stdin>", 3, str(module_globals["__name__"]), module_globals)
    with pytest.warns(UnknownDataTypeWarning, match="kind 'x'") as record:
        site.warn("kind 'x' is not known", UnknownDataTypeWarning)
    assert (record[0].filename, record[0].lineno) == ("<stdin>", 3)


def test_a_warning_filter_that_makes_it_an_error_still_raises_it() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnknownDataTypeWarning)
        with pytest.raises(UnknownDataTypeWarning):
            warn_at("m", UnknownDataTypeWarning, "<stdin>", 1, module_globals=prompt_globals())


def test_a_failing_showwarning_hook_falls_back_to_the_log(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("stderr is closed")

    monkeypatch.setattr(warnings, "showwarning", broken)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        monkeypatch.setattr(warnings, "showwarning", broken)
        warn_at("kind 'x' is not known", UnknownDataTypeWarning, "<stdin>", 1)
    assert "kind 'x' is not known" in caplog.text


async def test_a_bulk_call_from_a_prompt_keeps_every_result(
    router: respx.MockRouter, make_client: ClientFactory
) -> None:
    """The crash seen in a plain Python prompt: every fetched result was lost."""
    FakeAPI(router, {"x1": "rheed_image", "o1": "oes"})
    namespace: dict[str, Any] = {**prompt_globals(), "make_client": make_client}
    code = compile(
        textwrap.dedent(
            """
            async def fetch():
                async with make_client() as client:
                    return await client.get(["x1", "o1"])
            """
        ),
        "<stdin>",
        "exec",
    )
    exec(code, namespace)
    with pytest.warns(UnknownDataTypeWarning) as record:
        results = await namespace["fetch"]()
    assert [r.data_id for r in results] == ["x1", "o1"]
    assert isinstance(results[0], UnknownResult)
    assert record[0].filename == "<stdin>"


async def test_a_showwarning_hook_that_raises_loses_no_result(
    router: respx.MockRouter,
    make_client: ClientFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("a hook of the caller's tooling")

    FakeAPI(router, {"x1": "rheed_image", "o1": "oes"})
    caplog.set_level(logging.WARNING, logger="atomscale_async")
    async with make_client() as client:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            monkeypatch.setattr(warnings, "showwarning", broken)
            results = await client.get(["x1", "o1"])
    assert [r.data_id for r in results] == ["x1", "o1"]
    assert "rheed_image" in caplog.text


# -- the same, in real interpreters: python -c, a piped script, python -i ---------------

SCRIPT = """\
from atomscale_async import Client, UnknownResult
with Client() as c:
    found = c.search(data_type=["rheed_image", "oes"])
    r = c.get(found.data_ids[:40])

print("fetched", len(r), sum(isinstance(x, UnknownResult) for x in r) > 0)
"""


@pytest.fixture(scope="module")
def sandbox_env() -> Iterator[dict[str, str]]:
    from atomscale_async.sandbox import SandboxServer

    with SandboxServer(entries=400) as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ATOMSCALE_")}
        env["ATOMSCALE_BASE_URL"] = server.base_url
        env["ATOMSCALE_API_KEY"] = server.api_key or ""
        yield env


@pytest.mark.parametrize(
    ("args", "stdin"),
    [
        pytest.param(["-c", SCRIPT], None, id="python -c"),
        pytest.param(["-"], SCRIPT, id="piped to python -"),
        pytest.param(["-i", "-q"], SCRIPT + "\n", id="python -i"),
    ],
)
def test_get_in_a_plain_interpreter_warns_and_returns_the_results(
    sandbox_env: dict[str, str], args: list[str], stdin: str | None
) -> None:
    done = subprocess.run(
        [sys.executable, "-W", "default", *args],
        input=stdin,
        env=sandbox_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert "fetched 40 True" in done.stdout, (done.stdout, done.stderr)
    assert "UnknownDataTypeWarning" in done.stderr
