"""Grid evaluators on a cached fold give the same predictions as fitting each combination on its own."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from walkforward.errors import InvalidInputError
from walkforward.model_selection.evaluators import PreparedFold, predict_grid, prepare_fold
from walkforward.models.catalog import ALGORITHMS, get_algorithm
from walkforward.preprocessing.pipeline import build_pipeline


def _fold(n_train: int = 2000, n_features: int = 30, *, classification: bool = False, seed: int = 0) -> PreparedFold:
    """Standardised features with a weak linear signal (about 5% of the variance)."""
    rng = np.random.default_rng(seed)
    n = n_train + 400
    X = rng.standard_normal((n, n_features))  # noqa: N806
    beta = rng.standard_normal(n_features) * 0.25 / np.sqrt(n_features)
    y = X @ beta + rng.standard_normal(n) + 0.3
    if classification:
        y = (y > 0.3).astype(np.int64)
    tr, te = slice(0, n_train), slice(n_train, n)
    return PreparedFold(1, np.ascontiguousarray(X[tr]), y[tr], np.ascontiguousarray(X[te]), y[te])


def _one_by_one(name: str, combos: Sequence[Mapping[str, Any]], fold: PreparedFold) -> list[np.ndarray]:
    spec = get_algorithm(name)
    out = []
    for combo in combos:
        est = spec.build(combo).fit(fold.X_train, fold.y_train)
        out.append(est.predict_proba(fold.X_test)[:, 1] if spec.is_classifier else est.predict(fold.X_test))
    return out


def _assert_same(got: list[np.ndarray], want: list[np.ndarray], atol: float) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=0, atol=atol)


@pytest.mark.parametrize(
    ("n_train", "n_features", "alphas", "max_iter"),
    [
        (2000, 30, (0.001, 0.01, 0.05, 10.0), 5000),  # more rows than columns: Gram solver
        (60, 100, (0.05, 0.1, 0.5, 10.0), 200_000),  # fewer rows than columns: plain coordinate descent
    ],
)
def test_elasticnet_path_equals_per_combo_fits(
    n_train: int, n_features: int, alphas: tuple[float, ...], max_iter: int
) -> None:
    fold = _fold(n_train, n_features)
    # Warm starts and the Gram solver stop at a different point than a cold, plain fit: a tight
    # tolerance in both makes the comparison about the optimum, not about the stopping rule.
    combos = [{"alpha": a, "l1_ratio": r, "tol": 1e-12, "max_iter": max_iter} for r in (0.1, 0.5, 0.9) for a in alphas]
    got = predict_grid(get_algorithm("elasticnet_regression"), combos, fold)
    _assert_same(got, _one_by_one("elasticnet_regression", combos, fold), atol=1e-8 * fold.y_train.std())
    for combo, pred in zip(combos, got, strict=True):
        if combo["alpha"] == 10.0:  # every coefficient is zero: the prediction is the training mean
            np.testing.assert_allclose(pred, fold.y_train.mean(), rtol=0, atol=1e-12)


def test_elasticnet_default_tolerance_agrees_to_solver_precision() -> None:
    fold = _fold()
    combos = [{"alpha": a, "l1_ratio": r} for r in (0.5, 0.99) for a in (0.0001, 0.005, 0.05)]
    got = predict_grid(get_algorithm("elasticnet_regression"), combos, fold)
    _assert_same(got, _one_by_one("elasticnet_regression", combos, fold), atol=1e-4 * fold.y_train.std())


def test_elasticnet_groups_by_every_non_alpha_parameter() -> None:
    fold = _fold()
    combos = [
        {"alpha": 0.01, "l1_ratio": 0.5, "tol": 1e-12},
        {"alpha": 0.01, "l1_ratio": 0.5, "tol": 1e-12, "fit_intercept": False},
        {"alpha": 0.001, "l1_ratio": 0.5, "tol": 1e-12, "positive": True},
        {"alpha": 0.01, "l1_ratio": 0.5, "tol": 1e-12},  # a duplicate keeps its place
    ]
    got = predict_grid(get_algorithm("elasticnet_regression"), combos, fold)
    _assert_same(got, _one_by_one("elasticnet_regression", combos, fold), atol=1e-8)


_TREE_GRIDS: dict[str, list[dict[str, Any]]] = {
    "lightgbm_regressor": [
        {"num_leaves": nl, "learning_rate": lr, "n_estimators": 40} for nl in (7, 31) for lr in (0.05, 0.2)
    ],
    "xgboost_regressor": [
        {"max_depth": d, "learning_rate": lr, "n_estimators": 40} for d in (2, 5) for lr in (0.05, 0.2)
    ],
}
_TREE_GRIDS["lightgbm_classifier"] = _TREE_GRIDS["lightgbm_regressor"]
_TREE_GRIDS["xgboost_classifier"] = _TREE_GRIDS["xgboost_regressor"]


@pytest.mark.parametrize("name", sorted(_TREE_GRIDS))
def test_boosters_on_shared_binned_data_equal_the_sklearn_wrappers(name: str) -> None:
    spec = get_algorithm(name)
    fold = _fold(classification=spec.is_classifier)
    combos = _TREE_GRIDS[name]
    got = predict_grid(spec, combos, fold)
    # Same bins, same seed, one thread: the boosters are bit for bit the wrappers' ones.
    _assert_same(got, _one_by_one(name, combos, fold), atol=1e-12)
    if spec.is_classifier:
        assert all(((p > 0) & (p < 1)).all() for p in got)


def test_lightgbm_feature_sampling_sees_the_wrappers_feature_set() -> None:
    fold = _fold(n_features=12)
    X = fold.X_train.copy()  # noqa: N806
    X[:, 3] = 0.0
    X[:5, 3] = 1.0  # unsplittable with min_child_samples >= 5: LGBMRegressor's Dataset drops it
    fold = PreparedFold(1, X, fold.y_train, fold.X_test, fold.y_test)
    combos = [
        {"n_estimators": 30, "colsample_bytree": cs, "min_child_samples": m} for cs in (0.5, 1.0) for m in (3, 40)
    ]
    got = predict_grid(get_algorithm("lightgbm_regressor"), combos, fold)
    _assert_same(got, _one_by_one("lightgbm_regressor", combos, fold), atol=1e-12)


def test_xgboost_max_bin_gets_its_own_matrix() -> None:
    fold = _fold()
    combos = [{"n_estimators": 30, "max_bin": b} for b in (16, 256, 16)]
    got = predict_grid(get_algorithm("xgboost_regressor"), combos, fold)
    _assert_same(got, _one_by_one("xgboost_regressor", combos, fold), atol=1e-12)
    assert not np.array_equal(got[0], got[1])


@pytest.mark.parametrize(
    ("name", "combos"),
    [
        ("linear_regression", [{"fit_intercept": f} for f in (True, False)]),
        ("logistic_classification", [{"C": c} for c in (0.01, 1.0)]),
    ],
)
def test_generic_fallback_equals_direct_fits(name: str, combos: list[dict[str, Any]]) -> None:
    spec = get_algorithm(name)
    assert spec.evaluator is None  # no fast path: each combination is fitted on its own
    fold = _fold(classification=spec.is_classifier)
    _assert_same(predict_grid(spec, combos, fold), _one_by_one(name, combos, fold), atol=0.0)


def test_unknown_hyperparameter_is_refused() -> None:
    for name in ("elasticnet_regression", "lightgbm_regressor", "xgboost_classifier"):
        with pytest.raises(InvalidInputError, match="unknown hyperparameter"):
            predict_grid(get_algorithm(name), [{"no_such_knob": 1}], _fold(200, 5))


def test_the_specialised_evaluators_sit_on_the_algorithms_they_were_written_for() -> None:
    # The evaluator is now a field of the algorithm's spec (no name-keyed table that could name an
    # unknown algorithm); what is left to check is that each fast path is attached where it belongs.
    fast = {name: spec.evaluator for name, spec in ALGORITHMS.items() if spec.evaluator is not None}
    assert set(fast) == {
        "elasticnet_regression",
        "lightgbm_regressor",
        "lightgbm_classifier",
        "xgboost_regressor",
        "xgboost_classifier",
        "random_forest_regressor",
        "random_forest_classifier",
    }
    assert fast["lightgbm_regressor"] is fast["lightgbm_classifier"]
    assert fast["xgboost_regressor"] is fast["xgboost_classifier"]
    assert fast["random_forest_regressor"] is fast["random_forest_classifier"]
    assert len({id(f) for f in fast.values()}) == 4
    # The models whose first k rounds are a k-round model name their round count.
    staged = {name for name, spec in ALGORITHMS.items() if spec.rounds_param is not None}
    assert staged == set(fast) - {"elasticnet_regression"}
    assert {ALGORITHMS[name].rounds_param for name in staged} == {"n_estimators"}


def test_prepare_fold_fits_preprocessing_on_training_rows_only() -> None:
    rng = np.random.default_rng(3)
    X = pd.DataFrame(
        rng.standard_normal((300, 4)) + np.r_[np.zeros(200), np.full(100, 10.0)][:, None], columns=list("abcd")
    )  # noqa: N806
    y = rng.standard_normal(300)
    train, test = np.arange(200), np.arange(200, 300)
    template = Pipeline([("scale", StandardScaler())])
    fold = prepare_fold(template, X, y, train, test, number=4)
    raw_train, raw_test = X.to_numpy()[train], X.to_numpy()[test]
    mean, std = raw_train.mean(axis=0), raw_train.std(axis=0)
    np.testing.assert_allclose(fold.X_train, (raw_train - mean) / std, atol=1e-12)
    np.testing.assert_allclose(fold.X_test, (raw_test - mean) / std, atol=1e-12)  # test rows sit near +10 sd
    assert fold.X_test.mean() > 5
    assert fold.number == 4 and fold.y_train.dtype == np.float64 and np.array_equal(fold.y_test, y[test])
    assert not hasattr(template.named_steps["scale"], "mean_")  # the template itself is left unfitted


def test_prepare_fold_with_the_project_preprocessing_gives_float_c_arrays() -> None:
    rng = np.random.default_rng(4)
    n = 400
    X = pd.DataFrame(  # noqa: N806
        {
            "ret_1": rng.standard_normal(n),
            "rsi_14": rng.uniform(0, 100, n),
            "volume": rng.lognormal(10, 1, n),
            "regime_trend": rng.integers(0, 3, n).astype(float),
        }
    )
    X.iloc[::17, 0] = np.nan
    y = (rng.standard_normal(n) > 0).astype(np.int64)
    preprocess = build_pipeline(LinearRegression(), linear=True, p_value_threshold=None)[:-1]
    fold = prepare_fold(preprocess, X, y, np.arange(300), np.arange(300, n), number=0)
    for m in (fold.X_train, fold.X_test):
        assert m.dtype == np.float64 and m.flags.c_contiguous and np.isfinite(m).all()
    assert fold.X_train.shape == (300, 6) and fold.X_test.shape == (100, 6)  # 3 regimes one-hot
    assert fold.y_train.dtype == np.int64
    # Same matrix the full pipeline's model step is fitted on.
    full = build_pipeline(LinearRegression(), linear=True, p_value_threshold=None).fit(X.iloc[:300], y[:300])
    np.testing.assert_allclose(full[:-1].transform(X.iloc[300:]).to_numpy(dtype=float), fold.X_test, atol=1e-12)
