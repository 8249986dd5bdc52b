"""The list path of the API: capped pages, brief rows, cached charts, and a start without heavy libraries."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from walkforward.registry import MAX_PAGE, NewModel
from walkforward.service import Services

BRIEF_KEYS = {
    "id",
    "created_at",
    "status",
    "symbol",
    "symbols",
    "algorithm",
    "timeframe",
    "target_transform",
    "cv_score",
    "cohort_id",
    "cohort_rank",
    "parent_model_id",
    "fingerprint",
    "features",
    "metrics",
}
SAME_SITE = {"X-Requested-With": "test"}  # state-changing requests must say they are not a cross-site form
DETAILS = {"rsi_14": {"shap_mean_abs": 0.3, "permutation_mean": 0.1}, "macd": {"shap_mean_abs": 0.1}}
REGIMES = {"regime_vix": {"0": {"rsi_14": 0.2, "macd": 0.05}, "1": {"rsi_14": 0.4, "macd": 0.1}}}


def _model(fingerprint: str, **extra: Any) -> NewModel:
    fields: dict[str, Any] = {
        "symbol": "AAPL",
        "symbols": ("AAPL", "QQQ"),
        "algorithm": "elasticnet_regression",
        "timeframe": "5m",
        "target_transform": "log_return",
        "request": {"symbol": "AAPL,QQQ"},
        "features": ("rsi_14", "macd"),
        "hyperparameters": {"alpha": 0.001},
        "folds": {},
        "metrics": {"cv": {"r2": 0.125, "rmse": 0.5}, "score": "r2"},
        "fingerprint": fingerprint,
        "cv_score": 0.125,
    }
    return NewModel(**{**fields, **extra})


def test_pages_are_capped_with_a_message_that_says_how_to_page(make_app: Callable[..., Any]) -> None:
    client = TestClient(make_app())
    assert client.get("/models", params={"limit": MAX_PAGE}).status_code == 200
    refused = client.get("/models", params={"limit": MAX_PAGE + 1})
    assert refused.status_code == 422
    detail = refused.json()["detail"]
    assert f"limit={MAX_PAGE + 1}" in detail and f"at most {MAX_PAGE}" in detail and "offset" in detail
    assert client.get("/models", params={"limit": 0}).status_code == 422
    schema = client.get("/openapi.json").json()["paths"]["/models"]["get"]["parameters"]
    assert next(p for p in schema if p["name"] == "limit")["schema"]["maximum"] == MAX_PAGE


def test_list_rows_keep_the_brief_shape(make_app: Callable[..., Any], app_services: Services) -> None:
    record = app_services.registry.add(_model("fp-brief"), "artifact")
    page = TestClient(make_app()).get("/models", params={"sort": "metrics.rmse"}).json()
    assert page["total"] == 1
    (item,) = page["items"]
    assert set(item) == BRIEF_KEYS | {"tags"}  # a list row adds the user's tags to the brief form
    assert item["tags"] == []
    assert (item["id"], item["features"], item["metrics"]) == (record.id, 2, {"r2": 0.125, "rmse": 0.5})


def test_charts_are_drawn_once_until_the_explanations_change_and_forgotten_on_delete(
    make_app: Callable[..., Any], app_services: Services
) -> None:
    client = TestClient(make_app())
    record = app_services.registry.add(
        _model("fp-chart", feature_details=DETAILS, regime_importance=REGIMES), "artifact"
    )
    url = f"/models/{record.id}/plots/regimes.png"
    first, again = client.get(url), client.get(url)
    assert first.status_code == again.status_code == 200 and first.headers["content-type"] == "image/png"
    assert first.content == again.content and app_services.plots.draws == 1
    assert client.get(f"/models/{record.id}/plots/importance.png").status_code == 200
    assert app_services.plots.draws == 2 and len(app_services.plots) == 2

    # Explanations recomputed (as `models explain` does, possibly from another process): drawn again.
    app_services.registry.update_explanations(record.id, DETAILS, {"regime_vix": {"0": {"rsi_14": 0.9}}})
    changed = client.get(url)
    assert changed.status_code == 200 and changed.content != first.content and app_services.plots.draws == 3

    assert client.delete(f"/models/{record.id}", headers=SAME_SITE).status_code == 200
    assert len(app_services.plots) == 0
    assert client.get(url).status_code == 404


def test_a_cohort_delete_forgets_its_charts(make_app: Callable[..., Any], app_services: Services) -> None:
    client = TestClient(make_app())
    kept = app_services.registry.add(_model("fp-kept", feature_details=DETAILS), "a")
    gone = app_services.registry.add(_model("fp-gone", feature_details=DETAILS, cohort_id="c1"), "b")
    for model in (kept, gone):
        assert client.get(f"/models/{model.id}/plots/importance.png").status_code == 200
    assert client.delete("/cohorts/c1", headers=SAME_SITE).json() == {"cohort_id": "c1", "deleted": 1}
    assert len(app_services.plots) == 1 and app_services.plots.draws == 2
    assert client.get(f"/models/{kept.id}/plots/importance.png").status_code == 200
    assert app_services.plots.draws == 2  # the kept model's chart is still cached


def test_health_probes_share_their_checks(make_app: Callable[..., Any]) -> None:
    """A burst of probes is answered from one or two checks, not one database round trip each."""
    with TestClient(make_app()) as client, ThreadPoolExecutor(8) as pool:  # one event loop, as a server has
        answers = list(pool.map(lambda _: client.get("/health"), range(40)))
    assert all(a.status_code == 200 for a in answers), {(a.status_code, a.text[:300]) for a in answers}
    assert len({a.json()["checked_at"] for a in answers}) <= 3


#: What listing models and answering /health must not load (imported by training, charts, data only).
HEAVY = ("numpy", "pandas", "pyarrow", "duckdb", "scipy", "sklearn", "joblib", "lightgbm", "xgboost", "shap")
HEAVY += ("matplotlib", "dask", "optuna")


def test_the_api_serves_lists_and_health_without_heavy_libraries(tmp_path: Path) -> None:
    """A fresh server process: health, the UI and every list sort, and none of the modelling stack loaded."""
    code = f"""
