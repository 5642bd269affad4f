"""The converter: strict structuring, open enums, timestamps, FloatArray, to_dict."""

from __future__ import annotations

import collections.abc
import copy
import datetime as dt
import json
import pickle
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atomscale_async import (
    DataEntry,
    DetectedPeak,
    FloatArray,
    OESResult,
    ResponseValidationError,
    SIMSDepthProfile,
    SIMSResult,
    SynthesisInstrument,
    SynthSourceType,
    TargetMaterial,
    TargetMaterialSample,
    XPSResult,
)
from atomscale_async._convert import decode, structure, structure_input
from atomscale_async._generated.models import TargetMaterialCreate, TargetMaterialLayerCreate

from .payloads import CREATED_SAMPLE, INSTRUMENT, OES, SIMS_PROFILE, TARGET_MATERIAL, fresh


def errors_of(data: Any, cl: type) -> list[str]:
    with pytest.raises(ResponseValidationError) as info:
        structure(data, cl, "GET /test")
    assert info.value.endpoint == "GET /test"
    assert "GET /test" in str(info.value)
    return info.value.errors


def test_reference_examples_structure() -> None:
    instrument = structure(INSTRUMENT, SynthesisInstrument, "e")
    assert instrument.id == 7
    assert instrument.synth_source_type == SynthSourceType.MBE
    assert instrument.detail_note_last_updated is None
    assert instrument.last_updated == dt.datetime(2024, 1, 15, 10, 0, tzinfo=dt.UTC)
    layer = structure(TARGET_MATERIAL, TargetMaterial, "e")
    assert layer.element_dict == {"Ba": 1, "Ti": 1, "O": 3}
    assert type(layer.element_dict["Ba"]) is int
    sample = structure(CREATED_SAMPLE, TargetMaterialSample, "e")
    assert sample.sample_id == 42
    oes = structure(OES, OESResult, "e")
    assert oes.wavelengths == FloatArray([400.0, 400.5, 401.0, 401.5])
    assert isinstance(oes.sample, FloatArray)
    assert oes.sample.tolist() == [1200.0, 1350.0, 4100.0, 1280.0]
    assert oes.detected_peaks == [DetectedPeak(peak_id="p1", wavelength_nm=401.0, element="Ga")]
    assert oes.constrained_elements is None
    profile = structure(SIMS_PROFILE, SIMSDepthProfile, "e")
    assert profile.concentrations[0] == 1.2e18


def test_unknown_fields_are_tolerated() -> None:
    payload = fresh(INSTRUMENT) | {"added_in_2027": {"x": 1}, "another": [1, 2]}
    assert structure(payload, SynthesisInstrument, "e").id == 7


def test_open_enum_accepts_new_values() -> None:
    payload = fresh(INSTRUMENT) | {"synth_source_type": "mocvd"}
    instrument = structure(payload, SynthesisInstrument, "e")
    assert instrument.synth_source_type == "mocvd"
    assert "mocvd" not in SynthSourceType.KNOWN
    assert DataEntry(data_id="x", char_source_type="xps").char_source_type == "xps"


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("id", "7", "expected an integer, got a string '7' @ $.id"),
        ("id", 7.9, "expected an integer, got float @ $.id"),
        ("id", True, "expected an integer, got a boolean @ $.id"),
        ("source_name", {"a": 1}, "expected a string, got an object @ $.source_name"),
        ("source_name", 12, "expected a string, got int @ $.source_name"),
        ("source_metadata", "{}", "expected an object, got a string '{}' @ $.source_metadata"),
        ("last_updated", "yesterday", "expected an ISO 8601 timestamp, got 'yesterday'"),
        ("last_updated", 1705312800, "expected an ISO 8601 timestamp string, got int"),
    ],
)
def test_scalars_are_strict(field: str, value: Any, expected: str) -> None:
    payload = fresh(INSTRUMENT) | {field: value}
    errors = errors_of(payload, SynthesisInstrument)
    assert any(expected in e for e in errors), errors


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("orientation", 1, "expected a string, got int @ $.orientation"),
        ("mp_id", ["mp-1"], "expected a string, got an array @ $.mp_id"),
        ("detail_note_content", True, "expected a string, got a boolean @ $.detail_note_content"),
    ],
)
def test_optional_fields_are_as_strict_as_required_ones(
    field: str, value: Any, expected: str
) -> None:
    payload = fresh(TARGET_MATERIAL)
    assert structure(payload | {field: None}, TargetMaterial, "e").to_dict()[field] is None
    assert errors_of(payload | {field: value}, TargetMaterial) == [expected]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, "expected a boolean, got int @ $.set_elements"),
        ("true", "expected a boolean, got a string 'true' @ $.set_elements"),
    ],
)
def test_optional_boolean_is_strict(value: Any, expected: str) -> None:
    payload: dict[str, Any] = {"data_id": "x", "binding_energies": [1.0], "intensities": [2.0]}
    assert structure(payload, XPSResult, "e").set_elements is None
    assert structure(payload | {"set_elements": False}, XPSResult, "e").set_elements is False
    assert errors_of(payload | {"set_elements": value}, XPSResult) == [expected]


