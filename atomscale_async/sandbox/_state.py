"""The sandbox's state and its answers to each endpoint, independent of any web framework.

`SandboxState` holds a sandbox's catalogue, target materials, faults and statistics, and
answers each endpoint as a status and a JSON body: the Starlette app (`create_app`) and
the respx mock of `atomscale_async.testing` both serve these answers.

The result endpoints are those of the SDK's kind table (`RESULT_ROUTES`), each answered
with realistic data where the sandbox has a generator for its kind and with data
synthesised from the kind's schema otherwise. Kind mismatches: `GET /sims/{id}` on an
entry that is not a SIMS entry (an OES, XPS... entry) answers 404, and so does every
other kind's endpoint, so that a client that routes an id to the wrong endpoint finds
out. A SIMS entry without profiles answers 200 with an empty array, as the API documents.
"""

from __future__ import annotations

import functools
import hmac
import re
from collections.abc import Mapping
from typing import Any, Final, TypeAlias

import attrs
import orjson

from atomscale_async._generated.kinds import CATALOGUE_CHUNK, KINDS, Kind
from atomscale_async.sandbox._config import SandboxConfig
from atomscale_async.sandbox._data import (
    SANDBOX_USER_ID,
    SANDBOX_USER_NAME,
    SCHEMA_VERSION,
    Catalogue,
    JSONObject,
    element_dict,
    instruments,
    now_iso,
    target_materials,
)
from atomscale_async.sandbox._faults import FaultInjector, Faults
from atomscale_async.sandbox._search import (
    FilterError,
    Filters,
    physical_sample,
    project_json,
    projects,
)

MAX_DATA_IDS: Final = CATALOGUE_CHUNK
"""The most data ids `GET /data_entries/` accepts in one request (the description's
`maxItems`, as the SDK's kind table gives it)."""


@attrs.frozen
class ResultRoute:
    """One `GET /{kind}/{data_id}` endpoint of the kind table.

    Attributes:
        path: The endpoint's path template, e.g. `/photoluminescence/{data_id}`.
        kinds: The catalogue kinds it serves (`photoluminescence` and `pl`).
        label: How its answers name the data, e.g. `Photoluminescence`.
    """

    path: str
    kinds: frozenset[str]
    label: str

    def match(self, path: str) -> str | None:
        """The data id of a path relative to the base URL, or None when it is not this route."""
        found = path_pattern(self.path).fullmatch(path)  # one parameter: the data id
        return None if found is None else found[1]


@functools.cache
def path_pattern(path: str) -> re.Pattern[str]:
    """A path relative to the base URL as a regex; each `{name}` captures one path segment."""
    parts = re.split(r"(\{[^{}/]*\})", path.lstrip("/"))
    return re.compile("".join("([^/]+)" if p.startswith("{") else re.escape(p) for p in parts))


def result_routes() -> tuple[ResultRoute, ...]:
    """The result endpoints of the SDK's kind table, one per path."""
    by_path: dict[str, list[Kind]] = {}
    for kind in KINDS.values():
        by_path.setdefault(kind.path, []).append(kind)
    return tuple(
        ResultRoute(
            path=path,
            kinds=frozenset(kind.name for kind in kinds),
            label=kinds[0].model.__name__.removesuffix("Result"),
        )
        for path, kinds in by_path.items()
    )


RESULT_ROUTES: Final = result_routes()
"""The result endpoints the sandbox serves: every path of the kind table."""

_TRUE: Final = frozenset({"true", "1", "yes", "on", "t", "y"})
_FALSE: Final = frozenset({"false", "0", "no", "off", "f", "n"})

Answer: TypeAlias = tuple[int, bytes]
"""An endpoint's answer: its HTTP status and its JSON body."""


def _answer(body: Any, status: int = 200) -> Answer:
    return status, orjson.dumps(body)


def _invalid(errors: list[JSONObject]) -> Answer:
    return _answer({"detail": errors}, 422)


def _error(kind: str, loc: list[str | int], msg: str) -> JSONObject:
    # Shaped like the validation errors of FastAPI, which the Atomscale API answers.
    return {"type": kind, "loc": loc, "msg": msg}


