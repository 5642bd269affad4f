"""The SDK's one private cattrs converter: strict JSON -> attrs models and back.

Strict where the API is typed: numbers must be JSON numbers (no ``"1.5"``, no
``true``, no ``1.9`` for an integer), strings must be strings, objects must be
objects. Unknown fields of a response are ignored, so a newer server may add
fields freely; an unknown key in what the caller sends (an input model, marked
``x-sdk-input`` in the description) is an error naming the closest field.
Timestamps become timezone-aware ``datetime`` (a naive one is taken as UTC).
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

import attrs
import cattrs
import orjson
from cattrs.cols import list_structure_factory
from cattrs.errors import AttributeValidationNote, ClassValidationError
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn
from cattrs.v import format_exception

from ._arrays import FloatArray, describe, pack_numbers
from ._errors import ResponseValidationError

__all__ = ["decode", "dumps", "structure", "structure_input", "unstructure"]

T = TypeVar("T")

_logger = logging.getLogger("atomscale_async")
#: (model, field) pairs already reported as dropped by a lenient model.
_dropped_reported: set[tuple[str, str]] = set()


class _Invalid(ValueError):
    """A value of the wrong JSON type; the message says what was found."""


class _UnknownField(_Invalid):
    """A key an input model does not have; cattrs' path names the key itself."""

    def __init__(self, key: str, fields: list[str]) -> None:
        close = difflib.get_close_matches(key, fields, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; valid fields: {', '.join(fields)}"
        super().__init__(f"unknown field {key!r}{hint}")


def _format(exc: BaseException, type_: type | None) -> str:
    if isinstance(exc, _Invalid):
        return str(exc)
    return format_exception(exc, type_)


def _expect(kind: str, value: object) -> _Invalid:
    return _Invalid(f"expected {kind}, got {describe(value)}")


def _structure_int(value: Any, _: type) -> int:
    if type(value) is int:
        return value
    raise _expect("an integer", value)


def _structure_float(value: Any, _: type) -> float:
    if type(value) is float:
        return value
    if type(value) is int:
        return float(value)
    raise _expect("a number", value)


def _structure_number(value: Any, _: type) -> float:
    if type(value) is float or type(value) is int:
        return value
    raise _expect("a number", value)


def _structure_str(value: Any, _: type) -> str:
    if type(value) is str:
        return value
    raise _expect("a string", value)


def _structure_bool(value: Any, _: type) -> bool:
    if type(value) is bool:
        return value
    raise _expect("a boolean", value)


def _structure_any(value: Any, _: type) -> Any:
    return value


def _structure_datetime(value: Any, _: type) -> dt.datetime:
    if type(value) is not str:
        raise _expect("an ISO 8601 timestamp string", value)
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise _Invalid(f"expected an ISO 8601 timestamp, got {value[:40]!r}") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def _structure_float_array(value: Any, _: type) -> FloatArray:
    if type(value) is not list:
        raise _expect("an array of numbers", value)
    try:
        return pack_numbers(value)
    except TypeError as exc:
        raise _Invalid(str(exc)) from None


def _unstructure_datetime(value: dt.datetime) -> str:
    # UTC as the API writes it: 2024-01-15T10:35:00Z
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _is_dict_type(type_: Any) -> bool:
    return typing.get_origin(type_) is dict


def _dict_hook(type_: Any) -> Callable[[Any, type], Any]:
    _key, value_type = typing.get_args(type_) or (str, Any)
    if value_type is Any:

        def structure_object(value: Any, _: type) -> dict[str, Any]:
            if type(value) is dict:
                return value
            raise _expect("an object", value)

        return structure_object

    # A number stays as sent: an element count of 1 stays the int 1 (an int is a
    # valid ``float`` for type checkers), a fraction of 0.7 the float 0.7.
    value_hook = (
        _structure_number if value_type is float else converter.get_structure_hook(value_type)
    )

    def structure_mapping(value: Any, _: type) -> dict[str, Any]:
        if type(value) is not dict:
            raise _expect("an object", value)
        out: dict[str, Any] = {}
        for key, item in value.items():
            try:
                out[key] = value_hook(item, value_type)
            except _Invalid as exc:
                raise _Invalid(f"{exc} at key {key!r}") from None
        return out

    return structure_mapping


def _is_optional_type(type_: Any) -> bool:
    """``X | None`` (``Optional[X]``) of exactly one other type."""
    if typing.get_origin(type_) not in (typing.Union, types.UnionType):
        return False
    args = typing.get_args(type_)
    return len(args) == 2 and types.NoneType in args


def _optional_hook(type_: Any) -> Callable[[Any, type], Any]:
    # cattrs' own hook looks the other type's hook up on every value; a catalogue
    # entry has some fifteen optional fields, so look it up once (on first use, so
    # that a model may refer to itself).
    inner = next(arg for arg in typing.get_args(type_) if arg is not types.NoneType)
    hook: Callable[[Any, type], Any] | None = None

    if inner in (str, int, bool):
        # What their hooks let through unchanged; anything else gets the hook's error.
        def structure_optional_scalar(value: Any, _: type) -> Any:
            if value is None or type(value) is inner:
                return value
            return converter.get_structure_hook(inner)(value, inner)

        return structure_optional_scalar

    def structure_optional(value: Any, _: type) -> Any:
        nonlocal hook
        if value is None:
            return None
        if hook is None:
            hook = converter.get_structure_hook(inner)
        return hook(value, inner)

    return structure_optional


def _is_list_type(type_: Any) -> bool:
    return typing.get_origin(type_) is list


def _list_hook(type_: Any) -> Callable[[Any, type], Any]:
    # cattrs' own list hook collects per-element errors with their index; it
    # accepts any iterable (a string becomes its characters), so check first.
    generic = list_structure_factory(type_, converter)

    def structure_list(value: Any, type__: type) -> Any:
        if type(value) is not list:
            raise _expect("an array", value)
        return generic(value, type__)

    return structure_list


def _attrs_hook(cls: type) -> Callable[[Any, type], Any]:
    generated: Callable[[Any, type], Any] = make_dict_structure_fn(cls, converter)
    if getattr(cls, "_lenient", False):
        generated = _lenient(cls, generated)
    aliases: tuple[tuple[str, tuple[str, ...]], ...] = getattr(cls, "_aliases", ())
    if aliases:
        generated = _aliased(aliases, generated)

    def structure_model(value: Any, type_: type) -> Any:
        if type(value) is not dict:
            raise _expect("an object", value)
        return generated(value, type_)

    if not getattr(cls, "_input", False):
        return structure_model
    fields = [a.alias for a in attrs.fields(cls)]
    known = frozenset(fields)

    def structure_input_model(value: Any, type_: type) -> Any:
        if type(value) is not dict:
            raise _expect("an object", value)
        unknown = [key for key in value if key not in known]
        if not unknown:
            return generated(value, type_)
        errors: list[Exception] = []
        for key in unknown:
            error = _UnknownField(str(key), fields)
            error.__notes__ = [AttributeValidationNote(f"unknown key {key!r}", str(key), Any)]
            errors.append(error)
        try:
            generated(value, type_)
        except ClassValidationError as exc:
            errors = [*exc.exceptions, *errors]
        raise ClassValidationError(f"While structuring {cls.__name__}", errors, cls)

    return structure_input_model


def _aliased(
    aliases: tuple[tuple[str, tuple[str, ...]], ...], generated: Callable[[Any, type], Any]
) -> Callable[[Any, type], Any]:
    """Structure an attribute from the first of its alternative keys that is present."""

    def structure_aliased(value: dict[str, Any], type_: type) -> Any:
        value = dict(value)
        for attribute, keys in aliases:
            for key in keys:
                if key in value:
                    value[attribute] = value[key]
                    break
        return generated(value, type_)

    return structure_aliased


def _lenient(cls: type, generated: Callable[[Any, type], Any]) -> Callable[[Any, type], Any]:
    """An optional field whose value does not fit its type becomes None, logged once."""
    optional = frozenset(a.name for a in attrs.fields(cls) if a.default is not attrs.NOTHING)

    def structure_lenient(value: dict[str, Any], type_: type) -> Any:
        try:
            return generated(value, type_)
        except ClassValidationError as exc:
            with_notes, without = exc.group_exceptions()
            bad = {note.name for _error, note in with_notes}
            if without or not bad <= optional:
                raise
            for _error, note in with_notes:
                _report_dropped(cls, note.name, _error)
            return generated({k: v for k, v in value.items() if k not in bad}, type_)

    return structure_lenient


def _report_dropped(cls: type, field: str, error: BaseException) -> None:
    if (cls.__name__, field) in _dropped_reported:
        return
    _dropped_reported.add((cls.__name__, field))
    reason = "; ".join(cattrs.transform_error(error, path=field, format_exception=_format))
    _logger.warning(
        "%s.%s does not fit its type and is taken as None (%s); reported once",
        cls.__name__,
        field,
        reason,
    )


def _attrs_unstructure_hook(cls: type) -> Callable[[Any], dict[str, Any]]:
    if not getattr(cls, "_input", False):
        return make_dict_unstructure_fn(cls, converter)
    return make_dict_unstructure_fn(cls, converter, _cattrs_omit_if_default=True)


converter = cattrs.Converter(detailed_validation=True, forbid_extra_keys=False)

converter.register_structure_hook(int, _structure_int)
converter.register_structure_hook(float, _structure_float)
converter.register_structure_hook(str, _structure_str)
converter.register_structure_hook(bool, _structure_bool)
converter.register_structure_hook(dt.datetime, _structure_datetime)
converter.register_structure_hook(FloatArray, _structure_float_array)
converter.register_structure_hook_func(lambda t: t is Any, _structure_any)
converter.register_structure_hook_factory(_is_dict_type, _dict_hook)
converter.register_structure_hook_factory(_is_list_type, _list_hook)
converter.register_structure_hook_factory(_is_optional_type, _optional_hook)
converter.register_structure_hook_factory(attrs.has, _attrs_hook)
converter.register_unstructure_hook(FloatArray, FloatArray.tolist)
converter.register_unstructure_hook(dt.datetime, _unstructure_datetime)
converter.register_unstructure_hook_factory(attrs.has, _attrs_unstructure_hook)


def structure(data: Any, cl: type[T], endpoint: str) -> T:
    """Structure decoded JSON into ``cl``, or raise ResponseValidationError."""
    try:
        return converter.structure(data, cl)
    except Exception as exc:
        raise ResponseValidationError(
            endpoint, cattrs.transform_error(exc, path="$", format_exception=_format)
        ) from None


def decode(content: bytes, cl: type[T], endpoint: str, fields: dict[str, Any] | None = None) -> T:
    """Decode a JSON body and structure it into ``cl``, or raise ResponseValidationError.

    ``fields`` (e.g. the requested ``data_id``) are set on the decoded object
    before it is structured: values the request knows and the payload lacks.
    """
    try:
        data = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        preview = content[:60].decode("utf-8", "replace")
        raise ResponseValidationError(
            endpoint, [f"the body is not JSON ({exc}; starts with {preview!r}) @ $"]
        ) from None
    if fields and type(data) is dict:
        data.update(fields)
    return structure(data, cl, endpoint)


def structure_input(data: Any, cl: type[T], argument: str) -> T:
    """Structure a user's plain dict into an input model, or raise ValueError naming the field."""
    if isinstance(data, cl):
        return data
    try:
        return converter.structure(data, cl)
    except Exception as exc:
        lines = cattrs.transform_error(exc, path=argument, format_exception=_format)
        raise ValueError(f"invalid {argument}: " + "; ".join(lines)) from None


def unstructure(obj: Any) -> Any:
    """Convert a model (or a list of models) to plain JSON-ready data."""
    return converter.unstructure(obj)


def dumps(obj: Any) -> bytes:
    """Serialize a model or plain data to JSON bytes."""
    return orjson.dumps(converter.unstructure(obj))
