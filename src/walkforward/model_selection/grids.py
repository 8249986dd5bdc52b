"""Hyperparameter grids: the reference's defaults and its request parameter names.

A request names grid values with the reference's parameters (``alpha_grid``, ``num_leaves_grid``,
``rf_max_depth_grid`` ...); each maps to one estimator parameter of the algorithms it applies to.
LightGBM's ``min_data_in_leaf`` / ``lambda_l1`` / ``lambda_l2`` are the scikit-learn API's
``min_child_samples`` / ``reg_alpha`` / ``reg_lambda``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from walkforward.errors import InvalidInputError

ELASTICNET_ALPHAS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5]
ELASTICNET_L1_RATIOS = [0.1, 0.3, 0.5, 0.7, 0.85, 0.95, 0.99]
#: The reference's reduced alphas when the strongest feature-target correlation is below 0.05.
ADAPTIVE_ALPHAS = [0.0001, 0.001, 0.01, 0.05, 0.1]
ADAPTIVE_CORRELATION = 0.05

_XGB: dict[str, list[Any]] = {
    "max_depth": [3, 4, 5, 6, 7, 8, 9],
    "min_child_weight": [1, 3, 5, 10, 15, 20, 30],
    "reg_alpha": [0.0, 0.001, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0],
    "reg_lambda": [0.01, 0.1, 0.5, 1.0, 5.0, 10.0, 50.0],
    "learning_rate": [0.005, 0.01, 0.03, 0.05, 0.1, 0.2, 0.3],
}
_LGBM: dict[str, list[Any]] = {
    "num_leaves": [7, 15, 31, 63, 95, 127, 191],
    "min_child_samples": [5, 10, 20, 40, 60, 80, 100],
    "reg_alpha": [0.0, 0.001, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0],
    "reg_lambda": [0.0, 0.01, 0.1, 0.5, 1.0, 5.0, 10.0],
    "learning_rate": [0.005, 0.01, 0.03, 0.05, 0.1, 0.2, 0.3],
}
_RF: dict[str, list[Any]] = {
    "max_depth": [5, 10, 15, 20, 30, 50, None],
    "min_samples_split": [2, 5, 10, 20, 30, 50, 100],
    "min_samples_leaf": [1, 2, 4, 8, 12, 16, 20],
    "n_estimators": [25, 50, 75, 100, 150, 200, 300],
    "max_features": ["sqrt", "log2", 0.3, 0.5, 0.7, 0.9, 1.0],
}

DEFAULT_GRIDS: dict[str, dict[str, list[Any]]] = {
    "linear_regression": {},
    "elasticnet_regression": {"alpha": ELASTICNET_ALPHAS, "l1_ratio": ELASTICNET_L1_RATIOS},
    "random_forest_regressor": _RF,
    "xgboost_regressor": _XGB,
    "lightgbm_regressor": _LGBM,
    "logistic_classification": {"C": [0.001, 0.01, 0.1, 1.0, 10.0, 100.0]},
    "random_forest_classifier": _RF,
    "xgboost_classifier": _XGB,
    "lightgbm_classifier": _LGBM,
}

_EN = ("elasticnet_regression",)
_XG = ("xgboost_regressor", "xgboost_classifier")
_LG = ("lightgbm_regressor", "lightgbm_classifier")
_RFS = ("random_forest_regressor", "random_forest_classifier")

#: request parameter -> (algorithms it applies to, estimator parameter)
GRID_PARAMETERS: dict[str, tuple[tuple[str, ...], str]] = {
    "alpha_grid": (_EN, "alpha"),
    "l1_ratio_grid": (_EN, "l1_ratio"),
    "max_depth_grid": (_XG, "max_depth"),
    "min_child_weight_grid": (_XG, "min_child_weight"),
    "reg_alpha_grid": (_XG, "reg_alpha"),
    "reg_lambda_grid": (_XG, "reg_lambda"),
    "learning_rate_grid": (_XG, "learning_rate"),
    "num_leaves_grid": (_LG, "num_leaves"),
    "min_data_in_leaf_grid": (_LG, "min_child_samples"),
    "lambda_l1_grid": (_LG, "reg_alpha"),
    "lambda_l2_grid": (_LG, "reg_lambda"),
    "lgbm_learning_rate_grid": (_LG, "learning_rate"),
    "rf_max_depth_grid": (_RFS, "max_depth"),
    "min_samples_split_grid": (_RFS, "min_samples_split"),
    "min_samples_leaf_grid": (_RFS, "min_samples_leaf"),
    "n_estimators_grid": (_RFS, "n_estimators"),
    "max_features_grid": (_RFS, "max_features"),
    "c_grid": (("logistic_classification",), "C"),
}


def _check_values(name: str, values: Any) -> list[Any]:
    if not isinstance(values, list | tuple) or not values:
        raise InvalidInputError(f"{name} must be a non-empty list of values, e.g. {name}=[0.001, 0.01]")
    for v in values:
        if v is not None and not isinstance(v, int | float | str) or isinstance(v, bool):
            raise InvalidInputError(f"{name} holds {v!r}: grid values are numbers, strings or null")
        if isinstance(v, float) and not np.isfinite(v):
            raise InvalidInputError(f"{name} holds {v!r}: grid values must be finite")
    if len(set(map(repr, values))) != len(values):
        raise InvalidInputError(f"{name} lists a value twice: list each value once")
    return list(values)


def resolve_grid(
    algorithm: str, grids: Mapping[str, Sequence[Any]] | None, *, use_defaults: bool = True
) -> dict[str, list[Any]]:
    """The grid to search: the reference's default for ``algorithm``, overridden by request parameters.

    Unknown grid names and grid names that do not apply to the algorithm are refused.
    """
    if algorithm not in DEFAULT_GRIDS:
        raise InvalidInputError(f"unknown algorithm {algorithm!r}: use one of {', '.join(DEFAULT_GRIDS)}")
    grid = {k: list(v) for k, v in DEFAULT_GRIDS[algorithm].items()} if use_defaults else {}
    for name, values in (grids or {}).items():
        if name not in GRID_PARAMETERS:
            raise InvalidInputError(f"unknown grid parameter {name!r}: use one of {', '.join(GRID_PARAMETERS)}")
        algos, param = GRID_PARAMETERS[name]
        if algorithm not in algos:
            raise InvalidInputError(f"{name} does not apply to {algorithm}: it is for {', '.join(algos)}")
        grid[param] = _check_values(name, values)
    return grid


def grid_size(grid: Mapping[str, Sequence[Any]]) -> int:
    return int(np.prod([len(v) for v in grid.values()])) if grid else 1


def combinations(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of ``grid`` in a stable order (the last parameter varies fastest)."""
    keys = sorted(grid)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*(grid[k] for k in keys))]
