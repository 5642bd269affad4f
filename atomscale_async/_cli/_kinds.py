"""The kind table as the command line names it: kinds, aliases, techniques."""

from __future__ import annotations

from .._generated.kinds import KINDS, UNTYPED_KINDS

__all__ = ["kind_names", "kinds_text", "technique", "untyped_text"]


def kind_names() -> dict[str, list[str]]:
    """Each kind of the kind table and its aliases, e.g. ``{"photoluminescence": ["pl"]}``."""
    names: dict[str, list[str]] = {}
    for kind in KINDS.values():
        aliases = names.setdefault(kind.canonical, [])
        if kind.name != kind.canonical:
            aliases.append(kind.name)
    return names


def kinds_text() -> str:
    """The kinds of the kind table as text: ``sims, oes, ..., photoluminescence (pl), ...``."""
    return ", ".join(
        f"{kind} ({', '.join(aliases)})" if aliases else kind
        for kind, aliases in kind_names().items()
    )


def untyped_text() -> str:
    """The kinds the catalogue lists that the SDK does not type yet, as text."""
    return ", ".join(UNTYPED_KINDS)


def technique(kind: str) -> str:
    """The technique a kind names, after its model: ``XPS``, ``photoluminescence``."""
    name = KINDS[kind].model.__name__.removesuffix("Result")
    return name if name.isupper() else name.lower()
