"""Answers synthesised from a kind's schema, for the kinds the sandbox has no generator for.

The kind table (`atomscale_async._generated.kinds.KINDS`) carries the JSON Schema of each
kind's answer; `synthesise` makes a value valid against it, a pure function of its random
generator. So a technique described in `openapi.yaml` and regenerated is served by the
sandbox (and the testing mock) at once, before anyone writes realistic data for it.

What it makes: every property (an alias group, `x-sdk-aliases`, sends one of its keys),
non-null where null is allowed; the numeric arrays of one object share a length, the
first an increasing axis and the others peaks on a baseline with noise; a `data_id` is
the requested id; date-times follow the entry's collection time; bounds, enumerations,
constants, defaults and examples are honoured.
"""

from __future__ import annotations

import math
import random
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import attrs

__all__ = ["synthesise"]

Schema = Mapping[str, Any]

_POINTS: Final = (128, 256)
"""The smallest and largest length of a synthesised numeric array."""
_ANY: Final = {"synthesised_by": "atomscale sandbox"}
"""The value of a property the schema leaves open (passed through as received)."""


@attrs.frozen
class _Context:
    rng: random.Random
    data_id: str
    moment: datetime
    points: int


def synthesise(schema: Schema, rng: random.Random, *, data_id: str, moment: datetime) -> Any:
    """A JSON value valid against `schema`, drawn from `rng`.

    Args:
        schema: A JSON Schema with its references inlined (a `Kind.schema`).
        rng: The generator every choice is drawn from (seed it for the same answer).
        data_id: The requested data id: the value of every `data_id` property.
        moment: When the data was collected: date-times fall shortly after it.

    Raises:
        ValueError: The schema asks for a string matching a pattern and gives no example.

    Example:
        >>> schema = {"type": "object", "required": ["x"], "properties": {"x": {"type": "integer", "minimum": 3, "maximum": 3}}}
        >>> synthesise(schema, random.Random(0), data_id="d", moment=datetime(2025, 1, 1, tzinfo=UTC))
        {'x': 3}
    """  # noqa: E501
    points = rng.randrange(_POINTS[0], _POINTS[1] + 1)
    return _value(schema, _Context(rng, data_id, moment, points), "")


def _value(schema: Schema, context: _Context, name: str) -> Any:
    for key in ("const", "default", "example"):
        if key in schema:
            return schema[key]
    if schema.get("examples"):
        return schema["examples"][0]
    if "enum" in schema:
        return context.rng.choice(list(schema["enum"]))
    schema = _merged(schema)
    options = schema.get("anyOf") or schema.get("oneOf")
    if options and "type" not in schema and "properties" not in schema:
        chosen = [o for o in options if o.get("type") != "null"] or options
        return _value(chosen[0], context, name)
    kind = _type_of(schema)
    if kind is None:
        return dict(_ANY)
    if kind == "null":
        return None
    if kind == "boolean":
        return context.rng.random() < 0.5
    if kind in ("integer", "number"):
        return _number(schema, context.rng, integer=kind == "integer")
    if kind == "string":
        return _string(schema, context, name)
    if kind == "array":
        return _array(schema, context, name)
    return _object(schema, context)


def _merged(schema: Schema) -> Schema:
    """`allOf` folded into the schema (properties and required lists united)."""
    parts = schema.get("allOf")
    if not parts:
        return schema
    merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    for part in map(_merged, parts):
        for key, value in part.items():
            if key == "properties":
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required":
                merged["required"] = [*merged.get("required", []), *value]
            else:
                merged.setdefault(key, value)
    return merged


def _type_of(schema: Schema) -> str | None:
    raw = schema.get("type")
    types = [raw] if isinstance(raw, str) else list(raw or [])
    if not types:
        if "properties" in schema or "additionalProperties" in schema:
            return "object"
        return "array" if "items" in schema else None
    concrete = [t for t in types if t != "null"]
    return concrete[0] if concrete else "null"


def _number(schema: Schema, rng: random.Random, *, integer: bool) -> float | int:
    if integer:
        first = (
            math.ceil(schema["minimum"])
            if "minimum" in schema
            else math.floor(schema.get("exclusiveMinimum", -1)) + 1
        )
        last = (
            math.floor(schema["maximum"])
            if "maximum" in schema
            else math.ceil(schema.get("exclusiveMaximum", first + 1001)) - 1
        )
        return rng.randint(first, max(first, last))
    low = float(schema.get("minimum", schema.get("exclusiveMinimum", 0.0)))
    high = float(schema.get("maximum", schema.get("exclusiveMaximum", max(low, 0.0) + 1000.0)))
    value = float(f"{rng.uniform(low, high):.4g}")
    if not low < value < high:  # rounded onto (or past) a bound
        return (low + high) / 2
    return value


