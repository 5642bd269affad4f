"""What a user names a kind by: its canonical name, its aliases, the kinds a search takes.

The kind table (``_generated/kinds.py``) has a row for every name the catalogue uses, an
alias (``pl``) included; a user sees one kind under its canonical name
(``photoluminescence``) everywhere. A search also takes the kinds the catalogue lists that
the SDK does not type yet (``UNTYPED_KINDS``), and refuses any other before sending.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Final

from ._generated.kinds import KINDS, UNTYPED_KINDS

__all__ = ["SEARCHABLE_KINDS", "canonical_kind", "check_search_kinds", "names_of_kind"]

_CANONICAL: Final = {name: kind.canonical for name, kind in KINDS.items()}

SEARCHABLE_KINDS: Final = (*KINDS, *UNTYPED_KINDS)
"""Every kind ``search(data_type=...)`` takes: the kind table's (aliases included), then the
kinds the catalogue lists that no result model types yet."""


def canonical_kind(name: str) -> str:
    """The canonical name of a kind (``photoluminescence`` for ``pl``); any other as it is."""
    return _CANONICAL.get(name, name)


def names_of_kind(name: str) -> tuple[str, ...]:
    """Every name the catalogue may store a kind under, the canonical first."""
    canonical = canonical_kind(name)
    aliases = tuple(n for n, c in _CANONICAL.items() if c == canonical and n != canonical)
    return (canonical, *aliases)


def check_search_kinds(argument: str, kinds: Iterable[str]) -> list[str]:
    """The names to search for `kinds`, each once, every alias of a kind included.

    Raises:
        ValueError: a kind is neither in the kind table nor one the catalogue is known to
            list; the message names `argument`, the value, the valid kinds and the closest.
    """
    names: dict[str, None] = {}
    for kind in kinds:
        if kind not in SEARCHABLE_KINDS:
            close = difflib.get_close_matches(kind.strip().lower(), SEARCHABLE_KINDS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            valid = ", ".join(SEARCHABLE_KINDS)
            msg = f"{argument}: {kind!r} is not a kind{hint} (valid kinds: {valid})"
            raise ValueError(msg)
        names.update(dict.fromkeys(names_of_kind(kind)))
    return list(names)
