"""The sandbox catalogue's search: entry details, physical samples, projects and filters.

Every data entry belongs to a physical sample (entries of one sample name share it), and
every physical sample to the projects of its kind of stack. An entry's details (status,
upload and access times spread over two years, owner, tags...) are drawn from its own
seeded generator, so they do not depend on how many entries the catalogue holds.

`search` answers `GET /data_entries/` with the platform's filters; a wrong filter value
is a FastAPI-style 422 naming the query parameter, as the platform answers.
"""

from __future__ import annotations

import hashlib
import math
import random
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import attrs

from atomscale_async._generated.kinds import KINDS
from atomscale_async._search import STATUSES as SEARCH_STATUSES

JSONObject = dict[str, Any]

STATUSES: Final = tuple(status for status in SEARCH_STATUSES if status != "all")
"""The pipeline statuses the catalogue knows (`status=all` matches every one)."""
_STATUS_WEIGHTS: Final = (0.86, 0.04, 0.03, 0.03, 0.01, 0.01, 0.01, 0.01)

COLLEAGUE_NAME: Final = "Dr. Ada Colleague"
"""The owner of the organization's entries that are not the sandbox user's own."""

# (name, sample name prefixes it holds)
_PROJECTS: Final = (
    ("Nitride LEDs", ("GaN-S", "pGaN-LED", "InGaN-MQW")),
    ("GaN power HEMTs", ("AlGaN-HEMT", "AlN-T", "GaN-S")),
    ("Ferroelectric oxides on Si", ("BTO-Si", "STO-H")),
    ("Implant calibration", ("Si-IMP", "Si-WAFER")),
    ("Nitride hard coatings", ("TiN-M",)),
)

# The target material and growth instrument of each sample name prefix.
_STACKS: Final[dict[str, tuple[str, str, str]]] = {
    "Si-IMP": ("Si wafer", "Si", "Implanter (external)"),
    "Si-WAFER": ("Si wafer", "Si", "Wafer supplier"),
    "GaN-S": ("GaN on sapphire", "Al2O3", "MBE Chamber A"),
    "pGaN-LED": ("GaN on sapphire", "Al2O3", "MBE Chamber A"),
    "InGaN-MQW": ("InGaN MQW", "Al2O3", "MBE Chamber A"),
    "AlN-T": ("AlN on Si(111)", "Si", "Cluster sputter"),
    "AlGaN-HEMT": ("AlGaN/GaN HEMT", "SiC", "Nitride MBE B"),
    "BTO-Si": ("BaTiO3 on Si", "Si", "Oxide MBE"),
    "STO-H": ("SrTiO3 homoepitaxy", "SrTiO3", "PLD"),
    "TiN-M": ("TiN on MgO", "MgO", "Sputter 1"),
}
_EXTENSIONS: Final = {
    "sims": "csv",
    "oes": "spc",
    "xps": "vms",
    "xrd": "xrdml",
    "photoluminescence": "txt",
    "pl": "txt",
    "raman": "txt",
    "rheed_image": "png",
}
_TAGS: Final = ("calibration", "baseline", "repeat", "anneal", "for-paper", "check")
_EPOCH: Final = datetime(2024, 1, 1, tzinfo=UTC)


def _rng(seed: int, *parts: object) -> random.Random:
    return random.Random(":".join(("atomscale-sandbox", str(seed), *map(str, parts))))


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def prefix_of(sample_name: str) -> str:
    """The stack part of a sample name (`GaN-S` of `GaN-S-042`)."""
    return sample_name.rsplit("-", 1)[0]


@attrs.frozen
class Project:
    """A project of the sandbox organization."""

    id: str
    name: str
    prefixes: tuple[str, ...]
    owner_name: str
    last_updated: datetime
    note: str | None

    def ref(self) -> JSONObject:
        """The `{id, name}` form entries and samples list their projects in."""
        return {"id": self.id, "name": self.name}


def projects(seed: int) -> list[Project]:
    """The organization's projects."""
    found = []
    for name, prefixes in _PROJECTS:
        rng = _rng(seed, "project", name)
        found.append(
            Project(
                id=_uuid(rng),
                name=name,
                prefixes=prefixes,
                owner_name="Sandbox Researcher" if rng.random() < 0.7 else COLLEAGUE_NAME,
                last_updated=_EPOCH + timedelta(seconds=rng.randrange(0, 700 * 86400)),
                note="Shared with the device team." if rng.random() < 0.4 else None,
            )
        )
    return found


@attrs.frozen
class EntryDetails:
    """What the catalogue says of an entry beyond its id and kind."""

    status: str
    owner_name: str
    upload: datetime
    last_accessed: datetime | None
    growth_length: int | None
    tags: tuple[str, ...]
    note: str | None
    size_bytes: int

    @property
    def own(self) -> bool:
        """Whether the entry is the caller's own (not only the organization's)."""
        return self.owner_name != COLLEAGUE_NAME


