"""A cohort explored as optuna-dashboard shows a study: axes, trials, importance and history.

Pure computation on the siblings' registry records (no database, no HTTP): the service's
``GET /cohorts/{id}/explore`` and :func:`walkforward.queries.cohort_explore` call :func:`explore`.

- **Axes**: the hyperparameters whose values differ between siblings (log-scaled when a numeric grid
  spans decades, ordered categories otherwise; see :func:`~walkforward.evaluation.param_importance.axis_of`).
- **Trials**: one per sibling, with its score (the cohort's selection score: the cross-validated
  ``metrics["score"]``, higher is better) and what it fitted instead when a fallback replaced it.
- **Importance**: fANOVA (:mod:`walkforward.evaluation.param_importance`) over the scored siblings
  that fitted what they asked for (a fallback's score is another model's).
- **History**: score by trial order with the running best. A search records each saved model's trial
  position (``derived["search"]["trial"]``); an exhaustive grid's order is the grid's own (labelled
  so: it is not a learning sequence); models saved before positions were recorded fall back to their
  registration order, said in the label.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from walkforward.evaluation.param_importance import axis_of, param_importance

if TYPE_CHECKING:
    from walkforward.registry import ModelRecord

__all__ = ["explore"]

_ORDER_LABELS = {
    "grid": "grid order: an exhaustive search scores every combination, so the order is the grid's, not a learning one",
    "trial": "trial order: the order the search scored configurations at full fidelity (best so far: what it knew)",
    "registration": "registration order: these models were saved before trial positions were recorded",
}


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _score(r: ModelRecord) -> float | None:
    return r.cv_score if r.cv_score is not None and math.isfinite(r.cv_score) else None


def _grid_positions(rows: Sequence[ModelRecord]) -> dict[str, int] | None:
    """Each sibling's position in its grid's combination order, if every sibling is found in one shared grid."""
    from walkforward.model_selection.grids import combinations

    grids = {_key(r.derived.get("search", {}).get("grid")) for r in rows}
    grid = rows[0].derived.get("search", {}).get("grid")
    if len(grids) != 1 or not isinstance(grid, Mapping) or not grid:
        return None
    order = {_key(c): i for i, c in enumerate(combinations(grid))}
    positions = {}
    for r in rows:
        at = order.get(_key({k: r.hyperparameters.get(k) for k in grid}))
        if at is None:
            return None
        positions[r.id] = at
    return positions


def _history(rows: Sequence[ModelRecord], strategy: str | None) -> dict[str, Any]:
    """Score by trial order with the running best (higher is better)."""
    order: str
    positions: dict[str, float]
    grid = _grid_positions(rows) if strategy == "grid" else None
    trials = {r.id: r.derived.get("search", {}).get("trial") for r in rows}
    if grid is not None:
        order, positions = "grid", {k: float(v) for k, v in grid.items()}
    elif all(isinstance(t, int) for t in trials.values()):
        order, positions = "trial", {k: float(v) for k, v in trials.items() if v is not None}
    else:
        order = "registration"
        positions = {r.id: r.created_at.timestamp() for r in rows}
    ranked = sorted(rows, key=lambda r: (positions[r.id], r.id))
    points, best = [], -math.inf
    for n, r in enumerate(ranked, start=1):
        score = _score(r)
        if score is not None:
            best = max(best, score)
        points.append({"n": n, "model_id": r.id, "score": score, "best": None if best == -math.inf else best})
    return {"order": order, "label": _ORDER_LABELS[order], "points": points}


def explore(cohort_id: str, rows: Sequence[ModelRecord]) -> dict[str, Any]:
    """The explore view of a cohort's siblings (JSON-ready): metric, axes, trials, importance, history."""
    strategies = {r.derived.get("search", {}).get("strategy") for r in rows}
    strategy = strategies.pop() if len(strategies) == 1 else None
    names = sorted({k for r in rows for k in r.hyperparameters})
    varied, fixed = [], {}
    for name in names:
        values = [r.hyperparameters.get(name) for r in rows]
        if len({_key(v) for v in values}) > 1:
            varied.append(axis_of(name, values))
        else:
            fixed[name] = values[0]
    metrics = {str(r.metrics.get("score")) for r in rows if r.metrics.get("score")}
    metric = metrics.pop() if len(metrics) == 1 else "score"
    trials: list[dict[str, Any]] = [
        {
            "model_id": r.id,
            "cohort_rank": r.cohort_rank,
            "params": {a.name: r.hyperparameters.get(a.name) for a in varied},
            "score": _score(r),
            "fallback": (fb.get("fitted") or "fallback")
            if isinstance(fb := r.derived.get("fallback") or r.derived.get("ols_fallback"), Mapping)
            else None,
        }
        for r in rows
    ]
    # A sibling that fitted a fallback (the elastic net's OLS) scored another model than its
    # hyperparameters name: its score would credit them with the fallback's, so it is left out.
    own = [(t["params"], t["score"]) for t in trials if t["fallback"] is None]
    importance = param_importance(varied, [p for p, _ in own], [s for _, s in own]).to_dict()
    if left_out := len(trials) - len(own):
        importance["left_out"] = (
            f"{left_out} sibling(s) that fitted a fallback left out: their score is not their hyperparameters'"
        )
    return {
        "cohort_id": cohort_id,
        "metric": metric,
        "direction": "maximize",
        "score_label": f"cv {metric} (higher is better)",
        "strategy": strategy,
        "axes": [a.to_dict() for a in varied],
        "fixed": fixed,
        "trials": trials,
        "importance": importance,
        "history": _history(rows, strategy),
    }
