"""Early stopping without leakage: the inner slice, the booster routes, the final fit, and off by default."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from walkforward.errors import InvalidInputError
from walkforward.model_selection.early_stopping import (
    INNER_FRACTION,
    final_rounds,
    inner_split,
    inner_split_violations,
    stopping_summary,
)
from walkforward.model_selection.evaluators import PreparedFold, predict_grid, predict_grid_stopped
from walkforward.model_selection.splitters import boundary_masks, make_folds, walk_forward_folds
from walkforward.model_selection.stopped import lgbm_eval_set
from walkforward.models.catalog import early_stopping_algorithms, get_algorithm
from walkforward.request import SearchRequest, TrainRequest, parse
from walkforward.training.data import PreparedData, model_fingerprint

BOOSTERS = ["lightgbm_regressor", "xgboost_regressor", "lightgbm_classifier", "xgboost_classifier"]

# --- the inner slice: invariants on generated folds -----------------------------------------------------


@st.composite
def _labels(draw: st.DrawFn) -> np.ndarray:
    """Alternating train/test blocks of random lengths (the store's data_split)."""
    blocks = draw(st.lists(st.tuples(st.integers(8, 120), st.integers(1, 40)), min_size=1, max_size=4))
    out: list[str] = []
    for n_train, n_test in blocks:
        out += ["train"] * n_train + ["test"] * n_test
    return np.array(out, dtype=object)


@settings(max_examples=150, deadline=None)
@given(
    labels=_labels(),
    lookforward=st.integers(1, 12),
    embargo=st.integers(0, 6),
    expanding=st.booleans(),
    rounds=st.integers(1, 50),
)
def test_inner_slice_is_before_the_test_block_and_purged(
    labels: np.ndarray, lookforward: int, embargo: int, expanding: bool, rounds: int
) -> None:
    for fold in walk_forward_folds(labels, None, lookforward=lookforward, embargo=embargo, expanding=expanding):
        train, test = fold.train_index, fold.test_index
        try:
            split = inner_split(train, lookforward=lookforward, rounds=rounds, fold=fold.number)
        except InvalidInputError as exc:  # a fold too short for a slice is refused, never left unpurged
            assert "too few" in str(exc)
            continue
        fit_rows, valid_rows = train[split.train], train[split.valid]
        assert inner_split_violations(train, test, fit_rows, valid_rows, lookforward=lookforward) == []
        # the slice is the last 10% of the fold's training rows (at least one row), in time order
        assert valid_rows.tolist() == train[-max(1, math.ceil(train.size * INNER_FRACTION)) :].tolist()
        # purged exactly as a train/test boundary is: boundary_masks with the slice as the test block
        is_slice = np.zeros(test.max() + 1, dtype=bool)
        is_slice[valid_rows] = True
        purged, _ = boundary_masks(is_slice, lookforward=lookforward, embargo=0)
        head = train[: train.size - valid_rows.size]
        assert fit_rows.tolist() == head[~purged[head]].tolist()
        assert split.purged == int(purged[head].sum())
        # a planted leak: the booster's eval set is the test block (or reaches into it)
        assert inner_split_violations(train, test, fit_rows, test, lookforward=lookforward)
        leak = np.append(valid_rows, test[0])
        assert "the inner slice reaches the test block" in inner_split_violations(
            train, test, fit_rows, leak, lookforward=lookforward
        )


def test_an_unpurged_inner_boundary_is_caught() -> None:
    train, test = np.arange(100), np.arange(110, 130)
    valid = np.arange(90, 100)
    assert inner_split_violations(train, test, np.arange(0, 87), valid, lookforward=3) == []
    found = inner_split_violations(train, test, np.arange(0, 88), valid, lookforward=3)  # row 87 sees row 90
    assert found == ["a fitted row's target window (3 bars) reaches into the inner slice"]
    assert "the booster fits on rows of the inner slice" in inner_split_violations(
        train, test, np.arange(0, 95), valid, lookforward=3
    )


def test_a_fold_too_short_for_a_slice_is_refused_in_one_line() -> None:
    with pytest.raises(InvalidInputError, match="fold 2 has 4 training rows: too few") as exc:
        inner_split(np.arange(4), lookforward=5, rounds=10, fold=2)
    assert "\n" not in str(exc.value)


def test_final_rounds_is_the_rounded_median() -> None:
    assert final_rounds([87, 112, 95]) == 95
    assert final_rounds([10, 13]) == 12  # 11.5 rounds half up
    summary = stopping_summary(20, [{"best_iteration": 87}, {"best_iteration": 112}, {"best_iteration": 95}])
    assert summary is not None
    assert summary["summary"] == "early stopping: folds stopped at 87, 112, 95 rounds; final fit 95 rounds"
    assert stopping_summary(None, [{"best_iteration": 3}]) is None


# --- the booster routes: predictions equal separate fits ------------------------------------------------


def _fold(name: str, *, rounds: int = 8, n_train: int = 700, seed: int = 2) -> PreparedFold:
    """A noisy non-linear signal, so that the slice's loss turns up after some rounds."""
    rng = np.random.default_rng(seed)
    n = n_train + 250
    X = rng.standard_normal((n, 8))  # noqa: N806
    y = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2] + 1.0 * rng.standard_normal(n)
    if get_algorithm(name).is_classifier:
        y = (y > 0).astype(np.int64)
    split = inner_split(np.arange(n_train), lookforward=4, rounds=rounds)
    return PreparedFold(1, X[:n_train].copy(), y[:n_train], X[n_train:].copy(), y[n_train:], split)


