"""Optional dependencies (pandas, matplotlib, numpy), imported only when a feature needs them.

The package itself imports without them; a method that needs one calls
``require`` first, which raises ``MissingExtraError`` naming the extra to install.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["MissingExtraError", "require"]


class MissingExtraError(ImportError):
    """An optional dependency of the called feature is not installed.

    The message says which extra of ``atomscale-async`` provides it.

    Attributes:
        feature: What was called, e.g. ``"OESResult.to_pandas()"``.
        module: The missing module, e.g. ``"pandas"`` (also ``ImportError.name``).
        extra: The extra that installs it, e.g. ``"pandas"``.

    Example:
        >>> try:
        ...     frame = result.to_pandas()  # doctest: +SKIP
        ... except MissingExtraError as exc:
        ...     print(exc)  # doctest: +SKIP
        OESResult.to_pandas() requires pandas, which is not installed: install the [pandas] extra (pip install -e '.[pandas]' in atomscale-async's checkout)
    """  # noqa: E501

    def __init__(self, feature: str, module: str, extra: str) -> None:
        super().__init__(
            f"{feature} requires {module}, which is not installed: "
            f"install the [{extra}] extra "
            f"(pip install -e '.[{extra}]' in atomscale-async's checkout)",
            name=module,
        )
        self.feature = feature
        self.module = module
        self.extra = extra

    def __reduce__(self) -> tuple[type[MissingExtraError], tuple[str, str, str]]:
        return (type(self), (self.feature, self.module, self.extra))


def require(feature: str, extra: str, *modules: str) -> None:
    """Import ``modules`` (in order) or raise ``MissingExtraError`` naming ``extra``.

    Call it before importing the modules inside the function, so that the
    imports that follow are typed normally and cannot fail.

    Raises:
        MissingExtraError: a module is not installed (or fails to import).
    """
    for module in modules:
        _import(feature, extra, module)


def _import(feature: str, extra: str, module: str) -> ModuleType:
    top = module.partition(".")[0]
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if exc.name in (module, top):  # not installed: the message says all there is
            raise MissingExtraError(feature, top, extra) from None
        raise MissingExtraError(feature, top, extra) from exc  # installed, but broken