@attrs.define
class ServerStats:
    """What a sandbox app has answered since it was created.

    Attributes:
        requests: HTTP requests received (dropped ones included).
        response_bytes: Bytes of response bodies sent (headers excluded).
        statuses: Responses sent, by status code.
        first_request_at: When the first request came, on `time.time()`'s clock.
        last_success_at: When the last 2xx answer was sent, on `time.time()`'s clock.
    """

    requests: int = 0
    response_bytes: int = 0
    statuses: dict[int, int] = attrs.field(factory=dict)
    first_request_at: float | None = None
    last_success_at: float | None = None


class SandboxState:
    """Everything one sandbox app holds: its catalogue, its materials, its faults.

    Reach it with `sandbox_state(app)` (or `app.state.sandbox`).

    Args:
        config: The sandbox's options (entries, seed, key, faults...); the defaults when None.

    Attributes:
        config: The options the state was made with (`faults` may have changed since).
        catalogue: The seeded data entries.
        api_key: The key clients must send in `X-API-KEY`, or None to accept any request.
    """

    def __init__(self, config: SandboxConfig | None = None) -> None:
        config = SandboxConfig() if config is None else config
        self.config = config
        catalogue = Catalogue(
            entries=config.entries, seed=config.seed, oes_points=config.oes_points
        )
        self.catalogue = catalogue
        self.api_key = config.api_key
        self.injector = FaultInjector(config.faults, catalogue.seed)
        self.target_materials: list[JSONObject] = target_materials(catalogue.seed)
        self.instruments_json = orjson.dumps(instruments(catalogue.seed))
        self.stats = ServerStats()
        self._last_sample_id = max((row["sample_id"] for row in self.target_materials), default=0)
        self._last_record_id = max((row["id"] for row in self.target_materials), default=0)

    @property
    def seed(self) -> int:
        """The seed of every generator of this sandbox."""
        return self.catalogue.seed

    @property
    def faults(self) -> Faults:
        """The faults injected now; assign a new `Faults` to change them while serving."""
        return self.injector.faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        self.injector.faults = faults

    @property
    def data_ids(self) -> list[str]:
        """Every data id of the catalogue."""
        return self.catalogue.data_ids

    def ids(self, kind: str | None = None) -> list[str]:
        """The data ids of one kind (`sims`, `oes`, `xps`, `raman`), or all of them."""
        return self.catalogue.ids(kind)

    def sims_ids(self, *, empty: bool | None = None) -> list[str]:
        """The SIMS data ids, optionally only those with (`empty=False`) or without profiles."""
        return [
            i
            for i in self.catalogue.ids("sims")
            if empty is None or self.catalogue.sims_is_empty(i) == empty
        ]

    def oes_ids(
        self, *, with_reference: bool | None = None, with_dark: bool | None = None
    ) -> list[str]:
        """The OES data ids, optionally filtered on a captured (or null) reference and dark."""
        chosen = []
        for data_id in self.catalogue.ids("oes"):
            reference, dark = self.catalogue.oes_capture(data_id)
            if with_reference not in (None, reference) or with_dark not in (None, dark):
                continue
            chosen.append(data_id)
        return chosen

    def create_target_material(self, sample: JSONObject, layers: list[JSONObject]) -> JSONObject:
        """Store a new sample and its layers; return the sample as the API answers it."""
        self._last_sample_id += 1
        sample_id = self._last_sample_id
        updated = now_iso()
        metadata = sample.get("sample_metadata") or {}
        for position, layer in enumerate(layers, 1):
            self._last_record_id += 1
            layer_id = layer.get("layer_id")
            composition = layer.get("composition_string") or ""
            elements = layer.get("element_dict")
            if elements is None:
                elements = element_dict(composition) or {}
            self.target_materials.append(
                {
                    "id": self._last_record_id,
                    "sample_id": sample_id,
                    "sample_name": sample["sample_name"],
                    "substrate": sample["substrate"],
                    "layer_id": position if layer_id is None else layer_id,
                    "composition_string": composition,
                    "element_dict": elements,
                    "orientation": layer.get("orientation"),
                    "space_group": layer.get("space_group"),
                    "mp_id": layer.get("mp_id"),
                    "detail_notes_id": None,
                    "detail_note_content": None,
                    "sample_metadata": metadata,
                    "user_id": SANDBOX_USER_ID,
                    "user_name": SANDBOX_USER_NAME,
                    "version": SCHEMA_VERSION,
                    "last_updated": updated,
                }
            )
        return {
            "sample_id": sample_id,
            "sample_name": sample["sample_name"],
            "substrate": sample["substrate"],
            "sample_metadata": metadata,
            "detail_notes_id": None,
            "user_id": SANDBOX_USER_ID,
            "version": SCHEMA_VERSION,
            "last_updated": updated,
        }

    def authenticate(self, sent: bytes | None) -> Answer | None:
        """The 401 answer to a request that sent `sent` as its key, or None when it may pass."""
        expected = self.api_key
        if expected is None:
            return None
        if sent is None:
            detail = "Missing API key: send it in the X-API-KEY header."
        elif not hmac.compare_digest(sent, expected.encode()):
            detail = "Invalid API key."
        else:
            return None
        return _answer({"detail": detail}, 401)

    def answer_instruments(self) -> Answer:
        """`GET /instruments/synthesis/`."""
        return 200, self.instruments_json

    def answer_target_materials(self) -> Answer:
        """`GET /target-materials/`."""
        return _answer(self.target_materials)

    def answer_create_target_material(self, raw: bytes) -> Answer:
        """`POST /target-materials/` with the body `raw`."""
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return _invalid([_error("json_invalid", ["body"], f"Invalid JSON: {exc}")])
        errors = _validate_create(body)
        if errors:
            return _invalid(errors)
        created = self.create_target_material(body["sample"], body.get("layers") or [])
        return _answer(created, 201)

    def answer_result(self, route: ResultRoute, data_id: str) -> Answer:
        """`GET /{kind}/{data_id}`: the entry's result, or 404 for an entry of another kind."""
        entry = self.catalogue.get(data_id)
        if entry is None:
            return _answer({"detail": f"Data entry {data_id} not found."}, 404)
        if entry.kind not in route.kinds:
            detail = f"Data entry {data_id} has no {route.label} data (it is a {entry.kind} entry)."
            return _answer({"detail": detail}, 404)
        return 200, self.catalogue.result_json(data_id)

    def answer_data_entries(self, query: Mapping[str, list[str]]) -> Answer:
        """`GET /data_entries/`: the catalogue search (each query parameter, all its values).

        Without `data_ids` it searches the whole catalogue; with them (at most
        `MAX_DATA_IDS`) it looks those ids up, the other filters still applying. An id the
        catalogue does not know is absent from the answer.
        """
        data_ids = query.get("data_ids") or []
        if len(data_ids) > MAX_DATA_IDS:
            message = f"List should have at most {MAX_DATA_IDS} items, not {len(data_ids)}"
            return _invalid([_error("too_long", ["query", "data_ids"], message)])
        try:
            filters = Filters.parse(query)
        except FilterError as exc:
            return _invalid([_error(exc.kind, ["query", exc.parameter], exc.message)])
        catalogue = self.catalogue
        candidates = (
            [i for i in filters.data_ids if catalogue.get(i) is not None]
            if filters.data_ids is not None
            else catalogue.data_ids
        )
        found = []
        for data_id in candidates:
            record, details = catalogue.record(data_id)
            if filters.matches(record, details) and filters.matches_keywords(record):
                found.append(record)
        return _answer(found)

    def physical_samples(self) -> list[JSONObject]:
        """Every physical sample of the catalogue, by name."""
        counts = self.catalogue.sample_names()
        return [physical_sample(self.seed, name, counts[name]) for name in sorted(counts)]

    def answer_physical_samples(self, query: Mapping[str, list[str]]) -> Answer:
        """`GET /physical_samples/`, or one sample with `?physical_sample_id=`."""
        samples = self.physical_samples()
        wanted = query.get("physical_sample_id")
        if wanted:
            samples = [s for s in samples if s["id"] in wanted]
            if not samples:
                detail = f"Physical sample {wanted[-1]} not found."
                return _answer({"detail": detail}, 404)
        return _answer(samples)

    def answer_projects(self) -> Answer:
        """`GET /projects/`."""
        samples = self.physical_samples()
        answer = []
        for project in projects(self.seed):
            count = sum(any(p["id"] == project.id for p in s["projects"]) for s in samples)
            answer.append(project_json(project, count))
        return _answer(answer)

    def answer_project_samples(self, project_id: str) -> Answer:
        """`GET /projects/{project_id}/physical_samples`."""
        if not any(p.id == project_id for p in projects(self.seed)):
            return _answer({"detail": f"Project {project_id} not found."}, 404)
        samples = [
            s for s in self.physical_samples() if any(p["id"] == project_id for p in s["projects"])
        ]
        return _answer(samples)

    def dispatch(
        self, method: str, path: str, query: Mapping[str, list[str]], body: bytes
    ) -> Answer | None:
        """The answer to `method path`, or None when it is not an endpoint of the API.

        `path` is relative to the base URL and percent-decoded.
        """
        if method == "POST" and path == "target-materials/":
            return self.answer_create_target_material(body)
        if method != "GET":
            return None
        for route in RESULT_ROUTES:
            data_id = route.match(path)
            if data_id is not None:
                return self.answer_result(route, data_id)
        parts = path.split("/")
        if len(parts) == 3 and parts[0] == "projects" and parts[1]:
            return self.answer_project_samples(parts[1]) if parts[2] == "physical_samples" else None
        simple = {
            "instruments/synthesis/": self.answer_instruments,
            "target-materials/": self.answer_target_materials,
            "projects/": self.answer_projects,
        }
        if path in simple:
            return simple[path]()
        if path == "data_entries/":
            return self.answer_data_entries(query)
        if path == "physical_samples/":
            return self.answer_physical_samples(query)
        return None


