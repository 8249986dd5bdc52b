"""A registered model's importance charts as PNG bytes (drawn by :mod:`walkforward.evaluation.plots`).

Choosing what to draw (:func:`plot_data`) is apart from drawing it (:func:`render_png`), so a caller
can look the data up in a cache first; matplotlib and scikit-learn are imported by the drawing only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from walkforward.errors import DataNotFoundError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from walkforward.registry import ModelRecord, ModelStore

#: Plot kind -> the record attribute it draws.
_SOURCES: dict[str, str] = {"importance": "feature_details", "regimes": "regime_importance"}
PLOT_KINDS: tuple[str, ...] = tuple(_SOURCES)


def plot_data(record: ModelRecord, kind: str) -> Mapping[str, Any]:
    """What the ``kind`` chart of ``record`` draws.

    Raises :class:`~walkforward.errors.DataNotFoundError` when the model has no explanations (it was
    trained with ``explain=false``), and ``ValueError`` for an unknown ``kind``.
    """
    if kind not in _SOURCES:
        raise ValueError(f"unknown plot kind {kind!r}: use one of {', '.join(PLOT_KINDS)}")
    attribute = _SOURCES[kind]
    data: Mapping[str, Any] | None = getattr(record, attribute)
    if not data:
        raise DataNotFoundError(
            f"model {record.id} has no {attribute.replace('_', ' ')}: it was trained with explain=false "
            "(or its explanations failed): run `walkforward models explain ID` or train with explain=true"
        )
    return data


def render_png(kind: str, data: Mapping[str, Any]) -> bytes:
    """The ``kind`` chart of ``data`` (as :func:`plot_data` returns it) as PNG bytes (seconds of CPU)."""
    from walkforward.evaluation.plots import png_bytes, regime_bars_figure, shap_summary_figure

    draw: dict[str, Callable[[Mapping[str, Any]], Figure]] = {
        "importance": shap_summary_figure,
        "regimes": regime_bars_figure,
    }
    return png_bytes(draw[kind](data))


def plot_png(registry: ModelStore, model_id: str, kind: str) -> bytes:
    """The PNG of a model's feature importance (``importance``) or regime importance (``regimes``).

    Raises as :func:`plot_data`.
    """
    return render_png(kind, plot_data(registry.get(model_id), kind))


__all__ = ["PLOT_KINDS", "plot_data", "plot_png", "render_png"]