def _string(schema: Schema, context: _Context, name: str) -> str:
    rng = context.rng
    text_format = schema.get("format")
    if name == "data_id":
        text = context.data_id
    elif text_format == "date-time":
        moment = context.moment + timedelta(minutes=rng.randrange(5, 24 * 60))
        text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    elif text_format == "date":
        text = context.moment.date().isoformat()
    elif text_format == "uuid":
        text = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    elif text_format == "email":
        text = "sandbox@example.com"
    elif text_format in ("uri", "url"):
        text = f"https://example.com/{name or 'item'}/{rng.getrandbits(32):08x}"
    else:
        text = f"{name or 'value'}_{rng.getrandbits(32):08x}"
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    text = text.ljust(low, "x")
    if high is not None:
        text = text[:high]
    pattern = schema.get("pattern")
    if pattern is not None and re.search(pattern, text) is None:
        msg = f"cannot synthesise {name or 'a string'} matching {pattern!r}: give it an example"
        raise ValueError(msg)
    return text


def _array(schema: Schema, context: _Context, name: str) -> list[Any]:
    items = schema.get("items", {})
    low, high = schema.get("minItems", 0), schema.get("maxItems")
    if _numeric(schema):
        count = context.points
    else:
        count = max(low, 1 if schema.get("uniqueItems") else context.rng.randint(1, 3))
    if high is not None:
        count = min(count, high)
    count = max(count, low)
    if _numeric(schema):
        return _intensities(context.rng, count, integer=_type_of(items) == "integer")
    return [_value(items, context, name) for _ in range(count)]


def _numeric(schema: Schema) -> bool:
    items = schema.get("items", {})
    return bool(schema.get("x-numeric-array")) or (
        _type_of(items) in ("number", "integer") and not set(items) - {"type"}
    )


def _axis(rng: random.Random, count: int, *, integer: bool) -> list[Any]:
    start = rng.choice((0.0, 1.0, 10.0, 100.0, 200.0))
    step = rng.choice((0.05, 0.1, 0.5, 1.0, 2.0))
    if integer:
        return [int(start) + i for i in range(count)]
    return [round(start + i * step, 6) for i in range(count)]


def _intensities(rng: random.Random, count: int, *, integer: bool) -> list[Any]:
    baseline = rng.uniform(10.0, 100.0)
    peaks = [
        (rng.uniform(0.1, 0.9) * count, rng.uniform(2.0, 0.05 * count + 3), rng.uniform(1, 50))
        for _ in range(rng.randint(1, 3))
    ]
    values = []
    for i in range(count):
        signal = baseline * (1 + sum(h * math.exp(-(((i - c) / w) ** 2)) for c, w, h in peaks) / 10)
        noisy = max(signal + rng.gauss(0.0, math.sqrt(signal)), 0.0)
        values.append(round(noisy) if integer else float(f"{noisy:.5g}"))
    return values


def _object(schema: Schema, context: _Context) -> dict[str, Any]:
    properties: Mapping[str, Schema] = schema.get("properties", {})
    if not properties:
        extra = schema.get("additionalProperties")
        if extra is False:
            return {}
        if isinstance(extra, Mapping) and extra:
            return {f"key_{i}": _value(extra, context, f"key_{i}") for i in range(1, 3)}
        return dict(_ANY)
    keys = _chosen_keys(schema, context.rng)
    answer: dict[str, Any] = {}
    axis_made = False
    for key in keys:
        sub = properties[key]
        if _type_of(sub) == "array" and _numeric(sub) and "const" not in sub:
            integer = _type_of(sub.get("items", {})) == "integer"
            count = context.points
            if sub.get("maxItems") is not None:
                count = min(count, sub["maxItems"])
            count = max(count, sub.get("minItems", 0))
            if not axis_made:
                answer[key] = _axis(context.rng, count, integer=integer)
                axis_made = True
            else:
                answer[key] = _intensities(context.rng, count, integer=integer)
            continue
        answer[key] = _value(sub, context, key)
    return answer


def _chosen_keys(schema: Schema, rng: random.Random) -> list[str]:
    """The properties to send: all of them, one key of each alias group."""
    properties: Sequence[str] = list(schema.get("properties", {}))
    left_out: set[str] = set()
    for keys in schema.get("x-sdk-aliases", {}).values():
        sent = rng.choice(list(keys))
        left_out.update(k for k in keys if k != sent)
    chosen = [k for k in properties if k not in left_out]
    for key in ("anyOf", "oneOf"):
        alternatives = [set(o.get("required", [])) for o in schema.get(key, [])]
        if alternatives and not any(a <= set(chosen) for a in alternatives):
            extra = rng.choice(alternatives)
            chosen += [k for k in properties if k in extra and k not in chosen]
    return chosen
