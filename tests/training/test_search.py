"""Search without waste: duplicates skipped, resumable, racing-safe, fast paths equal to GridSearchCV."""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import ElasticNet, LinearRegression
from sklearn.model_selection import GridSearchCV, cross_val_score

from walkforward.features.store import FeatureStore
from walkforward.model_selection.executors import LocalExecutor, make_executor
from walkforward.models import get_algorithm
from walkforward.preprocessing import build_pipeline
from walkforward.registry import ModelStore
from walkforward.search import SearchRequest, SearchResult, run_search
from walkforward.training import TrainRequest, prepare, train

BASE = dict(symbol="AAPL,QQQ,VIX", timeframe="5m", target_transform="log_return", embargo=12)
EN_GRID = {"alpha_grid": [0.0001, 0.001, 0.01], "l1_ratio_grid": [0.1, 0.5, 0.9]}


def _en(**kw) -> SearchRequest:
    """An elastic-net grid search on the planted store (no explanations: they are tested elsewhere)."""
    return SearchRequest(**{"algorithm": "elasticnet_regression", "search": "grid", "explain": False, **BASE, **kw})


def _run(sreq: SearchRequest, store: FeatureStore, registry: ModelStore) -> SearchResult:
    return run_search(sreq, store=store, registry=registry, executor=LocalExecutor(n_jobs=1))


def test_a_grid_run_twice_trains_nothing_the_second_time(planted_store: FeatureStore, registry: ModelStore) -> None:
    sreq = _en(grids=EN_GRID, save_all_grid_models=True)
    first = _run(sreq, planted_store, registry)
    assert (first.grid_size, first.existing, first.trained, len(first.saved)) == (9, 0, 9, 9)
    ranks = sorted(r.cohort_rank for r in registry.cohort(first.cohort_id))
    assert ranks == list(range(1, 10))
    cohort = registry.cohort(first.cohort_id)
    assert all(a.cv_score >= b.cv_score for a, b in zip(cohort, cohort[1:], strict=False))
    second = _run(sreq, planted_store, registry)
    assert (second.existing, second.trained, second.saved) == (9, 0, [])
    assert second.notes[0] == "9/9 already exist, training 0"
    assert second.cohort_id == first.cohort_id and registry.list()[1] == 9


@pytest.mark.slow
def test_fast_elastic_net_grid_agrees_with_gridsearchcv(planted_store: FeatureStore, registry: ModelStore) -> None:
    sreq = _en(grids=EN_GRID, save_all_grid_models=True)
    data = prepare(sreq, store=planted_store, registry=registry)
    result = _run(sreq, planted_store, registry)
    spec = get_algorithm("elasticnet_regression")
    cv = [(f.train_index, f.test_index) for f in data.plan.folds]
    pipe = build_pipeline(ElasticNet(**spec.defaults), linear=True, p_value_threshold=sreq.p_value_threshold)
    gs = GridSearchCV(
        pipe,
        {"model__alpha": EN_GRID["alpha_grid"], "model__l1_ratio": EN_GRID["l1_ratio_grid"]},
        cv=cv,
        scoring="r2",
    )
    gs.fit(data.X, data.y)
    ours, fell_back = {}, set()
    for rec in registry.cohort(result.cohort_id):
        key = (rec.hyperparameters["alpha"], rec.hyperparameters["l1_ratio"])
        ours[key] = np.mean([m["r2"] for m in rec.metrics["folds"]])
        if "fallback" in rec.derived:
            fell_back.add(key)
    # Changed on purpose: a combination that fell back to LinearRegression no longer keeps the elastic
    # net's fold metrics; its record holds the metrics of the model actually fitted, which must equal
    # scikit-learn's for that LinearRegression pipeline on the same folds.
    if fell_back:
        lr = build_pipeline(LinearRegression(), linear=True, p_value_threshold=sreq.p_value_threshold)
        lr_score = float(np.mean(cross_val_score(lr, data.X, data.y, cv=cv, scoring="r2")))
        for key in fell_back:
            assert math.isclose(ours[key], lr_score, abs_tol=1e-9), key
    assert len(ours) == 9 and len(fell_back) < 9
    for params, score in zip(gs.cv_results_["params"], gs.cv_results_["mean_test_score"], strict=True):
        key = (params["model__alpha"], params["model__l1_ratio"])
        if key not in fell_back:
            # equal to the solver's tolerance (tol=1e-4): warm starts stop at a slightly different point
            assert math.isclose(ours[key], score, abs_tol=1e-4)
    best = max(ours, key=lambda k: ours[k])
    assert best == (gs.best_params_["model__alpha"], gs.best_params_["model__l1_ratio"])


