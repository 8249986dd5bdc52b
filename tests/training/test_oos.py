"""Out-of-sample predictions kept by a fit: one row per test row of each fold, and the metrics agree."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, r2_score

from walkforward.features.store import FeatureStore
from walkforward.request import TrainRequest
from walkforward.training.data import prepare
from walkforward.training.fit import fit
from walkforward.training.oos import COLUMNS


@pytest.mark.parametrize(
    ("algorithm", "extra"),
    [
        ("elasticnet_regression", {}),
        ("lightgbm_classifier", {"hyperparameters": {"n_estimators": 20}}),
        ("xgboost_regressor", {"hyperparameters": {"n_estimators": 30}, "early_stopping_rounds": 5}),
    ],
)
def test_every_fold_test_row_has_its_prediction(planted_store: FeatureStore, algorithm: str, extra: dict) -> None:
    req = TrainRequest(
        symbol="AAPL,QQQ", algorithm=algorithm, timeframe="5m", target_transform="log_return", explain=False, **extra
    )
    data = prepare(req, store=planted_store)
    trained = fit(req, data)
    pred = trained.predictions
    assert pred is not None and tuple(pred.columns) == COLUMNS
    expected = np.concatenate([f.test_index for f in data.plan.folds])
    assert len(pred) == expected.size
    frame = data.dataset.frame
    assert np.array_equal(pred["ts"].to_numpy(), frame["ts"].to_numpy()[expected])
    assert np.array_equal(pred["y"].to_numpy(), np.asarray(data.y, dtype=float)[expected])
    assert np.array_equal(pred["price"].to_numpy(), frame["close"].to_numpy(dtype=float)[expected])
    for m in trained.metrics["folds"]:  # the stored predictions are the ones the fold was scored on
        part = pred[pred["fold"] == m["fold"]]
        assert part["ts"].is_monotonic_increasing
        if req.spec.is_classifier:
            assert part["probability"].between(0, 1).all()
            assert np.array_equal(part["prediction"], (part["probability"] >= 0.5).astype(float))
            assert m["accuracy"] == pytest.approx(accuracy_score(part["y"], part["prediction"]))
        else:
            assert part["probability"].isna().all()
            assert m["r2"] == pytest.approx(r2_score(part["y"], part["prediction"]))
    if req.spec.is_classifier:
        brier = float(np.mean((pred["probability"] - pred["y"]) ** 2))
        assert trained.metrics["calibration"]["brier"] == pytest.approx(brier)
    else:
        assert "calibration" not in trained.metrics
    assert trained.metrics["cv"]["sharpe"] == trained.metrics["trading"]["overall"]["sharpe"]


def test_the_trading_figures_are_those_of_a_plain_simulation(planted_store: FeatureStore) -> None:
    """A model's Sharpe, net return and IC, recomputed with pandas from its kept predictions."""
    req = TrainRequest(
        symbol="AAPL,QQQ",
        algorithm="elasticnet_regression",
        timeframe="5m",
        target_transform="log_return",
        explain=False,
        cost_bps=3.0,
        slippage_bps=2.0,
    )
    trained = fit(req, prepare(req, store=planted_store))
    pred = trained.predictions
    assert pred is not None
    nets = []
    for _, part in pred.groupby("fold", sort=True):
        signal = np.sign(part["prediction"].to_numpy())
        held = pd.Series(signal).shift(2).fillna(0.0).to_numpy()  # decided at close t, traded at t+1, earns t+2
        gross = held * part["bar_return"].fillna(0.0).to_numpy()
        turnover = np.abs(np.diff(held, append=0.0))  # flat after the fold's last bar
        nets.append(pd.DataFrame({"session": part["session"].to_numpy(), "net": gross - turnover * 5e-4}))
    daily = pd.concat(nets).groupby("session", sort=False)["net"].sum()
    sharpe = daily.mean() / daily.std(ddof=1) * np.sqrt(252)
    cv = trained.metrics["cv"]
    assert cv["sharpe"] == pytest.approx(sharpe, rel=1e-9)
    assert cv["net_annual_return"] == pytest.approx(daily.mean() * 252, rel=1e-9)
    assert cv["ic"] == pytest.approx(np.corrcoef(pred["prediction"], pred["realised"])[0, 1], rel=1e-9)
    report = trained.metrics["trading"]
    assert report["settings"]["commission_bps"] == 3.0 and report["settings"]["lag"] == 1
    assert [f["fold"] for f in report["folds"]] == [m["fold"] for m in trained.metrics["folds"]]
    assert all("sharpe" in m for m in trained.metrics["folds"])
    bench = report["overall"]["benchmark"]
    assert bench["exposure"] > 0.9  # buy and hold beside it, over the same bars


