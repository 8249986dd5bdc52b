"""What a list row shows and a metric sort reads, computed once from a model's metadata when it is saved.

Listing models must not decode their JSON columns (a trained model's row is 20-50 KB, mostly
explanations): the store keeps each model's numeric metrics in the ``model_metrics`` table and the
number of features and the score's name as columns of ``models``, all derived here, by pure
functions of what :class:`~walkforward.registry.NewModel` holds. Migration 0006 backfilled existing
rows with a frozen copy of :func:`metric_values`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

#: The cross-validated metrics a list row carries (the rest are one sort away: ``metrics.<name>``).
#: Append only: migration 0006 backfilled the first seven, so models saved before a later one was listed lack it.
LISTED_METRICS: tuple[str, ...] = (
    "r2",
    "rmse",
    "rmse_price",
    "hit_rate",
    "accuracy",
    "f1",
    "base_rate",
    "sharpe",
    "net_annual_return",
    "ic",
)
#: Most models one page of the list may hold (a list row is ~0.5 KB of JSON; page on with ``offset``).
MAX_PAGE = 200
#: Longest metric name kept as a sortable value (longer ones stay in the metrics JSON only).
METRIC_NAME_MAX = 64


def _number(value: Any) -> float | None:
    """``value`` as a finite float, or ``None`` for anything else (booleans, text, lists, NaN)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def metric_values(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Every numeric metric of a model, by name: the cross-validated aggregate first, then top level.

    Trained models keep their aggregated metrics under ``"cv"``; a flat metrics dict (``{"r2": 0.1}``)
    is read as is. A name present in both takes the ``"cv"`` value, which is what ``sort=metrics.<name>``
    orders by. Non-numeric and non-finite values are left out.

    Examples
    --------
    >>> metric_values({"cv": {"r2": 0.1, "r2_std": 0.02}, "r2": 0.5, "score": "r2", "n": True})
    {'r2': 0.1, 'r2_std': 0.02}
    """
    out: dict[str, float] = {}
    cv = metrics.get("cv")
    for source in (cv if isinstance(cv, Mapping) else {}, metrics):
        for name, value in source.items():
            number = _number(value)
            if number is not None and name not in out and isinstance(name, str) and len(name) <= METRIC_NAME_MAX:
                out[name] = number
    return out


def listed_metrics(values: Mapping[str, float]) -> dict[str, float]:
    """The :data:`LISTED_METRICS` among ``values`` (as :func:`metric_values` returns them), in that order."""
    return {name: values[name] for name in LISTED_METRICS if name in values}


def score_name(metrics: Mapping[str, Any]) -> str | None:
    """The name of the metric ``cv_score`` is (``metrics["score"]``), if the model says."""
    name = metrics.get("score")
    return name if isinstance(name, str) and 0 < len(name) <= METRIC_NAME_MAX else None


__all__ = ["LISTED_METRICS", "MAX_PAGE", "METRIC_NAME_MAX", "listed_metrics", "metric_values", "score_name"]
