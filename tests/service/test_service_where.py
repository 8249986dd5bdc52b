"""``GET /models?where=...`` and the symbol filter through the API: matches, and 422s that say what is wrong."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from walkforward.model_summary import LISTED_METRICS
from walkforward.registry import NewModel
from walkforward.service import Services


def _model(fingerprint: str, sharpe: float, ic: float, **extra: Any) -> NewModel:
    fields: dict[str, Any] = {
        "symbol": "AAPL",
        "symbols": ("AAPL", "QQQ", "VIX"),
        "algorithm": "elasticnet_regression",
        "timeframe": "5m",
        "target_transform": "log_return",
        "request": {"symbol": "AAPL,QQQ,VIX"},
        "features": ("rsi_14",),
        "hyperparameters": {},
        "folds": {},
        "metrics": {"cv": {"r2": 0.1, "sharpe": sharpe, "ic": ic, "net_annual_return": sharpe / 10}, "score": "r2"},
        "fingerprint": fingerprint,
        "cv_score": 0.1,
    }
    return NewModel(**{**fields, **extra})


@pytest.fixture()
def client(make_app: Callable[..., Any], app_services: Services) -> TestClient:
    for i, (sharpe, ic) in enumerate([(0.5, 0.01), (1.5, -0.02), (2.5, 0.03), (1.0, 0.04)]):
        app_services.registry.add(_model(f"fp-{i}", sharpe, ic), "artifact")
    app_services.registry.add(_model("fp-msft", 3.0, 0.1, symbol="MSFT", symbols=("MSFT",)), "artifact")
    return TestClient(make_app())


def _sharpes(client: TestClient, **params: Any) -> list[float]:
    res = client.get("/models", params={"sort": "metrics.sharpe", **params})
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["total"] == len(body["items"])
    return [m["metrics"]["sharpe"] for m in body["items"]]


def test_where_filters_on_listed_metrics(client: TestClient) -> None:
    assert _sharpes(client, where="sharpe > 1") == [3.0, 2.5, 1.5]
    assert _sharpes(client, where="sharpe>=1 and ic > 0") == [3.0, 2.5, 1.0]
    assert _sharpes(client, where=["sharpe > 1", "ic > 0"]) == [3.0, 2.5]  # repeated: all must hold
    assert _sharpes(client, where="net_annual_return = 0.25") == [2.5]
    assert _sharpes(client, where="sharpe > 1", symbol="vix") == [2.5, 1.5]  # any case; VIX is a context symbol
    assert _sharpes(client, where="sharpe > 1", symbol="MSFT") == [3.0]
    # metric names in any case name the stored metric
    assert _sharpes(client, where="Sharpe >= 1 and IC > 0") == _sharpes(client, where="sharpe>=1 and ic > 0")
    assert _sharpes(client, where="NET_Annual_Return = 0.25") == [2.5]


def test_symbol_filter_matches_context_symbols_unless_primary_only(client: TestClient) -> None:
    assert client.get("/models", params={"symbol": "VIX"}).json()["total"] == 4
    assert client.get("/models", params={"symbol": "VIX", "primary_only": "true"}).json()["total"] == 0
    assert client.get("/models", params={"symbol": "AAPL", "primary_only": "true"}).json()["total"] == 4


@pytest.mark.parametrize(
    ("where", "token"),
    [
        ("sharp > 1", "unknown metric 'sharp'"),
        ("sharpe >> 1", "'>'"),
        ("sharpe > 1 or ic > 0", "'or'"),
        ("sharpe > ", "the end of the filter"),
        ("sharpe ~ 1", "'~'"),
        ("cv_score > 1", "unknown metric 'cv_score'"),
        ("Sharp > 1", "unknown metric 'Sharp'"),  # named as written
        ("sharpe > 1e999", "'1e999'"),
    ],
)
def test_bad_filters_are_422_naming_the_token_and_the_allowed_metrics(
    client: TestClient, where: str, token: str
) -> None:
    res = client.get("/models", params={"where": where})
    assert res.status_code == 422
    detail = res.json()["detail"]
    assert isinstance(detail, str) and token in detail and where.strip() in detail
    assert all(name in detail for name in LISTED_METRICS)


def test_too_many_filters_are_refused(client: TestClient) -> None:
    res = client.get("/models", params={"where": " and ".join(["sharpe > 0"] * 11)})
    assert res.status_code == 422 and "at most 10" in res.json()["detail"]
    assert client.get("/models", params={"where": ["sharpe > 0"] * 11}).status_code == 422
