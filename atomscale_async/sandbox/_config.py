"""`SandboxConfig`: every option of a sandbox, declared once.

`create_app`, `SandboxServer`, `serve` and ``atomscale-async sandbox`` all take a
`SandboxConfig`; the command line makes one flag of each option (`options`), with the
help held in the field's metadata. A new option is one field here (or in `Faults`, for a
fault that may change while the sandbox serves).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any, Self

import attrs

from atomscale_async.sandbox._checks import HELP, Bounds, documented, knob_help
from atomscale_async.sandbox._faults import Faults

__all__ = ["Option", "SandboxConfig", "options"]


@documented
@attrs.frozen(kw_only=True)
class SandboxConfig:
    """The options of a sandbox: its data, its key and its faults.

    Options may also be given by name to `create_app`, `SandboxServer` and `serve`, fault
    options included (``latency_ms=20`` sets ``faults.latency_ms``); `replace` does the same.

    Example:
        >>> config = SandboxConfig(entries=100, faults=Faults(error_rate=0.01))
        >>> config.replace(latency_ms=20).faults.latency_ms
        20
    """

    entries: int = attrs.field(
        default=1000,
        validator=Bounds(0),
        metadata=knob_help("data entries in the catalogue (mostly SIMS and OES)", "N"),
    )
    seed: int = attrs.field(
        default=0, metadata=knob_help("seed of the data and of the faults", "SEED")
    )
    api_key: str | None = attrs.field(
        default="sandbox-key",
        repr=False,
        metadata=knob_help("the key clients must send in X-API-KEY", "KEY"),
    )
    oes_points: int = attrs.field(
        default=2048,
        validator=Bounds(16),
        metadata=knob_help("points of each OES wavelength grid (200 to 900 nm)", "N"),
    )
    raw_file_bytes: int = attrs.field(
        default=64 * 1024,
        validator=Bounds(16),
        metadata=knob_help("size of each seeded entry's synthetic raw file, in bytes", "N"),
    )
    analysis_seconds: float = attrs.field(
        default=0.5,
        validator=Bounds(0),
        metadata=knob_help("seconds an uploaded file's entry stays pending", "S"),
    )
    faults: Faults = attrs.field(factory=Faults)

    def replace(self, **changes: Any) -> Self:
        """A copy with options changed by name (a fault option changes ``faults``).

        Raises:
            TypeError: A name is not an option (the message suggests the closest one).
            ValueError: A value is not valid.
        """
        known = {option.name: option for option in options()}
        top: dict[str, Any] = {}
        nested: dict[str, dict[str, Any]] = {}
        for name, value in changes.items():
            option = known.get(name)
            if option is None:
                if name in attrs.fields_dict(type(self)):  # a whole nested class, e.g. faults
                    top[name] = value
                    continue
                close = difflib.get_close_matches(name, known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                msg = f"{name!r} is not a sandbox option{hint}"
                raise TypeError(msg)
            if option.within is None:
                top[name] = value
            else:
                nested.setdefault(option.within, {})[name] = value
        for within, values in nested.items():
            base = top.get(within, getattr(self, within))
            top[within] = attrs.evolve(base, **values)
        return attrs.evolve(self, **top)

    def to_options(self) -> dict[str, Any]:
        """Every option by name, fault options included (`replace` takes them back).

        Example:
            >>> SandboxConfig().to_options()["error_rate"]
            0.0
        """
        return {option.name: option.get(self) for option in options()}


@attrs.frozen
class Option:
    """One option of `SandboxConfig`, a field of it or of a class nested in it (`Faults`)."""

    attribute: attrs.Attribute[Any]
    within: str | None = None
    """The field of `SandboxConfig` that holds it (``"faults"``), None for its own fields."""

    @property
    def name(self) -> str:
        """The option's name, e.g. ``latency_ms`` (its flag: ``--latency-ms``)."""
        return self.attribute.name

    @property
    def help(self) -> str:
        """What the option does, a lower-case phrase."""
        return str(self.attribute.metadata[HELP])

    @property
    def default(self) -> Any:
        """The option's default value."""
        return self.attribute.default

    def get(self, config: SandboxConfig) -> Any:
        """The option's value in ``config``."""
        holder = config if self.within is None else getattr(config, self.within)
        return getattr(holder, self.name)


def options() -> Iterator[Option]:
    """Every option of a sandbox, in declaration order (a nested class's at its place)."""
    attrs.resolve_types(SandboxConfig)
    for field in attrs.fields(SandboxConfig):
        if isinstance(field.type, type) and attrs.has(field.type):
            attrs.resolve_types(field.type)
            for inner in attrs.fields(field.type):
                if HELP in inner.metadata:
                    yield Option(inner, within=field.name)
        elif HELP in field.metadata:
            yield Option(field)
