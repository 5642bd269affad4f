"""Decoding + structuring one 2,048-point OES payload (~77 KB), against orjson.loads alone.

The budget (core issue): this SDK's strict decode into an ``OESResult`` costs at
most 1.5x ``orjson.loads`` on the same bytes. Also measured where installed:
``json.loads``, cattrs' default structuring of the same model with ``list[float]``
fields, pydantic v2's ``model_validate_json`` and msgspec's typed decode.

    python benchmarks/bench_decode.py [--repeat 7]
"""

import argparse
import datetime as dt
import json
import random
import statistics
import timeit
from collections.abc import Callable
from typing import Any

import orjson

from atomscale_async import OESResult
from atomscale_async._convert import decode

N_POINTS = 2048
SDK = "atomscale_async decode -> OESResult"
TARGET = 1.5


def make_payload(n: int = N_POINTS, seed: int = 0) -> bytes:
    """An OES result shaped like the sandbox's: 5 numeric arrays of n points."""
    rng = random.Random(seed)
    wavelengths = [round(200 + i * 700 / n, 4) for i in range(n)]

    def spectrum(scale: float) -> list[float]:
        return [round(scale * (1 + rng.random()), 2) for _ in range(n)]

    body = {
        "data_id": "d290f1ee-6c54-4b01-90e6-d701748f0851",
        "id": "oes_001",
        "wavelengths": wavelengths,
        "wavelength_unit": "nm",
        "sample": spectrum(1200),
        "reference": spectrum(1100),
        "dark": spectrum(50),
        "scope_corrected": spectrum(1150),
        "spectrum_type": "sample",
        "detected_peaks": [
            {"peak_id": f"p{i}", "wavelength_nm": w, "element": e}
            for i, (w, e) in enumerate([(403.3, "Ga"), (417.2, "Ga"), (410.2, "In"), (451.1, "In")])
        ],
        "constraint_mode": "auto",
        "constrained_elements": None,
        "spectral_metadata": {"integration_time_ms": 100, "detector": "CCD"},
        "last_updated": "2024-01-15T10:35:00Z",
    }
    return orjson.dumps(body)


def _candidates(payload: bytes) -> dict[str, Callable[[], Any]]:
    out: dict[str, Callable[[], Any]] = {
        "orjson.loads (baseline)": lambda: orjson.loads(payload),
        "json.loads": lambda: json.loads(payload),
        SDK: lambda: decode(payload, OESResult, "bench"),
    }
    out.update(_cattrs_default(payload))
    out.update(_pydantic(payload))
    out.update(_msgspec(payload))
    return out


def _cattrs_default(payload: bytes) -> dict[str, Callable[[], Any]]:

    import attrs
    import cattrs

    @attrs.frozen
    class Peak:
        peak_id: str
        wavelength_nm: float
        element: str

    @attrs.frozen
    class Plain:
        data_id: str
        id: str
        wavelengths: list[float]
        wavelength_unit: str
        sample: list[float]
        reference: list[float] | None
        dark: list[float] | None
        scope_corrected: list[float]
        spectrum_type: str
        detected_peaks: list[Peak]
        constraint_mode: str
        constrained_elements: list[str] | None
        spectral_metadata: dict[str, Any]
        last_updated: dt.datetime

    conv = cattrs.Converter()
    conv.register_structure_hook(dt.datetime, lambda v, _: dt.datetime.fromisoformat(v))
    name = "orjson + cattrs default (list[float], lax)"
    return {name: lambda: conv.structure(orjson.loads(payload), Plain)}


def _pydantic(payload: bytes) -> dict[str, Callable[[], Any]]:
    try:
        import pydantic
    except ImportError:
        return {}

    class Peak(pydantic.BaseModel):
        peak_id: str
        wavelength_nm: float
        element: str

    class Model(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(strict=True, frozen=True)
        data_id: str
        id: str
        wavelengths: list[float]
        wavelength_unit: str
        sample: list[float]
        reference: list[float] | None
        dark: list[float] | None
        scope_corrected: list[float]
        spectrum_type: str
        detected_peaks: list[Peak]
        constraint_mode: str
        constrained_elements: list[str] | None
        spectral_metadata: dict[str, Any]
        last_updated: dt.datetime

    return {"pydantic v2 model_validate_json (strict)": lambda: Model.model_validate_json(payload)}


def _msgspec(payload: bytes) -> dict[str, Callable[[], Any]]:
    try:
        import msgspec
    except ImportError:
        return {}

    class Peak(msgspec.Struct):
        peak_id: str
        wavelength_nm: float
        element: str

    class Model(msgspec.Struct, frozen=True):
        data_id: str
        id: str
        wavelengths: list[float]
        wavelength_unit: str
        sample: list[float]
        reference: list[float] | None
        dark: list[float] | None
        scope_corrected: list[float]
        spectrum_type: str
        detected_peaks: list[Peak]
        constraint_mode: str
        constrained_elements: list[str] | None
        spectral_metadata: dict[str, Any]
        last_updated: dt.datetime

    decoder = msgspec.json.Decoder(Model)
    return {"msgspec json decode (typed)": lambda: decoder.decode(payload)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=7, help="runs; the median is reported")
    parser.add_argument("--number", type=int, default=200, help="calls per run")
    args = parser.parse_args()
    payload = make_payload()
    candidates = _candidates(payload)
    # Interleave the candidates run by run so that machine noise hits all alike.
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(args.repeat):
        for name, fn in candidates.items():
            samples[name].append(timeit.timeit(fn, number=args.number) / args.number)
    base = statistics.median(samples["orjson.loads (baseline)"])
    print(
        f"payload: {len(payload):,} bytes, {N_POINTS} points x 5 arrays; "
        f"median of {args.repeat} runs x {args.number} calls"
    )
    print(f"{'candidate':48} {'ms/call':>8} {'x orjson.loads':>15}")
    for name, values in samples.items():
        med = statistics.median(values)
        print(f"{name:48} {med * 1e3:8.3f} {med / base:15.2f}")
    ratio = statistics.median(samples[SDK]) / base
    verdict = "PASS" if ratio <= TARGET else "FAIL"
    print(f"target: decode + structure <= {TARGET}x orjson.loads: {ratio:.2f}x {verdict}")


if __name__ == "__main__":
    main()
