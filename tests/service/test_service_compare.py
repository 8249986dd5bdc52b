"""GET /compare: two to six models side by side in one request, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from walkforward.config import Settings
from walkforward.registry import NewModel
from walkforward.service import Services, create_app
from walkforward.side_by_side import compare_many

REQUEST = {"symbol": "AAPL,QQQ", "algorithm": "elasticnet_regression", "timeframe": "5m", "cost_bps": 1.0}
FOLDS = [
    {"fold": 1, "r2": 0.1, "sharpe": 1.2, "confusion_matrix": [[1, 2], [3, 4]]},
    {"fold": 2, "r2": 0.2, "sharpe": None},
]


def _model(fingerprint: str, alpha: float, *, request: dict[str, Any] | None = None, r2: float = 0.15) -> NewModel:
    return NewModel(
        symbol="AAPL",
        symbols=("AAPL", "QQQ"),
        algorithm="elasticnet_regression",
        timeframe="5m",
        target_transform="log_return",
        request={**REQUEST, **(request or {})},
        features=("rsi_14", "macd"),
        hyperparameters={"alpha": alpha, "l1_ratio": 0.5},
        folds={},
        metrics={
            "cv": {"r2": r2, "sharpe": 1.2, "max_drawdown": 0.05, "turnover": 0.4},
            "folds": FOLDS,
            "trading": {"overall": {"sharpe": 1.2}},
            "score": "r2",
        },
        fingerprint=fingerprint,
        cv_score=r2,
    )


@pytest.fixture()
def services(database_url: str, service_store: Path, tmp_path: Path) -> Iterator[Services]:
    """Opened stores on an empty registry of each backend (no job runner)."""
    settings = Settings(
        features_parquet_dir=service_store, models_dir=tmp_path / "models", metadata_db_url=database_url
    )
    svc = Services.open(settings, run_jobs=False)
    yield svc
    svc.close()


@pytest.fixture()
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services.settings, services=services)) as c:
        yield c


def test_compare_returns_each_model_and_the_differing_keys(services: Services, client: TestClient) -> None:
    reg = services.registry
    a = reg.add(_model("fp-a", 0.001), "a")
    b = reg.add(_model("fp-b", 0.01), "b")
    c = reg.add(_model("fp-c", 0.001, request={"cost_bps": 2.0}, r2=0.3), "c")

    res = client.get("/compare", params={"ids": f"{a.id[:8]}, {b.id},{c.id}"})
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["ids"] == [a.id, b.id, c.id]  # the short id is resolved; the order is kept
    assert body["differences"] == {"request": ["cost_bps"], "hyperparameters": ["alpha"], "cv": ["r2"]}
    first = body["models"][0]
    assert first["id"] == a.id and first["algorithm"] == "elasticnet_regression" and first["score"] == "r2"
    assert first["request"] == REQUEST and first["hyperparameters"] == {"alpha": 0.001, "l1_ratio": 0.5}
    assert first["cv"]["max_drawdown"] == 0.05 and first["cv"]["turnover"] == 0.4
    # Per-fold scalars only: a confusion matrix is not a metric one can put in a row.
    assert first["folds"] == [{"fold": 1, "r2": 0.1, "sharpe": 1.2}, {"fold": 2, "r2": 0.2, "sharpe": None}]
    assert first["predictions_kept"] is False
    assert "trading" not in first and "metrics" not in first
    # The route is the library function the CLI calls.
    assert body == compare_many(reg, [a.id[:8], b.id, c.id])


def test_compare_refuses_what_it_cannot_show(services: Services, client: TestClient) -> None:
    reg = services.registry
    one = reg.add(_model("fp-1", 0.1), "a", model_id="abc-1")
    two = reg.add(_model("fp-2", 0.2), "b", model_id="abc-2")

    unknown = client.get("/compare", params={"ids": f"{one.id},nosuchmodel"})
    assert unknown.status_code == 404 and "nosuchmodel" in unknown.json()["detail"]

    for ids in (one.id, ",".join([one.id] * 7), ""):
        res = client.get("/compare", params={"ids": ids})
        assert res.status_code == 422, (ids, res.text)
    assert "2 to 6" in client.get("/compare", params={"ids": one.id}).json()["detail"]

    ambiguous = client.get("/compare", params={"ids": f"abc,{two.id}"})
    assert ambiguous.status_code == 422 and "'abc'" in ambiguous.json()["detail"]
    twice = client.get("/compare", params={"ids": f"{one.id},abc-1"})
    assert twice.status_code == 422 and "twice" in twice.json()["detail"]
    bad = client.get("/compare", params={"ids": f"{one.id},../etc"})
    assert bad.status_code == 422 and "invalid model id" in bad.json()["detail"]
    assert client.get("/compare").status_code == 422

    ok = client.get("/compare", params={"ids": "abc-1,abc-2"}).json()
    assert ok["ids"] == [one.id, two.id] and ok["differences"]["hyperparameters"] == ["alpha"]


def test_the_cli_compares_as_the_api_does(
    services: Services, client: TestClient, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from walkforward.cli import app as cli_app

    reg = services.registry
    a = reg.add(_model("fp-a", 0.001), "a")
    b = reg.add(_model("fp-b", 0.01), "b")
    settings = services.settings
    monkeypatch.setenv("FEATURES_PARQUET_DIR", str(settings.features_parquet_dir))
    monkeypatch.setenv("MODELS_DIR", str(settings.models_dir))
    monkeypatch.setenv("METADATA_DB_URL", database_url)
    monkeypatch.delenv("METADATA_DB_PATH", raising=False)

    res = CliRunner().invoke(cli_app, ["models", "compare-many", a.id[:8], b.id, "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == client.get("/compare", params={"ids": f"{a.id[:8]},{b.id}"}).json()

    table = CliRunner().invoke(
        cli_app, ["models", "compare-many", a.id, b.id, "--only-differences"], env={"COLUMNS": "200"}
    )
    assert table.exit_code == 0, table.output
    assert "≠ alpha" in table.stdout and "l1_ratio" not in table.stdout  # only the rows that differ

    refused = CliRunner().invoke(cli_app, ["models", "compare-many", a.id])
    assert refused.exit_code != 0 and "2 to 6" in str(refused.exception)
