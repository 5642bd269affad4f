"""What checking a Parquet export costs: a resume's check, and the checksums when writing.

A dataset of W2 OES results (2,048 points each) is written by the export's own
writer, 1,000 rows a part. Each figure is the median of several runs, as a
ratio to a baseline measured in the same run:

- ``check``: the check a resume (and ``verify=True``) makes of every part
  (footer, whole table decoded with page checksums verified, rows, ids,
  SHA-256), against reading the ``data_id`` column of every part, which is all
  a resume read before parts were checked; and against reading every part's
  whole table once (``pyarrow.parquet.ParquetFile(part).read()``, as a user's
  first look at the data does);
- ``write``: writing a part with page checksums and its SHA-256, listed,
  against ``pyarrow.parquet.write_table`` of the same table alone.

    python benchmarks/bench_export_verify.py [--rows 5000] [--runs 5]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import attrs
import pyarrow.parquet as pq
from bench_decode import make_payload

from atomscale_async import OESResult, Outcome
from atomscale_async._convert import decode
from atomscale_async._parquet import ParquetDataset, _Buffer, _check

ROWS_PER_PART = 1000


def build(root: Path, rows: int) -> None:
    """A finished export of ``rows`` OES results, written as ``export`` writes it."""
    dataset = ParquetDataset(root, rows_per_part=ROWS_PER_PART)
    dataset.open(overwrite=True)
    for i in range(rows):
        data_id = f"id-{i:07d}"
        result = decode(make_payload(2048, seed=i), OESResult, "bench")  # its own spectra
        dataset.write(Outcome(data_id, attrs.evolve(result, data_id=data_id)))
    dataset.close(compact=True)


def median_seconds(run: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory) / "pull.parquet"
        build(root, args.rows)
        parts = sorted(root.glob("kind=*/part-*.parquet"))
        size = sum(p.stat().st_size for p in parts)
        assert not _check(root).damaged

        def ids_only() -> None:
            for part in parts:
                pq.read_table(part, columns=["data_id"])

        def read_all() -> None:
            for part in parts:
                pq.ParquetFile(part).read()

        ids_s = median_seconds(ids_only, args.runs)
        read_s = median_seconds(read_all, args.runs)
        check_s = median_seconds(lambda: _check(root), args.runs)

        buffer = _Buffer("oes")
        for i in range(ROWS_PER_PART):
            result = decode(make_payload(2048, seed=i), OESResult, "bench")
            buffer.add(f"id-{i:07d}", attrs.evolve(result, data_id=f"id-{i:07d}"))
        table = buffer.table()
        plain = Path(directory) / "plain.parquet"

        def write_plain() -> None:
            pq.write_table(table, plain)

        def write_checked() -> None:
            import pyarrow as pa

            sink = pa.BufferOutputStream()
            pq.write_table(table, sink, write_page_checksum=True)
            data = sink.getvalue()
            hashlib.sha256(data).hexdigest()
            plain.write_bytes(data)

        plain_w = median_seconds(write_plain, args.runs)
        checked_w = median_seconds(write_checked, args.runs)

    print(f"{args.rows:,} OES rows (2,048 points), {len(parts)} parts, {size / 1e6:.0f} MB")
    print(f"check / data_id column only : {check_s / ids_s:5.1f}x")
    print(f"check / one read of the data: {check_s / read_s:5.2f}x")
    print(f"write checked / write_table : {checked_w / plain_w:5.2f}x")


if __name__ == "__main__":
    main()
