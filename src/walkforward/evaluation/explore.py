"""A cohort explored as optuna-dashboard shows a study: axes, trials, importance and history.

Pure computation on the siblings' registry records (no database, no HTTP): the service's
``GET /cohorts/{id}/explore`` and :func:`walkforward.queries.cohort_explore` call :func:`explore`.

- **Axes**: the hyperparameters whose values differ between siblings (log-scaled when a numeric grid
  spans decades, ordered categories otherwise; see :func:`~walkforward.evaluation.param_importance.axis_of`).
- **Trials**: one per sibling, with its score (the cohort's selection score: the cross-validated
  ``metrics["score"]``, higher is better) and what it fitted instead when a fallback replaced it;
  and one per configuration the cohort's searches scored at full fidelity without registering it
  (the trials table: a best-only search registers one of the hundreds it tries), ``model_id`` null.
- **Importance**: fANOVA (:mod:`walkforward.evaluation.param_importance`) over the scored siblings
  that fitted what they asked for (a fallback's score is another model's).
- **History**: score by trial order with the running best. The trials table keeps the order the
  searches scored configurations in (runs by time, then positions); without it, each saved model's
  trial position (``derived["search"]["trial"]``); an exhaustive grid's order is the grid's own
  (labelled so: it is not a learning sequence); models saved before positions were recorded fall
  back to their registration order, said in the label.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from walkforward.evaluation.param_importance import axis_of, param_importance

if TYPE_CHECKING:
    from walkforward.registry import CohortTrial, ModelRecord

__all__ = ["MAX_UNSAVED", "explore"]

#: Unregistered trials shown at most (the best by score): a forced exhaustive grid of 100,000 would
#: otherwise send every line of the parallel-coordinates plot.
MAX_UNSAVED = 2000

_ORDER_LABELS = {
    "grid": "grid order: an exhaustive search scores every combination, so the order is the grid's, not a learning one",
    "trial": "trial order: the order the search scored configurations at full fidelity (best so far: what it knew)",
    "registration": "registration order: these models were saved before trial positions were recorded",
    "scored": "trial order: the order the searches scored configurations at full fidelity "
    "(best so far: what they knew)",
}


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _score(r: ModelRecord) -> float | None:
    return r.cv_score if r.cv_score is not None and math.isfinite(r.cv_score) else None


@dataclass(frozen=True)
class _Entry:
    """One point of the view: a registered sibling, or a configuration only the trials table holds."""

    model_id: str | None
    fingerprint: str
    params: Mapping[str, Any]
    score: float | None
    created: float
    rank: int | None = None
    fallback: str | None = None
    trial: Any = None


def _of_record(r: ModelRecord) -> _Entry:
    fb = r.derived.get("fallback") or r.derived.get("ols_fallback")
    return _Entry(
        model_id=r.id,
        fingerprint=r.fingerprint,
        params=r.hyperparameters,
        score=_score(r),
        created=r.created_at.timestamp(),
        rank=r.cohort_rank,
        fallback=(fb.get("fitted") or "fallback") if isinstance(fb, Mapping) else None,
        trial=r.derived.get("search", {}).get("trial"),
    )


def _grid_positions(entries: Sequence[_Entry], rows: Sequence[ModelRecord]) -> dict[str, int] | None:
    """Each entry's position in its grid's combination order, if every one is found in one shared grid."""
    from walkforward.model_selection.grids import combinations

    grids = {_key(r.derived.get("search", {}).get("grid")) for r in rows}
    grid = rows[0].derived.get("search", {}).get("grid") if rows else None
    if len(grids) != 1 or not isinstance(grid, Mapping) or not grid:
        return None
    order = {_key(c): i for i, c in enumerate(combinations(grid))}
    positions = {}
    for e in entries:
        at = order.get(_key({k: e.params.get(k) for k in grid}))
        if at is None:
            return None
        positions[e.fingerprint] = at
    return positions


def _history(
    entries: Sequence[_Entry], rows: Sequence[ModelRecord], strategy: str | None, scored: Mapping[str, int]
) -> dict[str, Any]:
    """Score by trial order with the running best (higher is better)."""
    order: str
    positions: dict[str, float]
    grid = _grid_positions(entries, rows) if strategy == "grid" else None
    if grid is not None:
        order, positions = "grid", {k: float(v) for k, v in grid.items()}
    elif scored and all(e.fingerprint in scored for e in entries):
        order, positions = "scored", {e.fingerprint: float(scored[e.fingerprint]) for e in entries}
    elif all(e.model_id is not None for e in entries) and all(isinstance(e.trial, int) for e in entries):
        order, positions = "trial", {e.fingerprint: float(e.trial) for e in entries}
    else:
        order = "registration"
        positions = {e.fingerprint: e.created for e in entries}
    ranked = sorted(entries, key=lambda e: (positions[e.fingerprint], e.fingerprint))
    points, best = [], -math.inf
    for n, e in enumerate(ranked, start=1):
        if e.score is not None:
            best = max(best, e.score)
        point = {"n": n, "model_id": e.model_id, "fingerprint": e.fingerprint, "score": e.score}
        points.append({**point, "best": None if best == -math.inf else best})
    return {"order": order, "label": _ORDER_LABELS[order], "points": points}


def explore(cohort_id: str, rows: Sequence[ModelRecord], tried: Sequence[CohortTrial] = ()) -> dict[str, Any]:
    """The explore view of a cohort (JSON-ready): metric, axes, trials, importance, history.

    ``rows`` are its registered siblings; ``tried``, the configurations its searches scored at full
    fidelity (:meth:`walkforward.registry.TrialStore.of_cohort`, in the order they were scored):
    those not registered join the view as trials without a model.
    """
    strategies = {r.derived.get("search", {}).get("strategy") for r in rows}
    strategy = strategies.pop() if len(strategies) == 1 else None
    entries = [_of_record(r) for r in rows]
    saved = {e.fingerprint for e in entries}
    unsaved = [t for t in tried if t.fingerprint not in saved and t.params]
    notes = []
    if len(unsaved) > MAX_UNSAVED:
        notes.append(f"the best {MAX_UNSAVED} of {len(unsaved)} unregistered trials are shown")
        unsaved = sorted(unsaved, key=lambda t: -(t.score if t.score is not None else -math.inf))[:MAX_UNSAVED]
    entries += [_Entry(None, t.fingerprint, t.params, t.score, t.created_at.timestamp()) for t in unsaved]
    names = sorted({k for e in entries for k in e.params})
    varied, fixed = [], {}
    for name in names:
        values = [e.params.get(name) for e in entries]
        if len({_key(v) for v in values}) > 1:
            varied.append(axis_of(name, values))
        else:
            fixed[name] = values[0]
    metrics = {str(r.metrics.get("score")) for r in rows if r.metrics.get("score")}
    metric = metrics.pop() if len(metrics) == 1 else "score"
    trials: list[dict[str, Any]] = [
        {
            "model_id": e.model_id,
            "fingerprint": e.fingerprint,
            "cohort_rank": e.rank,
            "params": {a.name: e.params.get(a.name) for a in varied},
            "score": e.score,
            "fallback": e.fallback,
        }
        for e in entries
    ]
    # A sibling that fitted a fallback (the elastic net's OLS) scored another model than its
    # hyperparameters name: its score would credit them with the fallback's, so it is left out.
    own = [(t["params"], t["score"]) for t in trials if t["fallback"] is None]
    importance = param_importance(varied, [p for p, _ in own], [s for _, s in own]).to_dict()
    if left_out := len(trials) - len(own):
        importance["left_out"] = (
            f"{left_out} sibling(s) that fitted a fallback left out: their score is not their hyperparameters'"
        )
    scored = {t.fingerprint: n for n, t in enumerate(tried)}
    return {
        "cohort_id": cohort_id,
        "metric": metric,
        "direction": "maximize",
        "score_label": f"cv {metric} (higher is better)",
        "strategy": strategy,
        "n_registered": len(rows),
        "n_unregistered": len(unsaved),
        "notes": notes,
        "axes": [a.to_dict() for a in varied],
        "fixed": fixed,
        "trials": trials,
        "importance": importance,
        "history": _history(entries, rows, strategy, scored),
    }
