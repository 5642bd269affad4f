"""Hand-written behaviour of generated models.

The generator makes a model inherit ``<Name>Mixin`` from this module when its
schema carries ``x-mixin: true``; add methods here, never in ``_generated/``.
Mixins hold no state (``__slots__ = ()``).
"""

from __future__ import annotations

__all__ = ["OESResultMixin", "SIMSDepthProfileMixin", "SIMSResultMixin"]


class SIMSDepthProfileMixin:
    """Behaviour of ``SIMSDepthProfile``."""

    __slots__ = ()


class SIMSResultMixin:
    """Behaviour of ``SIMSResult``."""

    __slots__ = ()


class OESResultMixin:
    """Behaviour of ``OESResult``."""

    __slots__ = ()