def test_a_searched_model_is_judged_as_the_same_single_run(planted_store: FeatureStore, tmp_path) -> None:
    """A search's saved model (scored on cached folds) carries the single run's predictions and trading figures."""
    from walkforward.model_selection.executors import LocalExecutor
    from walkforward.registry import ModelStore
    from walkforward.search import SearchRequest, run_search

    base = dict(symbol="AAPL,QQQ", timeframe="5m", target_transform="log_return", explain=False, cost_bps=4.0)
    registry = ModelStore.open(f"sqlite:///{tmp_path / 'r.db'}", tmp_path / "models")
    try:
        sreq = SearchRequest(
            algorithm="lightgbm_regressor",
            search="grid",
            use_default_grid=False,
            grids={"num_leaves_grid": [7, 15]},
            hyperparameters={"n_estimators": 25},
            save_all_grid_models=True,
            **base,
        )
        result = run_search(sreq, store=planted_store, registry=registry, executor=LocalExecutor(n_jobs=1))
    finally:
        registry.dispose()
    assert len(result.saved) == 2
    for rec in result.saved:
        single = TrainRequest(
            algorithm="lightgbm_regressor",
            hyperparameters={"n_estimators": 25, "num_leaves": rec.hyperparameters["num_leaves"]},
            **base,
        )
        trained = fit(single, prepare(single, store=planted_store))
        assert rec.metrics["cv"]["sharpe"] == pytest.approx(trained.metrics["cv"]["sharpe"], rel=1e-9)
        assert rec.metrics["trading"]["settings"]["commission_bps"] == 4.0


def test_a_cohorts_statistics_come_from_its_kept_predictions(planted_store: FeatureStore, tmp_path) -> None:
    """A save-all search's selection statistics equal those recomputed from its registered models' files."""
    from walkforward import queries
    from walkforward.model_selection.executors import LocalExecutor
    from walkforward.registry import ModelStore
    from walkforward.search import SearchRequest, run_search

    registry = ModelStore.open(f"sqlite:///{tmp_path / 'r.db'}", tmp_path / "models")
    try:
        sreq = SearchRequest(
            symbol="AAPL,QQQ",
            timeframe="5m",
            target_transform="log_return",
            algorithm="elasticnet_regression",
            search="grid",
            use_default_grid=False,
            grids={"alpha_grid": [1e-5, 1e-4, 1e-3], "l1_ratio_grid": [0.1, 0.9]},
            save_all_grid_models=True,
            explain=False,
        )
        result = run_search(sreq, store=planted_store, registry=registry, executor=LocalExecutor(n_jobs=1))
        cohort = queries.cohort(registry, result.cohort_id)
        for rec in result.saved:
            kept = registry.load_predictions(rec)
            assert kept is not None and len(kept) == rec.derived["predictions"]["rows"]
    finally:
        registry.dispose()
    live, stored = result.selection, cohort.selection
    assert live["n_tried"] == stored["n_tried"] == 6 and live["n_sessions"] == stored["n_sessions"]
    assert live["n_sessions"] == 6 and "too few for CSCV" in live["notes"][0]  # 3 folds x 2 test days
    assert stored["notes"] == live["notes"] and "pbo" not in stored
    assert stored["spa"]["p_consistent"] == pytest.approx(live["spa"]["p_consistent"])
    assert stored["dsr"]["sharpe"] == pytest.approx(live["dsr"]["sharpe"])


