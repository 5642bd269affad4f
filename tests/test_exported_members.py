"""``__all__`` is exactly the public surface, sorted, and every name is documented."""

from __future__ import annotations

import types

import atomscale_async


def test_all_is_sorted_and_complete() -> None:
    exported = atomscale_async.__all__
    assert exported == sorted(exported)
    public = {
        name
        for name, value in vars(atomscale_async).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)  # subpackages
    }
    assert public == set(exported) - {"__version__"}


def test_public_names_have_docstrings() -> None:
    for name in atomscale_async.__all__:
        obj = getattr(atomscale_async, name)
        if callable(obj):
            assert obj.__doc__, f"{name} has no docstring"
