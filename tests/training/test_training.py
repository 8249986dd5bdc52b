"""One training run end to end, on real stores and a real registry; leakage checks that can fail."""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
import pytest

from walkforward.domain import RAW_PRICE_COLUMNS
from walkforward.errors import InvalidInputError
from walkforward.features.store import FeatureStore
from walkforward.models import ALGORITHMS
from walkforward.registry import ArtifactIntegrityError, ModelStore
from walkforward.request import parse
from walkforward.search import SearchRequest, run_search
from walkforward.training import TrainRequest, predict, prepare, train

FAST = {  # fewer trees keep the suite quick; the defaults are exercised by the CLI and the benchmark
    "random_forest_regressor": {"n_estimators": 30},
    "random_forest_classifier": {"n_estimators": 30},
    "xgboost_regressor": {"n_estimators": 60},
    "xgboost_classifier": {"n_estimators": 60},
    "lightgbm_regressor": {"n_estimators": 60},
    "lightgbm_classifier": {"n_estimators": 60},
}


def _req(algo: str, **kw) -> TrainRequest:
    base = dict(
        symbol="AAPL,QQQ,VIX",
        algorithm=algo,
        timeframe="5m",
        target_transform="log_return",
        embargo=12,
        hyperparameters=FAST.get(algo, {}),
    )
    base.update(kw)
    return parse(TrainRequest, base)


def _is_raw_or_target(col: str) -> bool:
    return col in RAW_PRICE_COLUMNS or col.startswith(tuple(f"{p}_" for p in RAW_PRICE_COLUMNS)) or "target" in col


@pytest.mark.slow
@pytest.mark.parametrize("algo", list(ALGORITHMS))
def test_every_algorithm_trains_registers_and_predicts(
    algo: str, planted_store: FeatureStore, registry: ModelStore
) -> None:
    rec = train(_req(algo), store=planted_store, registry=registry)
    assert registry.get(rec.id) == rec
    details = rec.feature_details
    assert details is not None and set(details) == set(rec.features)
    for feature, entry in details.items():  # SHAP and permutation importance for every used feature
        assert entry["permutation_mean"] is not None and entry["shap_mean_abs"] is not None, feature
    assert rec.regime_importance and {"regime_vix", "regime_gmm"} <= set(rec.regime_importance)
    assert len(rec.folds["folds"]) == 3 and len(rec.metrics["folds"]) == 3
    cv = rec.metrics["cv"]
    if ALGORITHMS[algo].is_classifier:
        assert 0.0 <= cv["accuracy"] <= 1.0 and np.asarray(cv["confusion_matrix"]).sum() == cv["n"]
    else:
        assert {"r2", "mse", "mae", "rmse", "rmse_price", "hit_rate"} <= set(cv)
        assert math.isclose(cv["rmse"], np.mean([m["rmse"] for m in rec.metrics["folds"]]))
    assert rec.features and not any(_is_raw_or_target(c) for c in rec.features)
    assert not any(_is_raw_or_target(c) for c in rec.derived["input_features"])
    pred = predict(rec.id, store=planted_store, registry=registry)
    assert len(pred) > 0 and pred["prediction"].notna().all()
    assert pred["target"].isna().sum() == 1  # the latest bar is predicted though its outcome is unknown


def test_the_same_request_is_not_trained_twice(planted_store: FeatureStore, registry: ModelStore) -> None:
    first = train(_req("linear_regression", explain=False), store=planted_store, registry=registry)
    again = train(_req("linear_regression", explain=False), store=planted_store, registry=registry)
    assert again.id == first.id
    other = train(_req("linear_regression", lookforward=2, explain=False), store=planted_store, registry=registry)
    assert other.fingerprint != first.fingerprint


# The canary runs for every algorithm in CI; the inner loop keeps the linear ones (the trees are slow).
@pytest.mark.parametrize(
    "algo", [pytest.param(a, marks=pytest.mark.slow) if s.family == "tree" else a for a, s in ALGORITHMS.items()]
)
def test_a_random_walk_has_no_out_of_sample_skill(
    algo: str, random_walk_store: FeatureStore, registry: ModelStore
) -> None:
    rec = train(_req(algo, explain=False), store=random_walk_store, registry=registry)
    cv = rec.metrics["cv"]
    if ALGORITHMS[algo].is_classifier:
        n, p = cv["n"], cv["base_rate"]
        best_constant = max(p, 1 - p)
        assert cv["accuracy"] <= best_constant + 3 * math.sqrt(0.25 / n), cv
    else:
        assert cv["r2"] <= 0.01, cv


def test_a_planted_predictable_component_is_recovered(planted_store: FeatureStore, registry: ModelStore) -> None:
    rec = train(_req("elasticnet_regression", explain=False), store=planted_store, registry=registry)
    assert rec.metrics["cv"]["r2"] > 0.01
    assert all(m["r2"] > 0 for m in rec.metrics["folds"])
    assert rec.metrics["cv"]["hit_rate"] > 0.52
    pruning = rec.derived["pruning"]
    best = min(pruning, key=lambda c: pruning[c]["p_value"])
    assert best == "ret_5_QQQ", best  # the lead-lag comes from QQQ's return over the past 5 minutes