def test_ols_fallback_is_used_and_recorded_when_elastic_net_zeroes_everything(
    planted_store: FeatureStore, registry: ModelStore
) -> None:
    grids = {"alpha_grid": [0.0001, 10.0], "l1_ratio_grid": [0.5]}
    result = _run(_en(grids=grids, save_all_grid_models=True), planted_store, registry)
    by_alpha = {r.hyperparameters["alpha"]: r for r in registry.cohort(result.cohort_id)}
    heavy, light = by_alpha[10.0], by_alpha[0.0001]
    assert heavy.derived["fallback"]["reason"] == "elastic net zeroed every coefficient"
    assert heavy.derived["fallback"]["fitted"] == "linear_regression"
    assert heavy.derived["fitted_estimator"] == "LinearRegression"
    assert type(registry.load_artifact(heavy)["pipeline"][-1]).__name__ == "LinearRegression"
    assert "fallback" not in light.derived and light.derived["fitted_estimator"] == "ElasticNet"
    assert type(registry.load_artifact(light)["pipeline"][-1]).__name__ == "ElasticNet"


def _noise_store(root: Path) -> FeatureStore:
    rng = np.random.default_rng(5)
    n = 9000
    ts = pd.date_range("2024-01-02 09:30", periods=n, freq="5min", tz="America/New_York")
    close = 100 * np.exp(np.cumsum(rng.normal(0, 1e-3, n)))
    split = np.where((np.arange(n) // 1500) % 3 == 2, "test", "train").astype(object)
    frame = pd.DataFrame(
        {
            "ts": ts,
            "close": close,
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "options": "v1",
            "data_split": split,
        }
    )
    store = FeatureStore(root)
    store.write_days(
        "NOISE",
        frame,
        options="v1",
        bar_seconds=300,
        bars_per_day=78,
        features={c: {"lookback": 1, "group": "standard"} for c in "ab"},
        split_scheme=None,
        timezone="America/New_York",
    )
    return store


def test_adaptive_grid_triggers_only_on_weak_signals(
    tmp_path: Path, planted_store: FeatureStore, registry: ModelStore
) -> None:
    weak = _run(_en(symbol="NOISE", p_value_threshold=1.0, embargo=1), _noise_store(tmp_path / "noise"), registry)
    assert any(n.startswith("adaptive grid") for n in weak.notes)
    assert weak.grid_size == 5 * 7
    strong = _run(_en(grids={"l1_ratio_grid": [0.5]}), planted_store, registry)
    assert not any(n.startswith("adaptive grid") for n in strong.notes) and strong.grid_size == 8


def test_features_and_lineage_flow_through_a_search(planted_store: FeatureStore, registry: ModelStore) -> None:
    """A train -> search -> train chain: each child uses its parent's features and records its parent.

    (The registry's own lineage queries are covered by ``tests/registry/test_contract.py``'s
    ``test_three_generation_lineage``; this one checks what training and search feed into them.)
    """
    gen0 = train(
        TrainRequest(algorithm="linear_regression", p_value_threshold=0.01, explain=False, **BASE),
        store=planted_store,
        registry=registry,
    )
    gen1 = _run(
        _en(
            parent_model_id=gen0.id,
            p_value_threshold=1.0,
            grids={"alpha_grid": [0.0001, 0.001], "l1_ratio_grid": [0.5]},
            save_all_grid_models=True,
        ),
        planted_store,
        registry,
    )
    best1 = gen1.best
    assert best1 is not None and set(best1.derived["input_features"]) == set(gen0.features)
    assert best1.derived["feature_source"] == "parent"
    gen2 = train(
        TrainRequest(
            algorithm="linear_regression", parent_model_id=best1.id, p_value_threshold=0.001, explain=False, **BASE
        ),
        store=planted_store,
        registry=registry,
    )
    assert set(gen2.features) <= set(best1.features)
    assert [a.id for a in registry.ancestors(gen2.id)] == [best1.id, gen0.id]
    descendants = {d.id for d in registry.descendants(gen0.id)}
    assert {r.id for r in registry.cohort(gen1.cohort_id)} | {gen2.id} == descendants


@pytest.mark.slow
def test_halving_and_optuna_find_good_combinations_with_fewer_fits(
    planted_store: FeatureStore, registry: ModelStore
) -> None:
    grids = {"alpha_grid": [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05], "l1_ratio_grid": [0.1, 0.5, 0.9]}
    exhaustive = _run(_en(grids=grids), planted_store, registry)
    halving = _run(_en(grids=grids, search="halving"), planted_store, registry)
    # An elastic net has no boosting rounds to cut: halving scores every configuration at full fidelity.
    note = next(n for n in halving.notes if n.startswith("halving"))
    assert "no boosting rounds to cut" in note
    assert halving.best is not None and exhaustive.best is not None
    assert halving.best.cv_score == pytest.approx(exhaustive.best.cv_score, abs=1e-12)
    optuna = _run(_en(grids=grids, search="optuna", n_trials=6), planted_store, registry)
    # Changed on purpose: optuna takes the scores the grid left in the trials table (all 18) into its
    # study instead of fitting 6 of them again, so it trains nothing and knows the grid's best.
    assert optuna.trained == 0 and optuna.tried == 18 and optuna.best is not None
    assert optuna.best.cv_score == pytest.approx(exhaustive.best.cv_score, abs=1e-12)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.e2e
@pytest.mark.slow
def test_a_dask_cluster_of_real_processes_matches_the_local_executor(
    planted_store: FeatureStore, tmp_path: Path
) -> None:
    port, dash = _free_port(), _free_port()
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    sched = subprocess.Popen(
        [
            str(bindir / "dask"),
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--dashboard-address",
            f"127.0.0.1:{dash}",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = subprocess.Popen(
        [
            str(bindir / "dask"),
            "worker",
            f"tcp://127.0.0.1:{port}",
            "--nthreads",
            "1",
            "--nworkers",
            "2",
            "--no-dashboard",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        from distributed import Client

        deadline = time.time() + 60
        with Client(f"tcp://127.0.0.1:{port}", timeout="30s") as client:
            while len(client.scheduler_info()["workers"]) < 2:
                assert time.time() < deadline, "dask workers did not start"
                time.sleep(0.5)
        results = {}
        for name, kw in (
            ("local", {"n_jobs": 2}),
            ("dask", {"scheduler": f"tcp://127.0.0.1:{port}"}),
        ):
            reg = ModelStore.open(f"sqlite:///{tmp_path / name}.db", tmp_path / name)
            for algo, grids, extra in (
                ("elasticnet_regression", EN_GRID, {}),
                (
                    "lightgbm_regressor",
                    {"num_leaves_grid": [7, 15], "lgbm_learning_rate_grid": [0.05, 0.1]},
                    {"n_estimators": 40},
                ),
            ):
                sreq = SearchRequest(
                    algorithm=algo,
                    hyperparameters=extra,
                    search="grid",
                    grids=grids,
                    use_default_grid=algo != "lightgbm_regressor",
                    save_all_grid_models=True,
                    explain=False,
                    **BASE,
                )
                executor = make_executor(name, **kw)
                try:
                    res = run_search(sreq, store=planted_store, registry=reg, executor=executor)
                finally:
                    executor.close()
                results[(name, algo)] = {r.fingerprint: r.cv_score for r in reg.cohort(res.cohort_id)}
            reg.dispose()
        for algo in ("elasticnet_regression", "lightgbm_regressor"):
            local, dask = results[("local", algo)], results[("dask", algo)]
            assert local.keys() == dask.keys() and len(local) in (9, 4)
            for fp, score in local.items():
                assert math.isclose(score, dask[fp], rel_tol=1e-9, abs_tol=1e-12)
    finally:
        for proc in (worker, sched):
            proc.terminate()
        for proc in (worker, sched):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
