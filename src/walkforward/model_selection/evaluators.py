"""Evaluate many hyperparameter combinations of one algorithm on one cached, preprocessed fold.

A grid search fits the hyperparameter-free preprocessing (impute -> prune -> scale) once per fold
(:func:`prepare_fold`) and then asks :func:`predict_grid` for every combination's out-of-sample
predictions. Each algorithm gets the fastest route that gives the same numbers as fitting
``spec.build(combo)`` on the fold, one combination at a time:

- elastic net: one regularisation path per ``l1_ratio`` (``enet_path``, warm-started from the
  previous, larger alpha) on a Gram matrix computed once per fold;
- LightGBM / XGBoost: the training rows are binned once (a ``lightgbm.Dataset`` /
  ``xgboost.QuantileDMatrix``) and every combination trains on the same binned data;
- anything else: build, fit and predict each combination.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from threadpoolctl import threadpool_limits

if TYPE_CHECKING:  # the boosters and scikit-learn are imported where they are used (fast CLI start-up)
    import lightgbm as lgb
    import pandas as pd
    import xgboost as xgb
    from sklearn.pipeline import Pipeline

    from walkforward.models.catalog import AlgorithmSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedFold:
    """One fold's preprocessed matrices (float64, C-contiguous), shared by every combination."""

    number: int
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def _as_matrix(frame: Any) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(frame, dtype=np.float64))


def _as_labels(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y)
    dtype = np.int64 if (np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_) else np.float64
    return np.ascontiguousarray(y, dtype=dtype)


def prepare_fold(
    preprocess: Pipeline,
    X: pd.DataFrame,  # noqa: N803
    y: np.ndarray,
    train_index: np.ndarray,
    test_index: np.ndarray,
    number: int,
) -> PreparedFold:
    """Fit a clone of ``preprocess`` on the fold's training rows and transform both blocks.

    The training block is ``fit_transform``-ed, as ``Pipeline.fit`` does for its intermediate steps,
    so the matrices equal what the model step sees inside the full pipeline. The test rows are never
    seen by the fit.
    """
    from sklearn.base import clone

    pre = clone(preprocess)
    X_tr, y_tr = X.iloc[train_index], _as_labels(y[train_index])  # noqa: N806
    with threadpool_limits(limits=1, user_api="blas"):
        X_train = _as_matrix(pre.fit_transform(X_tr, y_tr))  # noqa: N806
        X_test = _as_matrix(pre.transform(X.iloc[test_index]))  # noqa: N806
    return PreparedFold(number, X_train, y_tr, X_test, _as_labels(y[test_index]))


def _params(spec: AlgorithmSpec, combo: Mapping[str, Any]) -> dict[str, Any]:
    """The defaults overridden by ``combo``; validated by building the estimator (unknown names refused)."""
    spec.build(combo)
    return {**spec.defaults, **combo}


# --- generic ------------------------------------------------------------------------------------------


def _generic(spec: AlgorithmSpec, combos: Sequence[Mapping[str, Any]], fold: PreparedFold) -> list[np.ndarray]:
    """Build, fit and predict each combination (P(class 1) for classifiers)."""
    out = []
    for combo in combos:
        est = spec.build(combo).fit(fold.X_train, fold.y_train)
        if spec.is_classifier:
            proba = est.predict_proba(fold.X_test)
            out.append(np.asarray(proba[:, list(est.classes_).index(1)], dtype=np.float64))
        else:
            out.append(np.asarray(est.predict(fold.X_test), dtype=np.float64))
    return out


# --- elastic net: one warm-started path per l1_ratio ---------------------------------------------------

# Parameters that do not change ElasticNet's solution: precompute is a speed choice (made here from the
# shape), copy_X/warm_start concern a reused estimator, and random_state only orders the coordinates of
# selection="random" (the path then draws from one generator for all alphas, so such results agree with
# per-combination fits to the solver's tolerance, not bit for bit).
_ENET_IGNORED = frozenset({"alpha", "precompute", "copy_X", "warm_start", "random_state"})


