"""One model trained to the largest round count scores every smaller count as a separate fit would."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from walkforward.errors import InvalidInputError
from walkforward.model_selection.evaluators import PreparedFold, predict_grid, predict_rounds
from walkforward.model_selection.staged import WHOLE, group_by_rounds
from walkforward.models.catalog import get_algorithm

ROUNDS = (1, 5, 17, 40)


def _fold(*, classification: bool, n_train: int = 800, n_features: int = 12, seed: int = 1) -> PreparedFold:
    """Features with a non-linear signal, so that every round changes the predictions."""
    rng = np.random.default_rng(seed)
    n = n_train + 300
    X = rng.standard_normal((n, n_features))  # noqa: N806
    y = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2] + 0.5 * rng.standard_normal(n)
    if classification:
        y = (y > 0).astype(np.int64)
    tr, te = slice(0, n_train), slice(n_train, n)
    return PreparedFold(1, np.ascontiguousarray(X[tr]), y[tr], np.ascontiguousarray(X[te]), y[te])


def _separate_fit(name: str, params: Mapping[str, Any], fold: PreparedFold) -> np.ndarray:
    spec = get_algorithm(name)
    est = spec.build(params).fit(fold.X_train, fold.y_train)
    if spec.is_classifier:
        return np.asarray(est.predict_proba(fold.X_test)[:, list(est.classes_).index(1)])
    return np.asarray(est.predict(fold.X_test))


def _max_diff(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape
    return float(np.max(np.abs(a - b)))


# Random draws in every round: bagged rows and sampled columns (XGBoost redraws them each round).
_SAMPLED: dict[str, dict[str, Any]] = {
    "lightgbm": {"num_leaves": 15, "subsample": 0.7, "subsample_freq": 1, "colsample_bytree": 0.6},
    "xgboost": {"max_depth": 4, "subsample": 0.7, "colsample_bytree": 0.6},
    "random_forest": {"max_depth": 6, "min_samples_leaf": 5, "max_features": 0.5},
}
_NAMES = [f"{family}_{kind}" for family in ("lightgbm", "xgboost") for kind in ("regressor", "classifier")] + [
    "random_forest_regressor",
    "random_forest_classifier",
]


@pytest.mark.parametrize("name", _NAMES)
def test_staged_predictions_equal_separate_fits(name: str) -> None:
    spec = get_algorithm(name)
    fold = _fold(classification=spec.is_classifier)
    params = _SAMPLED[name.rsplit("_", 1)[0]]
    staged = predict_rounds(spec, params, fold, ROUNDS)
    assert list(staged) == list(ROUNDS)
    for k in ROUNDS:
        assert _max_diff(staged[k], _separate_fit(name, {**params, "n_estimators": k}, fold)) <= 1e-9, k
    # Each count is its own model: the comparison above is not between constants.
    assert all(_max_diff(staged[a], staged[b]) > 1e-6 for a, b in zip(ROUNDS, ROUNDS[1:], strict=False))
    if spec.is_classifier:
        assert all(((p >= 0) & (p <= 1)).all() for p in staged.values())


_GRIDS: dict[str, list[dict[str, Any]]] = {
    "lightgbm_regressor": [
        {"n_estimators": n, "learning_rate": lr, "subsample": 0.8, "subsample_freq": 1}
        for lr in (0.05, 0.3)
        for n in (30, 5, 12)
    ],
    "xgboost_classifier": [
        {"n_estimators": n, "max_depth": d, "colsample_bytree": 0.7} for n in (12, 5, 30) for d in (2, 5)
    ],
    "random_forest_classifier": [{"n_estimators": n, "max_depth": d} for d in (3, None) for n in (15, 4, 9)],
    "random_forest_regressor": [{"n_estimators": n, "min_samples_leaf": m} for m in (1, 20) for n in (4, 15, 9)],
}


@pytest.mark.parametrize("name", sorted(_GRIDS))
def test_predict_grid_over_rounds_equals_one_at_a_time_fits(name: str, caplog: pytest.LogCaptureFixture) -> None:
    spec = get_algorithm(name)
    fold = _fold(classification=spec.is_classifier)
    combos = _GRIDS[name]
    with caplog.at_level(logging.DEBUG, logger="walkforward.model_selection.staged"):
        got = predict_grid(spec, combos, fold)
    assert len(got) == len(combos)
    for combo, pred in zip(combos, got, strict=True):
        assert _max_diff(pred, _separate_fit(name, combo, fold)) <= 1e-9, combo
    # Two values of the other parameter: two models, whatever the order of the counts.
    assert len(group_by_rounds(spec, combos)) == 2
    if not name.startswith("random_forest"):
        assert f"{len(combos)} combination(s), 2 booster(s)" in caplog.text


def test_groups_join_the_default_count_and_keep_unshareable_models_apart() -> None:
    spec = get_algorithm("lightgbm_regressor")
    default = spec.defaults["n_estimators"]
    combos: list[dict[str, Any]] = [
        {"num_leaves": 7, "n_estimators": 20},
        {"num_leaves": 7},  # the default count joins the explicit ones
        {"num_leaves": 31, "n_estimators": 20},
        {"num_leaves": 7, "n_estimators": 20},  # a duplicate keeps its place
        {"num_leaves": 63, "n_estimators": 10},
        {"num_leaves": 63, "n_estimators": 20},
    ]
    groups = group_by_rounds(spec, combos, shareable=lambda params: params["num_leaves"] != 63)
    assert [g.members for g in groups] == [
        ((0, 20), (1, default), (3, 20)),
        ((2, 20),),
        ((4, WHOLE),),  # not shareable: fitted at its own count, scored whole
        ((5, WHOLE),),
    ]
    assert groups[0].params["n_estimators"] == default and groups[0].rounds == (20, default)
    assert [g.params["n_estimators"] for g in groups[2:]] == [10, 20]
    no_rounds = group_by_rounds(get_algorithm("elasticnet_regression"), [{"alpha": 0.1}, {"alpha": 0.1}])
    assert [g.members for g in no_rounds] == [((0, WHOLE),), ((1, WHOLE),)]
    with pytest.raises(InvalidInputError, match="unknown hyperparameter"):
        group_by_rounds(spec, [{"n_estimators": 5}, {"n_estimators": 9, "no_such_knob": 1}])


def test_dart_rounds_are_fitted_one_count_at_a_time(caplog: pytest.LogCaptureFixture) -> None:
    # DART rescales dropped trees later on: the first 8 rounds of 25 are not an 8-round model...
    fold = _fold(classification=False)
    params = {"boosting_type": "dart", "n_estimators": 25}
    spec = get_algorithm("lightgbm_regressor")
    booster = spec.build(params).fit(fold.X_train, fold.y_train)
    eight = _separate_fit("lightgbm_regressor", {**params, "n_estimators": 8}, fold)
    assert _max_diff(booster.predict(fold.X_test, num_iteration=8), eight) > 1e-6
    # ... so each count gets its own fit, and the numbers are a separate fit's.
    with caplog.at_level(logging.DEBUG, logger="walkforward.model_selection.staged"):
        staged = predict_rounds(spec, params, fold, [8, 25])
    assert "2 combination(s), 2 booster(s)" in caplog.text
    assert _max_diff(staged[8], eight) <= 1e-9
    assert _max_diff(staged[25], booster.predict(fold.X_test)) <= 1e-9


def test_predict_rounds_needs_a_round_count_and_validates_it() -> None:
    fold = _fold(classification=False, n_train=100)
    with pytest.raises(InvalidInputError, match="no round count"):
        predict_rounds(get_algorithm("elasticnet_regression"), {"alpha": 0.1}, fold, [1, 2])
    with pytest.raises(InvalidInputError, match="n_estimators"):
        predict_rounds(get_algorithm("xgboost_regressor"), {}, fold, [0, 5])
    # Repeated and unordered counts: one prediction per distinct count, in the order asked.
    preds = predict_rounds(get_algorithm("random_forest_regressor"), {"max_depth": 3}, fold, [7, 2, 7])
    assert list(preds) == [7, 2]
