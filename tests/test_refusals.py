"""One table of refusals, each checked through the library, the CLI and the API, before any data is read.

The store here holds valid metadata (symbols, feature names, lookbacks) but every day file is
garbage: a request that got as far as reading data would fail with a Parquet error instead of the
expected message, so each case proves the refusal came first. The messages are the same one line
at every entry point.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from walkforward.config import Settings
from walkforward.domain import SplitScheme
from walkforward.errors import WalkforwardError
from walkforward.features.demo import generate_market
from walkforward.features.pipeline import ingest_frames
from walkforward.features.store import FeatureStore
from walkforward.registry import ModelStore
from walkforward.request import SearchRequest, parse
from walkforward.service import Services, create_app
from walkforward.training import train

BASE: dict[str, Any] = {"symbol": "AAPL,QQQ,VIX", "algorithm": "elasticnet_regression", "timeframe": "5m"}

#: (id, request fields over BASE, what the one-line message must contain)
REFUSALS: list[tuple[str, dict[str, Any], str]] = [
    ("unknown-symbol", {"symbol": "AAPL,NOPE"}, "unknown symbol(s) NOPE"),
    ("negative-alpha", {"hyperparameters": {"alpha": -1}}, "invalid alpha=-1 for elasticnet_regression"),
    (
        "zero-trees",
        {"algorithm": "xgboost_regressor", "hyperparameters": {"n_estimators": 0}},
        "invalid n_estimators=0",
    ),
    ("negative-leaves", {"algorithm": "lightgbm_regressor", "hyperparameters": {"num_leaves": -3}}, "num_leaves=-3"),
    ("negative-l1", {"algorithm": "lightgbm_regressor", "hyperparameters": {"reg_alpha": -0.5}}, "reg_alpha=-0.5"),
    ("unknown-knob", {"hyperparameters": {"no_such_knob": 1}}, "unknown hyperparameter(s) no_such_knob"),
    ("negative-grid", {"search": "grid", "grids": {"alpha_grid": [0.1, -1]}}, "invalid alpha=-1 in alpha_grid"),
    ("foreign-grid", {"search": "grid", "grids": {"num_leaves_grid": [7]}}, "num_leaves_grid does not apply"),
    ("lookforward", {"lookforward": 99999}, "invalid lookforward=99999"),
    ("whitelist", {"feature_whitelist": ["ret_1", "no_such_feature"]}, "unknown feature(s) no_such_feature"),
    ("parent-path", {"parent_model_id": "../../x"}, "invalid parent_model_id='../../x'"),
    ("parent-unknown", {"parent_model_id": "0123abcd"}, "unknown parent_model_id 0123abcd"),
    ("algorithm", {"algorithm": "nope"}, "invalid algorithm='nope'"),
    ("dates", {"start": "2024-03-01", "end": "2024-02-01"}, "start 2024-03-01 is after end 2024-02-01"),
    ("p-value", {"p_value_threshold": 0}, "invalid p_value_threshold=0"),
    ("timeframe", {"timeframe": "3m"}, "invalid timeframe='3m': Input should be '1m', '5m', '15m', '1h' or '1d'"),
    ("transform", {"target_transform": "diff"}, "invalid target_transform='diff'"),
    ("validation", {"validation": "kfold"}, "invalid validation='kfold'"),
    ("bad-value-type", {"hyperparameters": {"alpha": "lots"}}, "invalid alpha='lots' for elasticnet_regression"),
    ("symbol-injection", {"symbol": "AAPL;DROP"}, "invalid symbol 'AAPL;DROP'"),
    ("grid-without-search", {"search": "none", "grids": {"alpha_grid": [0.1]}}, "need a search"),
    ("unknown-grid", {"search": "grid", "grids": {"alpha_grids": [0.1]}}, "unknown grid parameter 'alpha_grids'"),
    (
        "rf-max-features",
        {"algorithm": "random_forest_regressor", "hyperparameters": {"max_features": 2.5}},
        "'max_features'",
    ),
    ("embargo", {"embargo": -1}, "invalid embargo=-1"),
    ("path-symbol", {"symbol": "../etc"}, "invalid symbol '../etc'"),
    ("search", {"search": "exhaustive"}, "invalid search='exhaustive': Input should be 'none', 'auto', 'grid'"),
    ("lookforward-zero", {"lookforward": 0}, "invalid lookforward=0"),
    ("budget", {"search": "grid", "budget": "10x"}, "invalid budget='10x': use a wall time such as 90s, 10m or 2h"),
    ("budget-fractional-fits", {"search": "grid", "budget": "2.5fits"}, "or a number of fits such as 500fits"),
    ("budget-without-search", {"search": "none", "budget": "10m"}, "budget=10m needs a search"),
    (
        "grid-size",
        {
            "search": "grid",
            "grids": {
                "alpha_grid": [i / 1e5 for i in range(1, 501)],
                "l1_ratio_grid": [i / 1000 for i in range(1, 301)],
            },
        },
        "150,000 combinations",
    ),
]


@pytest.fixture(scope="module")
def poisoned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store whose metadata is valid and whose every day file is garbage; returns its root."""
    root = tmp_path_factory.mktemp("poisoned") / "features_parquet"
    ingest_frames(
        FeatureStore(root), generate_market(days=4, symbols=("AAPL", "QQQ", "VIX"), seed=1), scheme=SplitScheme(2, 1)
    )
    for f in root.glob("*/dt=*/*.parquet"):
        f.write_bytes(b"not parquet at all")
    return root