def test_the_api_and_cli_serve_the_kept_predictions_and_the_money(planted_store: FeatureStore, tmp_path) -> None:
    import io
    import json

    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from walkforward.cli import app as cli_app
    from walkforward.config import Settings
    from walkforward.registry import ModelStore
    from walkforward.service import create_app
    from walkforward.training import train

    db, models = tmp_path / "meta.db", tmp_path / "models"
    registry = ModelStore.open(f"sqlite:///{db}", models)
    req = TrainRequest(
        symbol="AAPL,QQQ",
        algorithm="elasticnet_regression",
        timeframe="5m",
        target_transform="log_return",
        explain=False,
    )
    try:
        rec = train(req, store=planted_store, registry=registry)
    finally:
        registry.dispose()
    env = {"FEATURES_PARQUET_DIR": str(planted_store.root), "MODELS_DIR": str(models), "METADATA_DB_PATH": str(db)}
    with TestClient(create_app(Settings(_env_file=None, **{k.lower(): v for k, v in env.items()}))) as client:
        body = client.get(f"/models/{rec.id}/predictions").json()
        assert body["in_sample"] is False and body["rows"] == rec.derived["predictions"]["rows"]
        assert (
            set(body["columns"]) >= {"fold", "ts", "y", "prediction", "session"}
            and len(body["columns"]["y"]) == body["rows"]
        )
        parquet = client.get(f"/models/{rec.id}/predictions", params={"format": "parquet"})
        assert parquet.status_code == 200 and len(pd.read_parquet(io.BytesIO(parquet.content))) == body["rows"]
        served = client.post(f"/models/{rec.id}/predict", json={"limit": 5}).json()["predictions"]
        # rows it was trained or selected on are in-sample; the last bar (no target yet) is a true forecast
        assert [p["in_sample"] for p in served] == [True] * 4 + [False]
        curve = client.get(f"/models/{rec.id}/equity").json()
        daily = curve["net"]
        assert len(daily) == len(curve["benchmark"]) == len(curve["drawdown"]) == len(curve["sessions"])
        annual = rec.metrics["trading"]["overall"]["total_return"]
        assert daily[-1] == pytest.approx(annual)  # the curve ends at the report's compounded net return
        assert max(curve["drawdown"]) <= 0 and min(curve["drawdown"]) == pytest.approx(
            -rec.metrics["cv"]["max_drawdown"]
        )
        listed = client.get("/models", params={"sort": "metrics.sharpe"}).json()
        assert listed["total"] == 1 and listed["items"][0]["id"] == rec.id  # sortable by the Sharpe ratio
    res = CliRunner(env=env).invoke(cli_app, ["models", "predictions", rec.id, "--json"], catch_exceptions=False)
    assert res.exit_code == 0 and json.loads(res.stdout) == body
    res = CliRunner(env={**env, "COLUMNS": "200"}).invoke(cli_app, ["models", "show", rec.id], catch_exceptions=False)
    assert (
        "Trading" in res.stdout and "Sharpe" in res.stdout and "overall" in res.stdout
    )  # (wrapped on narrow terminals)


def test_two_models_are_compared_on_their_shared_out_of_sample_rows(planted_store: FeatureStore, tmp_path) -> None:
    """Diebold-Mariano through the API on kept predictions equals the test on losses computed here."""
    from fastapi.testclient import TestClient

    from walkforward.config import Settings
    from walkforward.evaluation.comparison import diebold_mariano
    from walkforward.registry import ModelStore
    from walkforward.service import create_app
    from walkforward.training import train

    db, models = tmp_path / "meta.db", tmp_path / "models"
    registry = ModelStore.open(f"sqlite:///{db}", models)
    base = dict(symbol="AAPL,QQQ", timeframe="5m", target_transform="log_return", explain=False, lookforward=3)
    try:
        good = train(TrainRequest(algorithm="elasticnet_regression", **base), store=planted_store, registry=registry)
        other = train(
            TrainRequest(algorithm="lightgbm_regressor", hyperparameters={"n_estimators": 10}, **base),
            store=planted_store,
            registry=registry,
        )
        a, b = registry.load_predictions(good), registry.load_predictions(other)
        clf = train(TrainRequest(algorithm="logistic_classification", **base), store=planted_store, registry=registry)
    finally:
        registry.dispose()
    assert a is not None and b is not None
    expected = diebold_mariano((a["prediction"] - a["y"]) ** 2, (b["prediction"] - b["y"]) ** 2, horizon=3)
    settings = Settings(
        _env_file=None, metadata_db_path=str(db), models_dir=str(models), features_parquet_dir=str(planted_store.root)
    )
    with TestClient(create_app(settings)) as client:
        got = client.get(f"/models/{good.id}/compare/{other.id}").json()
        assert got["rows"] == len(a) and got["diebold_mariano"]["statistic"] == pytest.approx(expected.statistic)
        assert got["diebold_mariano"]["horizon"] == 3
        refused = client.get(f"/models/{good.id}/compare/{clf.id}")
        assert refused.status_code == 422 and "forecast different things" in refused.json()["detail"]