_STRING_LAYER_FIELDS: Final = ("composition_string", "orientation", "space_group", "mp_id")


def _validate_create(body: Any) -> list[JSONObject]:
    if not isinstance(body, dict):
        return [_error("model_attributes_type", ["body"], "Input should be an object")]
    errors: list[JSONObject] = []
    sample = body.get("sample")
    if "sample" not in body:
        errors.append(_error("missing", ["body", "sample"], "Field required"))
    elif not isinstance(sample, dict):
        errors.append(_error("model_type", ["body", "sample"], "Input should be an object"))
    else:
        for name in ("sample_name", "substrate"):
            loc: list[str | int] = ["body", "sample", name]
            if name not in sample:
                errors.append(_error("missing", loc, "Field required"))
            elif not isinstance(sample[name], str):
                errors.append(_error("string_type", loc, "Input should be a valid string"))
            elif not sample[name].strip():
                errors.append(_error("string_too_short", loc, "String should not be empty"))
        metadata = sample.get("sample_metadata")
        if metadata is not None and not isinstance(metadata, dict):
            loc = ["body", "sample", "sample_metadata"]
            errors.append(_error("dict_type", loc, "Input should be an object"))
    layers = body.get("layers")
    if layers is not None and not isinstance(layers, list):
        errors.append(_error("list_type", ["body", "layers"], "Input should be a valid list"))
    elif layers:
        for position, layer in enumerate(layers):
            errors.extend(_validate_layer(layer, ["body", "layers", position]))
    return errors


def _validate_layer(layer: Any, where: list[str | int]) -> list[JSONObject]:
    if not isinstance(layer, dict):
        return [_error("model_type", where, "Input should be an object")]
    errors = []
    layer_id = layer.get("layer_id")
    if layer_id is not None and (isinstance(layer_id, bool) or not isinstance(layer_id, int)):
        errors.append(_error("int_type", [*where, "layer_id"], "Input should be a valid integer"))
    for name in _STRING_LAYER_FIELDS:
        value = layer.get(name)
        if value is not None and not isinstance(value, str):
            errors.append(_error("string_type", [*where, name], "Input should be a valid string"))
    elements = layer.get("element_dict")
    if elements is not None:
        if not isinstance(elements, dict):
            errors.append(
                _error("dict_type", [*where, "element_dict"], "Input should be an object")
            )
        else:
            for symbol, amount in elements.items():
                if isinstance(amount, bool) or not isinstance(amount, int | float):
                    errors.append(
                        _error(
                            "float_type",
                            [*where, "element_dict", symbol],
                            "Input should be a valid number",
                        )
                    )
    return errors
