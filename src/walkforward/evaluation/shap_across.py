"""Which features matter consistently across models and regimes, from each model's stored mean |SHAP|.

Mean |SHAP| is in each model's own output units (a regression's prediction, a classifier's log-odds),
so models are compared through unit-free quantities only: the feature's rank within its model and
its share of the model's total mean |SHAP| ("normalised importance").

Per feature, over the models given:

- ``top_share``: the share of models where it is among their ``top`` features (a model that did not
  use it counts as "not in its top");
- ``mean_normalised``: its mean share of a model's total (0 where unused);
- ``mean_rank`` / ``median_rank``: over the models that used it (1 = most important);
- ``regime_top_share``: the share of (model, regime column, level) cells where it is in that cell's top.

Features are ordered by ``top_share``, then ``mean_normalised``. Pure: plain mappings in, plain
numbers out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DEFAULT_TOP = 10


@dataclass(frozen=True)
class ModelShap:
    """One model's stored explanations: mean |SHAP| per feature, and per regime level."""

    model_id: str
    importance: Mapping[str, float | None]
    regimes: Mapping[str, Mapping[str, Mapping[str, float | None]]] = field(default_factory=dict)
    algorithm: str = ""
    cv_score: float | None = None


def _clean(values: Mapping[str, float | None]) -> dict[str, float]:
    return {str(k): abs(float(v)) for k, v in values.items() if v is not None and math.isfinite(float(v))}


def ranks(values: Mapping[str, float | None]) -> dict[str, int]:
    """1-based ranks by value, largest first; ties broken by name so the result is deterministic."""
    clean = _clean(values)
    ordered = sorted(clean, key=lambda f: (-clean[f], f))
    return {f: i + 1 for i, f in enumerate(ordered)}


def normalised(values: Mapping[str, float | None]) -> dict[str, float]:
    """Each feature's share of the total (all 0 when the total is 0)."""
    clean = _clean(values)
    total = sum(clean.values())
    return {f: (v / total if total > 0 else 0.0) for f, v in clean.items()}


def consistency(models: Sequence[ModelShap], *, top: int = DEFAULT_TOP) -> dict[str, Any]:
    """Feature consistency over ``models`` (see the module's docstring); models without SHAP are skipped.

    Examples
    --------
    >>> m = [ModelShap("a", {"x": 3.0, "y": 1.0}), ModelShap("b", {"x": 2.0, "y": 2.5})]
    >>> [f["feature"] for f in consistency(m, top=1)["features"]]
    ['x', 'y']
    """
    if top < 1:
        raise ValueError(f"top must be >= 1, got {top}")
    used = [m for m in models if _clean(m.importance)]
    skipped = [m.model_id for m in models if not _clean(m.importance)]
    n = len(used)
    per_model = [(ranks(m.importance), normalised(m.importance)) for m in used]
    cells = [
        ranks(by_feature)
        for m in used
        for levels in m.regimes.values()
        for by_feature in levels.values()
        if _clean(by_feature)
    ]
    features = sorted({f for r, _ in per_model for f in r})
    rows: list[dict[str, Any]] = []
    for f in features:
        seen = [r[f] for r, _ in per_model if f in r]
        rows.append(
            {
                "feature": f,
                "models": len(seen),
                "top_share": sum(1 for r in seen if r <= top) / n,
                "mean_normalised": float(sum(nm.get(f, 0.0) for _, nm in per_model) / n),
                "mean_rank": float(np.mean(seen)),
                "median_rank": float(np.median(seen)),
                "regime_top_share": (sum(1 for c in cells if c.get(f, top + 1) <= top) / len(cells)) if cells else None,
            }
        )
    rows.sort(key=lambda r: (-float(r["top_share"]), -float(r["mean_normalised"]), str(r["feature"])))
    return {
        "top": top,
        "n_models": n,
        "n_regime_cells": len(cells),
        "skipped_models": skipped,
        "models": [
            {
                "id": m.model_id,
                "algorithm": m.algorithm,
                "cv_score": m.cv_score,
                "top_features": [f for f, _ in sorted(r.items(), key=lambda kv: kv[1])[:top]],
            }
            for m, (r, _) in zip(used, per_model, strict=True)
        ],
        "features": rows,
    }


def sign_agreement(slopes: Mapping[str, float | None]) -> dict[str, Any]:
    """How many models agree on the direction of a feature's effect (the sign of each model's
    rank correlation between the feature's value and its SHAP value); undefined slopes are left out."""
    signs = [int(np.sign(v)) for v in slopes.values() if v is not None and math.isfinite(v) and v != 0]
    if not signs:
        return {"sign": None, "agreement": None, "models": 0}
    total = sum(signs)
    sign = 1 if total > 0 else -1 if total < 0 else 0
    agree = sum(1 for s in signs if s == sign) / len(signs) if sign else 0.5
    return {"sign": sign, "agreement": agree, "models": len(signs)}


__all__ = ["DEFAULT_TOP", "ModelShap", "consistency", "normalised", "ranks", "sign_agreement"]
