"""Seeded, realistic data for the sandbox: catalogue, instruments, target materials, SIMS, OES.

Everything is a pure function of the seed (and, for a data entry, of its data id), so the
same seed always serves the same bytes. SIMS and OES payloads are generated lazily, on the
first request for an entry, and their encoded JSON is kept in a bounded cache.

Generating a payload must cost about as little as a client spends decoding it (a demo
fetches thousands of fresh entries), so per-point Python work is avoided where the data
allow: noise is read from a shared table of normal draws with C-level strided slices,
SIMS concentrations are looked up on a precomputed grid of printed values (a profile's
background-only stretches cost two slices and a lookup a point), and the arrays entries
share (wavelength grids, a session's dark and reference spectra, an entry's depths) are
encoded to JSON once, as `orjson.Fragment`.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import operator
import random
import re
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar

import attrs
import orjson

from atomscale_async._generated.kinds import KINDS
from atomscale_async.sandbox._search import EntryDetails, entry_details, entry_json
from atomscale_async.sandbox._spectra import GENERATORS, KIND_PREFIXES
from atomscale_async.sandbox._synth import synthesise

JSONObject = dict[str, Any]
_T = TypeVar("_T")

SCHEMA_VERSION: Final = "0.269.1"
"""The `version` the sandbox stamps on target material records."""

SANDBOX_USER_ID: Final = "user_sandbox01"
SANDBOX_USER_NAME: Final = "Sandbox Researcher"

KNOWN_KINDS: Final = tuple(dict.fromkeys(kind.canonical for kind in KINDS.values()))
"""The kinds of the SDK's kind table (aliases aside): the catalogue's first entries are one
of each, so that a catalogue of that many entries serves every kind's endpoint."""

_KIND_WEIGHTS: Final = {
    "sims": 0.4,
    "oes": 0.4,
    "xps": 0.05,
    "xrd": 0.04,
    "photoluminescence": 0.03,
    "pl": 0.01,
    "raman": 0.04,
}
"""How often each kind with realistic data occurs (PL under both of its names)."""
_OTHER_KIND_WEIGHT: Final = 0.03
"""How often any other kind of the table occurs (its data synthesised from its schema)."""
_UNTYPED_KINDS: Final = {"rheed_image": 0.03}
"""Kinds the platform serves and the SDK does not type, and how often they occur."""


def kind_weights() -> dict[str, float]:
    """How often each `char_source_type` occurs: every kind of the table, then the untyped."""
    weights = {name: _KIND_WEIGHTS.get(name, _OTHER_KIND_WEIGHT) for name in KINDS}
    return {**weights, **_UNTYPED_KINDS}


_EPOCH: Final = datetime(2024, 1, 1, tzinfo=UTC)

WAVELENGTH_RANGE_NM: Final = (200.0, 900.0)
"""First and last wavelength of the OES grid."""

_ELEMENTS: Final = frozenset(
    re.findall(
        r"[A-Z][a-z]?",
        "HHeLiBeBCNOFNeNaMgAlSiPSClArKCaScTiVCrMnFeCoNiCuZnGaGeAsSeBrKrRbSrYZrNbMoTcRuRh"
        "PdAgCdInSnSbTeIXeCsBaLaCePrNdPmSmEuGdTbDyHoErTmYbLuHfTaWReOsIrPtAuHgTlPbBiPoAtRn"
        "FrRaAcThPaUNpPuAmCmBkCfEsFmMdNoLrRfDbSgBhHsMtDsRgCnNhFlMcLvTsOg",
    )
)
_FORMULA: Final = re.compile(r"(?:[A-Z][a-z]?(?:\d+(?:\.\d+)?|\.\d+)?)+")
_FORMULA_TOKEN: Final = re.compile(r"([A-Z][a-z]?)(\d+(?:\.\d+)?|\.\d+)?")


