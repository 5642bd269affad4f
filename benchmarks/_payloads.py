"""The benchmark workloads' response bodies, deterministic and shaped like real results.

W1: a small OES result (16 points, ~1 KB); W2: an OES result of 2,048 points
(~77 KB, the decode benchmark's payload); W3: the SIMS depth profiles of one
entry, 3 species x 1,000 depths, concentrations like ``1.2e18``. M (``mixed_workload``):
every kind the SDK types (SIMS, OES, XPS, XRD, photoluminescence, Raman), an equal share of
each, bodies and catalogue records from the sandbox's generators, kinds from the catalogue.
"""

from __future__ import annotations

import random
import uuid

import attrs
import orjson
from _server import DATA_ID_PLACEHOLDER, Mixed
from bench_decode import make_payload

__all__ = [
    "MIXED_KINDS",
    "WORKLOADS",
    "MixedWorkload",
    "Workload",
    "make_ids",
    "mixed_workload",
    "sims_payload",
]

SIMS_SPECIES = ("Ga", "In", "Si")


def sims_payload(n_depths: int = 1000, species: tuple[str, ...] = SIMS_SPECIES) -> bytes:
    """A ``GET /sims/{data_id}`` body: one depth profile per species, ordered by name."""
    rng = random.Random(1)
    depths = [round(i * 0.5, 2) for i in range(n_depths)]
    profiles = []
    for index, name in enumerate(sorted(species)):
        base = 10 ** (16 + index)
        profiles.append(
            {
                "data_id": "d290f1ee-6c54-4b01-90e6-d701748f0851",
                "id": f"sims_{index:03d}",
                "processed_data_id": "f47ac10b-58cc-4372-a567-0e02b2c3d479",
                "species_name": name,
                "depths": depths,
                "depth_units": "nm",
                # 2-3 significant digits, e.g. 1.2e18, as instruments report them
                "concentrations": [
                    float(f"{base * (1 + 9 * rng.random()):.2g}") for _ in range(n_depths)
                ],
                "concentration_units": "atoms/cm^3",
                "species_metadata": {"primary_ion": "Cs+", "matrix": "GaN"},
                "last_updated": "2024-01-15T10:35:00Z",
            }
        )
    return orjson.dumps(profiles)


@attrs.frozen
class Workload:
    """One kind of response: served at ``/<name>/<data_type>/*``."""

    name: str
    data_type: str
    body: bytes
    description: str

    @property
    def size(self) -> int:
        """Bytes of a result body."""
        return len(self.body)


MIXED_KINDS = ("sims", "oes", "xps", "xrd", "photoluminescence", "raman")
"""The kinds of the mixed workload: every kind the SDK types (PL under its first name)."""


@attrs.frozen
class MixedWorkload:
    """Several kinds at ``/<name>/<kind>/*``: ``get`` without ``data_type`` asks the catalogue."""

    name: str
    body: Mixed
    description: str
    data_type: None = None

    @property
    def size(self) -> int:
        """Mean bytes of a result body (each kind an equal share)."""
        means = [sum(map(len, bodies)) / len(bodies) for bodies in self.body.results.values()]
        return round(sum(means) / len(means))


def mixed_workload(variants: int = 4, seed: int = 1) -> MixedWorkload:
    """M: the first ``variants`` sandbox results of each of ``MIXED_KINDS`` and their records.

    The sandbox's own generators (what ``atomscale-async sandbox`` serves), so the sizes are
    realistic: SIMS ~25-130 KB, OES ~40-70 KB (2,048 points), XRD ~39 KB, XPS ~32 KB,
    Raman ~23 KB, photoluminescence ~15 KB. Built once, in about a second.
    """
    from atomscale_async.sandbox._data import Catalogue

    catalogue = Catalogue(entries=3000, seed=seed)
    results: dict[str, tuple[bytes, ...]] = {}
    entries: dict[str, bytes] = {}
    for kind in MIXED_KINDS:
        ids = [
            data_id
            for data_id in catalogue.ids(kind)
            if kind != "sims" or not catalogue.sims_is_empty(data_id)
        ][:variants]
        encode = {"sims": catalogue.sims_json, "oes": catalogue.oes_json}.get(
            kind, catalogue.spectrum_json
        )
        results[kind] = tuple(encode(data_id) for data_id in ids)
        record = orjson.dumps(catalogue.record(ids[0])[0])
        entries[kind] = record.replace(ids[0].encode(), DATA_ID_PLACEHOLDER)
    mixed = Mixed(results=results, entries=entries)
    sizes = ", ".join(
        f"{kind} {sum(map(len, bodies)) / len(bodies) / 1e3:.0f} KB"
        for kind, bodies in results.items()
    )
    return MixedWorkload("M", mixed, f"mixed, 6 kinds, mean bodies {sizes}")


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload("W1", "oes", make_payload(16), "OES, 16 points"),
        Workload("W2", "oes", make_payload(2048), "OES, 2,048 points"),
        Workload("W3", "sims", sims_payload(), "SIMS, 3 species x 1,000 depths"),
    )
}


def make_ids(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct UUID4-shaped data ids, the same for a given seed."""
    rng = random.Random(seed)
    return [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(n)]
