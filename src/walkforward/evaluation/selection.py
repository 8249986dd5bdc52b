"""How much of a search's best cross-validated score survives the number of configurations tried."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from walkforward.registry import ModelRecord


def expected_max_standard_normal(n: int) -> float:
    """E[max of n independent standard normals], Bailey & Lopez de Prado's approximation.

    Written out because no maintained library ships it; it is two normal quantiles.
    """
    if n <= 1:
        return 0.0
    gamma = 0.5772156649015329  # Euler-Mascheroni
    return float((1 - gamma) * stats.norm.ppf(1 - 1.0 / n) + gamma * stats.norm.ppf(1 - 1.0 / (n * math.e)))


def selection_summary(scores: Sequence[float], best_fold_scores: Sequence[float], *, task: str) -> dict[str, Any]:
    """How much of the best CV score survives the number of combinations tried.

    ``deflated_score`` subtracts what the luckiest of ``n`` draws would score if every combination
    were equally good (the spread of the cohort's scores times E[max of n normals]).
    ``p_value_adjusted`` is the best model's one-sided t-test across folds against no skill (R2 = 0,
    or accuracy = 0.5), Sidak-adjusted for the ``n`` combinations tried.
    """
    arr = np.asarray([s for s in scores if s is not None and np.isfinite(s)], dtype=float)
    n = int(arr.size)
    out: dict[str, Any] = {"n_tried": n}
    if n == 0:
        return out
    best = float(arr.max())
    spread = float(arr.std(ddof=1)) if n > 1 else 0.0
    e_max = expected_max_standard_normal(n)
    out.update(
        best=best,
        mean=float(arr.mean()),
        std=spread,
        expected_max_luck=spread * e_max,
        deflated_score=best - spread * e_max,
    )
    folds = np.asarray(best_fold_scores, dtype=float)
    null = 0.5 if task == "classification" else 0.0
    if folds.size >= 2 and folds.std(ddof=1) > 0:
        t = (folds.mean() - null) / (folds.std(ddof=1) / math.sqrt(folds.size))
        p = float(stats.t.sf(t, df=folds.size - 1))
        out.update(t_stat=float(t), p_value=p, p_value_adjusted=float(1.0 - (1.0 - p) ** n))
    return out


def cohort_selection(rows: Sequence[ModelRecord]) -> dict[str, Any]:
    """The selection summary of a registered cohort (best first): its scores and the best's folds."""
    if not rows:
        return {"n_tried": 0}
    key = rows[0].metrics.get("score", "r2")
    best_folds = [float(m[key]) for m in rows[0].metrics.get("folds", []) if key in m]
    scores = [r.cv_score for r in rows if r.cv_score is not None]
    return selection_summary(scores, best_folds, task="classification" if key == "accuracy" else "regression")
