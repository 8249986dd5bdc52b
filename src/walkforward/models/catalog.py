"""The nine algorithms, by the reference's names: everything about each one on its spec.

A spec holds the estimator factory, its defaults, the declared ranges of its parameters, the
reference's default grid and request grid names, the fast grid evaluator, the fallback rule and the
adaptive grid. Adding an algorithm is one more entry in :data:`ALGORITHMS` (see the module's end).

Tree boosters get ``n_jobs=1`` by default: several fits run side by side in worker processes, and a
booster using every core inside each of them oversubscribes the machine (measured 6-15x slower).
Estimator classes are imported inside the factories so that importing the catalog (the CLI does, for
its ``--algorithm`` choices) costs no scikit-learn, LightGBM or XGBoost import; the fast grid
evaluators (and numpy) are imported on their first call, for the same reason.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, cast

from walkforward.errors import InvalidInputError
from walkforward.models.params import FRACTION, NON_NEGATIVE, POSITIVE, POSITIVE_INT, UNIT, Range
from walkforward.models.spec import (
    AdaptiveGrid,
    AlgorithmSpec,
    Fallback,
    Family,
    GridEvaluator,
    StoppingEvaluator,
    Task,
)

__all__ = [
    "ALGORITHMS",
    "AdaptiveGrid",
    "Algorithm",
    "AlgorithmSpec",
    "Fallback",
    "Family",
    "GridEvaluator",
    "StoppingEvaluator",
    "Task",
    "early_stopping_algorithms",
    "get_algorithm",
    "grid_names",
]

if TYPE_CHECKING:
    import numpy as np
    from sklearn.base import BaseEstimator

    from walkforward.model_selection.evaluators import PreparedFold


class Algorithm(StrEnum):
    """The algorithms a request may name (each has a spec in :data:`ALGORITHMS`)."""

    LINEAR_REGRESSION = "linear_regression"
    ELASTICNET_REGRESSION = "elasticnet_regression"
    RANDOM_FOREST_REGRESSOR = "random_forest_regressor"
    XGBOOST_REGRESSOR = "xgboost_regressor"
    LIGHTGBM_REGRESSOR = "lightgbm_regressor"
    LOGISTIC_CLASSIFICATION = "logistic_classification"
    RANDOM_FOREST_CLASSIFIER = "random_forest_classifier"
    XGBOOST_CLASSIFIER = "xgboost_classifier"
    LIGHTGBM_CLASSIFIER = "lightgbm_classifier"


# ---------------------------------------------------------------------------------------------- factories


@dataclass(frozen=True)
class _Lazy:
    """An estimator class imported when an estimator is first built (see the module docstring)."""

    module: str
    name: str

    def __call__(self, **p: Any) -> BaseEstimator:
        return cast("BaseEstimator", getattr(importlib.import_module(self.module), self.name)(**p))


_linear_regression = _Lazy("sklearn.linear_model", "LinearRegression")
_elastic_net = _Lazy("sklearn.linear_model", "ElasticNet")
_logistic = _Lazy("sklearn.linear_model", "LogisticRegression")
_rf_regressor = _Lazy("sklearn.ensemble", "RandomForestRegressor")
_rf_classifier = _Lazy("sklearn.ensemble", "RandomForestClassifier")
_xgb_regressor = _Lazy("xgboost", "XGBRegressor")
_xgb_classifier = _Lazy("xgboost", "XGBClassifier")
_lgbm_regressor = _Lazy("lightgbm", "LGBMRegressor")
_lgbm_classifier = _Lazy("lightgbm", "LGBMClassifier")


def _zeroed_coefficients(estimator: Any) -> str | None:
    import numpy as np

    coef = getattr(estimator, "coef_", None)
    return "elastic net zeroed every coefficient" if coef is not None and not np.any(coef) else None


# ------------------------------------------------------------------- fast evaluators, imported when called


def _elasticnet_path(spec: AlgorithmSpec, combos: Sequence[Mapping[str, Any]], fold: PreparedFold) -> list[np.ndarray]:
    from walkforward.model_selection.evaluators import elasticnet_path

    return elasticnet_path(spec, combos, fold)


def _lightgbm_binned(spec: AlgorithmSpec, combos: Sequence[Mapping[str, Any]], fold: PreparedFold) -> list[np.ndarray]:
    from walkforward.model_selection.evaluators import lightgbm_binned

    return lightgbm_binned(spec, combos, fold)


def _random_forest_staged(
    spec: AlgorithmSpec, combos: Sequence[Mapping[str, Any]], fold: PreparedFold
) -> list[np.ndarray]:
    from walkforward.model_selection.evaluators import random_forest_staged

    return random_forest_staged(spec, combos, fold)


def _xgboost_binned(spec: AlgorithmSpec, combos: Sequence[Mapping[str, Any]], fold: PreparedFold) -> list[np.ndarray]:
    from walkforward.model_selection.evaluators import xgboost_binned

    return xgboost_binned(spec, combos, fold)


def _lightgbm_stopped(
    spec: AlgorithmSpec, combos: Sequence[Mapping[str, Any]], fold: PreparedFold
) -> list[tuple[np.ndarray, int]]:
    from walkforward.model_selection.stopped import lightgbm_stopped

    return lightgbm_stopped(spec, combos, fold)


def _xgboost_stopped(
    spec: AlgorithmSpec, combos: Sequence[Mapping[str, Any]], fold: PreparedFold
) -> list[tuple[np.ndarray, int]]:
    from walkforward.model_selection.stopped import xgboost_stopped

    return xgboost_stopped(spec, combos, fold)


# ---------------------------------------------------------------------------------------------- families

_SEED = 0
_LGBM_DEFAULTS = {"verbosity": -1, "n_jobs": 1, "random_state": _SEED}
_XGB_DEFAULTS = {"n_jobs": 1, "random_state": _SEED, "tree_method": "hist", "verbosity": 0}
_RF_DEFAULTS = {"n_estimators": 100, "max_depth": 8, "min_samples_leaf": 20, "n_jobs": 1, "random_state": _SEED}

_XGB_RANGES = {
    "n_estimators": POSITIVE_INT,
    "max_depth": Range(0, integer=True),
    "learning_rate": POSITIVE,
    "min_child_weight": NON_NEGATIVE,
    "reg_alpha": NON_NEGATIVE,
    "reg_lambda": NON_NEGATIVE,
    "gamma": NON_NEGATIVE,
    "subsample": FRACTION,
    "colsample_bytree": FRACTION,
    "max_bin": Range(2, integer=True),
}
_LGBM_RANGES = {
    "n_estimators": POSITIVE_INT,
    "num_leaves": Range(2, 131072, integer=True),
    "max_depth": Range(-1, integer=True),
    "learning_rate": POSITIVE,
    "min_child_samples": Range(0, integer=True),
    "min_child_weight": NON_NEGATIVE,
    "reg_alpha": NON_NEGATIVE,
    "reg_lambda": NON_NEGATIVE,
    "subsample": FRACTION,
    "colsample_bytree": FRACTION,
}
_RF_RANGES = {
    "n_estimators": POSITIVE_INT,
    "max_depth": Range(1, integer=True, also=(None,)),
    "min_samples_split": Range(2, integer=True),
    "min_samples_leaf": POSITIVE_INT,
    # a fraction in (0, 1] or a count >= 1 (scikit-learn refuses a fraction > 1: the probe fit says so)
    "max_features": Range(0, low_open=True, also=("sqrt", "log2", None)),
}
#: The reference's default grids (estimator parameter names) and its request names for them.
_XGB_GRID: dict[str, list[Any]] = {
    "max_depth": [3, 4, 5, 6, 7, 8, 9],
    "min_child_weight": [1, 3, 5, 10, 15, 20, 30],
    "reg_alpha": [0.0, 0.001, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0],
    "reg_lambda": [0.01, 0.1, 0.5, 1.0, 5.0, 10.0, 50.0],
    "learning_rate": [0.005, 0.01, 0.03, 0.05, 0.1, 0.2, 0.3],
}
_XGB_NAMES = {f"{p}_grid": p for p in _XGB_GRID}
_LGBM_GRID: dict[str, list[Any]] = {
    "num_leaves": [7, 15, 31, 63, 95, 127, 191],
    "min_child_samples": [5, 10, 20, 40, 60, 80, 100],
    "reg_alpha": [0.0, 0.001, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0],
    "reg_lambda": [0.0, 0.01, 0.1, 0.5, 1.0, 5.0, 10.0],
    "learning_rate": [0.005, 0.01, 0.03, 0.05, 0.1, 0.2, 0.3],
}
# LightGBM's min_data_in_leaf / lambda_l1 / lambda_l2 are the scikit-learn API's
# min_child_samples / reg_alpha / reg_lambda.
_LGBM_NAMES = {
    "num_leaves_grid": "num_leaves",
    "min_data_in_leaf_grid": "min_child_samples",
    "lambda_l1_grid": "reg_alpha",
    "lambda_l2_grid": "reg_lambda",
    "lgbm_learning_rate_grid": "learning_rate",
}
_RF_GRID: dict[str, list[Any]] = {
    "max_depth": [5, 10, 15, 20, 30, 50, None],
    "min_samples_split": [2, 5, 10, 20, 30, 50, 100],
    "min_samples_leaf": [1, 2, 4, 8, 12, 16, 20],
    "n_estimators": [25, 50, 75, 100, 150, 200, 300],
    "max_features": ["sqrt", "log2", 0.3, 0.5, 0.7, 0.9, 1.0],
}
_RF_NAMES = {
    "rf_max_depth_grid": "max_depth",
    "min_samples_split_grid": "min_samples_split",
    "min_samples_leaf_grid": "min_samples_leaf",
    "n_estimators_grid": "n_estimators",
    "max_features_grid": "max_features",
}


def _booster(name: str, task: Task, factory: Callable[..., BaseEstimator], lgbm: bool) -> AlgorithmSpec:
    if lgbm:
        defaults = {"n_estimators": 200, "num_leaves": 15, "learning_rate": 0.05, "min_child_samples": 40}
        return AlgorithmSpec(
            name, task, "tree", factory, {**defaults, **_LGBM_DEFAULTS}, _LGBM_RANGES, _LGBM_GRID, _LGBM_NAMES,
            evaluator=_lightgbm_binned, rounds_param="n_estimators", stopping_evaluator=_lightgbm_stopped,
        )  # fmt: skip
    defaults = {"n_estimators": 200, "max_depth": 4, "learning_rate": 0.05, "subsample": 0.8}
    return AlgorithmSpec(
        name, task, "tree", factory, {**defaults, **_XGB_DEFAULTS}, _XGB_RANGES, _XGB_GRID, _XGB_NAMES,
        evaluator=_xgboost_binned, rounds_param="n_estimators", stopping_evaluator=_xgboost_stopped,
    )  # fmt: skip


ALGORITHMS: dict[str, AlgorithmSpec] = {
    s.name: s
    for s in (
        AlgorithmSpec("linear_regression", "regression", "linear", _linear_regression),
        AlgorithmSpec(
            "elasticnet_regression",
            "regression",
            "linear",
            _elastic_net,
            defaults={"alpha": 0.0001, "l1_ratio": 0.5, "max_iter": 5000, "random_state": _SEED},
            ranges={"alpha": NON_NEGATIVE, "l1_ratio": UNIT, "max_iter": POSITIVE_INT, "tol": POSITIVE},
            grid={
                "alpha": [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5],
                "l1_ratio": [0.1, 0.3, 0.5, 0.7, 0.85, 0.95, 0.99],
            },
            grid_names={"alpha_grid": "alpha", "l1_ratio_grid": "l1_ratio"},
            evaluator=_elasticnet_path,
            path_param="alpha",
            # The reference's OLS fallback: an elastic net with every coefficient at zero predicts a constant.
            fallback=Fallback("linear_regression", _zeroed_coefficients),
            adaptive_grid=AdaptiveGrid("alpha", [0.0001, 0.001, 0.01, 0.05, 0.1], below=0.05),
        ),
        AlgorithmSpec(
            "random_forest_regressor",
            "regression",
            "tree",
            _rf_regressor,
            _RF_DEFAULTS,
            _RF_RANGES,
            _RF_GRID,
            _RF_NAMES,
            evaluator=_random_forest_staged,
            rounds_param="n_estimators",
        ),
        _booster("xgboost_regressor", "regression", _xgb_regressor, lgbm=False),
        _booster("lightgbm_regressor", "regression", _lgbm_regressor, lgbm=True),
        AlgorithmSpec(
            "logistic_classification",
            "classification",
            "linear",
            _logistic,
            defaults={"C": 1.0, "max_iter": 5000},
            ranges={"C": POSITIVE, "max_iter": POSITIVE_INT},
            grid={"C": [0.001, 0.01, 0.1, 1.0, 10.0, 100.0]},
            grid_names={"c_grid": "C"},
        ),
        AlgorithmSpec(
            "random_forest_classifier",
            "classification",
            "tree",
            _rf_classifier,
            _RF_DEFAULTS,
            _RF_RANGES,
            _RF_GRID,
            _RF_NAMES,
            evaluator=_random_forest_staged,
            rounds_param="n_estimators",
        ),
        _booster("xgboost_classifier", "classification", _xgb_classifier, lgbm=False),
        _booster("lightgbm_classifier", "classification", _lgbm_classifier, lgbm=True),
    )
}


assert set(ALGORITHMS) == set(Algorithm), "every Algorithm member needs exactly one spec"


def get_algorithm(name: str) -> AlgorithmSpec:
    """The spec for ``name`` or a clear refusal listing the nine names."""
    try:
        return ALGORITHMS[str(name)]
    except KeyError:
        raise InvalidInputError(f"unknown algorithm {name!r}: use one of {', '.join(ALGORITHMS)}") from None


def early_stopping_algorithms() -> tuple[str, ...]:
    """The algorithms that accept ``early_stopping_rounds`` (the boosters)."""
    return tuple(name for name, spec in ALGORITHMS.items() if spec.stopping_evaluator is not None)


def grid_names() -> dict[str, tuple[str, ...]]:
    """Every request grid name -> the algorithms it applies to."""
    out: dict[str, list[str]] = {}
    for spec in ALGORITHMS.values():
        for g in spec.grid_names:
            out.setdefault(g, []).append(spec.name)
    return {k: tuple(v) for k, v in out.items()}
