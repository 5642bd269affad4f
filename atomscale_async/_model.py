"""The base class of every generated model."""

from __future__ import annotations

from typing import Any, ClassVar

from ._convert import unstructure

__all__ = ["Model"]


class Model:
    """Base of the SDK's attrs models: frozen, slotted, compared by value, not hashable.

    Models are not hashable because several fields are JSON objects (dicts) or
    numeric arrays; ``hash(model)`` raises ``TypeError`` on every model, by design.
    """

    __slots__ = ()
    #: What the caller sends (``x-sdk-input``): None fields are omitted from the
    #: body and unknown keys are rejected.
    _input: ClassVar[bool] = False

    def to_dict(self) -> dict[str, Any]:
        """Return the model as plain JSON-ready data (lists, dicts, ISO 8601 strings).

        Example:
            >>> import orjson
            >>> orjson.dumps(result.to_dict())  # doctest: +SKIP
        """
        data: dict[str, Any] = unstructure(self)
        return data
