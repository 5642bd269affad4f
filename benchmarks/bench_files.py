"""Uploads and downloads against the sandbox's loopback S3 server (moto), next to baselines.

Upload: ``client.upload`` next to boto3's managed transfer (``upload_file``, the same part
size and concurrency) into the same store. Download: ``client.download`` next to a bare
aiohttp loop streaming the same presigned URLs to disk at the same concurrency. Each is run
``--runs`` times alternately; reported are the medians' MB/s and their ratio, in this run
(the S3 server, moto, is pure Python and shares the machine: its own speed bounds both).

    python benchmarks/bench_files.py [--files 4] [--mib 40] [--runs 3] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson

from atomscale_async import AsyncClient
from atomscale_async.sandbox import SandboxServer, sandbox_files

MIB = 2**20


def make_files(directory: Path, count: int, size: int) -> list[Path]:
    paths = []
    for index in range(count):
        path = directory / f"f{index:03d}.vms"
        with path.open("wb") as f:
            left = size
            while left > 0:
                f.write(os.urandom(min(MIB, left)))
                left -= MIB
        paths.append(path)
    return paths


async def sdk_upload(
    server: SandboxServer, paths: list[Path], part: int, width: int, state: Path
) -> list[str]:
    async with AsyncClient(server.api_key, base_url=server.base_url) as client:
        outcomes = await client.upload(
            paths, part_size=part, max_concurrency=width, state_dir=state
        )
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    return [str(o.data_id) for o in outcomes]


def boto3_upload(server: SandboxServer, paths: list[Path], part: int, width: int) -> None:
    from boto3.s3.transfer import TransferConfig

    store = sandbox_files(server.app).store
    config = TransferConfig(
        multipart_threshold=part, multipart_chunksize=part, max_concurrency=width, use_threads=True
    )
    for path in paths:  # upload_file is one file a call; its parts go in parallel
        store.client.upload_file(str(path), store.bucket, f"boto3/{path.name}", Config=config)


async def sdk_download(server: SandboxServer, ids: list[str], out: Path, width: int) -> None:
    async with AsyncClient(server.api_key, base_url=server.base_url) as client:
        outcomes = await client.download(ids, out, max_concurrency=width, resume=False)
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]


async def aiohttp_download(urls: list[str], out: Path, width: int) -> None:
    limit = asyncio.Semaphore(width)
    async with aiohttp.ClientSession() as session:

        async def one(index: int, url: str) -> None:
            async with limit, session.get(url) as response:
                response.raise_for_status()
                with (out / f"{index}.bin").open("wb") as f:
                    async for chunk in response.content.iter_chunked(MIB):
                        f.write(chunk)

        await asyncio.gather(*(one(i, u) for i, u in enumerate(urls)))


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--mib", type=int, default=40)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--part-mib", type=int, default=8)
    args = parser.parse_args()
    part = args.part_mib * MIB
    total = args.files * args.mib * MIB
    timings: dict[str, list[float]] = {
        "sdk up": [],
        "boto3 up": [],
        "sdk down": [],
        "aiohttp down": [],
    }
    with (
        tempfile.TemporaryDirectory() as tmp,
        SandboxServer(entries=10, analysis_seconds=0) as server,
    ):
        root = Path(tmp)
        paths = make_files(root, args.files, args.mib * MIB)
        sandbox_files(server.app).start()
        ids: list[str] = []
        for run in range(args.runs):
            started = time.perf_counter()
            ids = asyncio.run(sdk_upload(server, paths, part, args.concurrency, root / f"s{run}"))
            timings["sdk up"].append(time.perf_counter() - started)
            started = time.perf_counter()
            boto3_upload(server, paths, part, args.concurrency)
            timings["boto3 up"].append(time.perf_counter() - started)
        urls = [_url(server, i) for i in ids]  # the same presigned URLs the SDK gets
        for run in range(args.runs):
            out = root / f"sdk{run}"
            started = time.perf_counter()
            asyncio.run(sdk_download(server, ids, out, args.concurrency))
            timings["sdk down"].append(time.perf_counter() - started)
            bare = root / f"bare{run}"
            bare.mkdir()
            started = time.perf_counter()
            asyncio.run(aiohttp_download(urls, bare, args.concurrency))
            timings["aiohttp down"].append(time.perf_counter() - started)
    rate = {name: total / MIB / statistics.median(values) for name, values in timings.items()}
    print(
        f"{args.files} files x {args.mib} MiB, parts of {args.part_mib} MiB, "
        f"concurrency {args.concurrency}, medians of {args.runs} runs:"
    )
    for name, value in rate.items():
        print(f"  {name:13s} {value:8.1f} MiB/s")
    print(f"  upload:   {rate['sdk up'] / rate['boto3 up']:.2f}x boto3 upload_file")
    print(f"  download: {rate['sdk down'] / rate['aiohttp down']:.2f}x bare aiohttp")
    return 0


def _url(server: SandboxServer, data_id: str) -> str:
    status, body = sandbox_files(server.app).answer_location("raw", data_id)
    assert status == 200
    return str(orjson.loads(body)["url"])


if __name__ == "__main__":
    raise SystemExit(main())