def entry_details(seed: int, data_id: str, kind: str, collected: datetime | None) -> EntryDetails:
    """The details of one entry, drawn from its own generator."""
    rng = _rng(seed, data_id, "details")
    status = rng.choices(STATUSES, _STATUS_WEIGHTS)[0]
    base = collected or _EPOCH + timedelta(seconds=rng.randrange(0, 700 * 86400))
    upload = base + timedelta(seconds=rng.randrange(600, 72 * 3600))
    accessed = (
        upload + timedelta(seconds=rng.randrange(0, 120 * 86400)) if rng.random() < 0.8 else None
    )
    growth = rng.randrange(600, 4 * 3600) if kind in ("oes", "rheed_image") else None
    tags = tuple(sorted(rng.sample(_TAGS, rng.choice((0, 0, 1, 2)))))
    note = "Sent to collaborators." if rng.random() < 0.1 else None
    return EntryDetails(
        status=status,
        owner_name=COLLEAGUE_NAME if rng.random() < 0.2 else "Sandbox Researcher",
        upload=upload,
        last_accessed=accessed,
        growth_length=growth,
        tags=tags,
        note=note,
        size_bytes=rng.randrange(20_000, 8_000_000),
    )


def physical_sample_id(seed: int, sample_name: str) -> str:
    """The id of the physical sample of this name."""
    return _uuid(_rng(seed, "physical-sample", sample_name))


def sample_projects(seed: int, sample_name: str) -> list[Project]:
    """The projects a physical sample belongs to."""
    prefix = prefix_of(sample_name)
    return [p for p in projects(seed) if prefix in p.prefixes]


def physical_sample(seed: int, sample_name: str, entries: int) -> JSONObject:
    """The `GET /physical_samples/` record of one sample, measured `entries` times."""
    rng = _rng(seed, "physical-sample-record", sample_name)
    material, substrate, instrument = _STACKS.get(prefix_of(sample_name), _STACKS["GaN-S"])
    created = _EPOCH + timedelta(seconds=rng.randrange(0, 600 * 86400))
    note = (
        {"content": "Cleaved for TEM.", "last_updated": _iso(created + timedelta(days=3))}
        if rng.random() < 0.2
        else None
    )
    return {
        "id": physical_sample_id(seed, sample_name),
        "name": sample_name,
        "physical_sample_metadata": {"wafer_diameter_in": rng.choice((2, 4))},
        "last_updated": _iso(created + timedelta(days=rng.randrange(0, 60))),
        "created_datetime": _iso(created),
        "owner_name": "Sandbox Researcher",
        "target_material": {"sample_name": material, "substrate": substrate},
        "growth_instrument": instrument,
        "num_data_items": entries,
        "projects": [p.ref() for p in sample_projects(seed, sample_name)],
        "detail_notes": note,
    }


def project_json(project: Project, sample_count: int) -> JSONObject:
    """The `GET /projects/` record of a project holding `sample_count` physical samples."""
    return {
        "id": project.id,
        "name": project.name,
        "physical_sample_count": sample_count,
        "owner_name": project.owner_name,
        "last_updated": _iso(project.last_updated),
        "detail_note": (
            {"content": project.note, "last_updated": _iso(project.last_updated)}
            if project.note
            else None
        ),
    }


def entry_json(
    seed: int,
    *,
    index: int,
    data_id: str,
    kind: str,
    collected: datetime | None,
    sample_name: str,
    details: EntryDetails,
) -> JSONObject:
    """An entry as `GET /data_entries/` answers it, every catalogue field filled."""
    extension = _EXTENSIONS.get(kind, "dat")
    material, _substrate, instrument = _STACKS.get(prefix_of(sample_name), _STACKS["GaN-S"])
    raw_name = f"{sample_name}_{kind}_{index + 1:05d}.{extension}"
    return {
        "data_id": data_id,
        "char_source_type": kind,
        "raw_name": raw_name,
        "pipeline_status": details.status,
        "raw_file_type": extension,
        "source_name": instrument,
        "sample_name": material,
        "growth_length": details.growth_length,
        "physical_sample_id": physical_sample_id(seed, sample_name),
        "physical_sample_name": sample_name,
        "detail_note_content": details.note,
        "detail_note_last_updated": _iso(details.upload) if details.note else None,
        "file_metadata": {"size_bytes": details.size_bytes, "original_name": raw_name},
        "tags": list(details.tags),
        "name": details.owner_name,
        "workspaces": ["Growth team"] if details.own else ["Characterization lab"],
        "projects": [p.ref() for p in sample_projects(seed, sample_name)],
        "sha3_256": hashlib.sha3_256(data_id.encode()).hexdigest(),
        "upload_datetime": _iso(details.upload),
        "last_accessed_datetime": _iso(details.last_accessed) if details.last_accessed else None,
        "collected_datetime": _iso(collected) if collected else None,
    }


