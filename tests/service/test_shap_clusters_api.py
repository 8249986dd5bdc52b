"""GET /shap and the clustered importance over HTTP and the CLI, on models trained with the library."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from walkforward.config import Settings
from walkforward.domain import SplitScheme
from walkforward.features.demo import generate_market
from walkforward.features.pipeline import ingest_frames
from walkforward.features.store import FeatureStore
from walkforward.model_selection.executors import LocalExecutor
from walkforward.registry import ModelStore
from walkforward.search import SearchRequest, run_search
from walkforward.service import Services, create_app
from walkforward.training import TrainRequest, prepare, train

pytestmark = pytest.mark.slow
BASE: dict[str, Any] = {"symbol": "AAPL,QQQ,VIX", "timeframe": "5m", "target_transform": "log_return"}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An elastic-net cohort and a LightGBM model of AAPL, explained, on 20 demo days."""
    root = tmp_path_factory.mktemp("shap")
    store = FeatureStore(root / "fp")
    ingest_frames(store, generate_market(days=20, symbols=("AAPL", "QQQ", "VIX"), seed=3), scheme=SplitScheme(5, 2))
    registry = ModelStore.open(f"sqlite:///{root / 'meta.db'}", root / "models")
    try:
        sreq = SearchRequest(
            algorithm="elasticnet_regression",
            search="grid",
            grids={"alpha_grid": [1e-5, 1e-4], "l1_ratio_grid": [0.5]},
            use_default_grid=False,
            save_all_grid_models=True,
            **BASE,
        )
        cohort = run_search(sreq, store=store, registry=registry, executor=LocalExecutor(n_jobs=1))
        booster = train(
            TrainRequest(algorithm="lightgbm_regressor", hyperparameters={"n_estimators": 40}, **BASE),
            store=store,
            registry=registry,
        )
    finally:
        registry.dispose()
    return {"root": root, "cohort": cohort.cohort_id, "ids": [m.id for m in cohort.saved], "booster": booster.id}


@pytest.fixture(scope="module")
def client(home: dict[str, Any]) -> Iterator[TestClient]:
    root = home["root"]
    settings = Settings(features_parquet_dir=root / "fp", models_dir=root / "models", metadata_db_path=root / "meta.db")
    svc = Services.open(settings, run_jobs=False)
    try:
        yield TestClient(create_app(settings, services=svc), raise_server_exceptions=False)
    finally:
        svc.close()


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "FEATURES_PARQUET_DIR": str(root / "fp"),
        "MODELS_DIR": str(root / "models"),
        "METADATA_DB_PATH": str(root / "meta.db"),
        "COLUMNS": "200",
    }
    env.pop("METADATA_DB_URL", None)
    return subprocess.run([sys.executable, "-m", "walkforward", *args], env=env, capture_output=True, text=True)


def test_a_cohorts_shap_consistency(client: TestClient, home: dict[str, Any]) -> None:
    res = client.get("/shap", params={"cohort": home["cohort"], "top": 5})
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["n_models"] == 2 and {m["id"] for m in body["models"]} == set(home["ids"])
    assert body["n_regime_cells"] > 0 and body["selection"]["cohort_id"] == home["cohort"]
    shares = [f["top_share"] for f in body["features"]]
    assert shares == sorted(shares, reverse=True) and shares[0] > 0
    assert sum(f["mean_normalised"] for f in body["features"]) == pytest.approx(1.0)
    symbol = client.get("/shap", params={"symbol": "aapl"}).json()
    assert symbol["n_models"] == 3 and home["booster"] in {m["id"] for m in symbol["models"]}


def test_dependence_of_a_feature_on_training_rows(client: TestClient, home: dict[str, Any]) -> None:
    first = client.get("/shap", params={"symbol": "AAPL"}).json()["features"][0]["feature"]
    res = client.get("/shap", params={"symbol": "AAPL", "feature": first})
    assert res.status_code == 200, res.text
    dep = res.json()["dependence"]
    assert dep["feature"] == first and 1 <= len(dep["models"]) <= 3
    ok = [m for m in dep["models"] if "error" not in m]
    assert ok and {m["explainer"] for m in ok} <= {"tree", "linear"}
    root = home["root"]
    registry = ModelStore.open(f"sqlite:///{root / 'meta.db'}", root / "models")
    try:
        rec = registry.get(ok[0]["id"])
        data = prepare(TrainRequest.model_validate(rec.request), store=FeatureStore(root / "fp"))
    finally:
        registry.dispose()
    train_values = set(data.X.iloc[data.plan.final_train_index][first].dropna().round(12))
    xs = np.array([p[0] for p in ok[0]["points"]])
    assert 0 < len(xs) <= 200 and ok[0]["rows"] == len(xs)
    assert set(xs.round(12)) <= train_values  # sampled from the model's training rows only
    assert dep["sign"]["models"] <= len(ok)


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({}, 422, "exactly one of symbol or cohort"),
        ({"symbol": "AAPL", "cohort": "abc"}, 422, "exactly one"),
        ({"cohort": "nosuchcohort"}, 404, "no cohort"),
        ({"symbol": "ZZZZ"}, 404, "no model of symbol"),
        ({"symbol": "AAPL", "feature": "not_a_feature"}, 422, "no selected model uses feature"),
        ({"symbol": "AAPL", "feature": "1bad name"}, 422, "feature"),
        ({"symbol": "AAPL", "top": 0}, 422, "top"),
    ],
)
def test_bad_requests_are_refused_with_a_message(client: TestClient, params: dict, status: int, words: str) -> None:
    res = client.get("/shap", params=params)
    assert res.status_code == status, res.text
    assert words in json.dumps(res.json()["detail"])


def test_clustered_importance_over_http_and_in_models_show(client: TestClient, home: dict[str, Any]) -> None:
    model = client.get(f"/models/{home['booster']}").json()
    clusters = model["derived"]["explanations"]["clusters"]
    assert clusters["clusters"] and clusters["scoring"] == "r2"
    shown = cli(home["root"], "models", "show", home["booster"])
    assert shown.returncode == 0, shown.stderr
    assert "Clustered importance" in shown.stdout and clusters["clusters"][0]["members"][0] in shown.stdout


def test_the_cli_prints_what_the_api_returns(client: TestClient, home: dict[str, Any]) -> None:
    res = cli(home["root"], "models", "shap", "--cohort", home["cohort"], "--top", "5", "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == client.get("/shap", params={"cohort": home["cohort"], "top": 5}).json()
    table = cli(home["root"], "models", "shap", "--cohort", home["cohort"])
    assert table.returncode == 0 and "SHAP across 2 model(s)" in table.stdout
    refused = cli(home["root"], "models", "shap")
    assert refused.returncode != 0 and "exactly one of symbol or cohort" in refused.stderr
    helped = cli(home["root"], "train", "--help")
    assert "--cluster-features" in helped.stdout
