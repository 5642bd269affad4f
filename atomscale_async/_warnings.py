"""Warnings that point at the caller's line, and never fail the call that issues them.

``warnings.warn_explicit`` with ``module_globals`` asks the module's ``__loader__`` for
its source, to show the offending line. In a plain Python prompt, ``python -c``, or a
script piped to ``python -``, ``__main__``'s loader is ``BuiltinImporter``, whose
``get_source`` raises ``ImportError``; any other odd loader may raise anything. A
warning that cannot be attributed to the caller's line is issued without its source
line, and failing that as a plain ``warnings.warn``: it is never the caller's error.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

__all__ = ["warn_at"]

_logger = logging.getLogger("atomscale_async")


def _has_spec_loader(module_globals: dict[str, Any]) -> bool:
    """Whether the source lookup has a ``__spec__.loader`` to ask.

    Without one (``__main__`` of a prompt or ``python -c`` has ``__spec__ = None``),
    Python 3.12+ falls back to ``__loader__`` with a ``DeprecationWarning`` of its own.
    """
    spec = module_globals.get("__spec__")
    return getattr(spec, "loader", None) is not None


def warn_at(
    message: str,
    category: type[Warning],
    filename: str,
    lineno: int,
    *,
    module: str | None = None,
    module_globals: dict[str, Any] | None = None,
) -> None:
    """Issue ``message`` as if raised at ``filename:lineno``; fall back, never fail.

    A warnings filter that turns ``category`` into an error (``-W error``) still raises
    it, as ``warnings.warn`` would: the caller decides what an error is. Anything else
    raised while attributing or showing the warning (a loader without the source, a
    broken ``showwarning`` hook) is not the caller's error: the warning is retried
    without the source lookup, then plainly, then logged.
    """
    # ``module=None`` given explicitly matches no filter: leave it out instead.
    named: dict[str, Any] = {} if module is None else {"module": module}
    attempts: list[dict[str, Any]] = []
    if module_globals is not None and _has_spec_loader(module_globals):
        registry = module_globals.setdefault("__warningregistry__", {})
        attempts.append({**named, "registry": registry, "module_globals": module_globals})
    attempts.append(named)
    for options in attempts:
        try:
            warnings.warn_explicit(message, category, filename, lineno, **options)
        except category:
            raise
        except Exception:  # try the next, simpler way
            continue
        return
    try:
        warnings.warn(message, category, stacklevel=2)
    except category:
        raise
    except Exception:
        _logger.warning("%s: %s", category.__name__, message)
