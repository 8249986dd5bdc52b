"""A search records each saved model's trial position, which the cohort's explore view orders its history by."""

from __future__ import annotations

import itertools

import pytest

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


def test_a_best_only_search_is_explored_over_every_configuration_it_scored(
    planted_store: FeatureStore, registry: ModelStore
) -> None:
    """One model registered, six scored: the trials table says what the other five were and when."""
    from walkforward.queries import cohort_explore
    from walkforward.registry import TrialStore

    sreq = SearchRequest(algorithm="elasticnet_regression", search="grid", grids=GRIDS, use_default_grid=False, **BASE)
    result = run_search(sreq, store=planted_store, registry=registry, executor=LocalExecutor(n_jobs=1))
    rows = registry.cohort(result.cohort_id)
    assert len(rows) == 1  # best-only
    tried = TrialStore(registry.database).of_cohort(result.cohort_id)
    assert len(tried) == 6 and [t.position for t in tried] == list(range(6))
    assert sorted((t.params["alpha"], t.params["l1_ratio"]) for t in tried) == sorted(
        itertools.product(GRIDS["alpha_grid"], GRIDS["l1_ratio_grid"])
    )

    view = cohort_explore(registry, result.cohort_id)
    assert (view["n_registered"], view["n_unregistered"]) == (1, 5)
    assert sorted(t["model_id"] is None for t in view["trials"]) == [False] + [True] * 5
    assert {a["name"] for a in view["axes"]} == {"alpha", "l1_ratio"}
    # Every trial's score is the one its search scored; the registered one is the best of them.
    scores = {t.fingerprint: t.score for t in tried}
    assert {t["fingerprint"]: t["score"] for t in view["trials"] if t["model_id"] is None} == {
        fp: s for fp, s in scores.items() if fp != rows[0].fingerprint
    }
    best = max((fp for fp in scores if scores[fp] is not None), key=lambda fp: scores[fp])
    assert rows[0].fingerprint == best
    # refitted alone to be saved, its elastic-net path converges a hair differently (tolerance 1e-4)
    assert rows[0].cv_score == pytest.approx(scores[best], rel=1e-3)
    points = view["history"]["points"]
    assert view["history"]["order"] == "grid" and len(points) == 6
    assert [p["best"] for p in points] == list(itertools.accumulate((p["score"] for p in points), max))
    assert view["importance"]["items"]  # six configurations are enough for fANOVA

    # The same search run again scores nothing new, so it records nothing new.
    run_search(sreq, store=planted_store, registry=registry, executor=LocalExecutor(n_jobs=1))
    assert len(TrialStore(registry.database).of_cohort(result.cohort_id)) == 6
