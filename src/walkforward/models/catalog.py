"""The nine algorithms, by the reference's names, behind one explicit name -> factory mapping.

Tree boosters get ``n_jobs=1`` by default: several fits run side by side in worker processes, and a
booster using every core inside each of them oversubscribes the machine (measured 6-15x slower).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from lightgbm import LGBMClassifier, LGBMRegressor
from sklearn.base import BaseEstimator
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import ElasticNet, LinearRegression, LogisticRegression
from xgboost import XGBClassifier, XGBRegressor

from walkforward.errors import InvalidInputError

Task = Literal["regression", "classification"]
Family = Literal["linear", "tree"]


@dataclass(frozen=True)
class AlgorithmSpec:
    """One algorithm: how to build it and what it is."""

    name: str
    task: Task
    family: Family
    factory: Callable[..., BaseEstimator]
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def build(self, hyperparameters: Mapping[str, Any] | None = None) -> BaseEstimator:
        """An unfitted estimator with the defaults overridden by ``hyperparameters`` (validated)."""
        params = {**self.defaults, **(hyperparameters or {})}
        probe = self.factory()
        valid = set(probe.get_params()) | set(self.defaults)  # LightGBM takes some only as kwargs
        unknown = sorted(set(params) - set(valid))
        if unknown:
            raise InvalidInputError(
                f"unknown hyperparameter(s) {', '.join(unknown)} for {self.name}: "
                f"valid ones include {', '.join(sorted(self.defaults) or sorted(valid)[:8])}"
            )
        return self.factory(**params)

    @property
    def is_classifier(self) -> bool:
        return self.task == "classification"


_SEED = 0
_LGBM_QUIET = {"verbosity": -1, "n_jobs": 1, "random_state": _SEED}
_XGB = {"n_jobs": 1, "random_state": _SEED, "tree_method": "hist", "verbosity": 0}

ALGORITHMS: dict[str, AlgorithmSpec] = {
    s.name: s
    for s in (
        AlgorithmSpec("linear_regression", "regression", "linear", LinearRegression),
        AlgorithmSpec(
            "elasticnet_regression",
            "regression",
            "linear",
            ElasticNet,
            {"alpha": 0.0001, "l1_ratio": 0.5, "max_iter": 5000, "random_state": _SEED},
        ),
        AlgorithmSpec(
            "random_forest_regressor",
            "regression",
            "tree",
            RandomForestRegressor,
            {"n_estimators": 100, "max_depth": 8, "min_samples_leaf": 20, "n_jobs": 1, "random_state": _SEED},
        ),
        AlgorithmSpec(
            "xgboost_regressor",
            "regression",
            "tree",
            XGBRegressor,
            {"n_estimators": 200, "max_depth": 4, "learning_rate": 0.05, "subsample": 0.8, **_XGB},
        ),
        AlgorithmSpec(
            "lightgbm_regressor",
            "regression",
            "tree",
            LGBMRegressor,
            {"n_estimators": 200, "num_leaves": 15, "learning_rate": 0.05, "min_child_samples": 40, **_LGBM_QUIET},
        ),
        AlgorithmSpec(
            "logistic_classification",
            "classification",
            "linear",
            LogisticRegression,
            {"C": 1.0, "max_iter": 5000},
        ),
        AlgorithmSpec(
            "random_forest_classifier",
            "classification",
            "tree",
            RandomForestClassifier,
            {"n_estimators": 100, "max_depth": 8, "min_samples_leaf": 20, "n_jobs": 1, "random_state": _SEED},
        ),
        AlgorithmSpec(
            "xgboost_classifier",
            "classification",
            "tree",
            XGBClassifier,
            {"n_estimators": 200, "max_depth": 4, "learning_rate": 0.05, "subsample": 0.8, **_XGB},
        ),
        AlgorithmSpec(
            "lightgbm_classifier",
            "classification",
            "tree",
            LGBMClassifier,
            {"n_estimators": 200, "num_leaves": 15, "learning_rate": 0.05, "min_child_samples": 40, **_LGBM_QUIET},
        ),
    )
}


def get_algorithm(name: str) -> AlgorithmSpec:
    """The spec for ``name`` or a clear refusal listing the nine names."""
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise InvalidInputError(f"unknown algorithm {name!r}: use one of {', '.join(ALGORITHMS)}") from None