# ------------------------------------------------------------------------------ filters


class FilterError(ValueError):
    """A query parameter of the search has a value the API rejects (answered with 422)."""

    def __init__(self, kind: str, parameter: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.parameter = parameter
        self.message = message


_TRUE: Final = frozenset({"true", "1", "yes", "on", "t", "y"})
_FALSE: Final = frozenset({"false", "0", "no", "off", "f", "n"})
_KIND_ALIASES: Final = {
    name: kind.canonical for name, kind in KINDS.items() if name != kind.canonical
}
"""Each alias of a kind (`pl`) and the kind's first name, which a search matches it by."""


def _one(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name) or []
    return values[-1] if values else None


def _boolean(query: Mapping[str, list[str]], name: str, default: bool) -> bool:
    value = _one(query, name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise FilterError("bool_parsing", name, "Input should be a valid boolean")


def _number(query: Mapping[str, list[str]], name: str) -> float | None:
    value = _one(query, name)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        raise FilterError("float_parsing", name, "Input should be a valid number") from None
    if not math.isfinite(number):
        raise FilterError("finite_number", name, "Input should be a finite number")
    return number


def _moment(query: Mapping[str, list[str]], name: str) -> datetime | None:
    value = _one(query, name)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise FilterError(
            "datetime_from_date_parsing", name, "Input should be a valid datetime"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _kind(kind: str) -> str:
    return _KIND_ALIASES.get(kind, kind)


@attrs.frozen
class Filters:
    """A parsed search query."""

    data_ids: tuple[str, ...] | None
    keywords: tuple[str, ...]
    include_organization_data: bool
    physical_sample_ids: frozenset[str] | None
    project_ids: frozenset[str] | None
    data_type: str | None
    status: str
    growth_length: tuple[float | None, float | None]
    upload: tuple[datetime | None, datetime | None]
    last_accessed: tuple[datetime | None, datetime | None]

    @classmethod
    def parse(cls, query: Mapping[str, list[str]]) -> Filters:
        """Parse the query parameters (each a list of its values) or raise `FilterError`."""
        status = (_one(query, "status") or "all").lower()
        if status != "all" and status not in STATUSES:
            raise FilterError(
                "enum",
                "status",
                "Input should be " + ", ".join(f"'{s}'" for s in (*STATUSES, "all")),
            )
        data_type = _one(query, "data_type")
        if data_type is not None and not data_type.strip():
            raise FilterError("string_too_short", "data_type", "String should not be empty")
        data_ids = query.get("data_ids")
        return cls(
            data_ids=tuple(dict.fromkeys(data_ids)) if data_ids else None,
            keywords=tuple(k.lower() for k in query.get("keywords", []) if k.strip()),
            include_organization_data=_boolean(query, "include_organization_data", True),
            physical_sample_ids=_set(query, "physical_sample_ids"),
            project_ids=_set(query, "project_ids"),
            data_type=_kind(data_type.lower()) if data_type else None,
            status=status,
            growth_length=(
                _number(query, "growth_length_min"),
                _number(query, "growth_length_max"),
            ),
            upload=(_moment(query, "upload_datetime_min"), _moment(query, "upload_datetime_max")),
            last_accessed=(
                _moment(query, "last_accessed_datetime_min"),
                _moment(query, "last_accessed_datetime_max"),
            ),
        )

    def matches(self, record: JSONObject, details: EntryDetails) -> bool:
        """Whether an entry (its JSON record and details) passes every filter but keywords."""
        checks: list[Callable[[], bool]] = [
            lambda: self.include_organization_data or details.own,
            lambda: self.data_type is None or _kind(record["char_source_type"]) == self.data_type,
            lambda: self.status in ("all", details.status),
            lambda: (
                self.physical_sample_ids is None
                or record["physical_sample_id"] in self.physical_sample_ids
            ),
            lambda: (
                self.project_ids is None
                or any(p["id"] in self.project_ids for p in record["projects"])
            ),
            lambda: _within(details.growth_length, self.growth_length),
            lambda: _within(details.upload, self.upload),
            lambda: _within(details.last_accessed, self.last_accessed),
        ]
        return all(check() for check in checks)

    def matches_keywords(self, record: JSONObject) -> bool:
        """Whether every keyword appears in some text field of the record."""
        if not self.keywords:
            return True
        text = " ".join(_texts(record)).lower()
        return all(k in text for k in self.keywords)


def _set(query: Mapping[str, list[str]], name: str) -> frozenset[str] | None:
    values = query.get(name)
    return frozenset(values) if values else None


def _within(value: Any, bounds: tuple[Any, Any]) -> bool:
    low, high = bounds
    if low is None and high is None:
        return True
    if value is None:
        return False
    return (low is None or value >= low) and (high is None or value <= high)


def _texts(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, Sequence):
        for item in value:
            yield from _texts(item)
