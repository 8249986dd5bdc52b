"""Boosters with early stopping on a cached fold: one booster per group of round counts, scored at its best round.

A fold prepared with an :class:`~walkforward.model_selection.early_stopping.InnerSplit` trains each
booster on the inner-train rows, with the inner slice as its eval set and the library's own early
stopping (LightGBM's ``early_stopping`` callback, XGBoost's ``early_stopping_rounds``), up to the
configuration's ``n_estimators``; the fold's test block is scored at the best round.

Combinations that differ only in ``n_estimators`` still share one booster, trained to the largest
count: the slice's loss is recorded after every round, and a count ``k`` is scored at the best round
among the first ``k`` (the first strict minimum, as both libraries pick it). That is the round a fit
with ``n_estimators=k`` and the same early stopping stops at, since its first rounds and their losses
are the same. The loss watched is the objective's (LightGBM ``l2`` / ``binary_logloss``, XGBoost
``rmse`` / ``logloss``). Combinations off the binned routes (LightGBM DART or ``class_weight``,
XGBoost's non-``hist`` methods, ``gblinear``, DART) are fitted one by one through the scikit-learn
wrappers with the same eval set and stopping rule.

Each route returns ``(predictions, rounds)`` per combination: P(class 1) for classifiers, and the
round count the fold was scored at (the fold's ``best_iteration``).
"""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from walkforward.model_selection.staged import (
    WHOLE,
    group_by_rounds,
    lgbm_dataset_params,
    lgbm_native,
    lgbm_shareable,
    xgb_native,
    xgb_shareable,
)

if TYPE_CHECKING:
    from walkforward.model_selection.early_stopping import InnerSplit
    from walkforward.model_selection.evaluators import PreparedFold
    from walkforward.models.catalog import AlgorithmSpec

log = logging.getLogger(__name__)

Stopped = tuple[np.ndarray, int]
_LGBM_METRIC = {False: "l2", True: "binary_logloss"}
_XGB_METRIC = {False: "rmse", True: "logloss"}


def _inner(fold: PreparedFold) -> InnerSplit:
    if fold.inner is None:
        raise ValueError(f"fold {fold.number} has no early-stopping split (prepare it with inner=...)")
    return fold.inner


def best_round(curve: Sequence[float], upto: int) -> int:
    """The best round (1-based) among the first ``upto`` of a loss curve: its first strict minimum.

    Examples
    --------
    >>> best_round([3.0, 2.0, 2.0, 1.5, 1.7], 3), best_round([3.0, 2.0, 2.0, 1.5, 1.7], 9)
    (2, 4)
    """
    return int(np.argmin(np.asarray(curve[: max(1, upto)], dtype=float))) + 1


def _blocks(fold: PreparedFold) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    inner = _inner(fold)
    return (
        np.ascontiguousarray(fold.X_train[inner.train]),
        fold.y_train[inner.train],
        np.ascontiguousarray(fold.X_train[inner.valid]),
        fold.y_train[inner.valid],
    )


def _proba_or_values(spec: AlgorithmSpec, est: Any, X: np.ndarray) -> np.ndarray:  # noqa: N803
    if spec.is_classifier:
        return np.asarray(est.predict_proba(X)[:, list(est.classes_).index(1)], dtype=np.float64)
    return np.asarray(est.predict(X), dtype=np.float64)


def lgbm_eval_set(est: Any, X: np.ndarray, y: np.ndarray) -> dict[str, Any]:  # noqa: N803
    """The eval set as ``LGBMModel.fit`` takes it: ``eval_X``/``eval_y`` where known (4.7 deprecates ``eval_set``)."""
    if "eval_X" in inspect.signature(est.fit).parameters:
        return {"eval_X": X, "eval_y": y}
    return {"eval_set": [(X, y)]}


def _wrapper_lgbm(spec: AlgorithmSpec, params: Mapping[str, Any], fold: PreparedFold) -> Stopped:
    """One LightGBM combination through the scikit-learn wrapper (DART: LightGBM cannot stop it early)."""
    import lightgbm as lgb

    X_fit, y_fit, X_val, y_val = _blocks(fold)  # noqa: N806
    est = spec.build(params)
    stop = [lgb.early_stopping(_inner(fold).rounds, verbose=False)]
    est.fit(X_fit, y_fit, callbacks=stop, **lgbm_eval_set(est, X_val, y_val))
    # predict() uses the best iteration; 0 means the callback was off (DART), so every round counts.
    rounds = int(est.best_iteration_ or est.n_estimators)
    return _proba_or_values(spec, est, fold.X_test), rounds


