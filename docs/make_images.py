"""Render the README's quick-look images, docs/sims.png and docs/oes.png, from sandbox data.

The data come from the seeded sandbox (``atomscale_async.sandbox``), served
in-process and fetched through the SDK like any API response, so the images
show exactly what ``SIMSResult.plot()`` and ``OESResult.plot()`` draw. The same
seed gives the same images.

Run from the repository root (needs the ``sandbox`` and ``plot`` extras)::

    .venv/bin/python docs/make_images.py
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import httpx
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from atomscale_async import AsyncClient, OESResult, SIMSResult
from atomscale_async.sandbox import create_app, sandbox_state

SEED = 0
ENTRIES = 200
API_KEY = "sandbox-key"
DPI = 120
SIZES = {"sims": (7.5, 4.5), "oes": (10.0, 4.5)}
#: OES entries looked at to pick the one with the most elements.
OES_CANDIDATES = 20


async def fetch(seed: int) -> tuple[SIMSResult, OESResult]:
    """Fetch a SIMS result with three or more species and a fully captured OES result."""
    app = create_app(entries=ENTRIES, seed=seed, api_key=API_KEY)
    state = sandbox_state(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as http:
        client = AsyncClient(
            api_key=API_KEY, base_url="http://sandbox/", http_client=http, allow_insecure_http=True
        )
        sims = None
        for data_id in state.sims_ids(empty=False):
            sims = await client.sims.get(data_id)
            if len(sims.depth_profiles) >= 3:
                break
        candidates = [
            await client.oes.get(data_id)
            for data_id in state.oes_ids(with_reference=True, with_dark=True)[:OES_CANDIDATES]
        ]
    if sims is None or not candidates:
        raise SystemExit(f"the sandbox of seed {seed} has no SIMS or no OES entry to plot")
    oes = max(candidates, key=lambda r: (len({p.element for p in r.detected_peaks}), r.data_id))
    return sims, oes


def render(sims: SIMSResult, oes: OESResult, out: Path) -> list[Path]:
    """Plot both results and save them as PNGs in ``out``; return the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, result in (("sims", sims), ("oes", oes)):
        figure, ax = plt.subplots(figsize=SIZES[name], layout="constrained")
        result.plot(ax=ax)
        path = out / f"{name}.png"
        # No "Software" entry, so the bytes do not change with the matplotlib version.
        figure.savefig(path, dpi=DPI, metadata={"Software": None})
        plt.close("all")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, fetch the results from the sandbox and write the images."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seed", type=int, default=SEED, help="sandbox seed (default: %(default)s)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="directory of the PNGs (default: docs/)",
    )
    args = parser.parse_args(argv)
    sims, oes = asyncio.run(fetch(args.seed))
    for path in render(sims, oes, args.out):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
