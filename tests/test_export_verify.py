"""A resume checks what an earlier run wrote; ``verify`` checks a finished export.

Each way a Parquet part can be damaged (bytes flipped in its data pages, cut
short, zeroed, emptied, gone) is refused by a resume with ``ExportCorruptError``
naming the part, repaired with ``repair=True`` (moved aside, its ids fetched
again), and reported by ``verify=True`` without fetching anything.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import respx

from atomscale_async import Client, DamagedPart, ExportCorruptError, ExportSummary
from atomscale_async._cli import main
from atomscale_async.sandbox import SandboxServer

from .conftest import API_KEY, BASE_URL, ClientFactory
from .test_bulk import FakeAPI, kinds_of

pytestmark = pytest.mark.anyio
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
ds = pytest.importorskip("pyarrow.dataset")

DAMAGED = "kind=oes/part-00001.parquet"


# ----------------------------------------------------------------------- the damage done


def flip_data_page(part: Path) -> None:
    """Flip 64 bytes in the middle of the largest column chunk: inside its data pages."""
    row_group = pq.ParquetFile(part).metadata.row_group(0)
    chunk = max(
        (row_group.column(i) for i in range(row_group.num_columns)),
        key=lambda column: column.total_compressed_size,
    )
    first_page = chunk.dictionary_page_offset or chunk.data_page_offset
    start = first_page + chunk.total_compressed_size // 2
    data = bytearray(part.read_bytes())
    assert start + 64 < len(data) - 8, "inside the data, before the footer"
    for i in range(start, start + 64):
        data[i] ^= 0xFF
    part.write_bytes(bytes(data))


def truncate(part: Path) -> None:
    os.truncate(part, part.stat().st_size // 2)


def zero(part: Path) -> None:
    part.write_bytes(bytes(part.stat().st_size))


def empty(part: Path) -> None:
    part.write_bytes(b"")


def remove(part: Path) -> None:
    part.unlink()


DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "flipped": (flip_data_page, "does not decode"),
    "truncated": (truncate, "footer does not read"),
    "zeroed": (zero, "footer does not read"),
    "empty": (empty, "empty (0 bytes)"),
    "missing": (remove, "missing"),
}


@pytest.fixture(params=list(DAMAGE))
def damage(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def snapshot(root: Path) -> dict[str, bytes]:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


def read_kind(root: Path, kind: str) -> Any:
    """Every row of one kind, checked to the last value, in id order."""
    table = ds.dataset(root / f"kind={kind}", format="parquet").to_table()
    table.validate(full=True)
    return table.sort_by("data_id")


async def exported(
    router: respx.MockRouter, make_client: ClientFactory, root: Path, n: int = 12
) -> tuple[FakeAPI, dict[str, str], list[str]]:
    """An export of ``n`` ids, 3 rows a part; the ids of the part to be damaged."""
    kinds = kinds_of(n)
    api = FakeAPI(router, kinds)
    async with make_client() as client:
        summary = await client.export(list(kinds), root, rows_per_part=3)
    assert summary.complete
    part_ids = pq.read_table(root / DAMAGED, columns=["data_id"]).column("data_id").to_pylist()
    api.fetched.clear()
    return api, kinds, part_ids


# ------------------------------------------------------------------------------ resume


async def test_resume_refuses_a_damaged_part_naming_it_and_how_to_repair(
    router: respx.MockRouter, make_client: ClientFactory, tmp_path: Path, damage: str
) -> None:
    root = tmp_path / "pull.parquet"
    api, kinds, part_ids = await exported(router, make_client, root)
    spoil, problem = DAMAGE[damage]
    spoil(root / DAMAGED)
    before = snapshot(root)
    async with make_client() as client:
        with pytest.raises(ExportCorruptError) as caught:
            await client.export(list(kinds), root, rows_per_part=3)
    error = caught.value
    assert not isinstance(error, pa.ArrowException)
    assert error.__context__ is None
    assert error.__cause__ is None
    assert isinstance(error, ValueError)
    (part,) = error.damaged
    assert (part.name, part.path, part.moved_to) == (DAMAGED, root / DAMAGED, None)
    assert problem in part.problem
    assert sorted(part.data_ids) == sorted(part_ids), "the ids it held, from the list"
    message = str(error)
    assert DAMAGED in message
    assert problem in message
    assert "repair=True" in message
    assert "--repair" in message
    assert api.fetched == [], "nothing fetched"
    assert snapshot(root) == before, "nothing changed"


async def test_resume_with_repair_moves_the_part_aside_and_fetches_its_ids_again(
    router: respx.MockRouter, make_client: ClientFactory, tmp_path: Path, damage: str
) -> None:
    root = tmp_path / "pull.parquet"
    api, kinds, part_ids = await exported(router, make_client, root)
    spoil, problem = DAMAGE[damage]
    spoil(root / DAMAGED)
    spoiled = None if damage == "missing" else (root / DAMAGED).read_bytes()
    async with make_client() as client:
        summary = await client.export(list(kinds), root, rows_per_part=3, repair=True)
        clean = tmp_path / "clean.parquet"
        await client.export(list(kinds), clean, rows_per_part=3)
    assert sorted(api.fetched[: len(part_ids)]) == sorted(part_ids), "only its ids again"
    assert (summary.total, summary.skipped, summary.succeeded) == (12, 9, 3)
    assert summary.complete
    (part,) = summary.damaged
    assert part.name == DAMAGED
    assert problem in part.problem
    assert part.repaired
    if spoiled is None:
        assert part.moved_to is None
    else:
        assert part.moved_to == root / "_damaged" / DAMAGED
        assert part.moved_to.read_bytes() == spoiled, "moved, not deleted"
    for kind in ("oes", "sims"):
        assert read_kind(root, kind).equals(read_kind(clean, kind)), "every record, intact"
    everything = ds.dataset(root, format="parquet", partitioning="hive").to_table()
    assert sorted(everything.column("data_id").to_pylist()) == sorted(kinds)
    async with make_client() as client:
        again = await client.export(list(kinds), root, verify=True)
    assert again.complete
    assert again.damaged == ()


async def test_repair_fetches_a_moved_parts_ids_even_when_not_asked_again(
    router: respx.MockRouter, make_client: ClientFactory, tmp_path: Path
) -> None:
    root = tmp_path / "pull.parquet"
    api, kinds, part_ids = await exported(router, make_client, root)
    truncate(root / DAMAGED)
    others = [data_id for data_id in kinds if data_id not in part_ids]
    async with make_client() as client:
        summary = await client.export(others, root, rows_per_part=3, repair=True)
    assert sorted(api.fetched) == sorted(part_ids)
    assert summary.complete
    assert summary.total == 12
    assert sorted(read_kind(root, "oes").column("data_id").to_pylist()) == sorted(
        i for i, kind in kinds.items() if kind == "oes"
    )


async def test_a_part_rewritten_with_other_values_is_damaged_though_it_decodes(
    router: respx.MockRouter, make_client: ClientFactory, tmp_path: Path
) -> None:
    root = tmp_path / "pull.parquet"
    _, kinds, _ = await exported(router, make_client, root)
    table = pq.read_table(root / DAMAGED)
    column = table.schema.get_field_index("wavelength_unit")
    values = pa.array(["pm"] * len(table), pa.string())
    pq.write_table(table.set_column(column, table.schema.field(column), values), root / DAMAGED)
    async with make_client() as client:
        with pytest.raises(ExportCorruptError, match="SHA-256"):
            await client.export(list(kinds), root, rows_per_part=3)


async def test_a_part_written_but_not_yet_listed_is_checked_and_listed(
    router: respx.MockRouter, make_client: ClientFactory, tmp_path: Path
) -> None:
    root = tmp_path / "pull.parquet"
    api, kinds, _ = await exported(router, make_client, root)
    listing = root / "_parts.jsonl"
    lines = listing.read_bytes().splitlines(keepends=True)
    assert len(lines) == 4
    listing.write_bytes(b"".join(lines[:-1]) + lines[-1][:20])  # killed while listing it
    async with make_client() as client:
        summary = await client.export(list(kinds), root, rows_per_part=3)
        assert (summary.skipped, summary.succeeded) == (12, 0)
        listing.unlink()  # an export from before parts were listed
        summary = await client.export(list(kinds), root, rows_per_part=3)
    assert (summary.skipped, summary.succeeded) == (12, 0)
    assert api.fetched == []
    assert sorted(lines) == sorted(listing.read_bytes().splitlines(keepends=True))


async def test_a_damaged_list_of_parts_is_refused_and_rebuilt_by_repair(
    router: respx.MockRouter, make_client: ClientFactory, tmp_path: Path
) -> None:
    root = tmp_path / "pull.parquet"
    api, kinds, _ = await exported(router, make_client, root)
    listing = root / "_parts.jsonl"
    lines = listing.read_bytes().splitlines(keepends=True)
    listing.write_bytes(lines[0] + b"not a part record\n" + b"".join(lines[1:]))
    async with make_client() as client:
        with pytest.raises(ExportCorruptError, match=r"_parts\.jsonl: line 2"):
            await client.export(list(kinds), root, rows_per_part=3)
        summary = await client.export(list(kinds), root, rows_per_part=3, repair=True)
        assert summary.complete
        assert api.fetched == []
        assert (root / "_damaged" / "_parts.jsonl").exists()
        assert (await client.export(list(kinds), root, verify=True)).complete
    assert sorted(lines) == sorted(listing.read_bytes().splitlines(keepends=True))


async def test_a_part_named_outside_the_dataset_in_the_list_is_ignored(
    router: respx.MockRouter, make_client: ClientFactory, tmp_path: Path
) -> None:
    root = tmp_path / "pull.parquet"
    _, kinds, _ = await exported(router, make_client, root)
    outside = tmp_path / "precious.parquet"
    outside.write_bytes(b"not yours")
    listing = root / "_parts.jsonl"
    record = {"part": "../precious.parquet", "rows": 1, "sha256": "0", "data_ids": ["x"]}
    listing.write_bytes(orjson.dumps(record) + b"\n" + listing.read_bytes())
    async with make_client() as client:
        with pytest.raises(ExportCorruptError, match="line 1 is not a part record"):
            await client.export(list(kinds), root, rows_per_part=3)
        await client.export(list(kinds), root, rows_per_part=3, repair=True)
    assert outside.read_bytes() == b"not yours"


# ------------------------------------------------------------------------------ verify


async def test_verify_reports_the_damage_and_fetches_and_changes_nothing(
    router: respx.MockRouter, make_client: ClientFactory, tmp_path: Path, damage: str
) -> None:
    root = tmp_path / "pull.parquet"
    api, kinds, part_ids = await exported(router, make_client, root)
    async with make_client() as client:
        sound = await client.export(list(kinds), root, verify=True)
        assert sound == ExportSummary(
            path=root, format="parquet", total=12, skipped=12, succeeded=0, failed=0
        )
        assert sound.complete
        spoil, problem = DAMAGE[damage]
        spoil(root / DAMAGED)
        before = snapshot(root)
        found = await client.export(list(kinds), root, verify=True)
        everything = await client.export([], root, verify=True)
    assert not found.complete
    (part,) = found.damaged
    assert (part.name, part.repaired, part.moved_to) == (DAMAGED, False, None)
    assert problem in part.problem
    assert sorted(part.data_ids) == sorted(part_ids)
    assert (found.total, found.skipped) == (12, 9)
    assert (everything.total, everything.skipped, everything.damaged) == (12, 9, found.damaged)
    assert api.fetched == []
    assert snapshot(root) == before


async def test_verify_counts_ids_asked_that_are_not_written_or_failed(
    router: respx.MockRouter, make_client: ClientFactory, tmp_path: Path
) -> None:
    import httpx

    kinds = kinds_of(6)
    api = FakeAPI(router, kinds)
    api.fail["id-00002"] = httpx.Response(500, json={"detail": "boom"})
    root = tmp_path / "pull.parquet"
    async with make_client(max_retries=0) as client:
        await client.export(list(kinds), root)
        found = await client.export([*kinds, "never-asked"], root, verify=True)
    assert (found.total, found.skipped, found.failed, found.damaged) == (7, 5, 1, ())
    assert not found.complete


async def test_verify_is_refused_while_an_export_writes(
    router: respx.MockRouter, make_client: ClientFactory, tmp_path: Path
) -> None:
    from atomscale_async._parquet import ParquetDataset

    root = tmp_path / "pull.parquet"
    _, kinds, _ = await exported(router, make_client, root)
    writing = ParquetDataset(root, rows_per_part=3)
    writing.open(overwrite=False)
    try:
        async with make_client() as client:
            with pytest.raises(BlockingIOError, match="being written by another export"):
                await client.export(list(kinds), root, verify=True)
    finally:
        writing.close(compact=False)


async def test_verify_and_repair_refuse_what_contradicts_them(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    root = tmp_path / "pull.parquet"
    async with make_client() as client:
        for options in ({"verify": True, "overwrite": True}, {"verify": True, "repair": True}):
            with pytest.raises(ValueError, match="verify=True"):
                await client.export(["a"], root, **options)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="pass one of them"):
            await client.export(["a"], root, repair=True, overwrite=True)
        with pytest.raises(FileNotFoundError, match="no Parquet export here"):
            await client.export(["a"], root, verify=True)
        with pytest.raises(FileNotFoundError, match="no JSON Lines export here"):
            await client.export(["a"], tmp_path / "pull.jsonl", verify=True)
    assert not os.listdir(tmp_path)


async def test_verify_checks_json_lines_as_a_resume_reads_them(
    router: respx.MockRouter, make_client: ClientFactory, tmp_path: Path
) -> None:
    kinds = kinds_of(4)
    FakeAPI(router, kinds)
    path = tmp_path / "pull.jsonl"
    async with make_client() as client:
        await client.export(list(kinds), path)
        assert (await client.export(list(kinds), path, verify=True)).complete
        sound = path.read_bytes()
        path.write_bytes(sound + b'{"data_id": "id-9", "da')  # a run killed mid-line
        torn = await client.export(list(kinds), path, verify=True)
        assert path.read_bytes() == sound + b'{"data_id": "id-9", "da', "left as it is"
        path.write_bytes(b"not an export\n" + sound)
        foreign = await client.export(list(kinds), path, verify=True)
    (part,) = torn.damaged
    assert "last line (23 bytes) is torn" in part.problem
    assert not torn.complete
    assert torn.skipped == 4
    (part,) = foreign.damaged
    assert part == DamagedPart(
        path=path, name="pull.jsonl", problem="line 1 is not a record written by export"
    )


def test_the_sync_client_verifies_and_repairs(router: respx.MockRouter, tmp_path: Path) -> None:
    kinds = kinds_of(6)
    api = FakeAPI(router, kinds)
    root = tmp_path / "pull.parquet"
    with Client(API_KEY, base_url=BASE_URL) as client:
        client.export(list(kinds), root, rows_per_part=2)
        part = root / "kind=sims" / "part-00000.parquet"
        zero(part)
        found = client.export(list(kinds), root, verify=True)
        assert [p.name for p in found.damaged] == ["kind=sims/part-00000.parquet"]
        with pytest.raises(ExportCorruptError, match=r"kind=sims/part-00000\.parquet"):
            client.export(list(kinds), root, rows_per_part=2)
        api.fetched.clear()
        repaired = client.export(list(kinds), root, rows_per_part=2, repair=True)
        assert client.export(list(kinds), root, verify=True).complete
    assert sorted(api.fetched) == ["id-00000", "id-00002"]
    assert repaired.complete


# --------------------------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(entries=40, seed=8) as server:
        yield server


def test_cli_verify_resume_and_repair(
    server: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api = ["--base-url", server.base_url, "--api-key", "sandbox-key"]
    ids = [*server.state.oes_ids()[:3], *server.state.sims_ids()[:3]]
    out = tmp_path / "pull.parquet"
    assert main([*api, "get", *ids, "--out", str(out)]) == 0
    capsys.readouterr()

    assert main(["get", "--verify", "--out", str(out)]) == 0, "no ids, no key needed"
    assert "OK: 6 records" in capsys.readouterr().err
    assert main(["get", *ids, "--verify", "--out", str(out)]) == 0
    assert "OK: 6 records, every id asked" in capsys.readouterr().err

    flip_data_page(out / "kind=oes" / "part-00000.parquet")
    assert main(["get", *ids, "--verify", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "error: kind=oes/part-00000.parquet: its data does not decode" in err
    assert "--resume --repair" in err

    assert main([*api, "get", *ids, "--out", str(out), "--resume"]) == 1
    err = capsys.readouterr().err
    assert "kind=oes/part-00000.parquet" in err
    assert "--resume --repair" in err
    assert "Traceback" not in err
    assert "ArrowInvalid" not in err

    assert main([*api, "get", *ids, "--out", str(out), "--resume", "--repair"]) == 0
    err = capsys.readouterr().err
    aside = out / "_damaged" / "kind=oes" / "part-00000.parquet"
    assert f"moved the damaged kind=oes/part-00000.parquet aside to {aside}; its 3 ids" in err
    assert aside.exists()
    assert main(["get", *ids, "--verify", "--out", str(out)]) == 0
    capsys.readouterr()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["get", "a", "--repair", "--out", "x.parquet"], "--repair needs --resume"),
        (["get", "a", "--verify"], "--verify needs --out"),
        (["get", "--verify", "--resume", "--out", "x.parquet"], "--verify checks"),
        (["get", "--verify", "--overwrite", "--out", "x.parquet"], "--verify checks"),
        (["get", "--verify", "--out", "x.json"], "cannot be resumed"),
    ],
)
def test_cli_verify_and_repair_usage_errors(
    args: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_cli_verify_of_nothing_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["get", "--verify", "--out", str(tmp_path / "none.parquet")]) == 1
    assert "no Parquet export here to verify" in capsys.readouterr().err
