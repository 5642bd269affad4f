"""The base class of every generated model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from ._convert import unstructure

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = ["Model", "ResultModel"]


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


class ResultModel(Model):
    """Base of the result of every kind of the kind table: what a kind offers by default.

    A kind described in ``openapi.yaml`` gets its model at once; its plot, frame (and
    other behaviour) are written by hand in a mixin (``x-mixin``), and until then
    ``plot()`` and ``to_pandas()`` say so.
    """

    __slots__ = ()
    #: The kind's first name in the kind table, e.g. ``"photoluminescence"``.
    _kind: ClassVar[str] = ""

    def plot(self, ax: Axes | None = None) -> Axes:
        """Plot the result; a kind without a plot of its own raises.

        Raises:
            NotImplementedError: No plot is written for this kind yet.
        """
        msg = (
            f"no plot is written for {self._kind!r} results ({type(self).__name__}) yet; "
            "plot its arrays with matplotlib (result.to_dict() holds them)"
        )
        raise NotImplementedError(msg)

    def to_pandas(self) -> pd.DataFrame:
        """The result as a pandas frame; a kind without a frame of its own raises.

        Raises:
            NotImplementedError: No frame is written for this kind yet.
        """
        msg = (
            f"no frame is written for {self._kind!r} results ({type(self).__name__}) yet; "
            "build one from its arrays (result.to_dict() holds them)"
        )
        raise NotImplementedError(msg)