def _leaky_store(root, *, seed: int = 0) -> FeatureStore:
    """A primary whose feature `leak` equals the next return in test blocks only (noise in train blocks)."""
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2024-01-02", periods=24)
    ts = pd.DatetimeIndex(
        np.concatenate(
            [
                (d + pd.Timedelta(hours=9, minutes=30) + pd.to_timedelta(np.arange(78) * 5, "min")).to_numpy()
                for d in days
            ]
        )
    ).tz_localize("America/New_York")
    n = ts.size
    ret = rng.normal(0, 1e-3, n)
    close = 100 * np.exp(np.cumsum(ret))
    day = np.repeat(np.arange(24), 78)
    split = np.where(day % 8 < 6, "train", "test").astype(object)
    nxt = np.append(np.log(close[1:] / close[:-1]), 0.0)
    leak = np.where(split == "test", nxt, rng.normal(0, 1e-3, n))
    signal = 0.3 * nxt + rng.normal(0, 1e-3, n)  # weakly predictive everywhere, so pruning keeps something
    frame = pd.DataFrame(
        {
            "ts": ts,
            "close": close,
            "noise": rng.normal(size=n),
            "leak": leak,
            "signal": signal,
            "options": "v1",
            "data_split": split,
        }
    )
    store = FeatureStore(root)
    store.write_days(
        "LEAK",
        frame,
        options="v1",
        bar_seconds=300,
        bars_per_day=78,
        features={c: {"lookback": 1, "group": "standard"} for c in ("noise", "leak", "signal")},
        split_scheme="6:2",
        timezone="America/New_York",
    )
    return store


def test_a_feature_predictive_only_in_test_blocks_is_never_selected(tmp_path, registry: ModelStore) -> None:
    store = _leaky_store(tmp_path / "leak")
    req = TrainRequest(
        symbol="LEAK",
        algorithm="linear_regression",
        timeframe="5m",
        target_transform="log_return",
        embargo=1,
        explain=False,
    )
    data = prepare(req, store=store, registry=registry)
    # The reference's way (prune on the whole data set) would select it: the test can catch the bug.
    from sklearn.feature_selection import f_regression

    _, p_all = f_regression(data.X.fillna(0.0), data.y)
    assert p_all[list(data.features).index("leak")] < 1e-6
    rec = train(req, store=store, registry=registry)
    assert "leak" not in rec.features and "signal" in rec.features
    assert not rec.derived["pruning"]["leak"]["kept"]
    # had a fold's pruner selected it, that fold's test R2 would be near 1 (leak == the next return there)
    assert all(m["r2"] < 0.3 for m in rec.metrics["folds"]), rec.metrics["folds"]


@pytest.mark.slow
def test_parent_features_and_whitelist(planted_store: FeatureStore, registry: ModelStore) -> None:
    parent = train(
        _req("linear_regression", p_value_threshold=0.01, explain=False), store=planted_store, registry=registry
    )
    child = train(
        _req("elasticnet_regression", parent_model_id=parent.id, p_value_threshold=1.0),
        store=planted_store,
        registry=registry,
    )
    assert set(child.derived["input_features"]) == set(parent.features)
    assert child.derived["feature_source"] == "parent" and child.parent_model_id == parent.id
    chosen = ("ret_5_QQQ", "rsi_14")
    white = train(
        _req("elasticnet_regression", parent_model_id=parent.id, feature_whitelist=chosen, p_value_threshold=1.0),
        store=planted_store,
        registry=registry,
    )
    assert tuple(white.derived["input_features"]) == chosen and white.derived["feature_source"] == "whitelist"
    # Changed on purpose: an unknown parent is now refused by check_request before any data is
    # read, as an InvalidInputError naming the id (it was the registry's ModelNotFoundError).
    with pytest.raises(InvalidInputError, match="unknown parent_model_id nope"):
        train(_req("linear_regression", parent_model_id="nope", explain=False), store=planted_store, registry=registry)
    with pytest.raises(InvalidInputError, match="unknown feature\\(s\\) close_QQQ"):
        train(
            _req("linear_regression", feature_whitelist=("close_QQQ",), explain=False),
            store=planted_store,
            registry=registry,
        )


def test_a_lookforward_longer_than_the_data_is_refused(planted_store: FeatureStore, registry: ModelStore) -> None:
    """What only the data can tell (the field refusals are one table in tests/test_refusals.py)."""
    with pytest.raises(InvalidInputError, match="lookforward 10000 is not smaller than the"):
        train(_req("linear_regression", explain=False, lookforward=10_000), store=planted_store, registry=registry)
    assert registry.list()[1] == 0