def _predict(name: str, est: Any, X: np.ndarray) -> np.ndarray:  # noqa: N803
    if get_algorithm(name).is_classifier:
        return np.asarray(est.predict_proba(X)[:, list(est.classes_).index(1)])
    return np.asarray(est.predict(X))


def _inner_blocks(fold: PreparedFold) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    assert fold.inner is not None
    t, v = fold.inner.train, fold.inner.valid
    return fold.X_train[t], fold.y_train[t], fold.X_train[v], fold.y_train[v]


def _separate_stopped_fit(name: str, params: Mapping[str, Any], fold: PreparedFold) -> np.ndarray:
    """The library's own early stopping through the scikit-learn wrapper, with the slice as eval set."""
    assert fold.inner is not None
    X_fit, y_fit, X_val, y_val = _inner_blocks(fold)  # noqa: N806
    spec = get_algorithm(name)
    if name.startswith("lightgbm"):
        import lightgbm as lgb

        est = spec.build(params)
        stop = [lgb.early_stopping(fold.inner.rounds, False)]
        est.fit(X_fit, y_fit, callbacks=stop, **lgbm_eval_set(est, X_val, y_val))
    else:
        metric = "logloss" if spec.is_classifier else "rmse"
        est = spec.factory(**spec.params(params), early_stopping_rounds=fold.inner.rounds, eval_metric=metric)
        est.fit(X_fit, y_fit, eval_set=[(X_val, y_val)], verbose=False)
    return _predict(name, est, fold.X_test)


@pytest.mark.parametrize("name", BOOSTERS)
def test_stopped_predictions_equal_a_fit_at_the_best_iteration(name: str) -> None:
    spec = get_algorithm(name)
    fold = _fold(name)
    base = {"learning_rate": 0.3, "subsample": 0.8, "colsample_bytree": 0.8}
    if name.startswith("lightgbm"):
        base["subsample_freq"] = 1
    counts = (3, 12, 60, 300)
    got = predict_grid_stopped(spec, [{**base, "n_estimators": k} for k in counts], fold)
    X_fit, y_fit, _, _ = _inner_blocks(fold)  # noqa: N806
    for k, (values, best) in zip(counts, got, strict=True):
        assert best is not None and 1 <= best <= k
        # a booster of `best` rounds on the inner-train rows, fitted without any eval set
        plain = spec.build({**base, "n_estimators": best}).fit(X_fit, y_fit)
        assert np.max(np.abs(values - _predict(name, plain, fold.X_test))) <= 1e-9, (k, best)
        # and what the library's own early stopping gives for n_estimators=k (n_estimators is an upper bound)
        library = _separate_stopped_fit(name, {**base, "n_estimators": k}, fold)
        assert np.max(np.abs(values - library)) <= 1e-9, (k, best)
    stopped = [best for _, best in got]
    assert stopped[-1] < 300, "the slice's loss must stop the longest booster early in this test"
    assert stopped == sorted(stopped)  # a longer budget only ever finds a later best round (or the same)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("lightgbm_classifier", {"class_weight": "balanced", "n_estimators": 200, "learning_rate": 0.3}),
        ("xgboost_regressor", {"tree_method": "approx", "n_estimators": 200, "learning_rate": 0.3}),
    ],
)
def test_combinations_off_the_binned_route_stop_too(name: str, params: dict[str, Any]) -> None:
    fold = _fold(name)
    ((values, best),) = predict_grid_stopped(get_algorithm(name), [params], fold)
    assert best is not None and best < 200
    X_fit, y_fit, _, _ = _inner_blocks(fold)  # noqa: N806
    plain = get_algorithm(name).build({**params, "n_estimators": best}).fit(X_fit, y_fit)
    assert np.max(np.abs(values - _predict(name, plain, fold.X_test))) <= 1e-9


