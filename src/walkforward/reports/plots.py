"""A registered model's importance charts as PNG bytes (drawn by :mod:`walkforward.evaluation.plots`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from walkforward.errors import DataNotFoundError
from walkforward.evaluation.plots import png_bytes, regime_bars_figure, shap_summary_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from walkforward.registry import ModelStore

#: Plot kind -> (the record attribute it draws, the figure builder).
_PLOTS: dict[str, tuple[str, Callable[[Mapping[str, Any]], Figure]]] = {
    "importance": ("feature_details", shap_summary_figure),
    "regimes": ("regime_importance", regime_bars_figure),
}
PLOT_KINDS: tuple[str, ...] = tuple(_PLOTS)


def plot_png(registry: ModelStore, model_id: str, kind: str) -> bytes:
    """The PNG of a model's feature importance (``importance``) or regime importance (``regimes``).

    Raises :class:`~walkforward.errors.DataNotFoundError` when the model has no explanations (it was
    trained with ``explain=false``), and ``ValueError`` for an unknown ``kind``.
    """
    if kind not in _PLOTS:
        raise ValueError(f"unknown plot kind {kind!r}: use one of {', '.join(PLOT_KINDS)}")
    attribute, draw = _PLOTS[kind]
    data: Mapping[str, Any] | None = getattr(registry.get(model_id), attribute)
    if not data:
        raise DataNotFoundError(
            f"model {model_id} has no {attribute.replace('_', ' ')}: it was trained with explain=false "
            "(or its explanations failed): run `walkforward models explain ID` or train with explain=true"
        )
    return png_bytes(draw(data))


__all__ = ["PLOT_KINDS", "plot_png"]
