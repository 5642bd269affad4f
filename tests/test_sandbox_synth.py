"""Answers synthesised from a kind's schema, for the kinds the sandbox has no generator for."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import attrs
import jsonschema  # type: ignore[import-untyped, unused-ignore]
import orjson
import pytest
import yaml  # type: ignore[import-untyped, unused-ignore]
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from atomscale_async import AsyncClient
from atomscale_async._codegen import SPEC
from atomscale_async._generated.kinds import KINDS
from atomscale_async._model import ResultModel
from atomscale_async.sandbox._synth import synthesise

if TYPE_CHECKING:
    from atomscale_async.testing import AtomscaleMock

pytest_plugins = ["atomscale_async.testing"]

MOMENT = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
PATHS = sorted({kind.path: kind for kind in KINDS.values()}.items())


def _answer_validator(path: str) -> Any:
    """A validator of the 200 answer openapi.yaml gives `GET path`."""
    document = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    registry: Registry[Any] = Registry().with_resource(
        "urn:spec", DRAFT202012.create_resource(document)
    )
    escaped = path.replace("~", "~0").replace("/", "~1")
    pointer = f"paths/{escaped}/get/responses/200/content/application~1json/schema"
    return jsonschema.Draft202012Validator(
        {"$ref": f"urn:spec#/{pointer}"},
        registry=registry,
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )


@pytest.mark.parametrize(("path", "kind"), PATHS, ids=[p for p, _ in PATHS])
def test_a_synthesised_answer_of_every_kind_is_valid_against_the_description(
    path: str, kind: Any
) -> None:
    validator = _answer_validator(path)
    for seed in range(8):
        answer = synthesise(kind.schema, random.Random(seed), data_id="d-1", moment=MOMENT)
        errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(answer)]
        assert not errors, (seed, errors[:3])


def test_synthesis_is_a_function_of_the_seed() -> None:
    schema = KINDS["oes"].schema
    first = orjson.dumps(synthesise(schema, random.Random(3), data_id="a", moment=MOMENT))
    again = orjson.dumps(synthesise(schema, random.Random(3), data_id="a", moment=MOMENT))
    other = orjson.dumps(synthesise(schema, random.Random(4), data_id="a", moment=MOMENT))
    assert first == again
    assert first != other


def test_arrays_share_a_length_and_aliases_send_one_key() -> None:
    seen = set()
    for seed in range(12):
        answer = synthesise(KINDS["raman"].schema, random.Random(seed), data_id="r", moment=MOMENT)
        axis = {"wavenumbers", "energies"} & set(answer)
        assert len(axis) == 1
        assert len({"raman_id", "id"} & set(answer)) == 1
        shifts = answer[axis.pop()]
        seen.add(tuple({"wavenumbers", "energies"} & set(answer)))
        assert len(shifts) == len(answer["intensities"]) >= 128
        assert all(a < b for a, b in itertools.pairwise(shifts))
        assert min(answer["intensities"]) >= 0
    assert len(seen) == 2  # either key, drawn
    profile = synthesise(KINDS["sims"].schema, random.Random(1), data_id="s", moment=MOMENT)[0]
    assert profile["data_id"] == "s"
    assert profile["last_updated"].startswith("2025-03-0")


def test_bounds_enumerations_and_patterns_are_honoured() -> None:
    schema = {
        "type": "object",
        "required": ["n"],
        "properties": {
            "n": {"type": "integer", "minimum": 3, "maximum": 5},
            "x": {"type": ["number", "null"], "exclusiveMinimum": 0, "exclusiveMaximum": 1},
            "mode": {"type": "string", "enum": ["a", "b"]},
            "short": {"type": "string", "maxLength": 3, "minLength": 2},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 4},
            "wavelength": {"type": "number", "default": 1.5406},
        },
    }
    for seed in range(20):
        answer = synthesise(schema, random.Random(seed), data_id="d", moment=MOMENT)
        jsonschema.Draft202012Validator(schema).validate(answer)
        assert answer["wavelength"] == 1.5406
    with pytest.raises(ValueError, match="matching"):
        synthesise(
            {"type": "string", "pattern": "^[0-9]+$"}, random.Random(0), data_id="d", moment=MOMENT
        )


def test_a_kind_without_a_plot_says_so() -> None:
    @attrs.frozen(kw_only=True)
    class MadeUpResult(ResultModel):
        _kind = "made_up"
        data_id: str

    with pytest.raises(NotImplementedError, match=r"'made_up'.*MadeUpResult"):
        MadeUpResult(data_id="x").plot()


@pytest.mark.anyio
async def test_the_mock_serves_every_kind_synthesised_and_the_sdk_reads_it(
    atomscale_mock: AtomscaleMock,
) -> None:
    catalogue = atomscale_mock.state.catalogue
    catalogue._realistic.clear()  # every kind as if it had no generator
    kinds = dict.fromkeys(kind.canonical for kind in KINDS.values())
    wanted = [atomscale_mock.state.ids(kind)[0] for kind in kinds]
    async with AsyncClient() as client:
        results = await client.get(wanted)
    for data_id, result in zip(wanted, results, strict=True):
        kind = catalogue.get(data_id).kind  # type: ignore[union-attr]
        assert isinstance(result, KINDS[kind].model), kind
        assert result.data_id == data_id
    assert catalogue.synthesised_json.cache_info().currsize == len(wanted)  # type: ignore[attr-defined]
