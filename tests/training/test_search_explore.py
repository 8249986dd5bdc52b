"""A search records each saved model's trial position, which the cohort's explore view orders its history by."""

from __future__ import annotations

import itertools

from walkforward.evaluation.explore import explore
from walkforward.features.store import FeatureStore
from walkforward.model_selection.executors import LocalExecutor
from walkforward.registry import ModelStore
from walkforward.request import SearchRequest
from walkforward.search import run_search

BASE = dict(symbol="AAPL,QQQ,VIX", timeframe="5m", target_transform="log_return", embargo=12, explain=False)
GRIDS = {"alpha_grid": [0.0001, 0.001, 0.01], "l1_ratio_grid": [0.1, 0.9]}


def test_an_optuna_cohort_is_explored_in_trial_order(planted_store: FeatureStore, registry: ModelStore) -> None:
    sreq = SearchRequest(
        algorithm="elasticnet_regression",
        search="optuna",
        grids=GRIDS,
        use_default_grid=False,
        n_trials=5,
        save_all_grid_models=True,
        **BASE,
    )
    result = run_search(sreq, store=planted_store, registry=registry, executor=LocalExecutor(n_jobs=1))
    rows = registry.cohort(result.cohort_id)
    assert len(rows) == 5
    positions = sorted(r.derived["search"]["trial"] for r in rows)
    assert positions == list(range(5))  # each saved model's place in the order the search scored them

    view = explore(result.cohort_id, rows)
    assert view["strategy"] == "optuna" and view["history"]["order"] == "trial"
    by_id = {r.id: r for r in rows}
    points = view["history"]["points"]
    assert [by_id[p["model_id"]].derived["search"]["trial"] for p in points] == list(range(5))
    assert [p["best"] for p in points] == list(itertools.accumulate((p["score"] for p in points), max))
    assert {a["name"] for a in view["axes"]} <= {"alpha", "l1_ratio"}
    importance = view["importance"]
    assert bool(importance["items"]) != bool(importance["note"])  # numbers, or why there are none
