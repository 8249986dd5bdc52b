"""The worker side of a search: score a chunk of combinations on cached folds, and fit the ones to save.

Everything here runs in worker processes (loky or Dask), so it takes plain, picklable inputs
(:class:`Shared`, chunks of ``(index, params)``) and returns :class:`Outcome` values.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from walkforward.domain import TargetTransform
from walkforward.evaluation.metrics import classification_metrics, regression_metrics
from walkforward.model_selection.early_stopping import STOPPED_KEY, final_rounds, stopped_rounds
from walkforward.model_selection.evaluators import PreparedFold, predict_grid, predict_grid_stopped
from walkforward.models.catalog import AlgorithmSpec, get_algorithm
from walkforward.training.fit import apply_fallback

log = logging.getLogger(__name__)

Item = tuple[int, dict[str, Any]]
#: The most units of work (combinations sharing one fit) in one task.
MAX_UNITS = 32


@dataclass(frozen=True)
class Shared:
    """What every task needs (scattered once to a Dask cluster, memory-mapped to loky workers)."""

    algorithm: str
    transform: TargetTransform
    folds: tuple[PreparedFold, ...]
    refs: tuple[np.ndarray, ...]  # the current price on each fold's test rows (for price-unit metrics)
    final_pre: Pipeline | None = None  # preprocessing fitted on all training rows
    final_X: pd.DataFrame | None = None  # final_pre's output on the training rows
    final_y: np.ndarray | None = None
    explain_X: pd.DataFrame | None = None  # raw out-of-sample rows for permutation importance / SHAP
    explain_y: np.ndarray | None = None
    explain: bool = False
    known: Mapping[int, list[dict[str, Any]]] = field(default_factory=dict)  # fold metrics already scored


@dataclass(frozen=True)
class Outcome:
    """One combination: its fold metrics and, when it was fitted to be saved, the pipeline and its notes."""

    index: int
    params: dict[str, Any]
    fold_metrics: list[dict[str, Any]]
    pipeline: Pipeline | None = None
    #: each fold's out-of-sample predictions (values, or P(up) for classifiers); None: scored before
    predictions: tuple[np.ndarray, ...] | None = None
    fallback: dict[str, Any] | None = None
    feature_details: dict[str, Any] | None = None
    regime_importance: dict[str, Any] | None = None
    explain_info: dict[str, Any] | None = None


def fold_metrics(
    spec: AlgorithmSpec, sh: Shared, preds: Sequence[np.ndarray], rounds: Sequence[int | None] | None = None
) -> list[dict[str, Any]]:
    """Per-fold metrics from out-of-sample predictions (values, or P(up) for classifiers).

    ``rounds`` (early stopping) are the boosting rounds each fold was scored at, kept as ``best_iteration``.
    """
    out = []
    for f, (fold, ref, pred) in enumerate(zip(sh.folds, sh.refs, preds, strict=True)):
        if spec.is_classifier:
            m = classification_metrics(fold.y_test, (pred >= 0.5).astype(np.int64), pred)
        else:
            m = regression_metrics(fold.y_test, pred, ref, sh.transform)
        out.append({"fold": fold.number, **m})
        if rounds is not None and rounds[f] is not None:
            out[-1][STOPPED_KEY] = rounds[f]
    return out


def _fit_final(spec: AlgorithmSpec, combo: dict[str, Any], metrics: list[dict[str, Any]], sh: Shared) -> Outcome:
    """Fit one combination on every training row (with the spec's fallback rule) and explain it."""
    assert sh.final_pre is not None and sh.final_X is not None and sh.final_y is not None
    fitted = dict(combo)
    if any(f.inner is not None for f in sh.folds) and spec.rounds_param is not None:
        # Early stopping: no eval set here, and the median of the folds' stopped round counts.
        fitted[spec.rounds_param] = final_rounds(stopped_rounds(metrics))
    estimator = spec.build(fitted).fit(sh.final_X, sh.final_y)
    used, fallback = apply_fallback(spec, estimator)
    predictions = None
    if fallback:  # scored honestly on the same folds, as a single run does
        predictions = tuple(predict_grid(used, [{}], fold)[0] for fold in sh.folds)
        metrics = fold_metrics(used, sh, predictions)
        estimator = used.build().fit(sh.final_X, sh.final_y)
    # The fitted preprocessing steps are shared by reference: they are never refitted after this.
    pipe = Pipeline([*sh.final_pre.steps, ("model", estimator)])
    details = regimes = info = None
    if sh.explain and sh.explain_X is not None and sh.explain_y is not None:
        from walkforward.evaluation.importance import explain

        try:
            details, regimes, info = explain(pipe, sh.explain_X, sh.explain_y, task=used.task, family=used.family)
        except Exception as exc:  # explanations must never lose a trained model
            log.warning("explanations failed for %s %s: %s", spec.name, combo, exc)
            info = {"error": str(exc)}
    return Outcome(-1, combo, metrics, pipe, predictions, fallback, details, regimes, info)


def _leave_interrupts_to_the_parent() -> None:
    """In a loky worker, ignore SIGINT: Ctrl-C reaches the whole process group, and the search process
    stops the pool and cleans up (a worker's own KeyboardInterrupt would only print a traceback)."""
    import multiprocessing
    import signal

    if multiprocessing.current_process().name.startswith("LokyProcess"):
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def evaluate_chunk(chunk: Sequence[Item], sh: Shared) -> list[Outcome]:
    """Score a chunk of combinations on every fold; with ``sh.final_pre`` also fit and explain them."""
    _leave_interrupts_to_the_parent()
    spec = get_algorithm(sh.algorithm)
    # A combination to be saved is scored again even when its scores are known: its model keeps its
    # out-of-sample predictions (a fold's scoring costs far less than the final fit and explanations).
    todo = [(i, p) for i, p in chunk if i not in sh.known or sh.final_pre is not None]
    with threadpool_limits(limits=1, user_api="blas"):
        per_fold = [predict_grid_stopped(spec, [p for _, p in todo], fold) for fold in sh.folds] if todo else []
        scored = {
            index: (tuple(fold[j].values for fold in per_fold), [fold[j].rounds for fold in per_fold])
            for j, (index, _) in enumerate(todo)
        }
        outcomes = []
        for index, combo in chunk:
            preds: tuple[np.ndarray, ...] | None = None
            if index in scored:
                preds, rounds = scored[index]
                metrics = fold_metrics(spec, sh, preds, rounds)
            else:
                metrics = sh.known[index]
            if sh.final_pre is None:
                outcomes.append(Outcome(index, combo, metrics, predictions=preds))
            else:
                final = _fit_final(spec, combo, metrics, sh)
                outcomes.append(replace(final, index=index, predictions=final.predictions or preds))
    return outcomes


def units(spec: AlgorithmSpec, items: Sequence[Item]) -> list[list[Item]]:
    """Items grouped into units of work: combinations that share one fit.

    Combinations that differ only in the spec's ``path_param`` (one regularisation path) or its
    ``rounds_param`` (one booster scores every smaller round count) are one unit, so the fast
    evaluator sees them together.
    """
    shared = {p for p in (spec.path_param, spec.rounds_param) if p is not None}
    grouped: dict[str, list[Item]] = {}
    for item in items:
        key = repr(sorted((k, repr(v)) for k, v in item[1].items() if k not in shared))
        grouped.setdefault(key, []).append(item)
    return list(grouped.values())


def unit_cost(unit: Sequence[Item], rows: int | None = None) -> float:
    """A unit's relative cost: boosting time grows with its largest round count and its leaves.

    With ``rows`` (the training rows), a tree's leaves are also capped by what its rows allow
    (``rows / min_samples_leaf``): a forest of unbounded depth does not grow 2**50 leaves.
    """
    p = unit[0][1]
    trees = max(float(it[1].get("n_estimators") or 100) for it in unit)
    depth = p.get("max_depth")
    leaves = float(p.get("num_leaves") or (2.0 ** min(depth, 60) if depth else 2.0 ** (5 if rows is None else 60)))
    if rows is not None:
        per_leaf = p.get("min_samples_leaf") or p.get("min_child_samples") or 1
        leaves = min(leaves, max(2.0, rows / float(per_leaf)))
    return trees * leaves


def chunks(spec: AlgorithmSpec, items: list[Item], n_workers: int, *, max_units: int = MAX_UNITS) -> list[list[Item]]:
    """Tasks: the :func:`units` of ``items``; 2 tasks per worker, longest first.

    A path is a task of its own; the other units are dealt round robin, longest first. Few, large
    tasks: every task carries the cached folds to its worker, and a worker's first task pays for its
    imports.
    """
    grouped = units(spec, items)
    if spec.path_param is not None:
        return grouped
    # 2 tasks per worker, but no task over max_units units: a task's scores are kept (trials) when it
    # ends, so a killed search loses at most a task's worth of work per worker.
    n_tasks = max(1, min(len(grouped), 2 * n_workers), -(-len(grouped) // max_units))
    ordered = sorted(grouped, key=unit_cost, reverse=True)  # longest first, dealt round robin
    return [[it for unit in ordered[i::n_tasks] for it in unit] for i in range(n_tasks)]