def test_float_field_rejects_string_and_bool() -> None:
    peak: dict[str, Any] = {"peak_id": "p", "wavelength_nm": "1.5", "element": "Ga"}
    assert errors_of(peak, DetectedPeak) == [
        "expected a number, got a string '1.5' @ $.wavelength_nm"
    ]
    peak["wavelength_nm"] = False
    assert errors_of(peak, DetectedPeak) == ["expected a number, got a boolean @ $.wavelength_nm"]
    peak["wavelength_nm"] = 401
    assert structure(peak, DetectedPeak, "e").wavelength_nm == 401.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("123", "expected an array of numbers, got a string '123' @ $.wavelengths"),
        ([1.0, "2.0"], "element [1] is a string '2.0', expected a JSON number @ $.wavelengths"),
        ([1.0, None], "element [1] is null, expected a JSON number @ $.wavelengths"),
        ([0.5, True], "element [1] is a boolean, expected a JSON number @ $.wavelengths"),
        ([False, 2.0], "element [0] is a boolean, expected a JSON number @ $.wavelengths"),
        ([[1.0]], "element [0] is an array, expected a JSON number @ $.wavelengths"),
        ([{"v": 1}], "element [0] is an object, expected a JSON number @ $.wavelengths"),
        ({"0": 1.0}, "expected an array of numbers, got an object @ $.wavelengths"),
        (None, "expected an array of numbers, got null @ $.wavelengths"),
    ],
)
def test_numeric_arrays_are_strict(value: Any, expected: str) -> None:
    payload = fresh(OES) | {"wavelengths": value}
    assert expected in errors_of(payload, OESResult)


def test_numeric_arrays_keep_exact_zero_and_one_values() -> None:
    payload = fresh(OES) | {"dark": [0, 1, 0.0, 1.0, -0.0, 1e-320]}
    assert structure(payload, OESResult, "e").dark == FloatArray([0, 1, 0, 1, -0.0, 1e-320])


def test_element_dict_takes_ints_or_floats_only() -> None:
    payload = fresh(TARGET_MATERIAL) | {"element_dict": {"In": 0.3, "Ga": 0.7, "N": 1}}
    assert structure(payload, TargetMaterial, "e").element_dict == {"In": 0.3, "Ga": 0.7, "N": 1}
    payload["element_dict"] = {"Ga": "1"}
    errors = errors_of(payload, TargetMaterial)
    assert errors == ["expected a number, got a string '1' at key 'Ga' @ $.element_dict"]


def test_missing_required_field_names_the_path() -> None:
    payload = fresh(OES)
    del payload["scope_corrected"]
    payload["detected_peaks"][0].pop("element")
    errors = errors_of(payload, OESResult)
    assert "required field missing @ $.scope_corrected" in errors
    assert "required field missing @ $.detected_peaks[0].element" in errors


def test_nullable_fields_accept_null_and_absence() -> None:
    payload = fresh(OES) | {"reference": None}
    del payload["dark"]
    oes = structure(payload, OESResult, "e")
    assert oes.reference is None
    assert oes.dark is None


def test_list_of_models_rejects_non_list() -> None:
    payload = fresh(OES) | {"detected_peaks": "p1"}
    assert errors_of(payload, OESResult) == [
        "expected an array, got a string 'p1' @ $.detected_peaks"
    ]
    assert errors_of({"p": 1}, list[SIMSDepthProfile]) == ["expected an array, got an object @ $"]


def test_model_rejects_non_object() -> None:
    assert errors_of([1], OESResult) == ["expected an object, got an array @ $"]


def test_naive_timestamp_is_taken_as_utc_and_offsets_are_kept() -> None:
    naive = structure(
        fresh(INSTRUMENT) | {"last_updated": "2024-01-15T10:00:00"}, SynthesisInstrument, "e"
    )
    assert naive.last_updated.tzinfo is dt.UTC
    offset = structure(
        fresh(INSTRUMENT) | {"last_updated": "2024-01-15T12:00:00+02:00"}, SynthesisInstrument, "e"
    )
    assert offset.last_updated == dt.datetime(2024, 1, 15, 10, 0, tzinfo=dt.UTC)


