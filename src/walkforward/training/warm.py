"""Warm starts in a retraining schedule: a booster continues from the previous refit's trees on the new rows.

LightGBM (``init_model``) and XGBoost (``xgb_model``) add ``n_estimators`` rounds to a previous
booster. The previous refit's preprocessing (imputer, p-value pruner, scaler) is kept as it was
fitted, so the new trees see the same columns as the old ones; it was fitted on earlier training
rows only, so nothing learns from the traded period. Other algorithms have no warm start here and
are refused (no silent cold fit).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from walkforward.errors import InvalidInputError
from walkforward.models.catalog import AlgorithmSpec


def _lightgbm(est: Any, previous: Any, X: pd.DataFrame, y: np.ndarray) -> None:
    est.fit(X, y, init_model=previous.booster_)


def _xgboost(est: Any, previous: Any, X: pd.DataFrame, y: np.ndarray) -> None:
    est.fit(X, y, xgb_model=previous.get_booster())


#: algorithm -> how its estimator continues from a fitted one (the explicit list of what warm-starts)
CONTINUE: dict[str, Callable[[Any, Any, pd.DataFrame, np.ndarray], None]] = {
    "lightgbm_regressor": _lightgbm,
    "lightgbm_classifier": _lightgbm,
    "xgboost_regressor": _xgboost,
    "xgboost_classifier": _xgboost,
}


def check_warm_start(spec: AlgorithmSpec) -> None:
    """Refuse an algorithm that cannot continue from a previous fit."""
    if spec.name not in CONTINUE:
        raise InvalidInputError(
            f"warm start is for boosters that continue from their trees ({', '.join(CONTINUE)}), "
            f"not {spec.name}: drop warm_start (--warm-start) to refit from scratch"
        )


def continue_fit(
    spec: AlgorithmSpec, previous: Pipeline, params: dict[str, Any], X: pd.DataFrame, y: np.ndarray
) -> Pipeline:
    """``previous``'s preprocessing as fitted, with a booster that adds its rounds to ``previous``'s on ``X, y``."""
    check_warm_start(spec)
    pre = previous[:-1]
    est = spec.factory(**params)
    CONTINUE[spec.name](est, previous[-1], pre.transform(X), y)
    return Pipeline([*pre.steps, ("model", est)])


def trees(pipe: Pipeline) -> int | None:
    """How many trees the pipeline's booster holds (``None`` for other estimators)."""
    model = pipe[-1]
    if hasattr(model, "booster_"):
        return int(model.booster_.num_trees())
    if hasattr(model, "get_booster"):
        return int(model.get_booster().num_boosted_rounds())
    return None


__all__ = ["CONTINUE", "check_warm_start", "continue_fit", "trees"]
