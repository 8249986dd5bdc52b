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
from sklearn.linear_model import ElasticNet
from sklearn.model_selection import GridSearchCV

from walkforward.features.store import FeatureStore
from walkforward.models import get_algorithm
from walkforward.preprocessing import build_pipeline
from walkforward.registry import ModelStore
from walkforward.search import SearchRequest, run_search, selection_summary
from walkforward.training import TrainRequest, prepare, train

BASE = dict(symbol="AAPL,QQQ,VIX", timeframe="5m", target_transform="log_return", embargo=12)
EN_GRID = {"alpha_grid": [0.0001, 0.001, 0.01], "l1_ratio_grid": [0.1, 0.5, 0.9]}


def _en(**kw) -> TrainRequest:
    return TrainRequest(algorithm="elasticnet_regression", **{**BASE, **kw})


def test_a_grid_run_twice_trains_nothing_the_second_time(planted_store: FeatureStore, registry: ModelStore) -> None:
    sreq = SearchRequest(_en(), grids=EN_GRID, save_all_grid_models=True, explain=False, n_jobs=1)
    first = run_search(sreq, store=planted_store, registry=registry)
    assert (first.grid_size, first.existing, first.trained, len(first.saved)) == (9, 0, 9, 9)
    ranks = sorted(r.cohort_rank for r in registry.cohort(first.cohort_id))
    assert ranks == list(range(1, 10))
    cohort = registry.cohort(first.cohort_id)
    assert all(a.cv_score >= b.cv_score for a, b in zip(cohort, cohort[1:], strict=False))
    second = run_search(sreq, store=planted_store, registry=registry)
    assert (second.existing, second.trained, second.saved) == (9, 0, [])
    assert second.notes[0] == "9/9 already exist, training 0"
    assert second.cohort_id == first.cohort_id and registry.list()[1] == 9


def test_fast_elastic_net_grid_agrees_with_gridsearchcv(planted_store: FeatureStore, registry: ModelStore) -> None:
    req = _en()
    data = prepare(req, store=planted_store, registry=registry)
    result = run_search(
        SearchRequest(req, grids=EN_GRID, save_all_grid_models=True, explain=False, n_jobs=1),
        store=planted_store,
        registry=registry,
    )
    spec = get_algorithm("elasticnet_regression")
    pipe = build_pipeline(ElasticNet(**spec.defaults), linear=True, p_value_threshold=req.p_value_threshold)
    gs = GridSearchCV(
        pipe,
        {"model__alpha": EN_GRID["alpha_grid"], "model__l1_ratio": EN_GRID["l1_ratio_grid"]},
        cv=[(f.train_index, f.test_index) for f in data.plan.folds],
        scoring="r2",
    )
    gs.fit(data.X, data.y)
    ours = {}
    for rec in registry.cohort(result.cohort_id):
        folds = (
            rec.request["ols_fallback"]["elasticnet_folds"] if "ols_fallback" in rec.request else rec.metrics["folds"]
        )
        ours[(rec.hyperparameters["alpha"], rec.hyperparameters["l1_ratio"])] = np.mean([m["r2"] for m in folds])
    for params, score in zip(gs.cv_results_["params"], gs.cv_results_["mean_test_score"], strict=True):
        # equal to the solver's tolerance (tol=1e-4): warm starts stop at a slightly different point
        assert math.isclose(ours[(params["model__alpha"], params["model__l1_ratio"])], score, abs_tol=1e-4)
    best = max(ours, key=lambda k: ours[k])
    assert best == (gs.best_params_["model__alpha"], gs.best_params_["model__l1_ratio"])


def test_ols_fallback_is_used_and_recorded_when_elastic_net_zeroes_everything(
    planted_store: FeatureStore, registry: ModelStore
) -> None:
    grids = {"alpha_grid": [0.0001, 10.0], "l1_ratio_grid": [0.5]}
    result = run_search(
        SearchRequest(_en(), grids=grids, save_all_grid_models=True, explain=False, n_jobs=1),
        store=planted_store,
        registry=registry,
    )
    by_alpha = {r.hyperparameters["alpha"]: r for r in registry.cohort(result.cohort_id)}
    heavy, light = by_alpha[10.0], by_alpha[0.0001]
    assert heavy.request["ols_fallback"]["reason"] == "elastic net zeroed every coefficient"
    assert type(registry.load_artifact(heavy)["pipeline"][-1]).__name__ == "LinearRegression"
    assert "ols_fallback" not in light.request
    assert type(registry.load_artifact(light)["pipeline"][-1]).__name__ == "ElasticNet"