@dataclass
class _Centered:
    """The training block centred as ElasticNet's ``_preprocess_data`` does (means only, no scaling)."""

    X: np.ndarray  # Fortran-ordered, as coordinate descent wants it
    y: np.ndarray
    X_mean: np.ndarray
    y_mean: float
    gram: np.ndarray | None
    Xy: np.ndarray | None


def _center(fold: PreparedFold, fit_intercept: bool) -> _Centered:
    X, y = fold.X_train, fold.y_train.astype(np.float64)  # noqa: N806
    n, p = X.shape
    X_mean = X.mean(axis=0) if fit_intercept else np.zeros(p)  # noqa: N806
    y_mean = float(y.mean()) if fit_intercept else 0.0
    Xc = np.asfortranarray(X - X_mean)  # noqa: N806
    yc = np.ascontiguousarray(y - y_mean)
    # With more rows than columns the Gram solver's O(p^2) sweeps beat O(n p) ones; X'X and X'y are
    # computed once here and shared by every l1_ratio.
    gram, xy = (Xc.T @ Xc, Xc.T @ yc) if n > p else (None, None)
    return _Centered(Xc, yc, X_mean, y_mean, gram, xy)


def _elasticnet(spec: AlgorithmSpec, combos: Sequence[Mapping[str, Any]], fold: PreparedFold) -> list[np.ndarray]:
    """Group combinations by every parameter but alpha; one ``enet_path`` per group."""
    from sklearn.linear_model import enet_path

    probe = spec.factory().get_params()
    groups: dict[tuple[tuple[str, Any], ...], list[int]] = {}
    full = []
    for i, combo in enumerate(combos):
        params = {**probe, **_params(spec, combo)}
        full.append(params)
        key = tuple(sorted((k, v) for k, v in params.items() if k not in _ENET_IGNORED))
        groups.setdefault(key, []).append(i)
    centered: dict[bool, _Centered] = {}
    out: list[np.ndarray | None] = [None] * len(combos)
    for members in groups.values():
        p = full[members[0]]
        fit_intercept = bool(p["fit_intercept"])
        if fit_intercept not in centered:
            centered[fit_intercept] = _center(fold, fit_intercept)
        c = centered[fit_intercept]
        alphas = np.array(sorted({float(full[i]["alpha"]) for i in members}, reverse=True))
        path_alphas, coefs, _ = enet_path(
            c.X,
            c.y,
            l1_ratio=p["l1_ratio"],
            alphas=alphas,
            precompute=c.gram if c.gram is not None else False,
            Xy=c.Xy,
            copy_X=False,
            positive=p["positive"],
            check_input=False,
            max_iter=p["max_iter"],
            tol=p["tol"],
            selection=p["selection"],
            random_state=p["random_state"],
        )
        # (X_test - X_mean) @ coef + y_mean is ElasticNet's predict with intercept_ = y_mean - X_mean @ coef.
        preds = (fold.X_test - c.X_mean) @ coefs + c.y_mean
        column = {float(a): j for j, a in enumerate(path_alphas)}
        for i in members:
            out[i] = np.ascontiguousarray(preds[:, column[float(full[i]["alpha"])]])
    log.debug("elastic net: %d combination(s) on %d path(s), fold %d", len(combos), len(groups), fold.number)
    return [o for o in out if o is not None]


# --- LightGBM: bin once, train many ---------------------------------------------------------------------

