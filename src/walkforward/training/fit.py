"""Fit and evaluate one configuration in memory: one pipeline per fold, then the final one (no registry)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from walkforward.evaluation.metrics import aggregate, classification_metrics, regression_metrics
from walkforward.model_selection.early_stopping import STOPPED_KEY, final_rounds, stopped_rounds, stopping_summary
from walkforward.model_selection.evaluators import predict_grid_stopped, prepare_fold
from walkforward.model_selection.splitters import FoldPlan
from walkforward.models.catalog import AlgorithmSpec, get_algorithm
from walkforward.preprocessing.pipeline import cluster_report, pruning_report, request_pipeline, selected_features
from walkforward.request import TrainRequest
from walkforward.training import oos
from walkforward.training.data import PreparedData, inner_splits
from walkforward.training.evaluate import add_to_metrics, evaluate

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]


def apply_fallback(spec: AlgorithmSpec, fitted: BaseEstimator) -> tuple[AlgorithmSpec, dict[str, Any] | None]:
    """The spec's fallback rule, applied to its final fit: the spec to use and, if it fired, why.

    One rule for a single run and a search (the reference's OLS fallback for an elastic net that
    zeroed every coefficient); the replacement is fitted with its defaults on the same rows.
    """
    reason = spec.fallback.reason(fitted) if spec.fallback else None
    if reason is None or spec.fallback is None:
        return spec, None
    replacement = get_algorithm(spec.fallback.replacement)
    log.info("%s: %s; fitting %s instead", spec.name, reason, replacement.name)
    return replacement, {"requested": spec.name, "fitted": replacement.name, "reason": reason}


def fold_scores(metrics: list[dict[str, Any]], key: str) -> list[float]:
    return [float(m[key]) for m in metrics if m.get(key) is not None]


def summarize(fold_metrics: list[dict[str, Any]], score_key: str) -> tuple[dict[str, Any], float]:
    """The metrics record (per fold, aggregated, score name) and the cross-validated score."""
    agg = aggregate([{k: v for k, v in m.items() if k != "fold"} for m in fold_metrics])
    return {"folds": fold_metrics, "cv": agg, "score": score_key}, float(agg[score_key])


@dataclass(frozen=True)
class TrainedModel:
    """A fitted final pipeline with its out-of-sample metrics and everything needed to register it.

    ``pipeline`` was fitted on every training row that survives purge and embargo; ``metrics`` come
    from one pipeline per fold, each fitted on that fold's training rows and scored on its test block.
    """

    request: TrainRequest
    data: PreparedData
    pipeline: Pipeline
    metrics: dict[str, Any]
    cv_score: float
    selected: list[str]
    pruning: dict[str, Any]
    hyperparameters: dict[str, Any]
    fitted_estimator: str
    fallback: dict[str, Any] | None = None
    #: every fold's test rows with their prediction (see :mod:`walkforward.training.oos`)
    predictions: pd.DataFrame | None = None

    @property
    def plan(self) -> FoldPlan:
        return self.data.plan

    @property
    def fold_metrics(self) -> list[dict[str, Any]]:
        return list(self.metrics["folds"])

    def derived(self) -> dict[str, Any]:
        """What the run derived (features, pruning, the estimator actually fitted), apart from the request.

        With early stopping, also the folds' stopped round counts and the final fit's (their median).
        """
        out = {**self.data.derived(), "pruning": self.pruning, "fitted_estimator": self.fitted_estimator}
        clusters = cluster_report(self.pipeline)
        if clusters is not None:
            out["cluster_step"] = clusters
        if self.fallback:
            out["fallback"] = self.fallback
        stopping = stopping_summary(self.request.early_stopping_rounds, self.fold_metrics)
        if stopping:
            out["early_stopping"] = stopping
        return out


def predict_values(spec: AlgorithmSpec, pipe: Pipeline, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
    """Predictions in the target's units, or (0/1 labels, P(up)) for classifiers."""
    if spec.is_classifier:
        proba = pipe.predict_proba(X)[:, 1]
        return (proba >= 0.5).astype(np.int64), proba
    return np.asarray(pipe.predict(X), dtype=float), None


def fold_metrics_of(
    spec: AlgorithmSpec, data: PreparedData, number: int, y_true: np.ndarray, pred: np.ndarray, rows: np.ndarray
) -> dict[str, Any]:
    """One fold's metrics from its out-of-sample predictions (values, or P(up) for classifiers)."""
    if spec.is_classifier:
        m = classification_metrics(y_true, (pred >= 0.5).astype(np.int64), pred)
    else:
        ref = data.dataset.frame[data.dataset.request.target_col].to_numpy(dtype=float)[rows]
        m = regression_metrics(y_true, pred, ref, data.dataset.request.target_transform)
    return {"fold": number, **m}


