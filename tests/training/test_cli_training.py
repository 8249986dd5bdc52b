"""train / models / predict through the real CLI app, on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from walkforward.cli import app
from walkforward.features.store import FeatureStore
from walkforward.models import ALGORITHMS

FAST = ["--param", "n_estimators=40"]


def _env(monkeypatch: pytest.MonkeyPatch, store: FeatureStore, tmp: Path, url: str | None = None) -> None:
    monkeypatch.setenv("FEATURES_PARQUET_DIR", str(store.root))
    monkeypatch.setenv("MODELS_DIR", str(tmp / "models"))
    monkeypatch.setenv("METADATA_DB_PATH", str(tmp / "meta.db"))
    if url:
        monkeypatch.setenv("METADATA_DB_URL", url)
    else:
        monkeypatch.delenv("METADATA_DB_URL", raising=False)


def _invoke(*args: str) -> dict | list:
    res = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def _train_list_show_predict(algo: str) -> None:
    extra = [*FAST, "--no-explain"] if ALGORITHMS[algo].family == "tree" else ["--no-explain"]
    model = _invoke(
        "train",
        "AAPL,QQQ,VIX",
        "--algorithm",
        algo,
        "--timeframe",
        "5m",
        "--target-transform",
        "log_return",
        "--embargo",
        "12",
        *extra,
        "--json",
    )
    assert model["algorithm"] == algo and len(model["metrics"]["folds"]) == 3
    listed = _invoke("models", "list", "--algorithm", algo, "--json")
    assert listed["total"] == 1 and listed["models"][0]["id"] == model["id"]
    shown = _invoke("models", "show", model["id"], "--json")
    assert shown["fingerprint"] == model["fingerprint"] and shown["features"] == model["features"]
    pred = _invoke("predict", model["id"], "--tail", "5", "--json")
    assert pred["model_id"] == model["id"] and len(pred["predictions"]) == 5 and pred["rows"] > 100


# The nine algorithms are trained once, through the library (test_training.py); the CLI is a thin
# layer over the same function, so one regressor and one classifier show its path.
@pytest.mark.parametrize("algo", ["elasticnet_regression", "lightgbm_classifier"])
def test_train_list_show_predict_from_the_cli(
    algo: str, planted_store: FeatureStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _env(monkeypatch, planted_store, tmp_path)
    _train_list_show_predict(algo)


@pytest.mark.parametrize("algo", ["elasticnet_regression", "lightgbm_classifier"])
def test_the_same_run_on_postgresql(
    algo: str, planted_store: FeatureStore, tmp_path: Path, pg_registry_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _env(monkeypatch, planted_store, tmp_path, pg_registry_url)
    _train_list_show_predict(algo)


def test_tables_and_prediction_file(
    planted_store: FeatureStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _env(monkeypatch, planted_store, tmp_path)
    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "train",
            "AAPL,QQQ",
            "--algorithm",
            "linear_regression",
            "--timeframe",
            "15m",
            "--target-transform",
            "pct_change",
            "--embargo",
            "4",
        ],
        catch_exceptions=False,
        env={"COLUMNS": "160"},
    )
    assert res.exit_code == 0, res.output
    assert "Out-of-sample metrics per fold" in res.output and "rmse_price" in res.output
    model_id = _invoke("models", "list", "--json")["models"][0]["id"]
    out = tmp_path / "pred.csv"
    res = runner.invoke(app, ["predict", model_id, "--output", str(out)], catch_exceptions=False)
    assert res.exit_code == 0 and out.exists()
    import pandas as pd

    frame = pd.read_csv(out)
    assert {"ts", "prediction", "predicted_price", "target"} <= set(frame.columns)


def test_models_explain_computes_missing_explanations_and_writes_plots(
    planted_store: FeatureStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _env(monkeypatch, planted_store, tmp_path)
    model = _invoke(
        "train",
        "AAPL,QQQ,VIX",
        "--algorithm",
        "lightgbm_regressor",
        "--timeframe",
        "5m",
        "--target-transform",
        "log_return",
        "--embargo",
        "12",
        *FAST,
        "--no-explain",
        "--json",
    )
    assert model["feature_details"] is None
    shown = _invoke("models", "explain", model["id"], "--plot-dir", str(tmp_path / "plots"), "--json")
    details = shown["feature_details"]
    assert set(details) == set(model["features"])
    assert all(d["shap_mean_abs"] is not None and d["tree_importance"] is not None for d in details.values())
    assert len(shown["plots"]) == 2
    for path in shown["plots"]:
        assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert _invoke("models", "show", model["id"], "--json")["feature_details"] == details