def test_without_a_split_nothing_changes() -> None:
    fold = _fold("lightgbm_regressor")
    plain = PreparedFold(fold.number, fold.X_train, fold.y_train, fold.X_test, fold.y_test)
    spec = get_algorithm("lightgbm_regressor")
    combos = [{"n_estimators": 40}, {"n_estimators": 90}]
    got = predict_grid_stopped(spec, combos, plain)
    assert [r for _, r in got] == [None, None]
    for (values, _), ref in zip(got, predict_grid(spec, combos, plain), strict=True):
        assert np.array_equal(values, ref)
    # a non-booster cannot be handed a fold with a split
    with pytest.raises(InvalidInputError, match="no boosting rounds to stop early"):
        predict_grid_stopped(get_algorithm("random_forest_regressor"), [{}], fold)


# --- the request: refusals, fingerprint ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["elasticnet_regression", "random_forest_classifier", "logistic_classification"])
def test_a_non_booster_with_early_stopping_is_refused_in_one_line(name: str) -> None:
    with pytest.raises(InvalidInputError) as exc:
        parse(SearchRequest, {"symbol": "AAPL", "algorithm": name, "early_stopping_rounds": 20})
    msg = str(exc.value)
    assert "\n" not in msg
    assert msg.startswith("early_stopping_rounds is for boosters only") and f"not {name}" in msg
    assert all(b in msg for b in early_stopping_algorithms())
    assert set(early_stopping_algorithms()) == set(BOOSTERS)


def test_early_stopping_as_a_hyperparameter_points_to_the_field() -> None:
    with pytest.raises(InvalidInputError, match="pass it as the early_stopping_rounds field"):
        parse(TrainRequest, {"symbol": "AAPL", "algorithm": "xgboost_regressor",
                             "hyperparameters": {"early_stopping_rounds": 5}})  # fmt: skip


def _data(labels: np.ndarray) -> PreparedData:
    """The parts of prepared data a fingerprint reads (folds, features, data hash); no rows are loaded."""
    plan = make_folds(labels, None, lookforward=3, embargo=5)
    return PreparedData(
        dataset=None,  # type: ignore[arg-type]
        features=("rsi_14", "ret_1"),
        feature_source="all",
        dropped_features=(),
        y=np.zeros(labels.size),
        plan=plan,
        data_hash="0" * 64,
    )


def test_fingerprints_without_early_stopping_are_unchanged() -> None:
    labels = np.array((["train"] * 60 + ["test"] * 20) * 3, dtype=object)
    data = _data(labels)
    kw = dict(symbol="AAPL,QQQ", algorithm="lightgbm_regressor", timeframe="5m", target_transform="log_return",
              lookforward=3, embargo=5, hyperparameters={"num_leaves": 7})  # fmt: skip
    off = TrainRequest(**kw)
    # computed with the code before early stopping existed: registered models keep their fingerprints
    golden = "96c53a18429b4209ddbf24b14151c8c1a6717abb41ce41e4d4baaa66fd19e97b"
    assert model_fingerprint(off, data, off.spec.params(off.hyperparameters)) == golden
    assert "early_stopping_rounds" not in off.inputs()
    on = [TrainRequest(**kw, early_stopping_rounds=r) for r in (10, 20)]
    fps = {model_fingerprint(r, data, r.spec.params(r.hyperparameters)) for r in on}
    assert len(fps) == 2 and golden not in fps
    assert on[0].inputs()["early_stopping_rounds"] == 10