def stopped_fold_metrics(
    req: TrainRequest, data: PreparedData, params: Mapping[str, Any], progress: Progress | None = None
) -> tuple[list[dict[str, Any]], list[pd.DataFrame]]:
    """Each fold scored with early stopping on its inner slice; ``best_iteration`` is the rounds scored at.

    Returns the folds' metrics and their out-of-sample prediction frames.

    The preprocessing is fitted on the fold's training rows (:func:`prepare_fold`), the booster on the
    inner-train rows with the inner slice as its eval set (:func:`predict_grid_stopped`).
    """
    spec = req.spec
    X, y, folds = data.X, data.y, data.plan.folds
    linear = spec.family == "linear"
    pre = request_pipeline(spec.factory(**params), linear=linear, req=req)[:-1]
    out, frames = [], []
    for i, (fold, inner) in enumerate(zip(folds, inner_splits(req, data), strict=True)):
        prepared = prepare_fold(pre, X, y, fold.train_index, fold.test_index, fold.number, inner=inner)
        ((pred, rounds),) = predict_grid_stopped(spec, [params], prepared)
        m = fold_metrics_of(spec, data, fold.number, y[fold.test_index], pred, fold.test_index)
        frames.append(oos.predictions_frame(data, [pred], classifier=spec.is_classifier, folds=[fold]))
        # Boosters are trees: the scaler passes every pruned column through, one column per kept feature.
        m["features_kept"] = int(prepared.X_train.shape[1])
        m[STOPPED_KEY] = rounds
        out.append(m)
        if progress:
            progress(f"fold {fold.number}/{len(folds)} (early stopping)", i + 1, len(folds) + 1)
    return out, frames


def fit(
    req: TrainRequest,
    data: PreparedData,
    hyperparameters: Mapping[str, Any] | None = None,
    *,
    progress: Progress | None = None,
) -> TrainedModel:
    """Fit the final pipeline (applying the spec's fallback rule), then one per fold to score it.

    ``hyperparameters`` default to the request's; the defaults of the algorithm fill the rest. With
    early stopping the folds come first: the final fit uses no eval set and the median of the folds'
    stopped round counts as its ``n_estimators`` (the record keeps the requested upper bound as the
    hyperparameter, and the counts in ``derived()["early_stopping"]``).
    """
    spec = req.spec
    params = spec.params(req.hyperparameters if hyperparameters is None else hyperparameters)
    X, y = data.X, data.y
    folds = data.plan.folds
    total = len(folds) + 1
    stopped: list[dict[str, Any]] | None = None
    frames: list[pd.DataFrame] = []
    # One BLAS thread: the tiny solves inside scikit-learn's linear models ran 100x slower with
    # OpenBLAS's own threads on this 2-core machine (see bench/README.md).
    with threadpool_limits(limits=1, user_api="blas"):
        rows = data.plan.final_train_index
        fitted_params = dict(params)
        if req.early_stopping_rounds is not None and spec.rounds_param is not None:
            stopped, frames = stopped_fold_metrics(req, data, params, progress)
            fitted_params[spec.rounds_param] = final_rounds(stopped_rounds(stopped))
        template = request_pipeline(spec.factory(**fitted_params), linear=spec.family == "linear", req=req)
        final = clone(template).fit(X.iloc[rows], y[rows])
        used, fallback = apply_fallback(spec, final[-1])
        if fallback:
            template = request_pipeline(used.build(), linear=used.family == "linear", req=req)
            final = clone(template).fit(X.iloc[rows], y[rows])
        if progress:
            progress("final fit", total if stopped is not None else 1, total)
        fold_metrics: list[dict[str, Any]] = stopped or []
        for i, fold in enumerate(folds if stopped is None else ()):
            pipe = clone(template).fit(X.iloc[fold.train_index], y[fold.train_index])
            pred, proba = predict_values(used, pipe, X.iloc[fold.test_index])
            m = fold_metrics_of(
                used, data, fold.number, y[fold.test_index], proba if proba is not None else pred, fold.test_index
            )
            m["features_kept"] = len(selected_features(pipe))
            fold_metrics.append(m)
            frames.append(oos.fold_frame(data, fold, pred, proba))
            if progress:
                progress(f"fold {fold.number}/{len(folds)}", i + 2, total)
    predictions = oos.combine(frames)
    metrics, score = summarize(fold_metrics, spec.score_key)
    add_to_metrics(metrics, metrics["folds"], evaluate(req, predictions))
    return TrainedModel(
        request=req,
        data=data,
        pipeline=final,
        metrics=metrics,
        cv_score=score,
        selected=selected_features(final),
        pruning=pruning_report(final, data.features),
        hyperparameters=params,
        fitted_estimator=type(final[-1]).__name__,
        fallback=fallback,
        predictions=predictions,
    )
