"""Early stopping in a single run and in a search: folds scored at their best round, the final fit at the median."""

from __future__ import annotations

import numpy as np
import pandas as pd

from walkforward.features.store import FeatureStore
from walkforward.model_selection.early_stopping import final_rounds, inner_split
from walkforward.model_selection.executors import LocalExecutor
from walkforward.models import get_algorithm
from walkforward.preprocessing import build_pipeline
from walkforward.registry import ModelStore
from walkforward.search import SearchRequest, run_search
from walkforward.training import TrainRequest, fit, prepare, train
from walkforward.training.run import walkforward_artifact

BASE = dict(symbol="AAPL,QQQ,VIX", timeframe="5m", target_transform="log_return", embargo=12, explain=False)
PARAMS = {"n_estimators": 300, "learning_rate": 0.1, "num_leaves": 7}


def _lgbm(**kw) -> TrainRequest:
    return TrainRequest(**{"algorithm": "lightgbm_regressor", "hyperparameters": PARAMS, **BASE, **kw})


def test_a_single_run_scores_each_fold_at_its_best_round_and_fits_the_median(
    planted_store: FeatureStore, registry: ModelStore
) -> None:
    req = _lgbm(early_stopping_rounds=10)
    rec = train(req, store=planted_store, registry=registry)
    stopped = [m["best_iteration"] for m in rec.metrics["folds"]]
    assert len(stopped) == 3 and all(1 <= k < 300 for k in stopped)
    es = rec.derived["early_stopping"]
    assert es["fold_rounds"] == stopped and es["final_rounds"] == final_rounds(stopped)
    assert es["summary"].startswith(f"early stopping: folds stopped at {stopped[0]}, ")
    assert rec.hyperparameters["n_estimators"] == 300  # what was asked: the upper bound
    assert rec.request["early_stopping_rounds"] == 10

    data = prepare(req, store=planted_store)
    spec = get_algorithm("lightgbm_regressor")
    # The final model: no eval set, every final training row, n_estimators = the median.
    pipe = walkforward_artifact(registry, rec)["pipeline"]
    assert pipe[-1].n_estimators == es["final_rounds"]
    rows = data.plan.final_train_index
    by_hand = build_pipeline(
        spec.factory(**{**spec.params(PARAMS), "n_estimators": es["final_rounds"]}),
        linear=False,
        p_value_threshold=0.05,
    ).fit(data.X.iloc[rows], data.y[rows])
    assert np.array_equal(pipe.predict(data.X.iloc[:200]), by_hand.predict(data.X.iloc[:200]))

    # Fold 1 by hand: preprocessing fitted on the fold's training rows, the booster on the purged
    # inner-train rows at the fold's best round, scored on the test block.
    fold = data.plan.folds[0]
    split = inner_split(fold.train_index, lookforward=req.lookforward, rounds=10)
    pre = build_pipeline(spec.build(PARAMS), linear=False, p_value_threshold=0.05)[:-1]
    X_tr = pre.fit_transform(data.X.iloc[fold.train_index], data.y[fold.train_index])  # noqa: N806
    booster = spec.build({**PARAMS, "n_estimators": stopped[0]})
    booster.fit(np.asarray(X_tr)[split.train], data.y[fold.train_index][split.train])
    pred = booster.predict(np.asarray(pre.transform(data.X.iloc[fold.test_index])))
    y_test = data.y[fold.test_index]
    r2 = 1 - np.sum((y_test - pred) ** 2) / np.sum((y_test - y_test.mean()) ** 2)
    assert abs(rec.metrics["folds"][0]["r2"] - r2) < 1e-9


def test_early_stopping_makes_a_different_model_and_off_changes_nothing(
    planted_store: FeatureStore, registry: ModelStore
) -> None:
    off = train(_lgbm(), store=planted_store, registry=registry)
    on = train(_lgbm(early_stopping_rounds=10), store=planted_store, registry=registry)
    assert on.id != off.id and on.fingerprint != off.fingerprint
    assert "early_stopping" not in off.derived and "early_stopping_rounds" not in off.request
    assert all("best_iteration" not in m for m in off.metrics["folds"])
    # off: each fold is scored by a whole pipeline fitted on its training rows at n_estimators, as before
    from sklearn.model_selection import cross_validate

    data = prepare(_lgbm(), store=planted_store)
    spec = get_algorithm("lightgbm_regressor")
    pipe = build_pipeline(spec.build(PARAMS), linear=False, p_value_threshold=0.05)
    expected = cross_validate(pipe, data.X, data.y, cv=data.plan, scoring="r2")["test_score"]
    assert np.allclose([m["r2"] for m in off.metrics["folds"]], expected, rtol=0, atol=1e-12)


def test_a_search_with_early_stopping_saves_models_fitted_at_the_median(
    planted_store: FeatureStore, registry: ModelStore
) -> None:
    sreq = SearchRequest(
        algorithm="lightgbm_regressor",
        search="grid",
        use_default_grid=False,
        grids={"lgbm_learning_rate_grid": [0.05, 0.3]},
        hyperparameters={"n_estimators": 300, "num_leaves": 7},
        early_stopping_rounds=10,
        save_all_grid_models=True,
        **BASE,
    )
    result = run_search(sreq, store=planted_store, registry=registry, executor=LocalExecutor(n_jobs=1))
    assert (result.grid_size, result.trained, len(result.saved)) == (2, 2, 2)
    by_rate = {r.hyperparameters["learning_rate"]: r for r in result.saved}
    data = prepare(sreq.training(), store=planted_store)
    for rate, rec in by_rate.items():
        stopped = [m["best_iteration"] for m in rec.metrics["folds"]]
        assert all(1 <= k < 300 for k in stopped)
        assert rec.derived["early_stopping"]["final_rounds"] == final_rounds(stopped)
        assert walkforward_artifact(registry, rec)["pipeline"][-1].n_estimators == final_rounds(stopped)
        # the search's cached folds and a single run agree: same folds, same stopped rounds, same scores
        single = _lgbm(early_stopping_rounds=10, hyperparameters={"n_estimators": 300, "num_leaves": 7,
                                                                  "learning_rate": rate})  # fmt: skip
        alone = fit(single, data)
        assert [m["best_iteration"] for m in alone.metrics["folds"]] == stopped
        assert np.allclose(
            pd.DataFrame(alone.metrics["folds"])["r2"], pd.DataFrame(rec.metrics["folds"])["r2"], rtol=0, atol=1e-9
        )
    # a low learning rate needs more rounds before the inner slice stops improving
    assert sum(by_rate[0.05].derived["early_stopping"]["fold_rounds"]) > sum(
        by_rate[0.3].derived["early_stopping"]["fold_rounds"]
    )
