"""Resumable export: JSON Lines and Parquet, resume, torn lines, compaction, progress."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx
import orjson
import pytest
import respx

from atomscale_async import Client, DataEntry, ExportSummary, MissingExtraError, Outcome
from atomscale_async._export import outcome_record

from .conftest import API_KEY, BASE_URL, ClientFactory
from .test_bulk import FakeAPI, kinds_of

pytestmark = pytest.mark.anyio


def read_records(path: Path) -> list[dict[str, Any]]:
    data = path.read_bytes()
    assert not data or data.endswith(b"\n"), "no torn last line"
    return [orjson.loads(line) for line in data.splitlines()]


def successes(records: list[dict[str, Any]]) -> list[str]:
    return [r["data_id"] for r in records if "error" not in r]


def failures(records: list[dict[str, Any]]) -> list[str]:
    return [r["data_id"] for r in records if "error" in r]


async def test_each_id_becomes_the_record_get_out_writes(
    router: respx.MockRouter, make_client: ClientFactory, tmp_path: Path
) -> None:
    kinds = kinds_of(6)
    api = FakeAPI(router, kinds)
    api.fail["id-00002"] = httpx.Response(500, json={"detail": "boom"})
    path = tmp_path / "pull.jsonl"
    async with make_client(max_retries=0) as client:
        summary = await client.export(list(kinds), path)
        expected = {o.data_id: outcome_record(o) async for o in client.iter_results(list(kinds))}
    records = read_records(path)
    assert {r["data_id"]: r for r in records} == expected
    assert len(records) == 6
    oes = next(r for r in records if r["data_id"] == "id-00001")
    assert oes["data_type"] == "oes"
    assert oes["result"]["data_id"] == "id-00001"
    failed = next(r for r in records if r["data_id"] == "id-00002")
    assert failed["error"]["type"] == "InternalServerError"
    assert "boom" in failed["error"]["message"]
    assert summary == ExportSummary(
        path=path, format="jsonl", total=6, skipped=0, succeeded=5, failed=1
    )
    assert not summary.complete


async def test_a_later_run_skips_what_is_done_and_retries_failures(
    router: respx.MockRouter, make_client: ClientFactory, tmp_path: Path
) -> None:
    kinds = kinds_of(20)
    api = FakeAPI(router, kinds)
    for data_id in ("id-00003", "id-00011"):
        api.fail[data_id] = httpx.Response(503, json={"detail": "busy"})
    path = tmp_path / "pull.jsonl"
    async with make_client(max_retries=0) as client:
        first = await client.export(list(kinds), path)
        assert sorted(failures(read_records(path))) == ["id-00003", "id-00011"]
        api.fail.clear()
        api.fetched.clear()
        second = await client.export(list(kinds), path)
    assert (first.succeeded, first.failed) == (18, 2)
    assert (second.skipped, second.succeeded, second.failed) == (18, 2, 0)
    assert second.complete
    assert sorted(api.fetched) == ["id-00003", "id-00011"], "only the failed ids again"
    records = read_records(path)
    assert failures(records) == [], "failure lines of ids that succeeded since are gone"
    assert sorted(successes(records)) == sorted(kinds)


async def test_an_id_that_keeps_failing_keeps_only_its_latest_failure(
    router: respx.MockRouter, make_client: ClientFactory, tmp_path: Path
) -> None:
    kinds = kinds_of(4)
    api = FakeAPI(router, kinds)
    path = tmp_path / "pull.jsonl"
    async with make_client(max_retries=0) as client:
        for attempt in range(3):
            api.fail["id-00001"] = httpx.Response(500, json={"detail": f"attempt {attempt}"})
            await client.export(list(kinds), path)
    records = read_records(path)
    assert sorted(successes(records)) == ["id-00000", "id-00002", "id-00003"]
    (failure,) = [r for r in records if "error" in r]
    assert "attempt 2" in failure["error"]["message"]


async def test_overwrite_starts_afresh(
    router: respx.MockRouter, make_client: ClientFactory, tmp_path: Path
) -> None:
    kinds = kinds_of(5)
    api = FakeAPI(router, kinds)
    path = tmp_path / "pull.jsonl"
    path.write_text('{"data_id": "old", "data_type": "oes", "result": {}}\n')
    async with make_client() as client:
        await client.export(list(kinds), path)
        api.fetched.clear()
        summary = await client.export(list(kinds), path, overwrite=True)
    assert summary.skipped == 0
    assert sorted(api.fetched) == sorted(kinds)
    assert sorted(successes(read_records(path))) == sorted(kinds)


async def test_a_torn_last_line_is_cut_off_and_its_id_fetched_again(
    router: respx.MockRouter,
    make_client: ClientFactory,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    kinds = kinds_of(10)
    api = FakeAPI(router, kinds)
    path = tmp_path / "pull.jsonl"
    async with make_client() as client:
        await client.export(list(kinds), path)
        data = path.read_bytes()
        last_start = data.rstrip(b"\n").rfind(b"\n") + 1
        torn_id = orjson.loads(data[last_start:])["data_id"]
        cut = last_start + (len(data) - last_start) // 2
        path.write_bytes(data[:cut])  # killed in the middle of writing the last line
        api.fetched.clear()
        with caplog.at_level(logging.WARNING, logger="atomscale_async"):
            summary = await client.export(list(kinds), path)
    assert summary.repaired_bytes == cut - last_start
    assert (summary.skipped, summary.succeeded) == (9, 1)
    assert api.fetched == [torn_id]
    assert any("torn" in r.getMessage() for r in caplog.records), "the repair is reported"
    records = read_records(path)
    assert sorted(successes(records)) == sorted(kinds)


async def test_a_torn_line_that_is_valid_json_without_newline_is_cut_off(
    router: respx.MockRouter, make_client: ClientFactory, tmp_path: Path
) -> None:
    kinds = kinds_of(3)
    FakeAPI(router, kinds)
    path = tmp_path / "pull.jsonl"
    async with make_client() as client:
        await client.export(list(kinds)[:2], path)
        path.write_bytes(path.read_bytes().rstrip(b"\n"))  # the newline never made it
        summary = await client.export(list(kinds), path)
    assert summary.repaired_bytes > 0
    assert (summary.skipped, summary.succeeded) == (1, 2)
    assert sorted(successes(read_records(path))) == sorted(kinds)


async def test_a_line_that_is_not_a_record_before_the_end_is_refused(
    router: respx.MockRouter, make_client: ClientFactory, tmp_path: Path
) -> None:
    FakeAPI(router, kinds_of(2))
    path = tmp_path / "notes.jsonl"
    original = b'{"data_id": "id-00000", "data_type": "sims", "result": {}}\nhello\n{"x": 1}\n'
    path.write_bytes(original)
    async with make_client() as client:
        with pytest.raises(ValueError, match=r"line 2: not a record written by export"):
            await client.export(list(kinds_of(2)), path)
    assert path.read_bytes() == original


async def test_a_leftover_compaction_file_is_removed(
    router: respx.MockRouter, make_client: ClientFactory, tmp_path: Path
) -> None:
    kinds = kinds_of(2)
    FakeAPI(router, kinds)
    path = tmp_path / "pull.jsonl"
    leftover = tmp_path / ".pull.jsonl.compacting"
    leftover.write_bytes(b'{"data_id": "half')
    async with make_client() as client:
        await client.export(list(kinds), path)
    assert not leftover.exists()


@pytest.mark.parametrize(
    ("name", "format", "message"),
    [
        ("pull.json", None, "cannot be resumed"),
        ("pull.txt", None, "cannot tell the format"),
        ("pull.jsonl", "csv", "format must be one of"),
    ],
)
async def test_paths_and_formats_that_cannot_be_exported_are_refused(
    make_client: ClientFactory, tmp_path: Path, name: str, format: Any, message: str
) -> None:
    async with make_client() as client:
        with pytest.raises(ValueError, match=message):
            await client.export(["a"], tmp_path / name, format=format)
    assert not any(tmp_path.glob("pull*"))  # noqa: ASYNC240


async def test_format_overrides_the_suffix(
    router: respx.MockRouter, make_client: ClientFactory, tmp_path: Path
) -> None:
    kinds = kinds_of(2)
    FakeAPI(router, kinds)
    path = tmp_path / "pull.txt"
    async with make_client() as client:
        summary = await client.export(list(kinds), path, format="jsonl")
    assert summary.format == "jsonl"
    assert sorted(successes(read_records(path))) == sorted(kinds)


async def test_bad_arguments_are_refused_before_the_file_is_touched(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    path = tmp_path / "pull.jsonl"
    async with make_client() as client:
        with pytest.raises(ValueError, match="concurrency"):
            await client.export(["a"], path, concurrency=0)
        with pytest.raises(ValueError, match="data_type"):
            await client.export(["a"], path, data_type="rheed_image")
        with pytest.raises(ValueError, match="rows_per_part"):
            await client.export(["a"], path, rows_per_part=0)
        with pytest.raises(ValueError, match=r"data_ids\[1\] must not be empty"):
            await client.export(["a", ""], path)
    assert not path.exists()


async def test_search_entries_are_fetched_without_a_catalogue_lookup(
    router: respx.MockRouter, make_client: ClientFactory, tmp_path: Path
) -> None:
    kinds = kinds_of(4)
    api = FakeAPI(router, kinds)
    entries = [DataEntry(data_id=i, char_source_type=k) for i, k in kinds.items()]
    path = tmp_path / "pull.jsonl"
    async with make_client() as client:
        summary = await client.export([*entries[:3], entries[0].data_id, "id-00003"], path)
    assert summary.total == 4
    assert api.catalogue_requests == [["id-00003"]], "an entry's kind needs no lookup"
    assert sorted(successes(read_records(path))) == sorted(kinds)


async def test_progress_on_resume_counts_what_was_already_done(
    router: respx.MockRouter,
    make_client: ClientFactory,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    kinds = kinds_of(10)
    FakeAPI(router, kinds)
    path = tmp_path / "pull.jsonl"
    calls: list[tuple[int, int]] = []
    async with make_client() as client:
        await client.export(list(kinds)[:6], path)
        capsys.readouterr()
        await client.export(
            list(kinds), path, on_progress=lambda d, t: calls.append((d, t)), progress=True
        )
    assert calls == [(7, 10), (8, 10), (9, 10), (10, 10)]
    bar = capsys.readouterr().err
    assert " 6/10 " in bar, "the bar starts at what was already done"
    assert "10/10" in bar
    assert "result/s" in bar, "it shows the rate"


async def test_cancelling_keeps_every_line_written_and_a_rerun_completes(
    router: respx.MockRouter, make_client: ClientFactory, tmp_path: Path
) -> None:
    kinds = kinds_of(40)
    FakeAPI(router, kinds, delay=0.01)
    path = tmp_path / "pull.jsonl"
    async with make_client(max_concurrency=4) as client:
        with anyio.move_on_after(10) as scope:

            def stop_at_ten(done: int, total: int) -> None:
                if done == 10:
                    scope.cancel()

            await client.export(list(kinds), path, on_progress=stop_at_ten)
        assert scope.cancelled_caught
        records = read_records(path)
        assert len(records) >= 10
        summary = await client.export(list(kinds), path)
    assert summary.skipped == len(records)
    assert sorted(successes(read_records(path))) == sorted(kinds)


async def test_nothing_to_do_when_everything_is_done(
    router: respx.MockRouter, make_client: ClientFactory, tmp_path: Path
) -> None:
    kinds = kinds_of(3)
    api = FakeAPI(router, kinds)
    path = tmp_path / "pull.jsonl"
    async with make_client() as client:
        await client.export(list(kinds), path)
        before = path.read_bytes()
        api.fetched.clear()
        api.catalogue_requests.clear()
        summary = await client.export(list(kinds), path)
    assert (api.fetched, api.catalogue_requests) == ([], [])
    assert summary.complete
    assert summary.skipped == 3
    assert path.read_bytes() == before


@pytest.mark.parametrize("name", ["pull.jsonl", "pull.parquet"])
async def test_a_second_export_to_the_same_path_at_once_is_refused(
    router: respx.MockRouter, make_client: ClientFactory, tmp_path: Path, name: str
) -> None:
    if name.endswith(".parquet"):
        pytest.importorskip("pyarrow")
    kinds = kinds_of(30)
    FakeAPI(router, kinds, delay=0.01)
    path = tmp_path / name
    refused: list[BaseException] = []
    async with make_client(max_concurrency=2) as client, anyio.create_task_group() as tg:

        async def second() -> None:
            with pytest.raises(BlockingIOError, match="being written by another export") as info:
                await client.export(list(kinds), path)
            refused.append(info.value)

        def start_second(done: int, total: int) -> None:
            if done == 1:  # the first export holds the file now
                tg.start_soon(second)

        first = await client.export(list(kinds), path, on_progress=start_second)
    assert len(refused) == 1
    assert first.complete
    async with make_client() as client:
        assert (await client.export(list(kinds), path)).skipped == 30, "free again afterwards"


class OrderedAPI(FakeAPI):
    """A FakeAPI that notes the order of catalogue and result requests."""

    def __init__(self, router: respx.MockRouter, kinds: dict[str, str]) -> None:
        self.events: list[str] = []
        super().__init__(router, kinds)

    async def catalogue(self, request: httpx.Request) -> httpx.Response:
        self.events.append("catalogue")
        return await super().catalogue(request)

    async def result(self, request: httpx.Request) -> httpx.Response:
        self.events.append("result")
        return await super().result(request)


async def test_results_are_fetched_before_the_whole_catalogue_is_read(
    router: respx.MockRouter, make_client: ClientFactory, tmp_path: Path
) -> None:
    kinds = kinds_of(800)
    api = OrderedAPI(router, kinds)
    async with make_client(max_concurrency=8) as client:
        summary = await client.export(list(kinds), tmp_path / "pull.jsonl")
    assert summary.succeeded == 800
    lookups = [i for i, event in enumerate(api.events) if event == "catalogue"]
    assert len(lookups) == 8
    assert api.events.index("result") < lookups[4], "after a few lookups, not all of them"


def test_the_sync_client_exports_and_resumes(router: respx.MockRouter, tmp_path: Path) -> None:
    kinds = kinds_of(8)
    api = FakeAPI(router, kinds)
    api.fail["id-00005"] = httpx.Response(500, json={"detail": "boom"})
    path = tmp_path / "pull.jsonl"
    with Client(API_KEY, base_url=BASE_URL, max_retries=0) as client:
        first = client.export(list(kinds), path)
        api.fail.clear()
        second = client.export(list(kinds), path)
    assert (first.succeeded, first.failed) == (7, 1)
    assert (second.skipped, second.succeeded) == (7, 1)
    assert sorted(successes(read_records(path))) == sorted(kinds)


# ------------------------------------------------------------------------------ Parquet


async def test_parquet_writes_one_fixed_schema_per_kind_and_failures_beside(
    router: respx.MockRouter, make_client: ClientFactory, tmp_path: Path
) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    from atomscale_async._parquet import arrow_schema

    kinds = kinds_of(25)
    api = FakeAPI(router, kinds)
    api.fail["id-00004"] = httpx.Response(500, json={"detail": "boom"})
    root = tmp_path / "pull.parquet"
    async with make_client(max_retries=0) as client:
        summary = await client.export(list(kinds), root, rows_per_part=5)
    assert (summary.format, summary.succeeded, summary.failed) == ("parquet", 24, 1)
    sims_parts = sorted((root / "kind=sims").glob("part-*.parquet"))
    oes_parts = sorted((root / "kind=oes").glob("part-*.parquet"))
    assert [len(pq.read_table(p)) for p in sims_parts] == [5, 5, 2]  # every 5 rows, then the rest
    assert [len(pq.read_table(p)) for p in oes_parts] == [5, 5, 2]
    for part in sims_parts:
        assert pq.read_schema(part).remove_metadata() == arrow_schema("sims")
    for part in oes_parts:
        assert pq.read_schema(part).remove_metadata() == arrow_schema("oes")
    errors = read_records(root / "_errors.jsonl")
    assert [e["data_id"] for e in errors] == ["id-00004"]
    assert [p.name for p in root.rglob(".*")] == [], "no temporary file left"


def test_parquet_schemas_follow_the_models() -> None:
    pa = pytest.importorskip("pyarrow")
    from atomscale_async._parquet import arrow_schema

    oes = arrow_schema("oes")
    assert oes.field("wavelengths").type == pa.list_(pa.float64())
    assert oes.field("reference").nullable
    assert not oes.field("wavelengths").nullable
    assert oes.field("last_updated").type == pa.timestamp("us", tz="UTC")
    assert oes.field("spectral_metadata").type == pa.string()  # free-form JSON text
    assert oes.field("constrained_elements").type == pa.list_(pa.string())
    peak = oes.field("detected_peaks").type.value_type
    assert peak == pa.struct(
        [
            pa.field("peak_id", pa.string(), nullable=False),
            pa.field("wavelength_nm", pa.float64(), nullable=False),
            pa.field("element", pa.string(), nullable=False),
        ]
    )
    profile = arrow_schema("sims").field("depth_profiles").type.value_type
    assert profile.field("depths").type == pa.list_(pa.float64())
    unknown = arrow_schema("unknown")
    assert unknown.names == ["data_id", "data_type", "catalogue_entry"]


async def test_parquet_resumes_from_its_part_files(
    router: respx.MockRouter, make_client: ClientFactory, tmp_path: Path
) -> None:
    pytest.importorskip("pyarrow")
    kinds = kinds_of(12)
    api = FakeAPI(router, kinds)
    api.fail["id-00007"] = httpx.Response(500, json={"detail": "boom"})
    root = tmp_path / "pull.parquet"
    stale = root / "kind=oes" / ".part-00009.parquet.tmp"
    async with make_client(max_retries=0) as client:
        await client.export(list(kinds)[:8], root, rows_per_part=3)
        stale.write_bytes(b"PAR1 half a part")  # a run killed while writing a part
        api.fail.clear()
        api.fetched.clear()
        summary = await client.export(list(kinds), root, rows_per_part=3)
    assert (summary.skipped, summary.succeeded, summary.failed) == (7, 5, 0)
    assert sorted(api.fetched) == ["id-00007", "id-00008", "id-00009", "id-00010", "id-00011"]
    assert not stale.exists()
    assert read_records(root / "_errors.jsonl") == [], "the failure that succeeded is gone"
    import pyarrow.dataset as ds

    ids = ds.dataset(root, format="parquet", partitioning="hive").to_table(columns=["data_id"])
    assert sorted(ids.column("data_id").to_pylist()) == sorted(kinds)


async def test_parquet_reads_per_kind_with_pandas(
    router: respx.MockRouter, make_client: ClientFactory, tmp_path: Path
) -> None:
    pytest.importorskip("pyarrow")
    pd = pytest.importorskip("pandas")
    kinds = kinds_of(9)
    FakeAPI(router, kinds)
    root = tmp_path / "pull.parquet"
    async with make_client() as client:
        await client.export(list(kinds), root, rows_per_part=2)
        expected: dict[str, Any] = {
            o.data_id: o.result async for o in client.iter_results(list(kinds))
        }
    oes = pd.read_parquet(root / "kind=oes")
    assert sorted(oes["data_id"]) == sorted(i for i, k in kinds.items() if k == "oes")
    row = oes.set_index("data_id").loc["id-00001"]
    result = expected["id-00001"]
    assert list(row["wavelengths"]) == list(result.wavelengths)
    assert row["detected_peaks"][0]["element"] == result.detected_peaks[0].element
    assert orjson.loads(row["spectral_metadata"]) == result.spectral_metadata
    sims = pd.read_parquet(root / "kind=sims")
    profile = sims.set_index("data_id").loc["id-00000"]["depth_profiles"][0]
    assert list(profile["depths"]) == list(expected["id-00000"].depth_profiles[0].depths)
    everything = pd.read_parquet(root, columns=["data_id", "kind"])
    assert sorted(everything["data_id"]) == sorted(kinds)
    assert set(everything["kind"]) == {"oes", "sims"}


async def test_parquet_reads_with_polars_and_duckdb_when_installed(
    router: respx.MockRouter, make_client: ClientFactory, tmp_path: Path
) -> None:
    pytest.importorskip("pyarrow")
    kinds = kinds_of(6)
    FakeAPI(router, kinds)
    root = tmp_path / "pull.parquet"
    async with make_client() as client:
        await client.export(list(kinds), root)
    readers = 0
    try:
        import polars as pl  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        pass
    else:
        frame = pl.read_parquet(str(root / "kind=oes" / "*.parquet"))
        assert sorted(frame["data_id"].to_list()) == ["id-00001", "id-00003", "id-00005"]
        readers += 1
    try:
        import duckdb  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        pass
    else:
        rows = duckdb.sql(
            f"SELECT data_id, len(wavelengths) FROM read_parquet('{root}/kind=oes/*.parquet')"
        ).fetchall()
        assert sorted(r[0] for r in rows) == ["id-00001", "id-00003", "id-00005"]
        readers += 1
    if not readers:
        pytest.skip("neither polars nor duckdb is installed")


async def test_parquet_without_pyarrow_names_the_extra(
    make_client: ClientFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    async with make_client() as client:
        with pytest.raises(MissingExtraError, match=r"the \[parquet\] extra"):
            await client.export(["a"], tmp_path / "pull.parquet")


def test_outcome_record_of_an_unknown_kind_keeps_its_catalogue_entry() -> None:
    from atomscale_async import UnknownResult

    entry = DataEntry(data_id="x", char_source_type="rheed_image")
    record = outcome_record(
        Outcome("x", UnknownResult(data_id="x", data_type="rheed_image", catalogue_entry=entry))
    )
    assert record == {
        "data_id": "x",
        "data_type": "rheed_image",
        "result": None,
        "catalogue_entry": entry.to_dict(),
    }