import sys
from walkforward.config import Settings
from walkforward.service import create_app
from starlette.testclient import TestClient
settings = Settings(metadata_db_path={str(tmp_path / "metadata.db")!r}, models_dir={str(tmp_path / "models")!r},
                    features_parquet_dir={str(tmp_path / "features")!r})
with TestClient(create_app(settings, run_jobs=False)) as client:
    assert client.get("/health").json()["status"] == "ok"
    assert client.get("/").status_code == 200
    for sort in ("created_at", "cv_score", "cohort_rank", "metrics.r2"):
        assert client.get("/models", params={{"sort": sort, "symbol": "AAPL"}}).status_code == 200
print("loaded:" + ",".join(m for m in {HEAVY!r} if m in sys.modules))
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "loaded:"


def test_task_and_id_prefix_filters(make_app: Callable[..., Any], app_services: Services) -> None:
    """A task filter keeps score sorts to one metric (R² or accuracy); a short id as shown finds its model."""
    reg = app_services.registry
    regressor = reg.add(_model("fp-reg"), "a")
    classifier = reg.add(
        _model(
            "fp-clf",
            algorithm="logistic_classification",
            metrics={"cv": {"accuracy": 0.9, "sharpe": 1.5, "ic": 0.1}, "score": "accuracy"},
            cv_score=0.9,
        ),
        "b",
    )
    client = TestClient(make_app())
    ids = lambda **q: [m["id"] for m in client.get("/models", params={"sort": "cv_score", **q}).json()["items"]]  # noqa: E731
    assert ids() == [classifier.id, regressor.id]
    assert ids(task="regression") == [regressor.id]
    assert ids(task="classification") == [classifier.id]
    assert client.get("/models", params={"task": "clustering"}).status_code == 422
    assert ids(id_prefix=classifier.id[:8]) == [classifier.id]
    assert ids(id_prefix="zz") == []
    page = client.get("/models", params={"sort": "metrics.sharpe", "task": "classification"}).json()
    assert page["items"][0]["metrics"] == {"accuracy": 0.9, "sharpe": 1.5, "ic": 0.1}
