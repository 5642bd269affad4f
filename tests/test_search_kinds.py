"""The kinds a search takes: an unknown one refused before anything is sent, an alias one kind."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

import httpx
import orjson
import pytest
import respx

from atomscale_async import AsyncClient, Client, DataEntry, SearchResult
from atomscale_async._cli import main
from atomscale_async._cli._demo import DemoReport
from atomscale_async._cli._output import Output
from atomscale_async._generated.kinds import KINDS, UNTYPED_KINDS
from atomscale_async.sandbox import SandboxServer

from .conftest import ClientFactory

KEY = "sandbox-key"
UNTYPED = (
    "rheed_image",
    "rheed",
    "rheed_stationary",
    "rheed_rotating",
    "rheed_xscan",
    "optical",
    "metrology",
    "tool_state",
    "recipe",
    "ellipsometry",
)


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(entries=400, seed=11) as server:
        yield server


@pytest.fixture
def literal(router: respx.MockRouter) -> list[httpx.Request]:
    """A catalogue that matches `data_type` by its exact name, as a server may."""
    seen: list[httpx.Request] = []
    stored = [
        {"data_id": "pl-long", "char_source_type": "photoluminescence"},
        {"data_id": "pl-short", "char_source_type": "pl"},
        {"data_id": "x", "char_source_type": "xps"},
        {"data_id": "r", "char_source_type": "rheed_image"},
    ]

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        kind = request.url.params.get("data_type")
        return httpx.Response(
            200, json=[e for e in stored if kind is None or e["char_source_type"] == kind]
        )

    router.get("data_entries/").mock(side_effect=answer)
    return seen


# ------------------------------------------------------------------ unknown kinds


@pytest.mark.parametrize(
    ("data_type", "bad", "hint"),
    [
        ("eos", "eos", "oes"),
        (["xps", "ramen"], "ramen", "raman"),
        ("XPS", "XPS", "xps"),
        ("rheed_imgae", "rheed_imgae", "rheed_image"),
        ("oes,sims", "oes,sims", None),
    ],
)
@pytest.mark.anyio
async def test_an_unknown_kind_is_refused_before_anything_is_sent(
    literal: list[httpx.Request],
    make_client: ClientFactory,
    data_type: str | list[str],
    bad: str,
    hint: str | None,
) -> None:
    async with make_client() as client:
        with pytest.raises(ValueError, match="data_type") as raised:
            await client.search(data_type=data_type)
    message = str(raised.value)
    assert repr(bad) in message
    assert f"valid kinds: {', '.join((*KINDS, *UNTYPED))})" in message
    if hint is not None:
        assert f"did you mean {hint!r}?" in message
    assert literal == []


@pytest.mark.anyio
async def test_kinds_the_catalogue_lists_but_the_sdk_does_not_type_are_searchable(
    literal: list[httpx.Request], make_client: ClientFactory
) -> None:
    async with make_client() as client:
        rheed = await client.search(data_type="rheed_image")
        others = await client.search(data_type=[k for k in UNTYPED if k != "rheed_image"])
    assert rheed.data_ids == ["r"]
    assert others.data_ids == []
    assert [r.url.params["data_type"] for r in literal] == list(UNTYPED)


def test_the_untyped_kinds_are_declared_once_in_the_kind_table() -> None:
    assert UNTYPED_KINDS == UNTYPED
    assert not set(UNTYPED_KINDS) & set(KINDS)


def test_the_blocking_search_refuses_an_unknown_kind_without_a_request(
    server: SandboxServer,
) -> None:
    with Client(api_key=server.api_key, base_url=server.base_url) as client:
        before = server.stats().requests
        with pytest.raises(ValueError, match=r"data_type.*'eos'.*did you mean 'oes'\?"):
            client.search(data_type="eos")
        assert server.stats().requests == before
        assert client.search(data_type="rheed_image")


# ------------------------------------------------------------------ one kind, one name


@pytest.mark.parametrize("name", ["photoluminescence", "pl"])
@pytest.mark.anyio
async def test_a_kind_finds_the_entries_stored_under_its_alias(
    literal: list[httpx.Request], make_client: ClientFactory, name: str
) -> None:
    async with make_client() as client:
        found = await client.search(data_type=name)
        both = await client.search(data_type=["pl", "photoluminescence"])
    assert sorted(found.data_ids) == ["pl-long", "pl-short"]
    assert both == found
    sent = [r.url.params["data_type"] for r in literal]
    assert sorted(sent[:2]) == ["photoluminescence", "pl"]
    assert sent[2:] == sent[:2]  # each name once, however the kind was named
    assert list(found.by_kind()) == ["photoluminescence"]
    assert [e.char_source_type for e in found.by_kind()["photoluminescence"]] == [
        e.char_source_type for e in found
    ]


@pytest.mark.anyio
async def test_the_sandbox_search_groups_an_alias_under_its_kind(
    server: SandboxServer,
) -> None:
    short, long = set(server.state.ids("pl")), set(server.state.ids("photoluminescence"))
    assert short
    assert long
    stored = short | long
    async with AsyncClient(api_key=server.api_key, base_url=server.base_url) as client:
        found = await client.search(data_type="photoluminescence")
        everything = await client.search()
    assert set(found.data_ids) == stored
    assert set(found.by_kind()) == {"photoluminescence"}
    assert set(found.by_kind()["photoluminescence"].data_ids) == stored
    groups = everything.by_kind()
    assert "pl" not in groups
    assert set(groups["photoluminescence"].data_ids) == stored
    assert f"photoluminescence {len(stored)}" in repr(everything)
    assert "pl " not in repr(everything)


def test_an_entry_says_its_kind_and_keeps_the_catalogue_name() -> None:
    short = DataEntry(data_id="a", char_source_type="pl")
    assert short.kind == "photoluminescence"
    assert short.char_source_type == "pl"
    assert DataEntry(data_id="b", char_source_type="xps").kind == "xps"
    assert DataEntry(data_id="c", char_source_type="rheed_image").kind == "rheed_image"
    assert DataEntry(data_id="d", char_source_type="hologram").kind == "hologram"
    assert "kind" not in short.to_dict()  # the wire form is what the catalogue sent


def test_search_frames_use_the_kind() -> None:
    pytest.importorskip("pandas")
    found = SearchResult(
        [
            DataEntry(data_id="a", char_source_type="pl"),
            DataEntry(data_id="b", char_source_type="xps"),
        ]
    )
    assert list(found.to_pandas()["kind"]) == ["photoluminescence", "xps"]
    assert "<td>photoluminescence</td>" in found._repr_html_()


def test_the_demo_counts_an_alias_under_its_kind() -> None:
    report = DemoReport({"a": "pl", "b": "photoluminescence"})
    report.add("a", RuntimeError("boom"))
    report.add("b", RuntimeError("boom"))
    stdout, stderr = io.StringIO(), io.StringIO()
    report.render(Output(stdout, stderr, "table", None))
    assert report.failed == {"photoluminescence": 2}
    rows = re.findall(r"^(\w+) +\d", stdout.getvalue(), re.M)
    assert rows == ["photoluminescence", "total"]


# ------------------------------------------------------------------ the command line


def _search(capsys: pytest.CaptureFixture[str], server: SandboxServer, *args: str) -> str:
    code = main(["--base-url", server.base_url, "--api-key", KEY, "search", *args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def test_the_command_line_splits_a_comma_separated_kind(
    capsys: pytest.CaptureFixture[str], server: SandboxServer
) -> None:
    ids = _search(capsys, server, "--data-type=oes,sims", "--format", "ids").split()
    assert ids
    assert set(ids) == set(server.state.ids("oes")) | set(server.state.ids("sims"))
    mixed = _search(
        capsys, server, "--data-type", "xps, raman", "--data-type", "oes", "--format", "ids"
    )
    wanted = {k: set(server.state.ids(k)) for k in ("xps", "raman", "oes")}
    assert set(mixed.split()) == set().union(*wanted.values())


@pytest.mark.parametrize(
    ("flags", "bad", "hint"),
    [
        (["--data-type", "eos"], "eos", "oes"),
        (["--data-type=oes,eos"], "eos", "oes"),
        (["--data-type", "xps", "--data-type", "ramen"], "ramen", "raman"),
        (["--data-type", "oes,,sims"], "", None),
    ],
)
def test_the_command_line_refuses_an_unknown_kind(
    capsys: pytest.CaptureFixture[str],
    server: SandboxServer,
    flags: list[str],
    bad: str,
    hint: str | None,
) -> None:
    before = server.stats().requests
    code = main(["--base-url", server.base_url, "--api-key", KEY, "search", *flags])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    [line] = captured.err.strip().splitlines()
    assert "--data-type" in line
    if bad:
        assert repr(bad) in line
    if hint is not None:
        assert f"did you mean {hint!r}?" in line
    assert server.stats().requests == before


def test_the_command_line_tables_show_the_kind(
    capsys: pytest.CaptureFixture[str], server: SandboxServer
) -> None:
    short = set(server.state.ids("pl"))
    assert short
    table = _search(capsys, server, "--data-type", "pl", "--format", "table")
    rows = [line.split() for line in table.splitlines()[1:] if line.strip()]
    assert {row[0] for row in rows} >= short
    assert {row[1] for row in rows} == {"photoluminescence"}
    rows_csv = list(
        csv.DictReader(io.StringIO(_search(capsys, server, "--data-type", "pl", "--format", "csv")))
    )
    assert {r["kind"] for r in rows_csv} == {"photoluminescence"}
    assert {r["char_source_type"] for r in rows_csv} == {"photoluminescence", "pl"}
    as_json = orjson.loads(_search(capsys, server, "--data-type", "pl", "--format", "json"))
    assert {e["kind"] for e in as_json} == {"photoluminescence"}
    assert {e["char_source_type"] for e in as_json} == {"photoluminescence", "pl"}