def _noise_store(root: Path) -> FeatureStore:
    rng = np.random.default_rng(5)
    n = 9000
    ts = pd.date_range("2024-01-02 09:30", periods=n, freq="5min")
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
    )
    return store


def test_adaptive_grid_triggers_only_on_weak_signals(
    tmp_path: Path, planted_store: FeatureStore, registry: ModelStore
) -> None:
    weak = run_search(
        SearchRequest(
            TrainRequest(
                "NOISE",
                "elasticnet_regression",
                timeframe="5m",
                target_transform="log_return",
                p_value_threshold=1.0,
                embargo=1,
            ),
            explain=False,
            n_jobs=1,
        ),
        store=_noise_store(tmp_path / "noise"),
        registry=registry,
    )
    assert any(n.startswith("adaptive grid") for n in weak.notes)
    assert weak.grid_size == 5 * 7
    strong = run_search(
        SearchRequest(_en(), grids={"l1_ratio_grid": [0.5]}, explain=False, n_jobs=1),
        store=planted_store,
        registry=registry,
    )
    assert not any(n.startswith("adaptive grid") for n in strong.notes) and strong.grid_size == 8


def test_three_generation_lineage(planted_store: FeatureStore, registry: ModelStore) -> None:
    gen0 = train(
        TrainRequest(algorithm="linear_regression", p_value_threshold=0.01, **BASE),
        store=planted_store,
        registry=registry,
        explain=False,
    )
    gen1 = run_search(
        SearchRequest(
            _en(parent_model_id=gen0.id, p_value_threshold=1.0),
            grids={"alpha_grid": [0.0001, 0.001], "l1_ratio_grid": [0.5]},
            save_all_grid_models=True,
            explain=False,
            n_jobs=1,
        ),
        store=planted_store,
        registry=registry,
    )
    best1 = gen1.best
    assert best1 is not None and set(best1.request["input_features"]) == set(gen0.features)
    gen2 = train(
        TrainRequest(algorithm="linear_regression", parent_model_id=best1.id, p_value_threshold=0.001, **BASE),
        store=planted_store,
        registry=registry,
        explain=False,
    )
    assert set(gen2.features) <= set(best1.features)
    assert [a.id for a in registry.ancestors(gen2.id)] == [best1.id, gen0.id]
    descendants = {d.id for d in registry.descendants(gen0.id)}
    assert {r.id for r in registry.cohort(gen1.cohort_id)} | {gen2.id} == descendants


def test_halving_and_optuna_find_good_combinations_with_fewer_fits(
    planted_store: FeatureStore, registry: ModelStore
) -> None:
    grids = {"alpha_grid": [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05], "l1_ratio_grid": [0.1, 0.5, 0.9]}
    exhaustive = run_search(
        SearchRequest(_en(), grids=grids, explain=False, n_jobs=1), store=planted_store, registry=registry
    )
    halving = run_search(
        SearchRequest(_en(), grids=grids, search="halving", explain=False, n_jobs=1),
        store=planted_store,
        registry=registry,
    )
    note = next(n for n in halving.notes if n.startswith("halving"))
    assert "of the exhaustive training rows" in note
    assert halving.best is not None and exhaustive.best is not None
    assert halving.best.cv_score >= exhaustive.best.cv_score - 0.01
    optuna = run_search(
        SearchRequest(_en(), grids=grids, search="optuna", n_trials=6, explain=False, n_jobs=1),
        store=planted_store,
        registry=registry,
    )
    assert optuna.tried <= 6 and optuna.best is not None


def test_selection_summary_deflates_a_lucky_best() -> None:
    rng = np.random.default_rng(0)
    scores = rng.normal(0, 0.01, 500)  # 500 combinations with no skill at all
    s = selection_summary(scores.tolist(), [0.02, 0.03, 0.025], task="regression")
    assert s["best"] > 0.02 and abs(s["deflated_score"]) < 0.01
    assert s["p_value_adjusted"] > s["p_value"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
            ("dask", {"executor": "dask", "scheduler": f"tcp://127.0.0.1:{port}"}),
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
                req = TrainRequest(algorithm=algo, hyperparameters=extra, **BASE)
                res = run_search(
                    SearchRequest(
                        req,
                        grids=grids,
                        use_default_grid=algo != "lightgbm_regressor",
                        save_all_grid_models=True,
                        explain=False,
                        **kw,
                    ),
                    store=planted_store,
                    registry=reg,
                )
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
