"""The blocking facade: same API, one loop thread, works in a running loop, cancels on Ctrl-C."""

from __future__ import annotations

import _thread
import asyncio
import inspect
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import anyio
import httpx
import pytest
import respx

from atomscale_async import AsyncClient, Client, NotFoundError, OESResult, SIMSResult

from .conftest import API_KEY, BASE_URL
from .payloads import CREATED_SAMPLE, INSTRUMENT, OES, SIMS_PROFILE, TARGET_MATERIAL

LOOP_THREAD = "atomscale-async-loop"


def loop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == LOOP_THREAD and t.is_alive()]


@pytest.fixture
def client(router: respx.MockRouter) -> Iterator[Client]:
    with Client(API_KEY, base_url=BASE_URL) as c:
        yield c


def test_every_endpoint_blocks_and_returns_models(router: respx.MockRouter, client: Client) -> None:
    router.get("instruments/synthesis/").respond(json=[INSTRUMENT])
    router.get("target-materials/").respond(json=[TARGET_MATERIAL])
    router.post("target-materials/").respond(201, json=CREATED_SAMPLE)
    router.get("sims/x").respond(json=[SIMS_PROFILE])
    router.get("oes/x").respond(json=OES)
    router.get("data_entries/").respond(json=[{"data_id": "x", "char_source_type": "sims"}])
    assert client.synthesis_instruments.list()[0].id == 7
    assert client.target_materials.list()[0].sample_id == 42
    assert (
        client.target_materials.create(sample={"sample_name": "s", "substrate": "Si"}).sample_id
        == 42
    )
    assert isinstance(client.sims.get("x"), SIMSResult)
    assert isinstance(client.oes.get("x"), OESResult)
    assert client.data_entries.list(data_ids=["x"])[0].char_source_type == "sims"


def test_errors_cross_the_thread_unchanged(router: respx.MockRouter, client: Client) -> None:
    router.get("oes/missing").respond(404, json={"detail": "no such entry"})
    with pytest.raises(NotFoundError, match="no such entry"):
        client.oes.get("missing")


def test_methods_mirror_the_async_ones() -> None:
    sync, async_ = Client(API_KEY), AsyncClient(API_KEY)
    try:
        areas = [name for name in vars(async_) if not name.startswith("_")]
        assert areas == [
            "synthesis_instruments",
            "target_materials",
            "sims",
            "oes",
            "xps",
            "xrd",
            "photoluminescence",
            "raman",
            "physical_samples",
            "projects",
            "data_entries",
            "uploads",
            "data_files",
        ]
        for area in areas:
            sync_area, async_area = getattr(sync, area), getattr(async_, area)
            methods = [m for m in dir(async_area) if not m.startswith("_")]
            assert methods == [m for m in dir(sync_area) if not m.startswith("_")]
            for name in methods:
                s, a = getattr(sync_area, name), getattr(async_area, name)
                assert inspect.iscoroutinefunction(a)
                assert not inspect.iscoroutinefunction(s)
                assert inspect.signature(s) == inspect.signature(a)
                assert s.__doc__ == a.__doc__
        assert inspect.signature(Client.__init__) == inspect.signature(AsyncClient.__init__)
        assert inspect.signature(Client.with_options) == inspect.signature(AsyncClient.with_options)
        for name in ("get", "iter_results", "export"):
            s, a = getattr(Client, name), getattr(AsyncClient, name)
            assert inspect.signature(s).parameters == inspect.signature(a).parameters
            sync_doc, async_doc = inspect.getdoc(s) or "", inspect.getdoc(a) or "-"
            assert sync_doc.startswith(async_doc)
            assert "In ``Client`` this blocks" in sync_doc
    finally:
        sync.close()


def test_works_inside_a_running_event_loop(router: respx.MockRouter, client: Client) -> None:
    router.get("oes/x").respond(json=OES)

    async def notebook_cell() -> str:
        return client.oes.get("x").id  # a blocking call, as in Jupyter

    assert asyncio.run(notebook_cell()) == "oes_001"


def test_safe_to_share_between_threads(router: respx.MockRouter, client: Client) -> None:
    router.get(url__regex=r"/oes/.*").respond(json=OES)
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda i: client.oes.get(f"id{i}").id, range(64)))
    assert ids == ["oes_001"] * 64


def test_one_thread_for_the_client_life_and_none_after_close(router: respx.MockRouter) -> None:
    router.get("oes/x").respond(json=OES)
    before = len(loop_threads())
    client = Client(API_KEY, base_url=BASE_URL)
    copy = client.with_options(timeout=10)
    assert len(loop_threads()) == before + 1
    for _ in range(3):
        client.oes.get("x")
        copy.oes.get("x")
    assert len(loop_threads()) == before + 1
    client.close()
    assert len(loop_threads()) == before
    assert client.is_closed
    assert copy.is_closed
    with pytest.raises(RuntimeError, match="closed"):
        client.oes.get("x")
    client.close()  # idempotent


def test_with_block_closes(router: respx.MockRouter) -> None:
    with Client(API_KEY, base_url=BASE_URL) as client:
        pass
    assert client.is_closed
    assert not loop_threads()


def test_copy_keeps_the_loop_alive_after_the_original_is_dropped(router: respx.MockRouter) -> None:
    router.get("oes/x").respond(json=OES)
    copy = Client(API_KEY, base_url=BASE_URL).with_options(max_retries=0)
    import gc

    gc.collect()
    assert copy.oes.get("x").id == "oes_001"
    copy.close()


def test_an_unclosed_client_does_not_keep_the_interpreter_alive() -> None:
    code = "import atomscale_async as a\nc = a.Client('k')\nprint('bye')\n"
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert out.stdout == "bye\n"
    assert out.stderr == ""
    assert time.monotonic() - started < 20


def test_ctrl_c_cancels_the_running_call(router: respx.MockRouter, client: Client) -> None:
    state = {"started": False, "cancelled": False}

    async def hang(request: httpx.Request) -> httpx.Response:
        state["started"] = True
        try:
            await anyio.sleep(60)
        except anyio.get_cancelled_exc_class():
            state["cancelled"] = True
            raise
        return httpx.Response(200, json=OES)

    router.get("oes/slow").mock(side_effect=hang)
    router.get("oes/x").respond(json=OES)

    def interrupt() -> None:
        while not state["started"]:
            time.sleep(0.01)
        _thread.interrupt_main()

    threading.Thread(target=interrupt, daemon=True).start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        client.oes.get("slow")
    assert time.monotonic() - started < 10
    assert state["cancelled"], "the coroutine was left running"
    assert client.oes.get("x").id == "oes_001", "the client stays usable"


def test_the_sync_client_drives_a_user_http_client_on_its_loop(router: respx.MockRouter) -> None:
    route = router.get("oes/x").respond(json=OES)
    http = httpx.AsyncClient(headers={"X-Trace": "sync"})
    with Client(API_KEY, base_url=BASE_URL, http_client=http) as client:
        client.oes.get("x")
    assert route.calls.last.request.headers["X-Trace"] == "sync"