def isoformat(moment: datetime) -> str:
    """Format a moment as ISO 8601 in UTC with a `Z`, e.g. `2024-01-15T10:00:00Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_iso() -> str:
    """The current time, formatted by `isoformat`."""
    return isoformat(datetime.now(UTC))


def element_dict(formula: str) -> dict[str, float] | None:
    """Element counts of a plain chemical formula, or None when it cannot be parsed.

    Whole counts stay integers, fractional ones are floats.

    Example:
        >>> element_dict("BaTiO3")
        {'Ba': 1, 'Ti': 1, 'O': 3}
        >>> element_dict("In0.15Ga0.85N")
        {'In': 0.15, 'Ga': 0.85, 'N': 1}
    """
    if not _FORMULA.fullmatch(formula):
        return None
    counts: dict[str, float] = {}
    for symbol, amount in _FORMULA_TOKEN.findall(formula):
        if symbol not in _ELEMENTS:
            return None
        value: float = (float(amount) if "." in amount else int(amount)) if amount else 1
        counts[symbol] = counts.get(symbol, 0) + value
    return counts


def _rng(seed: int, *parts: object) -> random.Random:
    # A string seed is hashed with SHA-512 by `random`, so it is stable across processes.
    return random.Random(":".join(("atomscale-sandbox", str(seed), *map(str, parts))))


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


_NORMALS: Final = 1 << 15
"""Distinct standard normal draws in the shared noise table."""
_MAX_STRIDE: Final = 7


@functools.cache
def _normals() -> list[float]:
    """The shared table of normal draws, repeated so that any strided window is one slice."""
    rng = random.Random("atomscale-sandbox:normals")
    table = [rng.gauss(0.0, 1.0) for _ in range(_NORMALS)]
    return table * (_MAX_STRIDE + 1)


def _window(rng: random.Random, table: list[_T], count: int) -> list[_T]:
    """`count` items of a repeated table of `_NORMALS` items, read along a seeded path.

    The path (a start and an odd stride) is one strided slice, copied at C speed: drawing
    fresh numbers with `rng.gauss` would make generating an entry many times slower.
    """
    start = rng.randrange(_NORMALS)
    stride = rng.randrange(1, _MAX_STRIDE + 1, 2)
    stop = start + count * stride
    if stop <= len(table):
        return table[start:stop:stride]
    return [table[(start + i * stride) % _NORMALS] for i in range(count)]


def _noise(rng: random.Random, count: int) -> list[float]:
    """`count` standard normal draws from the shared table."""
    return _window(rng, _normals(), count)


def _sig(value: float, digits: int = 4) -> float:
    return float(f"{value:.{digits}g}")


@attrs.frozen
class CatalogueEntry:
    """One data entry of the catalogue.

    Args:
        index: Position in the catalogue.
        data_id: The entry's UUID.
        kind: Its `char_source_type` (`sims`, `oes`, or another technique).
        collected: When the data was collected, if known.
        sample_name: Name of the physical sample measured.
    """

    index: int
    data_id: str
    kind: str
    collected: datetime | None
    sample_name: str

    def to_json(self, seed: int = 0) -> JSONObject:
        """The entry as `GET /data_entries/` answers it, every catalogue field filled."""
        return entry_json(
            seed,
            index=self.index,
            data_id=self.data_id,
            kind=self.kind,
            collected=self.collected,
            sample_name=self.sample_name,
            details=self.details(seed),
        )

    def details(self, seed: int = 0) -> EntryDetails:
        """Status, owner, upload and access times... of the entry (see `_search`)."""
        return entry_details(seed, self.data_id, self.kind, self.collected)


class Catalogue:
    """The seeded data entries and their lazily generated results.

    A kind of the kind table without a generator here gets results synthesised from its
    schema (`_synth`).

    Args:
        entries: Number of data entries.
        seed: Seed of every generator.
        oes_points: Number of points of each OES wavelength grid.
        cache_size: How many encoded payloads of each kind to keep.

    The first `n` entries of a catalogue are the same whatever `entries` is.
    """

    def __init__(
        self, *, entries: int, seed: int, oes_points: int = 2048, cache_size: int = 256
    ) -> None:
        if entries < 0:
            msg = f"entries must not be negative, got {entries}"
            raise ValueError(msg)
        if oes_points < 16:
            msg = f"oes_points must be at least 16, got {oes_points}"
            raise ValueError(msg)
        self.seed = seed
        self.oes_points = oes_points
        rng = _rng(seed, "catalogue")
        drawn_from = kind_weights()
        kinds = list(drawn_from)
        weights = list(drawn_from.values())
        self._entries: dict[str, CatalogueEntry] = {}
        for index in range(entries):
            data_id = _uuid(rng)
            drawn = rng.choices(kinds, weights)[0]
            # The first entries are one of each kind of the table, so that a small
            # catalogue already serves every kind's endpoint.
            kind = KNOWN_KINDS[index] if index < len(KNOWN_KINDS) else drawn
            offset = timedelta(seconds=rng.randrange(0, 700 * 86400))
            collected = None if rng.random() < 0.03 else _EPOCH + offset
            # The sample name tells the generators what was grown (and so measured).
            prefixes = _SAMPLE_PREFIXES.get(kind, _ANY_SAMPLE_PREFIX)
            sample_name = f"{rng.choice(prefixes)}-{rng.randrange(1, 400):03d}"
            self._entries[data_id] = CatalogueEntry(index, data_id, kind, collected, sample_name)
        self._ids = list(self._entries)
        self.sims_json: Callable[[str], bytes] = functools.lru_cache(maxsize=cache_size)(
            self._encode_sims
        )
        self.oes_json: Callable[[str], bytes] = functools.lru_cache(maxsize=cache_size)(
            self._encode_oes
        )
        self.spectrum_json: Callable[[str], bytes] = functools.lru_cache(maxsize=cache_size)(
            self._encode_spectrum
        )
        self.synthesised_json: Callable[[str], bytes] = functools.lru_cache(maxsize=cache_size)(
            self._synthesise
        )
        self._records: dict[str, tuple[JSONObject, EntryDetails]] = {}
        # The kinds with realistic data; any other kind of the table is synthesised.
        self._realistic: dict[str, Callable[[str], bytes]] = {
            "sims": self.sims_json,
            "oes": self.oes_json,
            **dict.fromkeys(GENERATORS, self.spectrum_json),
        }

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def data_ids(self) -> list[str]:
        """Every data id, in catalogue order."""
        return list(self._ids)

    def get(self, data_id: str) -> CatalogueEntry | None:
        """The entry of a data id, or None when the catalogue does not know it."""
        return self._entries.get(data_id)

    def ids(self, kind: str | None = None) -> list[str]:
        """The data ids of one kind (`sims`, `oes`, `xps`, ...), or all of them."""
        return [i for i in self._ids if kind is None or self._entries[i].kind == kind]

    def sims_is_empty(self, data_id: str) -> bool:
        """Whether a SIMS entry answers an empty array (it has no profiles)."""
        return _sims_is_empty(self.seed, data_id)

    def oes_capture(self, data_id: str) -> tuple[bool, bool]:
        """Whether an OES entry has a reference and a dark spectrum."""
        return _oes_capture(self.seed, data_id)

    def sims_payload(self, data_id: str) -> list[JSONObject]:
        """The depth profiles of a SIMS entry, decoded (from the cache when there)."""
        answer: list[JSONObject] = orjson.loads(self.sims_json(data_id))
        return answer

    def oes_payload(self, data_id: str) -> JSONObject:
        """The OES result of an OES entry, decoded (from the cache when there)."""
        answer: JSONObject = orjson.loads(self.oes_json(data_id))
        return answer

    def record(self, data_id: str) -> tuple[JSONObject, EntryDetails]:
        """The catalogue record of a known entry and its details (computed once)."""
        found = self._records.get(data_id)
        if found is None:
            entry = self._known(data_id)
            found = self._records[data_id] = (entry.to_json(self.seed), entry.details(self.seed))
        return found

    def add(self, entry: CatalogueEntry, record: JSONObject, details: EntryDetails) -> None:
        """Add an entry (an upload) with its catalogue record and details, as answered."""
        self._entries[entry.data_id] = entry
        self._ids.append(entry.data_id)
        self._records[entry.data_id] = (record, details)

    def set_status(self, data_id: str, status: str) -> None:
        """Change the pipeline status of a known entry (an upload's analysis ran)."""
        record, details = self.record(data_id)
        record = {**record, "pipeline_status": status}
        self._records[data_id] = (record, attrs.evolve(details, status=status))

    def set_raw_file(self, data_id: str, sha3_256: str, raw_name: str) -> None:
        """Give a known entry the checksum and name of the raw file made for it."""
        record, details = self.record(data_id)
        self._records[data_id] = ({**record, "sha3_256": sha3_256, "raw_name": raw_name}, details)

    def sample_prefixes(self, kind: str) -> tuple[str, ...]:
        """The sample name prefixes whose samples a kind measures (`GaN-S`...)."""
        return tuple(_SAMPLE_PREFIXES.get(kind, _ANY_SAMPLE_PREFIX))

    def sample_names(self) -> dict[str, int]:
        """Each physical sample's name and how many entries measured it."""
        counts: dict[str, int] = {}
        for entry in self._entries.values():
            counts[entry.sample_name] = counts.get(entry.sample_name, 0) + 1
        return counts

    def result_json(self, data_id: str) -> bytes:
        """The encoded result of a known entry, as `GET /{kind}/{data_id}` answers it."""
        encode = self._realistic.get(self._known(data_id).kind, self.synthesised_json)
        return encode(data_id)

    def spectrum_payload(self, data_id: str) -> JSONObject:
        """The result of an XPS, XRD, photoluminescence or Raman entry, decoded."""
        answer: JSONObject = orjson.loads(self.spectrum_json(data_id))
        return answer

    def _encode_spectrum(self, data_id: str) -> bytes:
        entry = self._known(data_id)
        generate = GENERATORS[entry.kind]
        rng = _rng(self.seed, data_id, entry.kind)
        return orjson.dumps(generate(rng, entry.sample_name, entry.collected or _EPOCH))

    def _synthesise(self, data_id: str) -> bytes:
        entry = self._known(data_id)
        rng = _rng(self.seed, data_id, entry.kind, "synthesised")
        moment = entry.collected or _EPOCH
        schema = KINDS[entry.kind].schema
        return orjson.dumps(synthesise(schema, rng, data_id=data_id, moment=moment))

    def _known(self, data_id: str) -> CatalogueEntry:
        entry = self._entries.get(data_id)
        if entry is None:
            raise KeyError(data_id)
        return entry

    def _encode_sims(self, data_id: str) -> bytes:
        return sims_json(self.seed, self._known(data_id))

    def _encode_oes(self, data_id: str) -> bytes:
        return oes_json(self.seed, self._known(data_id), self.oes_points)


# ------------------------------------------------------------------------- instruments

# (name, manufacturer, model, make id, type, metadata)
_INSTRUMENTS: Final[Sequence[tuple[str, str, str, int, str, JSONObject]]] = (
    (
        "MBE Chamber A",
        "Veeco",
        "GEN10",
        3,
        "mbe",
        {
            "inputs": 10,
            "sources": ["Ga", "Ga", "In", "Al", "Mg", "Si", "N2 RF plasma"],
            "substrate_size_in": 4,
            "base_pressure_torr": 3e-11,
            "rheed": True,
        },
    ),
    (
        "Oxide MBE",
        "Riber",
        "Compact 21 DZ",
        5,
        "mbe",
        {
            "inputs": 8,
            "sources": ["Sr", "Ba", "La", "Ti (TTIP)", "O2 RF plasma", "O3"],
            "substrate_size_in": 2,
            "base_pressure_torr": 8e-11,
            "rheed": True,
        },
    ),
    (
        "Sputter 1",
        "AJA International",
        "ATC Orion 8",
        8,
        "sputter",
        {
            "inputs": 5,
            "targets": ["Ti", "Al", "BaTiO3", "SrTiO3", "TiN"],
            "gases": ["Ar", "N2", "O2"],
            "rf_power_max_w": 300,
            "dc_power_max_w": 750,
        },
    ),
    (
        "Cluster sputter",
        "Kurt J. Lesker",
        "PVD 75",
        9,
        "pvd",
        {
            "inputs": 4,
            "targets": ["Al", "AlN", "Mo", "Pt"],
            "gases": ["Ar", "N2"],
            "substrate_heater_max_c": 850,
        },
    ),
    (
        "PLD",
        "Neocera",
        "Pioneer 180",
        12,
        "pld",
        {
            "inputs": 6,
            "laser": "KrF excimer 248 nm",
            "targets": ["SrTiO3", "BaTiO3", "La0.7Sr0.3MnO3", "LaAlO3"],
            "max_fluence_j_cm2": 3.0,
            "rheed": True,
        },
    ),
    (
        "Nitride MBE B",
        "SVT Associates",
        "SVTA-N35",
        14,
        "mbe",
        {
            "inputs": 8,
            "sources": ["Ga", "In", "Al", "Mg", "Si", "NH3"],
            "substrate_size_in": 2,
            "base_pressure_torr": 1e-10,
        },
    ),
)

_NOTES: Final = (
    "Ga cell refilled; outgassed to 1100 C.",
    "Plasma source serviced, new PBN crucible.",
    "Bake-out completed; RGA clean.",
    "Target 3 replaced.",
)


def instruments(seed: int) -> list[JSONObject]:
    """The synthesis instruments of the sandbox organization."""
    rng = _rng(seed, "instruments")
    answer: list[JSONObject] = []
    for position, (name, maker, model, make_id, kind, metadata) in enumerate(_INSTRUMENTS):
        year = rng.randrange(2012, 2024)
        serial = f"{model.split()[0].upper().replace('-', '')}-{rng.randrange(100, 9999):05d}"
        updated = _EPOCH + timedelta(seconds=rng.randrange(0, 300 * 86400))
        note = rng.choice(_NOTES) if rng.random() < 0.4 else None
        answer.append(
            {
                "id": position + 1,
                "source_name": name,
                "source_manufacturer": maker,
                "source_model": model,
                "source_makes_id": make_id,
                "synth_source_type": kind,
                "synth_source_id": 40 + position,
                "source_metadata": {
                    "manufacture_year": year,
                    "serial_identifier": serial,
                    **metadata,
                },
                "detail_note_content": note,
                "detail_note_last_updated": (
                    isoformat(updated - timedelta(days=rng.randrange(1, 60))) if note else None
                ),
                "user_id": SANDBOX_USER_ID,
                "user_name": SANDBOX_USER_NAME,
                "last_updated": isoformat(updated),
            }
        )
    return answer


# -------------------------------------------------------------------- target materials

# (name prefix, substrate, [(composition, orientation, space group, mp id)], metadata)
_Layer = tuple[str, str | None, str | None, str | None]
_SAMPLES: Final[Sequence[tuple[str, str, Sequence[_Layer], JSONObject]]] = (
    (
        "BaTiO3 on Si",
        "Si",
        (("SrTiO3", "001", "Pm-3m", "mp-5229"), ("BaTiO3", "001", "P4mm", "mp-5986")),
        {"instrument": "Oxide MBE", "growth_temperature_c": 650},
    ),
    (
        "GaN on sapphire",
        "Al2O3",
        (("AlN", "0001", "P6_3mc", "mp-661"), ("GaN", "0001", "P6_3mc", "mp-804")),
        {"instrument": "MBE Chamber A", "growth_temperature_c": 720, "wafer_diameter_in": 2},
    ),
    (
        "InGaN MQW",
        "Al2O3",
        (
            ("GaN", "0001", "P6_3mc", "mp-804"),
            ("In0.15Ga0.85N", "0001", "P6_3mc", None),
            ("GaN", "0001", "P6_3mc", "mp-804"),
        ),
        {"instrument": "MBE Chamber A", "growth_temperature_c": 610, "quantum_wells": 5},
    ),
    (
        "SrTiO3 homoepitaxy",
        "SrTiO3",
        (("SrTiO3", "001", "Pm-3m", "mp-5229"),),
        {"instrument": "PLD", "growth_temperature_c": 750, "oxygen_pressure_torr": 1e-5},
    ),
    (
        "AlN on Si(111)",
        "Si",
        (("AlN", "0001", "P6_3mc", "mp-661"),),
        {"instrument": "Cluster sputter", "growth_temperature_c": 500},
    ),
    (
        "LSMO on STO",
        "SrTiO3",
        (("La0.7Sr0.3MnO3", "001", None, None),),
        {"instrument": "PLD", "growth_temperature_c": 700},
    ),
    (
        "TiN on MgO",
        "MgO",
        (("TiN", "001", "Fm-3m", "mp-492"),),
        {"instrument": "Sputter 1", "growth_temperature_c": 600, "n2_fraction": 0.2},
    ),
    (
        "AlGaN/GaN HEMT",
        "SiC",
        (
            ("AlN", "0001", "P6_3mc", "mp-661"),
            ("GaN", "0001", "P6_3mc", "mp-804"),
            ("Al0.25Ga0.75N", "0001", "P6_3mc", None),
        ),
        {"instrument": "Nitride MBE B", "growth_temperature_c": 760},
    ),
)


def target_materials(seed: int) -> list[JSONObject]:
    """The initial target material layers of the sandbox organization (one row a layer)."""
    rng = _rng(seed, "target-materials")
    rows: list[JSONObject] = []
    record_id = 100
    for position, (name, substrate, layers, metadata) in enumerate(_SAMPLES):
        sample_id = 40 + position
        sample_name = f"{name} #{rng.randrange(1, 99)}"
        updated = isoformat(_EPOCH + timedelta(seconds=rng.randrange(0, 300 * 86400)))
        note = "Check RHEED after buffer." if rng.random() < 0.25 else None
        for layer_id, (composition, orientation, space_group, mp_id) in enumerate(layers, 1):
            record_id += 1
            rows.append(
                {
                    "id": record_id,
                    "sample_id": sample_id,
                    "sample_name": sample_name,
                    "substrate": substrate,
                    "layer_id": layer_id,
                    "composition_string": composition,
                    "element_dict": element_dict(composition) or {},
                    "orientation": orientation,
                    "space_group": space_group,
                    "mp_id": mp_id,
                    "detail_notes_id": f"note_{sample_id}" if note else None,
                    "detail_note_content": note,
                    "sample_metadata": dict(metadata),
                    "user_id": SANDBOX_USER_ID,
                    "user_name": SANDBOX_USER_NAME,
                    "version": SCHEMA_VERSION,
                    "last_updated": updated,
                }
            )
    return rows


# -------------------------------------------------------------------------------- SIMS


def _sims_is_empty(seed: int, data_id: str) -> bool:
    return _rng(seed, data_id, "sims-empty").random() < 0.05


# Concentrations are drawn on a logarithmic grid of _PER_DECADE levels a decade (steps of
# 0.23 %, far finer than the noise) and printed with 4 significant digits: a table lookup
# per point instead of a log, a format and a parse.
_PER_DECADE: Final = 1000
_LOWEST_DECADE: Final = 8
_HIGHEST_DECADE: Final = 26
_LN10: Final = math.log(10)
# Relative counting noise: a few % on strong signals, ~30 % at the background.
_SPREAD_FLOOR: Final = 0.03
_SPREAD_BACKGROUND: Final = 0.3
# Where a profile's own signal is below this fraction of its background, it is background.
_NEGLIGIBLE: Final = 0.01
# Half width, in levels, of the background's noise (beyond 7 standard deviations).
_BACKGROUND_REACH: Final = 1000


@functools.cache
def _levels() -> list[float]:
    """Every level of the concentration grid, from 1e8 to 1e26, with 4 significant digits."""
    mantissas = [f"{10 ** (k / _PER_DECADE):.3f}" for k in range(_PER_DECADE)]
    levels = [
        float(f"{mantissa}e{decade}")
        for decade in range(_LOWEST_DECADE, _HIGHEST_DECADE)
        for mantissa in mantissas
    ]
    levels.append(float(f"1e{_HIGHEST_DECADE}"))
    return levels


@functools.cache
def _background_noise() -> list[int]:
    """The shared normal draws as level offsets of background noise, shifted to be >= 0."""
    spread = (_SPREAD_FLOOR + _SPREAD_BACKGROUND) * _PER_DECADE / _LN10
    reach = _BACKGROUND_REACH
    table = _normals()[:_NORMALS]
    return [min(max(round(n * spread) + reach, 0), 2 * reach) for n in table] * (_MAX_STRIDE + 1)


def _level(value: float) -> int:
    return round(_PER_DECADE * (math.log10(value) - _LOWEST_DECADE))


@attrs.frozen
class _Profile:
    species: str
    # The profile's signal (background excluded) at each of a list of depths.
    shape: Callable[[list[float]], list[float]]
    background: float
    extent_nm: float
    # The depths outside which the signal is below _NEGLIGIBLE of the background.
    window_nm: tuple[float, float]
    metadata: JSONObject


# species: (secondary ion, primary beam, Rp nm per keV, straggle / Rp, energies keV)
_IMPLANTS: Final = {
    "B": ("11B+", "O2+", 3.3, 0.37, (10, 20, 30, 50, 80)),
    "P": ("31P-", "Cs+", 1.25, 0.42, (20, 30, 50, 80, 120)),
    "As": ("75As28Si-", "Cs+", 0.62, 0.37, (30, 50, 80, 120, 180)),
}
# species: (secondary ion, primary beam, log10 background range in Si, in GaN)
_CONTAMINANTS: Final = {
    "O": ("16O-", "Cs+", (16.8, 17.6), (16.0, 16.8)),
    "C": ("12C-", "Cs+", (15.8, 16.5), (16.0, 16.7)),
    "H": ("1H-", "Cs+", (17.0, 17.6), (16.8, 17.5)),
}
_IMPACT_KEV: Final = {"O2+": 3.0, "Cs+": 14.5}
_MIN_DECADES: Final = 3.3


def _decay_length(amplitude: float, scale: float, background: float) -> float:
    """How far an exponential of `amplitude` and length `scale` stays non-negligible."""
    ratio = amplitude / (_NEGLIGIBLE * background)
    return scale * math.log(ratio) if ratio > 1 else 0.0


def _implant(rng: random.Random, species: str) -> _Profile:
    ion, beam, rp_per_kev, straggle, energies = _IMPLANTS[species]
    energy = rng.choice(energies)
    rp = rp_per_kev * energy * rng.uniform(0.95, 1.05)
    right = straggle * rp
    left = right * rng.uniform(0.75, 0.9)
    dose = 10 ** rng.uniform(13.5, 15.7)
    peak = min(dose / (math.sqrt(2 * math.pi) * (left + right) / 2 * 1e-7), 5e21)
    background = min(10 ** rng.uniform(14.0, 15.3), peak / 10**_MIN_DECADES)
    tail_fraction = rng.uniform(0.005, 0.03)
    tail = right * rng.uniform(0.4, 0.9)
    tail_peak = peak * tail_fraction
    rising, falling, inverse_tail = -0.5 / left**2, -0.5 / right**2, -1.0 / tail
    exp = math.exp

    def shape(depths: list[float]) -> list[float]:
        split = bisect.bisect_left(depths, rp)
        values = [peak * exp(rising * (z := d - rp) * z) for d in depths[:split]]
        # Beyond the peak, a channelling tail.
        values += [
            peak * exp(falling * (z := d - rp) * z) + tail_peak * exp(inverse_tail * z)
            for d in depths[split:]
        ]
        return values

    reach = math.sqrt(2 * math.log(max(peak / (_NEGLIGIBLE * background), 1.0)))
    window = (
        rp - left * reach,
        rp + max(right * reach, _decay_length(tail_peak, tail, background)),
    )
    extent = rp + tail * math.log(tail_peak / (0.1 * background)) + 4 * right
    metadata = {
        "profile_type": "implant",
        "secondary_ion": ion,
        "primary_beam": beam,
        "impact_energy_kev": _IMPACT_KEV[beam],
        "implant_energy_kev": energy,
        "implant_dose_atoms_per_cm2": _sig(dose, 3),
        "detection_limit": _sig(background * 0.5, 2),
    }
    return _Profile(species, shape, background, extent, window, metadata)


def _contaminant(rng: random.Random, species: str, matrix: str) -> _Profile:
    ion, beam, si_range, gan_range = _CONTAMINANTS[species]
    low, high = si_range if matrix == "Si" else gan_range
    surface = 10 ** rng.uniform(20.8, 21.8)
    background = min(10 ** rng.uniform(low, high), surface / 10**_MIN_DECADES)
    decay = rng.uniform(1.5, 4.0)
    slow = rng.uniform(8.0, 25.0)
    mixed = surface * 1e-3
    inverse_decay, inverse_slow = -1.0 / decay, -1.0 / slow
    exp = math.exp

    def shape(depths: list[float]) -> list[float]:
        # Native oxide / adsorbates, then knock-on mixing into the first tens of nm.
        return [surface * exp(inverse_decay * d) + mixed * exp(inverse_slow * d) for d in depths]

    window = (
        0.0,
        max(_decay_length(surface, decay, background), _decay_length(mixed, slow, background)),
    )
    metadata = {
        "profile_type": "contaminant",
        "secondary_ion": ion,
        "primary_beam": beam,
        "impact_energy_kev": _IMPACT_KEV[beam],
        "detection_limit": _sig(background * 0.5, 2),
    }
    return _Profile(species, shape, background, 20 * slow, window, metadata)


def _doped_layer(
    rng: random.Random, species: str, top: float, bottom: float, memory: float
) -> _Profile:
    level = 10 ** (rng.uniform(18.8, 19.7) if species == "Mg" else rng.uniform(18.3, 19.3))
    background = min(10 ** rng.uniform(15.0, 16.0), level / 10**_MIN_DECADES)
    edge = rng.uniform(3.0, 12.0)
    inverse_edge = 1.0 / edge
    erf, erfc, exp = math.erf, math.erfc, math.exp
    memory_level = level * 0.05
    inverse_memory = -1.0 / memory if memory > 0 else 0.0

    def shape(depths: list[float]) -> list[float]:
        # A plateau between diffused edges: erfc((d - bottom) / edge) falls from 2 to 0.
        if top <= 0:
            values = [level * 0.5 * erfc((d - bottom) * inverse_edge) for d in depths]
        else:
            quarter = level * 0.25
            values = [
                quarter * (1 + erf((d - top) * inverse_edge)) * erfc((d - bottom) * inverse_edge)
                for d in depths
            ]
        if memory > 0:  # Mg memory effect / segregation tail
            split = bisect.bisect_right(depths, bottom)
            for i in range(split, len(depths)):
                values[i] += memory_level * exp(inverse_memory * (depths[i] - bottom))
        return values

    # erfc(x) / 2 < exp(-x^2): the edges are negligible beyond `reach` edge lengths.
    reach = math.sqrt(math.log(max(level / (_NEGLIGIBLE * background), 1.0))) + 1.0
    window = (
        top - edge * reach if top > 0 else 0.0,
        bottom + max(edge * reach, _decay_length(memory_level, memory, background)),
    )
    beam = "O2+" if species == "Mg" else "Cs+"
    metadata = {
        "profile_type": "doping",
        "secondary_ion": "24Mg+" if species == "Mg" else "30Si-",
        "primary_beam": beam,
        "impact_energy_kev": _IMPACT_KEV[beam],
        "layer_top_nm": round(max(top, 0.0), 1),
        "layer_bottom_nm": round(bottom, 1),
        "detection_limit": _sig(background * 0.5, 2),
    }
    extent = bottom + 8 * edge + (memory * 12 if memory else 0)
    return _Profile(species, shape, background, extent, window, metadata)


def _concentrations(rng: random.Random, profile: _Profile, depths: list[float]) -> list[float]:
    """A profile's measured concentrations: its signal on its background, with noise.

    Where the signal is negligible, each point is the background's level plus a shared,
    precomputed noise offset: two slices and a lookup a point. Elsewhere the noise's
    spread shrinks as the signal rises above the background.
    """
    levels = _levels()
    background = profile.background
    points = len(depths)
    first = bisect.bisect_left(depths, profile.window_nm[0])
    last = max(bisect.bisect_right(depths, profile.window_nm[1]), first)
    reach = _BACKGROUND_REACH
    base = _level(background)
    around = levels[base - reach : base + reach + 1]
    noise = _background_noise()
    values = list(map(around.__getitem__, _window(rng, noise, first)))
    if last > first:
        per_decade, log10, sqrt = _PER_DECADE, math.log10, math.sqrt
        floor = _SPREAD_FLOOR * per_decade / _LN10
        rising = _SPREAD_BACKGROUND * per_decade / _LN10
        shift = 0.5 - per_decade * _LOWEST_DECADE
        signal = profile.shape(depths[first:last])
        values += [
            levels[
                int(
                    per_decade * log10(total := value + background)
                    + draw * (floor + rising * sqrt(background / total))
                    + shift
                )
            ]
            for value, draw in zip(signal, _noise(rng, last - first), strict=True)
        ]
    values += map(around.__getitem__, _window(rng, noise, points - last))
    return values


def _sims_document(seed: int, entry: CatalogueEntry) -> list[JSONObject]:
    """The SIMS answer of an entry, its depths encoded once for all its profiles."""
    if _sims_is_empty(seed, entry.data_id):
        return []
    rng = _rng(seed, entry.data_id, "sims")
    matrix = _SIMS_MATRICES.get(entry.sample_name.rsplit("-", 1)[0], "Si")
    profiles: list[_Profile] = []
    if matrix == "Si":
        for species in rng.sample(sorted(_IMPLANTS), rng.randint(1, 2)):
            profiles.append(_implant(rng, species))
    else:
        p_bottom = rng.uniform(80.0, 250.0)
        n_top = p_bottom + rng.uniform(50.0, 200.0)
        n_bottom = n_top + rng.uniform(300.0, 1000.0)
        if entry.sample_name.startswith("pGaN"):  # an LED: p-GaN:Mg over n-GaN:Si
            profiles.append(_doped_layer(rng, "Mg", 0.0, p_bottom, rng.uniform(20.0, 60.0)))
        profiles.append(_doped_layer(rng, "Si", n_top, n_bottom, 0.0))
    for species in rng.sample(sorted(_CONTAMINANTS), rng.randint(1, 2)):
        profiles.append(_contaminant(rng, species, matrix))

    total = max(rng.choice((300.0, 500.0, 800.0, 1000.0)), *(p.extent_nm for p in profiles))
    total = math.ceil(min(total, 4000.0) / 50) * 50
    points = rng.randint(300, 2500)
    # Depths are whole thousandths of a nm, so that each prints with at most 3 decimals.
    step = max(round(total * 1000 / (points - 1)), 1)
    depths = [milli / 1000 for milli in range(0, points * step, step)]
    encoded_depths = orjson.Fragment(orjson.dumps(depths))
    collected = entry.collected or _EPOCH
    updated = isoformat(collected + timedelta(minutes=rng.randrange(30, 72 * 60)))
    processed_data_id = _uuid(rng)
    answer: list[JSONObject] = []
    for number, profile in enumerate(sorted(profiles, key=lambda p: p.species), 1):
        answer.append(
            {
                "data_id": entry.data_id,
                "id": f"sims_{entry.index + 1:05d}_{number:02d}",
                "processed_data_id": processed_data_id,
                "species_name": profile.species,
                "depths": encoded_depths,
                "depth_units": "nm",
                "concentrations": _concentrations(rng, profile, depths),
                "concentration_units": "atoms/cm^3",
                "species_metadata": {"matrix": matrix, **profile.metadata},
                "last_updated": updated,
            }
        )
    return answer


def sims_profiles(seed: int, entry: CatalogueEntry) -> list[JSONObject]:
    """The SIMS depth profiles of an entry, ordered by species name.

    Implants (B, P, As in Si) are Gaussian peaks with a channelling tail, dopants of
    epitaxial GaN (Mg, Si) are doped layers with diffused edges, and contaminants (O, C,
    H) fall from a surface spike to the bulk level; all sit on a background and carry
    counting noise that grows towards the detection limit.
    """
    answer: list[JSONObject] = orjson.loads(sims_json(seed, entry))
    return answer


def sims_json(seed: int, entry: CatalogueEntry) -> bytes:
    """The SIMS answer of an entry (see `sims_profiles`), encoded as JSON."""
    return orjson.dumps(_sims_document(seed, entry))


# --------------------------------------------------------------------------------- OES

EMISSION_LINES_NM: Final[dict[str, tuple[float, ...]]] = {
    "Ga": (403.30, 417.20),
    "In": (410.18, 451.13),
    "Al": (394.40, 396.15),
    "N2": (337.13, 357.69, 380.49),
    "N": (746.83, 868.03),
    "O": (777.41, 844.64),
    "Ar": (696.54, 750.39, 763.51, 811.53),
    "Ti": (399.86, 498.17),
    "Ba": (455.40, 553.55),
    "Sr": (407.77, 460.73),
    "Mg": (285.21, 518.36),
}
"""Strong emission lines (nm, air) of the species the sandbox's OES spectra show."""

# sample name prefix: (process, species, metadata)
_OES_PROCESSES: Final[dict[str, tuple[str, Sequence[str], JSONObject]]] = {
    "GaN-S": ("GaN MBE growth", ("Ga", "N2", "N"), {"plasma": "N2 RF", "rf_power_w": 350}),
    "InGaN-MQW": (
        "InGaN MBE growth",
        ("Ga", "In", "N2", "N"),
        {"plasma": "N2 RF", "rf_power_w": 300},
    ),
    "AlN-T": ("AlN MBE growth", ("Al", "N2", "N"), {"plasma": "N2 RF", "rf_power_w": 400}),
    "AlGaN-HEMT": (
        "AlGaN MBE growth",
        ("Al", "Ga", "N2", "N"),
        {"plasma": "N2 RF", "rf_power_w": 350},
    ),
    "pGaN-LED": (
        "Mg-doped GaN MBE growth",
        ("Ga", "Mg", "N2", "N"),
        {"plasma": "N2 RF", "rf_power_w": 350},
    ),
    "BTO-Si": (
        "BaTiO3 RF sputtering",
        ("Ar", "O", "Ba", "Ti"),
        {"plasma": "Ar/O2 RF", "rf_power_w": 150},
    ),
    "STO-H": (
        "SrTiO3 PLD in O2",
        ("O", "Sr", "Ti"),
        {"plasma": "laser plume", "fluence_j_cm2": 1.5},
    ),
    "TiN-M": (
        "TiN reactive sputtering",
        ("Ar", "N2", "Ti"),
        {"plasma": "Ar/N2 DC", "dc_power_w": 400},
    ),
}
_EXCLUDABLE: Final = ("Cu", "Fe", "Cr", "W", "Mo", "Na", "C")


def _oes_capture(seed: int, data_id: str) -> tuple[bool, bool]:
    draw = _rng(seed, data_id, "oes-capture").random()
    if draw < 0.6:
        return True, True
    if draw < 0.85:
        return False, False
    return False, True


# Counts are kept in integer tenths, so that every value prints with one decimal; a table
# turns tenths into floats (t -> t / 10) for the values of a spectrum's smooth part.
_TENTHS_SHIFT: Final = 1 << 14
_TENTHS_SIZE: Final = 1 << 16
_SPECTROMETERS: Final = ("Ocean Insight HR4000", "Avantes AvaSpec-ULS2048")
_INTEGRATION_MS: Final = (20, 50, 100, 200)
# Dark and reference spectra are captured once a session and shared by its measurements.
_SESSIONS: Final = 6
# The plasma continuum's brightness takes one of _BRIGHTNESSES values from 0.5 to 1.5.
_BRIGHTNESSES: Final = 33
# Shot and read noise on the continuum, in tenths of a count (its sigma is ~10 counts).
_CONTINUUM_NOISE: Final = 100.0
_READ_NOISE: Final = 6.0


@functools.cache
def _tenths() -> list[float]:
    """`_tenths()[t + _TENTHS_SHIFT] == t / 10` for every `t` the table covers."""
    return [(i - _TENTHS_SHIFT) / 10 for i in range(_TENTHS_SIZE)]


@functools.cache
def _continuum_noise() -> list[int]:
    """The shared normal draws as noise on the continuum, in tenths of a count."""
    table = _normals()
    return [round(n * _CONTINUUM_NOISE) for n in table[:_NORMALS]] * (_MAX_STRIDE + 1)


@attrs.frozen
class _Grid:
    wavelengths: list[float]
    encoded_wavelengths: orjson.Fragment
    response: list[float]  # silicon CCD behind a grating: weak in the UV and the near IR
    continuum: list[float]  # broad plasma continuum and stray light, in counts
    lamp: list[float]  # a ~3000 K halogen lamp through the same optics, in counts
    slope: list[float]  # the dark's slow rise across the detector


@functools.lru_cache(maxsize=8)
def _grid(points: int) -> _Grid:
    first, last = WAVELENGTH_RANGE_NM
    step = (last - first) / (points - 1)
    wavelengths = [round(first + i * step, 3) for i in range(points)]
    response = [0.2 + 0.8 * math.exp(-(((w - 600.0) / 230.0) ** 2)) for w in wavelengths]
    lamp_scale = 40000.0 / _planck(966.0)
    return _Grid(
        wavelengths=wavelengths,
        encoded_wavelengths=orjson.Fragment(orjson.dumps(wavelengths)),
        response=response,
        continuum=[120.0 * math.exp(-(((w - 520.0) / 260.0) ** 2)) for w in wavelengths],
        lamp=[r * lamp_scale * _planck(w) for r, w in zip(response, wavelengths, strict=True)],
        slope=[0.01 * (w - first) for w in wavelengths],
    )


@functools.lru_cache(maxsize=64)
def _seen_continuum(points: int, brightness: int) -> list[int]:
    """The continuum through the spectrometer's response, in tenths plus `_TENTHS_SHIFT`."""
    grid = _grid(points)
    scale = 0.5 + brightness / (_BRIGHTNESSES - 1)
    return [
        int(scale * value * response * 10 + 0.5) + _TENTHS_SHIFT
        for value, response in zip(grid.continuum, grid.response, strict=True)
    ]


@attrs.frozen
class _Session:
    dark: list[int]  # in tenths of a count
    encoded_dark: orjson.Fragment
    encoded_reference: orjson.Fragment


@functools.lru_cache(maxsize=256)
def _session(
    seed: int, points: int, spectrometer: str, integration_ms: int, number: int
) -> _Session:
    """The dark and reference spectra captured in one session of one spectrometer setting."""
    rng = _rng(seed, "oes-session", points, spectrometer, integration_ms, number)
    grid = _grid(points)
    dark_level = rng.uniform(880.0, 1080.0) + 0.1 * integration_ms + 0.05
    dark = [
        int((dark_level + slope + 4.0 * draw) * 10)
        for slope, draw in zip(grid.slope, _noise(rng, points), strict=True)
    ]
    reference = [
        (d + int((lamp + 15.0 * draw) * 10 + 0.5)) / 10
        for d, lamp, draw in zip(dark, grid.lamp, _noise(rng, points), strict=True)
    ]
    return _Session(
        dark=dark,
        encoded_dark=orjson.Fragment(orjson.dumps([value / 10 for value in dark])),
        encoded_reference=orjson.Fragment(orjson.dumps(reference)),
    )


def _emission(
    rng: random.Random, species: Sequence[str], wavelengths: list[float], step: float
) -> tuple[list[tuple[str, float]], dict[int, float]]:
    """The emission lines of `species`: the lines, and their light at each grid index lit."""
    first, points = wavelengths[0], len(wavelengths)
    width = max(0.35, 0.9 * step)  # Gaussian sigma of a line: the spectrometer's resolution
    reach = int(6 * width / step) + 1
    shining: dict[int, float] = {}
    lines: list[tuple[str, float]] = []
    for name in species:
        strength = 10 ** rng.uniform(3.4, 4.4)
        for line in EMISSION_LINES_NM[name]:
            lines.append((name, line))
            amplitude = strength * rng.uniform(0.4, 1.0)
            center = round((line - first) / step)
            for i in range(max(center - reach, 0), min(center + reach + 1, points)):
                glow = amplitude * math.exp(-0.5 * ((wavelengths[i] - line) / width) ** 2)
                shining[i] = shining.get(i, 0.0) + glow
    return lines, shining


def _oes_document(seed: int, entry: CatalogueEntry, points: int) -> JSONObject:
    """The OES answer of an entry, its shared arrays already encoded."""
    rng = _rng(seed, entry.data_id, "oes")
    has_reference, has_dark = _oes_capture(seed, entry.data_id)
    prefix = entry.sample_name.rsplit("-", 1)[0]
    process, species, process_metadata = _OES_PROCESSES.get(prefix, _OES_PROCESSES["GaN-S"])
    first, last = WAVELENGTH_RANGE_NM
    step = (last - first) / (points - 1)
    grid = _grid(points)
    wavelengths = grid.wavelengths
    brightness = rng.randrange(_BRIGHTNESSES)
    scale = 0.5 + brightness / (_BRIGHTNESSES - 1)
    lines, shining = _emission(rng, species, wavelengths, step)
    spectrometer = rng.choice(_SPECTROMETERS)
    integration_ms = rng.choice(_INTEGRATION_MS)
    session = _session(seed, points, spectrometer, integration_ms, rng.randrange(_SESSIONS))
    dark = session.dark

    # The smooth part of the spectrum: three list operations at C speed.
    noise = _window(rng, _continuum_noise(), points)
    corrected_tenths = list(map(operator.add, _seen_continuum(points, brightness), noise))
    sample_tenths = list(map(operator.add, corrected_tenths, dark))
    # Where lines shine, the shot noise grows with the signal.
    response, continuum = grid.response, grid.continuum
    lit = sorted(shining)
    counts: dict[int, int] = {}
    for i, draw in zip(lit, _noise(rng, len(lit)), strict=True):
        signal = response[i] * (scale * continuum[i] + shining[i])
        counts[i] = int((signal + draw * (math.sqrt(signal) * 0.5 + _READ_NOISE)) * 10 + 0.5)

    tenths = _tenths()
    sample = list(map(tenths.__getitem__, sample_tenths))
    if has_dark:
        offset = 0
        scope_corrected = list(map(tenths.__getitem__, corrected_tenths))
    else:
        # The darkest pixels are pure dark: estimate the dark level from them.
        darkest = sorted(sample_tenths[::8])
        offset = darkest[len(darkest) // 20] - _TENTHS_SHIFT
        scope_corrected = list(
            map(tenths.__getitem__, map(operator.sub, sample_tenths, itertools.repeat(offset)))
        )
    for i, value in counts.items():
        sample[i] = (dark[i] + value) / 10
        scope_corrected[i] = value / 10 if has_dark else (dark[i] + value - offset) / 10

    detected = _detect_peaks(lines, wavelengths, scope_corrected)
    found = sorted({str(peak["element"]) for peak in detected})
    mode = rng.choices(("auto", "include", "exclude"), (0.5, 0.3, 0.2))[0]
    constrained: list[str] | None = None
    if mode == "include":
        constrained = sorted({*found, *species})
    elif mode == "exclude":
        constrained = sorted(rng.sample(_EXCLUDABLE, rng.randint(1, 3)))

    collected = entry.collected or _EPOCH
    return {
        "data_id": entry.data_id,
        "id": f"oes_{entry.index + 1:05d}",
        "wavelengths": grid.encoded_wavelengths,
        "wavelength_unit": "nm",
        "sample": sample,
        "reference": session.encoded_reference if has_reference else None,
        "dark": session.encoded_dark if has_dark else None,
        "scope_corrected": scope_corrected,
        "spectrum_type": "sample",
        "detected_peaks": detected,
        "constraint_mode": mode,
        "constrained_elements": constrained,
        "spectral_metadata": {
            "process": process,
            **process_metadata,
            "spectrometer": spectrometer,
            "integration_time_ms": integration_ms,
            "averages": rng.choice((1, 5, 10)),
            "points": points,
            "wavelength_range_nm": [first, last],
            "reference_captured": has_reference,
            "dark_captured": has_dark,
        },
        "last_updated": isoformat(collected + timedelta(minutes=rng.randrange(5, 24 * 60))),
    }


def oes_result(seed: int, entry: CatalogueEntry, points: int = 2048) -> JSONObject:
    """The processed OES result of an entry.

    Emission lines of the process's species sit at their real wavelengths on a smooth
    plasma continuum, seen through the spectrometer's response, with shot and read noise
    and a dark offset. `scope_corrected` is the sample minus the dark (or, when no dark was
    captured, minus the dark level estimated from the spectrum). A line is listed in
    `detected_peaks` when `scope_corrected` has a clear local maximum within one grid step
    of its wavelength. Dark and reference spectra are captured once a session: the
    entries of one session (spectrometer, integration time) share them.
    """
    answer: JSONObject = orjson.loads(oes_json(seed, entry, points))
    return answer


def oes_json(seed: int, entry: CatalogueEntry, points: int = 2048) -> bytes:
    """The OES answer of an entry (see `oes_result`), encoded as JSON."""
    return orjson.dumps(_oes_document(seed, entry, points))


def _planck(wavelength_nm: float, temperature: float = 3000.0) -> float:
    metres = wavelength_nm * 1e-9
    return 1.0 / (metres**5 * (math.exp(0.014388 / (metres * temperature)) - 1.0)) * 1e-30


def _detect_peaks(
    lines: Sequence[tuple[str, float]], wavelengths: Sequence[float], corrected: Sequence[float]
) -> list[JSONObject]:
    """The lines at which `corrected` has a clear local maximum within one grid step."""
    first, step = wavelengths[0], wavelengths[1] - wavelengths[0]
    floor = 5 * (6.0 + 0.5 * math.sqrt(200.0))  # five times the noise of the continuum
    found: list[tuple[float, str]] = []
    for name, line in lines:
        center = round((line - first) / step)
        for i in (center, center - 1, center + 1):
            if not 0 < i < len(corrected) - 1:
                continue
            if corrected[i - 1] <= corrected[i] >= corrected[i + 1] and corrected[i] > floor:
                found.append((line, name))
                break
    return [
        {"peak_id": f"p{number}", "wavelength_nm": line, "element": name}
        for number, (line, name) in enumerate(sorted(found), 1)
    ]


# The samples each technique measures, by sample name prefix.
_SIMS_MATRICES: Final = {"Si-IMP": "Si", "Si-WAFER": "Si", "GaN-S": "GaN", "pGaN-LED": "GaN"}
_SAMPLE_PREFIXES: Final = {
    "sims": ("Si-IMP", "Si-IMP", "Si-WAFER", "GaN-S", "pGaN-LED"),
    "oes": tuple(_OES_PROCESSES),
    **KIND_PREFIXES,
}
_ANY_SAMPLE_PREFIX: Final = (*_SIMS_MATRICES, *_OES_PROCESSES)


def warm_up(oes_points: int = 2048) -> None:
    """Build the tables every payload draws from, so that the first answers are as fast."""
    _levels()
    _background_noise()
    _continuum_noise()
    _tenths()
    _grid(oes_points)