def test_single_class_target_is_refused(tmp_path, registry: ModelStore) -> None:
    store = FeatureStore(tmp_path / "up")
    ts = pd.date_range("2024-01-02 09:30", periods=400, freq="5min", tz="America/New_York")
    frame = pd.DataFrame(
        {
            "ts": ts,
            "close": np.linspace(10, 20, 400),
            "f": np.random.default_rng(0).normal(size=400),
            "options": "v1",
            "data_split": "train",
        }
    )
    store.write_days(
        "UP",
        frame,
        options="v1",
        bar_seconds=300,
        bars_per_day=78,
        features={"f": {"lookback": 1, "group": "standard"}},
        split_scheme=None,
        timezone="America/New_York",
    )
    with pytest.raises(InvalidInputError, match="single class on the training rows \\(every label is 1\\)"):
        train(
            TrainRequest(
                symbol="UP", algorithm="logistic_classification", timeframe="5m", target_transform="log_return"
            ),
            store=store,
            registry=registry,
        )


def test_all_nan_and_constant_columns_are_dropped_with_a_warning(tmp_path, registry: ModelStore, caplog) -> None:
    store = FeatureStore(tmp_path / "const")
    rng = np.random.default_rng(1)
    ts = pd.date_range("2024-01-02 09:30", periods=600, freq="5min", tz="America/New_York")
    frame = pd.DataFrame(
        {
            "ts": ts,
            "close": 100 * np.exp(np.cumsum(rng.normal(0, 1e-3, 600))),
            "good": rng.normal(size=600),
            "flat": 1.0,
            "empty": np.nan,
            "options": "v1",
            "data_split": "train",
        }
    )
    feats = {c: {"lookback": 1, "group": "standard"} for c in ("good", "flat", "empty")}
    store.write_days(
        "CST",
        frame,
        options="v1",
        bar_seconds=300,
        bars_per_day=78,
        features=feats,
        split_scheme=None,
        timezone="America/New_York",
    )
    with caplog.at_level(logging.WARNING):
        rec = train(
            TrainRequest(
                symbol="CST",
                algorithm="linear_regression",
                timeframe="5m",
                target_transform="log_return",
                p_value_threshold=1.0,
            ),
            store=store,
            registry=registry,
        )
    assert "dropping 2 all-NaN or constant feature(s): empty, flat" in caplog.text
    assert rec.features == ("good",) and rec.derived["dropped_features"] == ["empty", "flat"]
    assert rec.folds["scheme"] == "holdout"


def test_a_tampered_artifact_is_refused(planted_store: FeatureStore, registry: ModelStore) -> None:
    rec = train(_req("linear_regression", explain=False), store=planted_store, registry=registry)
    path = rec.artifact_path
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(path, "wb").write(bytes(data))
    with pytest.raises(ArtifactIntegrityError):
        predict(rec.id, store=planted_store, registry=registry)


def test_a_single_run_applies_the_fallback_and_a_search_reuses_that_model(
    planted_store: FeatureStore, registry: ModelStore
) -> None:
    # New behaviour: the fallback rule (an elastic net that zeroes every coefficient is replaced by
    # LinearRegression) now applies to a single `train` run too, not only to searches.
    heavy = {"alpha": 10.0, "l1_ratio": 0.5}  # on a log-return target this alpha zeroes every coefficient
    single = train(
        _req("elasticnet_regression", hyperparameters=heavy, explain=False), store=planted_store, registry=registry
    )
    assert single.derived["fallback"] == {
        "requested": "elasticnet_regression",
        "fitted": "linear_regression",
        "reason": "elastic net zeroed every coefficient",
    }
    assert single.derived["fitted_estimator"] == "LinearRegression"
    assert type(registry.load_artifact(single)["pipeline"][-1]).__name__ == "LinearRegression"
    assert single.algorithm == "elasticnet_regression" and single.hyperparameters["alpha"] == 10.0  # what was asked
    assert single.fingerprint_version == 2 and single.cohort_id is None

    base = _req("elasticnet_regression", explain=False).inputs()
    for alphas, trained in (([10.0], 0), ([0.0001, 10.0], 1)):
        sreq = parse(
            SearchRequest,
            {**base, "hyperparameters": {}, "search": "grid", "grids": {"alpha_grid": alphas, "l1_ratio_grid": [0.5]}},
        )
        result = run_search(sreq, store=planted_store, registry=registry)
        assert (result.grid_size, result.existing, result.trained) == (len(alphas), 1, trained)
        assert result.best is not None, result.notes
        listed = [registry.get(r.id) for r in registry.list()[0]]  # list rows are brief: full records
        heavy_fp = {r.fingerprint for r in listed if r.hyperparameters.get("alpha") == 10.0}
        assert heavy_fp == {single.fingerprint}  # the search found that very model: nothing refitted
    assert registry.list()[1] == 2  # the single run's model and the search's alpha=0.0001 model