def test_decode_rejects_a_body_that_is_not_json() -> None:
    with pytest.raises(ResponseValidationError) as info:
        decode(b"<html>502 Bad Gateway</html>", OESResult, "GET /oes/{data_id}")
    assert info.value.endpoint == "GET /oes/{data_id}"
    assert "not JSON" in info.value.errors[0]
    assert "<html>502" in info.value.errors[0]


def test_to_dict_round_trips_through_json() -> None:
    oes = structure(OES, OESResult, "e")
    data = oes.to_dict()
    assert data["wavelengths"] == [400.0, 400.5, 401.0, 401.5]
    assert data["detected_peaks"] == [{"peak_id": "p1", "wavelength_nm": 401.0, "element": "Ga"}]
    assert data["last_updated"] == "2024-01-15T10:35:00Z"
    assert structure(orjson.loads(orjson.dumps(data)), OESResult, "e") == oes
    result = SIMSResult(
        data_id="x", depth_profiles=[structure(SIMS_PROFILE, SIMSDepthProfile, "e")]
    )
    assert result.to_dict()["depth_profiles"][0]["depths"] == [0.0, 10.0, 20.0, 30.0, 40.0]


def test_models_are_frozen_and_deliberately_unhashable() -> None:
    oes = structure(OES, OESResult, "e")
    with pytest.raises(AttributeError):
        oes.id = "other"  # type: ignore[misc]
    for model in (
        oes,
        structure(INSTRUMENT, SynthesisInstrument, "e"),
        DetectedPeak(peak_id="p", wavelength_nm=1.0, element="Ga"),
    ):
        with pytest.raises(TypeError, match="unhashable"):
            hash(model)
    assert structure(OES, OESResult, "e") == oes


def test_float_array_repr_is_short_and_it_pickles() -> None:
    arr = FloatArray(range(2048))
    assert repr(arr) == "FloatArray([0.0, 1.0, 2.0, ..., 2045.0, 2046.0, 2047.0], len=2048)"
    assert repr(FloatArray([1, 2.5])) == "FloatArray([1.0, 2.5])"
    clone = pickle.loads(pickle.dumps(arr))
    assert type(clone) is FloatArray
    assert clone == arr


def test_input_models_take_dicts_and_name_bad_fields() -> None:
    layer = structure_input(
        {"layer_id": 1, "composition_string": "GaN"}, TargetMaterialLayerCreate, "layers[0]"
    )
    assert layer.to_dict() == {"layer_id": 1, "composition_string": "GaN"}
    with pytest.raises(
        ValueError,
        match=r"invalid layers\[0\]: expected an integer, got a string '1' @ layers\[0\]\.layer_id",
    ):
        structure_input({"layer_id": "1"}, TargetMaterialLayerCreate, "layers[0]")


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)

MODELS = [
    SynthesisInstrument,
    TargetMaterial,
    TargetMaterialSample,
    SIMSDepthProfile,
    OESResult,
    DataEntry,
]
EXAMPLES = {
    SynthesisInstrument: INSTRUMENT,
    TargetMaterial: TARGET_MATERIAL,
    TargetMaterialSample: CREATED_SAMPLE,
    SIMSDepthProfile: SIMS_PROFILE,
    OESResult: OES,
    DataEntry: {"data_id": "x", "char_source_type": "oes"},
}


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_arbitrary_json_gives_a_model_or_a_validation_error(
    model: type, data: st.DataObject
) -> None:
    example = EXAMPLES[model]
    # Mostly mutate one field of a valid example (the interesting edge), sometimes anything.
    if data.draw(st.booleans()):
        payload: Any = fresh(example)
        field = data.draw(st.sampled_from(sorted(example)))
        payload[field] = data.draw(JSON)
    else:
        payload = data.draw(JSON)
    outcome: object
    try:
        outcome = decode(json.dumps(payload).encode(), model, "GET /prop")
    except ResponseValidationError as exc:
        outcome = exc
    if isinstance(outcome, ResponseValidationError):
        assert outcome.errors
        assert all(" @ $" in e for e in outcome.errors), outcome.errors
    else:
        assert isinstance(outcome, model)