# scikit-learn API name -> LightGBM's own name (what LGBMModel passes as an alias, resolved natively).
_LGBM_NATIVE = {
    "num_leaves": "num_leaves",
    "max_depth": "max_depth",
    "learning_rate": "learning_rate",
    "min_child_samples": "min_data_in_leaf",
    "min_child_weight": "min_sum_hessian_in_leaf",
    "min_split_gain": "min_gain_to_split",
    "reg_alpha": "lambda_l1",
    "reg_lambda": "lambda_l2",
    "subsample": "bagging_fraction",
    "subsample_freq": "bagging_freq",
    "colsample_bytree": "feature_fraction",
    "subsample_for_bin": "bin_construct_sample_cnt",
    "random_state": "seed",
    "n_jobs": "num_threads",
    "verbosity": "verbose",
    "boosting_type": "boosting",
}
# Wrapper-only names with no effect on a plain fit (class_weight does have one: such combinations take
# the generic route).
_LGBM_WRAPPER_ONLY = frozenset({"importance_type", "n_estimators", "class_weight"})
# Parameters read when the Dataset is built (binning); seed sets data_random_seed. A Dataset is shared
# only by combinations that agree on all of them: LightGBM silently rebuilds a Dataset whose
# construction parameters a training call changes.
_LGBM_DATASET = frozenset(
    {
        "max_bin",
        "max_bin_by_feature",
        "min_data_in_bin",
        "bin_construct_sample_cnt",
        "data_random_seed",
        "seed",
        "use_missing",
        "zero_as_missing",
        "enable_bundle",
        "is_enable_sparse",
        "linear_tree",
        "categorical_feature",
        "forcedbins_filename",
        "precise_float_parser",
    }
)


def _lgbm_threads(n_jobs: Any) -> int:
    # LGBMModel's convention (joblib's): None -> physical cores, negative -> all cores + 1 + n_jobs.
    import joblib

    if n_jobs is None:
        return int(joblib.cpu_count(only_physical_cores=True))
    n = int(n_jobs)
    return max(int(joblib.cpu_count()) + 1 + n, 1) if n < 0 else n


def _lgbm_native(params: Mapping[str, Any], classifier: bool) -> tuple[dict[str, Any], int]:
    """LightGBM's native parameters and the number of rounds for one combination."""
    native: dict[str, Any] = {"objective": "binary" if classifier else "regression"}
    explicit: dict[str, Any] = {}
    for k, v in params.items():
        if k in _LGBM_WRAPPER_ONLY:
            continue
        if k in _LGBM_NATIVE:
            native[_LGBM_NATIVE[k]] = _lgbm_threads(v) if k == "n_jobs" else v
        else:
            explicit[k] = v  # already a native name (min_data_in_leaf, lambda_l1, ...)
    # LightGBM prefers a main name over its aliases, so an explicit native name wins over a mapped one.
    native.update(explicit)
    native.setdefault("num_threads", _lgbm_threads(None))
    return {k: v for k, v in native.items() if v is not None}, int(params.get("n_estimators", 100))


def _samples_features(native: Mapping[str, Any]) -> bool:
    fractions = (native.get("feature_fraction", 1.0), native.get("feature_fraction_bynode", 1.0))
    return any(float(f) < 1.0 for f in fractions) or bool(native.get("extra_trees", False))


def _lightgbm(spec: AlgorithmSpec, combos: Sequence[Mapping[str, Any]], fold: PreparedFold) -> list[np.ndarray]:
    """Train every combination on one binned ``lightgbm.Dataset`` per set of binning parameters."""
    import lightgbm as lgb

    datasets: dict[tuple[tuple[str, Any], ...], lgb.Dataset] = {}
    out = []
    for combo in combos:
        params = _params(spec, combo)
        if params.get("class_weight") is not None:
            out.extend(_generic(spec, [combo], fold))
            continue
        native, rounds = _lgbm_native(params, spec.is_classifier)
        ds_params = {k: v for k, v in native.items() if k in _LGBM_DATASET}
        # feature_pre_filter=False lets combinations with different min_data_in_leaf share a Dataset: an
        # unsplittable feature stays in it but is never chosen. Random feature sampling draws from the
        # features the Dataset holds, though, so those combinations pre-filter exactly as LGBMModel does
        # (measured: colsample_bytree=0.5 with one unsplittable column moved predictions by 0.3 otherwise).
        if _samples_features(native):
            ds_params.update(feature_pre_filter=True, min_data_in_leaf=native.get("min_data_in_leaf", 20))
        else:
            ds_params["feature_pre_filter"] = False
        key = tuple(sorted(ds_params.items()))
        if key not in datasets:
            ds_params.update(verbose=-1, num_threads=native["num_threads"])
            datasets[key] = lgb.Dataset(
                fold.X_train, label=fold.y_train, params=ds_params, free_raw_data=False
            ).construct()
        booster = lgb.train(native, datasets[key], num_boost_round=rounds)
        # For objective "binary" predict() is already P(class 1), as LGBMClassifier.predict_proba's column 1.
        out.append(np.asarray(booster.predict(fold.X_test), dtype=np.float64))
    log.debug("lightgbm: %d combination(s) on %d Dataset(s), fold %d", len(combos), len(datasets), fold.number)
    return out


