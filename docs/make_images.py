"""Render the README's quick-look images, docs/<kind>.png of every kind, from sandbox data.

The data come from the seeded sandbox (``atomscale_async.sandbox``), served
in-process and fetched through the SDK like any API response, so the images
show exactly what each result's ``plot()`` draws: SIMS, OES, XPS, XRD,
photoluminescence and Raman. The same seed gives the same images.

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

from atomscale_async import (
    AsyncClient,
    DataEntry,
    OESResult,
    PhotoluminescenceResult,
    RamanResult,
    SIMSResult,
    XPSResult,
    XRDResult,
)
from atomscale_async.sandbox import create_app, sandbox_state

SEED = 0
ENTRIES = 1000
API_KEY = "sandbox-key"
DPI = 120
SIZES = {
    "sims": (7.5, 4.5),
    "oes": (10.0, 4.5),
    "xps": (8.0, 4.5),
    "xrd": (8.0, 4.5),
    "pl": (7.5, 4.5),
    "raman": (7.5, 4.5),
}
#: The sample (name prefix) each spectrum is taken from: a stack that shows its field's lines.
SPECTRA = {
    "xps": "pGaN-LED",
    "xrd": "AlGaN-HEMT",
    "photoluminescence": "InGaN-MQW",
    "raman": "GaN-S",
}
Spectrum = XPSResult | XRDResult | PhotoluminescenceResult | RamanResult
#: OES entries looked at to pick the one with the most elements.
OES_CANDIDATES = 20


Fetched = dict[str, tuple[SIMSResult | OESResult | Spectrum, DataEntry]]


async def fetch(seed: int) -> Fetched:
    """Fetch a result of each kind and its catalogue entry, by image name.

    SIMS: one with three or more species; OES: the fully captured one with the most
    elements; the others: the first of the sample `SPECTRA` names.
    """
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
        spectra: dict[str, Spectrum] = {}
        for kind, prefix in SPECTRA.items():
            ids = [
                i
                for i in state.ids(kind)
                if state.catalogue.record(i)[0]["physical_sample_name"].startswith(prefix)
            ]
            if not ids:
                raise SystemExit(f"the sandbox of seed {seed} has no {kind} entry of {prefix}")
            resource = getattr(client, kind)
            spectra["pl" if kind == "photoluminescence" else kind] = await resource.get(ids[0])
        if sims is None or not candidates:
            raise SystemExit(f"the sandbox of seed {seed} has no SIMS or no OES entry to plot")
        oes = max(candidates, key=lambda r: (len({p.element for p in r.detected_peaks}), r.data_id))
        results = {"sims": sims, "oes": oes, **spectra}
        found = await client.search(data_ids=[r.data_id for r in results.values()])
        entries = {entry.data_id: entry for entry in found}
    return {name: (result, entries[result.data_id]) for name, result in results.items()}


def render(results: Fetched, out: Path) -> list[Path]:
    """Plot each result, titled with its sample, and save it as ``out/<name>.png``.

    Returns:
        The paths written.
    """
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (result, entry) in results.items():
        figure, ax = plt.subplots(figsize=SIZES[name], layout="constrained")
        result.plot(ax=ax, entry=entry)
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
    for path in render(asyncio.run(fetch(args.seed)), args.out):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
