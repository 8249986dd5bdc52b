"""Evaluate many hyperparameter combinations of one algorithm on one cached, preprocessed fold.

A grid search fits the hyperparameter-free preprocessing (impute -> prune -> scale) once per fold
(:func:`prepare_fold`) and then asks :func:`predict_grid` for every combination's out-of-sample
predictions. Each algorithm gets the fastest route that gives the same numbers as fitting
``spec.build(combo)`` on the fold, one combination at a time:

- elastic net: one regularisation path per ``l1_ratio`` (``enet_path``, warm-started from the
  previous, larger alpha) on a Gram matrix computed once per fold;
- LightGBM / XGBoost: the training rows are binned once (a ``lightgbm.Dataset`` /
  ``xgboost.QuantileDMatrix``) and every combination trains on the same binned data;
- LightGBM / XGBoost / random forests: combinations that differ only in the spec's
  ``rounds_param`` share one model trained to the largest count, and each smaller count is scored
  from its first rounds (:mod:`walkforward.model_selection.staged`);
- anything else: build, fit and predict each combination.

:func:`predict_rounds` scores one configuration at several round counts from one model, the budgets
of a multi-fidelity search.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from threadpoolctl import threadpool_limits

from walkforward.errors import InvalidInputError
from walkforward.model_selection import staged

if TYPE_CHECKING:  # the boosters and scikit-learn are imported where they are used (fast CLI start-up)
    import pandas as pd
    from sklearn.pipeline import Pipeline

    from walkforward.model_selection.early_stopping import InnerSplit
    from walkforward.models.catalog import AlgorithmSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedFold:
    """One fold's preprocessed matrices (float64, C-contiguous), shared by every combination.

    ``inner`` (early stopping on, boosters only) splits the training rows into the rows a booster
    fits on and the inner slice it stops on (:mod:`walkforward.model_selection.early_stopping`).
    """

    number: int
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    inner: InnerSplit | None = None


class Stopped(NamedTuple):
    """One combination's out-of-sample predictions and the boosting rounds they came from (None: no early stopping)."""

    values: np.ndarray
    rounds: int | None


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
    *,
    inner: InnerSplit | None = None,
) -> PreparedFold:
    """Fit a clone of ``preprocess`` on the fold's training rows and transform both blocks.

    The training block is ``fit_transform``-ed, as ``Pipeline.fit`` does for its intermediate steps,
    so the matrices equal what the model step sees inside the full pipeline. The test rows are never
    seen by the fit. ``inner`` (positions into ``train_index``) turns early stopping on for this fold;
    the preprocessing is still fitted on every training row.
    """
    if inner is not None and (inner.valid.max() >= len(train_index) or inner.train.max() >= len(train_index)):
        raise ValueError("the early-stopping split must index the fold's own training rows")
    from sklearn.base import clone

    pre = clone(preprocess)
    X_tr, y_tr = X.iloc[train_index], _as_labels(y[train_index])  # noqa: N806
    with threadpool_limits(limits=1, user_api="blas"):
        X_train = _as_matrix(pre.fit_transform(X_tr, y_tr))  # noqa: N806
        X_test = _as_matrix(pre.transform(X.iloc[test_index]))  # noqa: N806
    return PreparedFold(number, X_train, y_tr, X_test, _as_labels(y[test_index]), inner)


def _params(spec: AlgorithmSpec, combo: Mapping[str, Any]) -> dict[str, Any]:
    """The defaults overridden by ``combo``; validated by building the estimator (unknown names refused)."""
    spec.build(combo)
    return {**spec.defaults, **combo}


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


#: The fast routes an :class:`~walkforward.models.catalog.AlgorithmSpec` can name as its evaluator.
elasticnet_path = _elasticnet
lightgbm_binned = staged.lightgbm_binned
xgboost_binned = staged.xgboost_binned
random_forest_staged = staged.random_forest


def predict_grid(spec: AlgorithmSpec, combos: Sequence[Mapping[str, Any]], fold: PreparedFold) -> list[np.ndarray]:
    """Out-of-sample predictions on ``fold.X_test`` for each combination, in order.

    Values for regression, P(class 1) for classification: the same numbers, to the solvers'
    tolerance, as fitting ``spec.build(combo)`` on ``fold.X_train`` one combination at a time.
    """
    if fold.inner is not None:
        return [p.values for p in predict_grid_stopped(spec, combos, fold)]
    evaluate = spec.evaluator or staged.fit_each
    # One BLAS thread: OpenBLAS's own threads made the small solves ~100x slower on 2 cores.
    with threadpool_limits(limits=1, user_api="blas"):
        return evaluate(spec, combos, fold)


def predict_grid_stopped(spec: AlgorithmSpec, combos: Sequence[Mapping[str, Any]], fold: PreparedFold) -> list[Stopped]:
    """:func:`predict_grid` with the round count each combination was scored at (early stopping).

    With ``fold.inner`` each booster stops on the fold's inner slice and the test block is scored at
    its best round (``n_estimators`` is an upper bound; :mod:`walkforward.model_selection.stopped`);
    without it the rounds are ``None`` and the predictions are :func:`predict_grid`'s.
    """
    if fold.inner is None:
        return [Stopped(p, None) for p in predict_grid(spec, combos, fold)]
    if spec.stopping_evaluator is None:
        raise InvalidInputError(f"{spec.name} has no boosting rounds to stop early: drop early_stopping_rounds")
    with threadpool_limits(limits=1, user_api="blas"):
        return [Stopped(values, rounds) for values, rounds in spec.stopping_evaluator(spec, combos, fold)]


def predict_rounds(
    spec: AlgorithmSpec, params: Mapping[str, Any], fold: PreparedFold, rounds: Sequence[int]
) -> dict[int, np.ndarray]:
    """Out-of-sample predictions of one configuration at each round count in ``rounds``, from one fit.

    The budgets of a multi-fidelity search: the model is trained once, to the largest count, and
    each count is scored from its first rounds (``params``' own ``spec.rounds_param``, if any, is
    replaced). The values are :func:`predict_grid`'s for ``{**params, rounds_param: k}``. A model
    whose first rounds are not a smaller model (DART) is fitted once per count instead.

    Examples
    --------
    >>> from walkforward.models.catalog import get_algorithm
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(300, 4)), rng.normal(size=300)
    >>> fold = PreparedFold(0, X[:200], y[:200], X[200:], y[200:])
    >>> preds = predict_rounds(get_algorithm("lightgbm_regressor"), {"num_leaves": 7}, fold, [25, 100])
    >>> sorted(preds), preds[25].shape
    ([25, 100], (100,))
    """
    name = spec.rounds_param
    if name is None:
        raise InvalidInputError(f"{spec.name} has no round count to stage: score it with predict_grid")
    counts = list(dict.fromkeys(int(k) for k in rounds))
    combos = [{**params, name: k} for k in counts]
    return dict(zip(counts, predict_grid(spec, combos, fold), strict=True))