@pytest.mark.parametrize(
    ("values", "bad_index"),
    [
        ([0.0] * 100 + [False], 100),  # many 0.0 candidates: the one-pass check
        ([1.0, 1.5, 0.5] * 30 + [True], 90),  # many values in [1, 2): top byte 0x3F
        ([0, 10.0, 20.0, True, 40.0], 3),  # a few candidates: checked one by one
    ],
)
def test_booleans_are_found_among_many_exact_zeros_and_ones(
    values: list[Any], bad_index: int
) -> None:
    payload = fresh(OES) | {"dark": values}
    expected = f"element [{bad_index}] is a boolean, expected a JSON number @ $.dark"
    assert expected in errors_of(payload, OESResult)
    values = [v for v in values if type(v) is not bool]
    assert structure(fresh(OES) | {"dark": values}, OESResult, "e").dark == FloatArray(values)


def test_input_models_reject_unknown_keys_and_response_models_keep_tolerating_them() -> None:
    with pytest.raises(ValueError, match="unknown field") as caught:
        structure_input(
            {"sample": {"sample_name": "x", "substrate": "Si", "sampel_metadata": {}}, "layer": []},
            TargetMaterialCreate,
            "body",
        )
    message = str(caught.value)
    assert "'sampel_metadata'" in message
    assert "body.sample.sampel_metadata" in message
    assert "did you mean 'sample_metadata'?" in message
    assert "body.layer" in message
    assert "did you mean 'layers'?" in message
    with pytest.raises(
        ValueError, match=r"unknown field 'zzz'; valid fields: layer_id, .* @ layers\[0\]\.zzz$"
    ):
        structure_input({"zzz": 1}, TargetMaterialLayerCreate, "layers[0]")
    # A response model ignores what it does not know (a newer server may add fields).
    assert structure({**CREATED_SAMPLE, "new_field": 1}, TargetMaterialSample, "e").sample_id


def test_model_arrays_are_immutable() -> None:
    oes = structure(OES, OESResult, "e")
    before = structure(OES, OESResult, "e")
    with pytest.raises(TypeError):
        oes.wavelengths[0] = 42  # type: ignore[index]
    with pytest.raises(TypeError):
        del oes.wavelengths[0]  # type: ignore[attr-defined]
    for mutator in ("append", "extend", "insert", "pop", "remove", "reverse", "frombytes"):
        assert not hasattr(oes.wavelengths, mutator), mutator
    with pytest.raises(TypeError):
        oes.wavelengths += FloatArray([1.0])  # type: ignore[misc, operator]
    assert oes == before


def test_numpy_sees_a_read_only_zero_copy_view_of_a_model_array() -> None:
    np = pytest.importorskip("numpy")
    oes = structure(OES, OESResult, "e")
    before = structure(OES, OESResult, "e")
    view = np.asarray(oes.wavelengths)
    assert view.dtype == np.float64
    assert view.tolist() == [400.0, 400.5, 401.0, 401.5]
    assert not view.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        view[0] = -1
    with pytest.raises(ValueError, match=r"(?i)writeable"):
        view.flags.writeable = True
    assert np.shares_memory(view, np.asarray(oes.wavelengths))  # zero-copy
    assert not np.asarray(oes.wavelengths, dtype=np.float64).flags.writeable
    copy = np.array(oes.wavelengths)  # an explicit copy is the caller's to change
    copy[0] = -1
    assert oes == before


def test_a_model_array_exports_no_writable_buffer() -> None:
    arr = FloatArray([1.0, 2.0])
    try:
        view = memoryview(arr)
    except TypeError:  # no buffer protocol for Python classes before 3.12
        return
    assert view.readonly
    assert view.format == "d"
    assert view.tolist() == [1.0, 2.0]


def test_float_array_is_an_immutable_sequence_of_floats() -> None:
    arr = FloatArray([0.0, 1.5, -2.0, 3.0])
    assert len(arr) == 4
    assert arr[1] == 1.5
    assert arr[-1] == 3.0
    assert arr[1:3] == FloatArray([1.5, -2.0])
    assert type(arr[1:3]) is FloatArray
    assert arr[::2] == FloatArray([0.0, -2.0])
    assert list(arr) == [0.0, 1.5, -2.0, 3.0]
    assert list(reversed(arr)) == [3.0, -2.0, 1.5, 0.0]
    assert 1.5 in arr
    assert arr.index(-2.0) == 2
    assert arr.count(3.0) == 1
    assert arr.tolist() == [0.0, 1.5, -2.0, 3.0]
    assert FloatArray(arr.tobytes()) == arr
    with pytest.raises(IndexError):
        arr[4]
    assert FloatArray([0.0]) == FloatArray([-0.0])  # compared by value, like floats
    assert FloatArray([float("nan")]) != FloatArray([float("nan")])
    assert FloatArray([1.0]) != [1.0]
    assert isinstance(arr, collections.abc.Sequence)
    with pytest.raises(TypeError, match="unhashable"):
        hash(arr)
    assert copy.deepcopy(arr) == arr
