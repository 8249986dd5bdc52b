"""PNG charts of feature importance: overall mean |SHAP| and per-regime mean |SHAP|.

Figures are drawn on matplotlib's Agg canvas directly (no pyplot, no global backend switch, safe in
worker threads). :func:`png_bytes` renders one in memory (what the API serves); the ``*_png``
functions write it atomically, so a reader never sees a half-written file.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from walkforward.atomic import replace_file

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

DPI = 110
_LABEL_CHARS = 48


def _label(name: str) -> str:
    """Shorten very long feature names in the middle, keeping the symbol suffix readable."""
    if len(name) <= _LABEL_CHARS:
        return name
    keep = (_LABEL_CHARS - 1) // 2
    return f"{name[:keep]}…{name[-keep:]}"


def _value(entry: Mapping[str, Any], key: str) -> float | None:
    v = entry.get(key)
    return float(v) if isinstance(v, int | float) else None


def png_bytes(fig: Figure) -> bytes:
    """``fig`` rendered as PNG in memory."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _write(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Save ``fig`` as PNG via a temporary file in the target folder and ``os.replace``."""
    target = Path(path)
    data = png_bytes(fig)
    replace_file(target, lambda fh: fh.write(data), prefix=f".{target.name}.", suffix=".tmp")
    log.info("wrote %s", target)
    return target


def _level_order(level: str) -> tuple[int, float, str]:
    """Numeric levels in numeric order ("2" before "10"), then any others by text."""
    try:
        return (0, float(level), level)
    except ValueError:
        return (1, 0.0, level)


def _empty(fig: Figure, message: str) -> None:
    ax = fig.add_subplot(1, 1, 1)
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=11)
    ax.set_axis_off()


def shap_summary_figure(
    feature_details: Mapping[str, Mapping[str, Any]], top: int = 20, title: str | None = None
) -> Figure:
    """Horizontal bars of mean |SHAP| for the ``top`` features (permutation importance if no SHAP).

    Parameters
    ----------
    feature_details : the first result of ``walkforward.evaluation.importance.explain``.
    top : how many features to show, largest first.
    title : figure title; a default names the measure shown.
    """
    from matplotlib.figure import Figure

    key = "shap_mean_abs"
    if not any(_value(e, key) is not None for e in feature_details.values()):
        key = "permutation_mean"
    items = [(name, v) for name, e in feature_details.items() if (v := _value(e, key)) is not None]
    items = sorted(items, key=lambda kv: kv[1], reverse=True)[: max(top, 1)]
    measure = "mean |SHAP|" if key == "shap_mean_abs" else "permutation importance (score drop)"
    height = 1.6 + 0.32 * max(len(items), 3)
    fig = Figure(figsize=(9.0, height), layout="tight")
    if not items:
        _empty(fig, "no feature importance to show")
        return fig
    ax = fig.add_subplot(1, 1, 1)
    names = [_label(n) for n, _ in reversed(items)]
    values = [v for _, v in reversed(items)]
    ax.barh(names, values, color="#3b75af")
    ax.set_xlabel(measure)
    ax.set_title(title or f"Feature importance: {measure}, top {len(items)}")
    ax.tick_params(axis="y", labelsize=8)
    ax.grid(axis="x", alpha=0.3)
    return fig


def regime_bars_figure(regime_importance: Mapping[str, Mapping[str, Mapping[str, Any]]], top: int = 10) -> Figure:
    """One panel per regime column: grouped horizontal bars of mean |SHAP| per regime level.

    The ``top`` features of a panel are those with the largest mean |SHAP| averaged over its levels.
    """
    from matplotlib.figure import Figure

    panels = [(col, levels) for col, levels in regime_importance.items() if levels]
    if not panels:
        fig = Figure(figsize=(8.0, 2.5), layout="tight")
        _empty(fig, "no regime column (or no regime level with enough rows)")
        return fig
    heights = []
    for _, levels in panels:
        heights.append(1.2 + 0.3 * min(top, len(set().union(*levels.values()))) * max(1.0, len(levels) / 2.5))
    fig = Figure(figsize=(9.5, sum(heights) + 0.4), layout="tight")
    axes = fig.subplots(len(panels), 1, squeeze=False, height_ratios=heights)[:, 0]
    for ax, (col, levels) in zip(axes, panels, strict=True):
        level_keys = sorted(levels, key=_level_order)
        features = sorted(set().union(*levels.values()))
        score = {
            f: sum(_value(levels[lv], f) or 0.0 for lv in level_keys) / len(level_keys)
            for f in features  # mean over levels
        }
        shown = sorted(features, key=lambda f: score[f], reverse=True)[: max(top, 1)][::-1]
        bar = 0.8 / len(level_keys)
        for i, lv in enumerate(level_keys):
            ys = [j + (i - (len(level_keys) - 1) / 2) * bar for j in range(len(shown))]
            ax.barh(ys, [_value(levels[lv], f) or 0.0 for f in shown], height=bar, label=f"{col}={lv}")
        ax.set_yticks(range(len(shown)), [_label(f) for f in shown], fontsize=8)
        ax.set_xlabel("mean |SHAP|")
        ax.set_title(f"Importance by regime: {col}")
        ax.legend(fontsize=8, loc="lower right")
        ax.grid(axis="x", alpha=0.3)
    return fig


def shap_summary_png(
    feature_details: Mapping[str, Mapping[str, Any]],
    path: str | os.PathLike[str],
    top: int = 20,
    title: str | None = None,
) -> Path:
    """Write :func:`shap_summary_figure` to ``path`` (replaced atomically); returns the path."""
    return _write(shap_summary_figure(feature_details, top, title), path)


def regime_bars_png(
    regime_importance: Mapping[str, Mapping[str, Mapping[str, Any]]],
    path: str | os.PathLike[str],
    top: int = 10,
) -> Path:
    """Write :func:`regime_bars_figure` to ``path`` (replaced atomically); returns the path."""
    return _write(regime_bars_figure(regime_importance, top), path)


__all__ = ["png_bytes", "regime_bars_figure", "regime_bars_png", "shap_summary_figure", "shap_summary_png"]
