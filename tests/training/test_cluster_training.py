"""Clustered importance and the cluster step in real training runs (real stores, a real SQLite registry)."""

from __future__ import annotations

import pytest

from walkforward.features.store import FeatureStore
from walkforward.registry import ModelStore
from walkforward.request import parse
from walkforward.training import TrainRequest, train
from walkforward.training.data import model_fingerprint, prepare


def _req(**kw) -> TrainRequest:
    base = dict(symbol="AAPL,QQQ,VIX", algorithm="elasticnet_regression", timeframe="5m", target_transform="log_return")
    return parse(TrainRequest, {**base, **kw})


@pytest.mark.slow
def test_explanations_carry_the_clustered_importance(planted_store: FeatureStore, registry: ModelStore) -> None:
    rec = train(_req(p_value_threshold=1.0), store=planted_store, registry=registry)
    out = rec.derived["explanations"]["clusters"]
    members = [m for c in out["clusters"] for m in c["members"]]
    assert sorted(members) == sorted(rec.derived["input_features"])  # every input feature once
    assert out["scoring"] == "r2" and out["threshold"] == 0.5
    assert set(out["test_rows_per_fold"]) == {str(m["fold"]) for m in rec.metrics["folds"]}
    top = out["clusters"][0]
    assert "ret_5_QQQ" in top["members"], top  # the planted lead-lag's cluster matters most
    assert top["importance"] > 0 and set(top["folds"]) == set(out["test_rows_per_fold"])
    assert "cluster_step" not in rec.derived  # no cluster step was asked for


@pytest.mark.slow
def test_explaining_a_registered_model_again_stores_its_clustered_importance(
    planted_store: FeatureStore, registry: ModelStore
) -> None:
    """A model saved without explanations (a cohort's non-best, say) gets them, clusters included, on request."""
    from walkforward.training.run import explain_registered

    rec = train(_req(p_value_threshold=1.0, explain=False), store=planted_store, registry=registry)
    assert "clusters" not in (rec.derived.get("explanations") or {})
    again = explain_registered(rec.id, store=planted_store, registry=registry)
    members = [m for c in again.derived["explanations"]["clusters"]["clusters"] for m in c["members"]]
    assert sorted(members) == sorted(rec.derived["input_features"])
    assert again.feature_details and {k: v for k, v in again.derived.items() if k != "explanations"} == {
        k: v for k, v in rec.derived.items() if k != "explanations"
    }


@pytest.mark.slow
def test_the_cluster_step_keeps_one_feature_per_cluster(planted_store: FeatureStore, registry: ModelStore) -> None:
    req = _req(cluster_threshold=0.3, p_value_threshold=1.0, explain=False)
    data = prepare(req, store=planted_store)
    assert model_fingerprint(req, data, {}) != model_fingerprint(_req(p_value_threshold=1.0), data, {})
    rec = train(req, store=planted_store, registry=registry)
    step = rec.derived["cluster_step"]
    kept = [c["kept"] for c in step["clusters"]]
    assert step["threshold"] == 0.3 and step["rows"] == len(data.plan.final_train_index)
    assert sorted(rec.features) == sorted(kept) and len(kept) < len(rec.derived["input_features"])
    assert all(m["features_kept"] <= len(data.features) for m in rec.metrics["folds"])
    assert rec.request["cluster_threshold"] == 0.3
    assert "cluster_threshold" not in _req().inputs()  # off: records and cohort ids as before


def test_a_bad_cluster_threshold_is_refused() -> None:
    from walkforward.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="cluster_threshold"):
        _req(cluster_threshold=1.5)


@pytest.mark.slow
def test_a_searched_classifier_with_a_cluster_step_is_explained_by_clusters(
    planted_store: FeatureStore, registry: ModelStore
) -> None:
    from walkforward.model_selection.executors import LocalExecutor
    from walkforward.search import SearchRequest, run_search

    sreq = SearchRequest(
        symbol="AAPL,QQQ,VIX",
        timeframe="5m",
        target_transform="log_return",
        algorithm="lightgbm_classifier",
        search="grid",
        hyperparameters={"n_estimators": 30},
        grids={"num_leaves_grid": [4, 8]},
        use_default_grid=False,
        cluster_threshold=0.3,
        p_value_threshold=1.0,
    )
    res = run_search(sreq, store=planted_store, registry=registry, executor=LocalExecutor(n_jobs=1))
    (rec,) = res.saved
    kept = [c["kept"] for c in rec.derived["cluster_step"]["clusters"]]
    assert set(rec.features) <= set(kept)
    out = rec.derived["explanations"]["clusters"]
    assert out["scoring"] == "neg_log_loss" and out["threshold"] == 0.3
    for entry in out["clusters"]:  # a cluster none of whose members the model sees cannot matter
        if not set(entry["members"]) & set(kept):
            assert entry["importance"] == 0.0
    assert sorted(m for c in out["clusters"] for m in c["members"]) == sorted(rec.derived["input_features"])