# --- XGBoost: one QuantileDMatrix per fold ---------------------------------------------------------------

_XGB_NATIVE = {
    "learning_rate": "eta",
    "reg_alpha": "alpha",
    "reg_lambda": "lambda",
    "random_state": "seed",
    "n_jobs": "nthread",
    "gamma": "gamma",
}
# XGBModel keeps these out of the learner's parameters (missing and max_bin also shape the DMatrix).
_XGB_WRAPPER_ONLY = frozenset(
    {
        "n_estimators",
        "importance_type",
        "missing",
        "enable_categorical",
        "feature_types",
        "feature_weights",
        "early_stopping_rounds",
        "callbacks",
        "kwargs",
    }
)
_XGB_QDM_METHODS = frozenset({None, "hist", "auto"})


def _xgboost(spec: AlgorithmSpec, combos: Sequence[Mapping[str, Any]], fold: PreparedFold) -> list[np.ndarray]:
    """Train every combination on one ``QuantileDMatrix`` per (max_bin, missing, nthread)."""
    import xgboost as xgb

    matrices: dict[tuple[Any, ...], xgb.QuantileDMatrix] = {}
    out = []
    for combo in combos:
        params = _params(spec, combo)
        unsupported = params.get("tree_method") not in _XGB_QDM_METHODS or params.get("booster") == "gblinear"
        if unsupported or any(params.get(k) is not None for k in ("feature_types", "feature_weights", "callbacks")):
            out.extend(_generic(spec, [combo], fold))
            continue
        native: dict[str, Any] = {"objective": "binary:logistic" if spec.is_classifier else "reg:squarederror"}
        explicit = {}
        for k, v in params.items():
            if k in _XGB_WRAPPER_ONLY or v is None:
                continue
            if k in _XGB_NATIVE:
                native[_XGB_NATIVE[k]] = v
            else:
                explicit[k] = v
        native.update(explicit)
        missing = params.get("missing", np.nan)
        max_bin, nthread = native.get("max_bin"), native.get("nthread")
        key = (max_bin, nthread, "nan" if missing is None or math.isnan(missing) else float(missing))
        if key not in matrices:
            # nthread as XGBModel passes it: the quantile sketch is merged per thread.
            matrices[key] = xgb.QuantileDMatrix(
                fold.X_train, label=fold.y_train, max_bin=max_bin, nthread=nthread, missing=missing
            )
        booster = xgb.train(native, matrices[key], num_boost_round=int(params.get("n_estimators") or 100))
        # inplace_predict is XGBModel.predict's own route; binary:logistic yields P(class 1).
        out.append(np.asarray(booster.inplace_predict(fold.X_test, missing=missing), dtype=np.float64))
    log.debug("xgboost: %d combination(s) on %d matrix(es), fold %d", len(combos), len(matrices), fold.number)
    return out


#: The fast routes an :class:`~walkforward.models.catalog.AlgorithmSpec` can name as its evaluator.
elasticnet_path = _elasticnet
lightgbm_binned = _lightgbm
xgboost_binned = _xgboost


def predict_grid(spec: AlgorithmSpec, combos: Sequence[Mapping[str, Any]], fold: PreparedFold) -> list[np.ndarray]:
    """Out-of-sample predictions on ``fold.X_test`` for each combination, in order.

    Values for regression, P(class 1) for classification: the same numbers, to the solvers'
    tolerance, as fitting ``spec.build(combo)`` on ``fold.X_train`` one combination at a time.
    """
    evaluate = spec.evaluator or _generic
    # One BLAS thread: OpenBLAS's own threads made the small solves ~100x slower on 2 cores.
    with threadpool_limits(limits=1, user_api="blas"):
        return evaluate(spec, combos, fold)