def lightgbm_stopped(spec: AlgorithmSpec, combos: Sequence[Mapping[str, Any]], fold: PreparedFold) -> list[Stopped]:
    """LightGBM with early stopping: one booster per group of round counts, one binned Dataset per binning."""
    import lightgbm as lgb

    inner = _inner(fold)
    X_fit, y_fit, X_val, y_val = _blocks(fold)  # noqa: N806
    datasets: dict[tuple[tuple[str, Any], ...], tuple[lgb.Dataset, lgb.Dataset]] = {}
    groups = group_by_rounds(spec, combos, lgbm_shareable)
    out: list[Stopped | None] = [None] * len(combos)
    for group in groups:
        if not lgbm_shareable(group.params):
            ((i, _),) = group.members
            out[i] = _wrapper_lgbm(spec, group.params, fold)
            continue
        native, rounds = lgbm_native(group.params, spec.is_classifier)
        native["metric"] = _LGBM_METRIC[spec.is_classifier]
        ds_params = lgbm_dataset_params(native)
        key = tuple(sorted(ds_params.items()))
        if key not in datasets:
            ds_params.update(verbose=-1, num_threads=native["num_threads"])
            train = lgb.Dataset(X_fit, label=y_fit, params=ds_params, free_raw_data=False).construct()
            datasets[key] = (train, train.create_valid(X_val, label=y_val, params=ds_params).construct())
        train, valid = datasets[key]
        history: dict[str, Any] = {}
        booster = lgb.train(
            native,
            train,
            num_boost_round=rounds,
            valid_sets=[valid],
            valid_names=["inner"],
            callbacks=[lgb.early_stopping(inner.rounds, verbose=False), lgb.record_evaluation(history)],
        )
        curve = history["inner"][native["metric"]]
        for i, k in group.members:
            best = best_round(curve, k if k != WHOLE else rounds)
            pred = np.asarray(booster.predict(fold.X_test, num_iteration=best), dtype=np.float64)
            out[i] = (pred, best)
    log.debug(
        "lightgbm with early stopping: %d combination(s), %d booster(s), fold %d", len(combos), len(groups), fold.number
    )
    return [o for o in out if o is not None]


def _wrapper_xgb(spec: AlgorithmSpec, params: Mapping[str, Any], fold: PreparedFold) -> Stopped:
    """One XGBoost combination through the scikit-learn wrapper (a method the binned route does not take)."""
    X_fit, y_fit, X_val, y_val = _blocks(fold)  # noqa: N806
    stop = {"early_stopping_rounds": _inner(fold).rounds, "eval_metric": _XGB_METRIC[spec.is_classifier]}
    est = spec.factory(**{**spec.params(params), **stop})
    est.fit(X_fit, y_fit, eval_set=[(X_val, y_val)], verbose=False)
    return _proba_or_values(spec, est, fold.X_test), int(est.best_iteration) + 1  # predict() uses the best round


def xgboost_stopped(spec: AlgorithmSpec, combos: Sequence[Mapping[str, Any]], fold: PreparedFold) -> list[Stopped]:
    """XGBoost with early stopping: one booster per group of round counts, one ``QuantileDMatrix`` pair per binning."""
    import xgboost as xgb

    inner = _inner(fold)
    X_fit, y_fit, X_val, y_val = _blocks(fold)  # noqa: N806
    metric = _XGB_METRIC[spec.is_classifier]
    matrices: dict[tuple[Any, ...], tuple[xgb.QuantileDMatrix, xgb.QuantileDMatrix]] = {}
    groups = group_by_rounds(spec, combos, xgb_shareable)
    out: list[Stopped | None] = [None] * len(combos)
    for group in groups:
        params = group.params
        if not xgb_shareable(params):  # DART, or a method the binned route does not take
            ((i, _),) = group.members
            out[i] = _wrapper_xgb(spec, params, fold)
            continue
        native = {**xgb_native(params, spec.is_classifier), "eval_metric": metric}
        missing = params.get("missing", np.nan)
        max_bin, nthread = native.get("max_bin"), native.get("nthread")
        key = (max_bin, nthread, "nan" if missing is None or math.isnan(missing) else float(missing))
        if key not in matrices:
            train = xgb.QuantileDMatrix(X_fit, label=y_fit, max_bin=max_bin, nthread=nthread, missing=missing)
            valid = xgb.QuantileDMatrix(X_val, label=y_val, ref=train, nthread=nthread, missing=missing)
            matrices[key] = (train, valid)
        train, valid = matrices[key]
        history: dict[str, Any] = {}
        rounds = int(params.get("n_estimators") or 100)
        booster = xgb.train(
            native,
            train,
            num_boost_round=rounds,
            evals=[(valid, "inner")],
            early_stopping_rounds=inner.rounds,
            evals_result=history,
            verbose_eval=False,
        )
        curve = history["inner"][metric]
        for i, k in group.members:
            best = best_round(curve, k if k != WHOLE else rounds)
            pred = booster.inplace_predict(fold.X_test, iteration_range=(0, best), missing=missing)
            out[i] = (np.asarray(pred, dtype=np.float64), best)
    log.debug(
        "xgboost with early stopping: %d combination(s), %d booster(s), fold %d", len(combos), len(groups), fold.number
    )
    return [o for o in out if o is not None]
