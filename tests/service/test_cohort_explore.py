"""GET /cohorts/{id}/explore: a cohort's axes, trials, fANOVA importance and history, in one request."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from walkforward.cli import app as cli_app
from walkforward.registry import NewModel
from walkforward.service import Services

ALPHAS = [1e-4, 1e-3, 1e-2, 1e-1]
RATIOS = [0.1, 0.5, 0.9]
GRID = {"alpha": ALPHAS, "l1_ratio": RATIOS}


def _model(cohort: str, i: int, hp: dict[str, Any], score: float, **derived: Any) -> NewModel:
    return NewModel(
        symbol="AAPL",
        symbols=("AAPL",),
        algorithm="elasticnet_regression",
        timeframe="5m",
        target_transform="log_return",
        request={"symbol": "AAPL"},
        features=("rsi_14",),
        hyperparameters={**hp, "max_iter": 1000},
        folds={},
        metrics={"cv": {"r2": score}, "score": "r2"},
        fingerprint=f"{cohort}-{i}",
        cv_score=score,
        cohort_id=cohort,
        derived=derived,
    )


def _score(alpha: float) -> float:
    return 0.05 - 0.01 * (math.log10(alpha) + 3) ** 2  # depends on alpha only; best at 1e-3


def test_a_grid_cohort_is_explored_in_one_request(make_app: Callable[..., Any], app_services: Services) -> None:
    combos = [dict(zip(GRID, v, strict=True)) for v in itertools.product(*GRID.values())]
    # Registered out of grid order (a search saves what finishes first); one combination fell back to OLS.
    for i, hp in reversed(list(enumerate(combos))):
        fallback = (
            {"fitted": "ols", "reason": "every coefficient zero"}
            if hp["alpha"] == 0.1 and hp["l1_ratio"] == 0.9
            else None
        )
        search = {"strategy": "grid", "grid": GRID, "grid_size": len(combos)}
        extra = {"fallback": fallback} if fallback else {}
        app_services.registry.add(_model("g1", i, hp, _score(hp["alpha"]), search=search, **extra), "a")
    res = TestClient(make_app()).get("/cohorts/g1/explore")
    assert res.status_code == 200
    body = res.json()
    assert (body["metric"], body["direction"], body["strategy"]) == ("r2", "maximize", "grid")
    assert "higher is better" in body["score_label"]
    assert body["axes"] == [
        {"name": "alpha", "kind": "log", "values": ALPHAS},
        {"name": "l1_ratio", "kind": "linear", "values": RATIOS},
    ]
    assert body["fixed"] == {"max_iter": 1000}
    assert len(body["trials"]) == len(combos)
    assert sum(t["fallback"] == "ols" for t in body["trials"]) == 1
    names = [it["name"] for it in body["importance"]["items"]]
    assert names == ["alpha", "l1_ratio"] and body["importance"]["note"] is None
    assert body["importance"]["left_out"].startswith("1 sibling(s) that fitted a fallback left out")

    history = body["history"]
    assert history["order"] == "grid" and "grid order" in history["label"]
    by_id = {t["model_id"]: t for t in body["trials"]}
    walked = [
        (by_id[p["model_id"]]["params"]["alpha"], by_id[p["model_id"]]["params"]["l1_ratio"]) for p in history["points"]
    ]
    assert walked == [(c["alpha"], c["l1_ratio"]) for c in combos]  # the grid's order, not registration's
    bests = [p["best"] for p in history["points"]]
    assert bests == list(itertools.accumulate((p["score"] for p in history["points"]), max))


def test_a_search_with_trial_positions_shows_trial_order(make_app: Callable[..., Any], app_services: Services) -> None:
    alphas = [1e-3, 1e-1, 1e-2, 1e-4, 1e-3]
    for trial, (alpha, ratio) in enumerate(zip(alphas, [0.1, 0.5, 0.9, 0.1, 0.9], strict=True)):
        search = {"strategy": "optuna", "grid": GRID, "grid_size": 12, "trial": trial}
        app_services.registry.add(
            _model("o1", trial, {"alpha": alpha, "l1_ratio": ratio}, _score(alpha), search=search), "a"
        )
    body = TestClient(make_app()).get("/cohorts/o1/explore").json()
    assert body["history"]["order"] == "trial"
    assert [p["score"] for p in body["history"]["points"]] == [_score(a) for a in alphas]


def test_cli_and_api_explore_alike(
    make_app: Callable[..., Any], app_services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i, (alpha, ratio) in enumerate(itertools.product(ALPHAS, RATIOS)):
        app_services.registry.add(_model("c1", i, {"alpha": alpha, "l1_ratio": ratio}, _score(alpha)), "a")
    settings = app_services.settings
    monkeypatch.setenv("FEATURES_PARQUET_DIR", str(settings.features_parquet_dir))
    monkeypatch.setenv("MODELS_DIR", str(settings.models_dir))
    monkeypatch.setenv("METADATA_DB_PATH", str(settings.metadata_db_path))
    monkeypatch.delenv("METADATA_DB_URL", raising=False)
    api = TestClient(make_app()).get("/cohorts/c1/explore").json()
    res = CliRunner().invoke(cli_app, ["models", "explore", "c1", "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == api
    table = CliRunner().invoke(cli_app, ["models", "explore", "c1"], catch_exceptions=False)
    assert table.exit_code == 0 and "alpha" in table.stdout and "fANOVA" in table.stdout


def test_too_few_siblings_and_unknown_cohorts(make_app: Callable[..., Any], app_services: Services) -> None:
    for i, alpha in enumerate(ALPHAS[:3]):
        app_services.registry.add(_model("s1", i, {"alpha": alpha}, _score(alpha)), "a")
    client = TestClient(make_app())
    body = client.get("/cohorts/s1/explore").json()
    assert body["importance"]["items"] == [] and body["importance"]["note"].startswith("not enough variation")
    assert body["history"]["order"] == "registration"
    missing = client.get("/cohorts/nope/explore")
    assert missing.status_code == 404 and "no cohort 'nope'" in missing.json()["detail"]