@pytest.fixture()
def settings(poisoned: Path, tmp_path: Path) -> Settings:
    return Settings(features_parquet_dir=poisoned, models_dir=tmp_path / "models", metadata_db_path=tmp_path / "m.db")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def test_the_store_really_is_unreadable(settings: Settings) -> None:
    """The premise: reading data from this store fails (so reaching the loader would show)."""
    with ModelStore.open(settings.database_url, settings.models_dir) as registry, pytest.raises(Exception) as err:
        train(
            parse(SearchRequest, BASE).training(), store=FeatureStore(settings.features_parquet_dir), registry=registry
        )
    assert "parquet" in str(err.value).lower() or "magic" in str(err.value).lower()


@pytest.mark.parametrize(("fields", "message"), [c[1:] for c in REFUSALS], ids=[c[0] for c in REFUSALS])
def test_library_refuses(settings: Settings, fields: dict[str, Any], message: str) -> None:
    from walkforward.preflight import check_request

    with (
        ModelStore.open(settings.database_url, settings.models_dir) as registry,
        pytest.raises(WalkforwardError) as err,
    ):
        req = parse(SearchRequest, {**BASE, **fields})
        check_request(req, store=FeatureStore(settings.features_parquet_dir), registry=registry)
    assert message in str(err.value)


def _cli_args(fields: dict[str, Any]) -> list[str]:
    req = {**BASE, **fields}
    args = ["search" if "search" in req else "train", str(req.pop("symbol"))]
    for key, value in req.items():
        flag = "--" + key.replace("_", "-")
        if key == "hyperparameters":
            args += [a for k, v in value.items() for a in ("--param", f"{k}={json.dumps(v)}")]
        elif key == "grids":
            args += [a for k, v in value.items() for a in ("--grid", f"{k}={json.dumps(v)}")]
        elif key == "feature_whitelist":
            args += [flag, ",".join(value)]
        else:
            args += [flag, str(value)]
    return args


@pytest.mark.parametrize(("fields", "message"), [c[1:] for c in REFUSALS], ids=[c[0] for c in REFUSALS])
def test_cli_refuses(settings: Settings, monkeypatch: pytest.MonkeyPatch, fields: dict[str, Any], message: str) -> None:
    from walkforward.cli import app

    monkeypatch.setenv("FEATURES_PARQUET_DIR", str(settings.features_parquet_dir))
    monkeypatch.setenv("MODELS_DIR", str(settings.models_dir))
    monkeypatch.setenv("METADATA_DB_PATH", str(settings.metadata_db_path))
    monkeypatch.delenv("METADATA_DB_URL", raising=False)
    result = CliRunner().invoke(app, _cli_args(fields))
    assert result.exit_code != 0
    assert isinstance(result.exception, WalkforwardError | SystemExit), result.exception
    text = _one_line(str(result.exception) + result.output)
    assert message in text
    assert "parquet" not in text.lower()


@pytest.fixture()
def client(settings: Settings) -> Iterator[TestClient]:
    svc = Services.open(settings, run_jobs=False)
    try:
        with TestClient(create_app(settings, services=svc)) as c:
            yield c
    finally:
        svc.close()


@pytest.mark.parametrize(("fields", "message"), [c[1:] for c in REFUSALS], ids=[c[0] for c in REFUSALS])
def test_api_refuses_at_submit(client: TestClient, fields: dict[str, Any], message: str) -> None:
    res = client.post("/train", json={**BASE, **fields})
    assert res.status_code == 422, res.text
    assert message in res.json()["detail"]
    assert client.get("/jobs").json()["total"] == 0  # nothing was queued


def test_poisoned_store_is_left_alone(poisoned: Path) -> None:
    """Nothing above wrote to or repaired the store."""
    assert all(f.read_bytes() == b"not parquet at all" for f in poisoned.glob("*/dt=*/*.parquet"))
