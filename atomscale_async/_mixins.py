"""Hand-written behaviour of generated models.

The generator makes a model inherit ``<Name>Mixin`` from this module when its
schema carries ``x-mixin: true``; add methods here, never in ``_generated/``.
Mixins hold no state (``__slots__ = ()``). With ``x-custom-repr: true`` attrs
leaves ``__repr__`` to the mixin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from ._generated.models import OESResult, SIMSDepthProfile, SIMSResult

__all__ = ["OESResultMixin", "SIMSDepthProfileMixin", "SIMSResultMixin"]


class SIMSDepthProfileMixin:
    """Behaviour of ``SIMSDepthProfile``."""

    __slots__ = ()

    def __repr__(self) -> str:
        profile = cast("SIMSDepthProfile", self)
        return (
            f"SIMSDepthProfile(data_id={profile.data_id!r}, species_name={profile.species_name!r}, "
            f"points={len(profile.depths)}, depth_units={profile.depth_units!r}, "
            f"concentration_units={profile.concentration_units!r})"
        )


class SIMSResultMixin:
    """Behaviour of ``SIMSResult``."""

    __slots__ = ()

    def __repr__(self) -> str:
        result = cast("SIMSResult", self)
        species = [p.species_name for p in result.depth_profiles]
        return f"SIMSResult(data_id={result.data_id!r}, species={species!r})"


class OESResultMixin:
    """Behaviour of ``OESResult``."""

    __slots__ = ()

    def __repr__(self) -> str:
        result = cast("OESResult", self)
        elements = sorted({p.element for p in result.detected_peaks})
        return (
            f"OESResult(data_id={result.data_id!r}, points={len(result.wavelengths)}, "
            f"wavelength_unit={result.wavelength_unit!r}, peaks={len(result.detected_peaks)}, "
            f"elements={elements!r})"
        )
