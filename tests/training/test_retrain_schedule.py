"""The retraining-schedule simulation on a market whose dynamics change halfway: frozen vs retrained."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from walkforward.cli import app
from walkforward.domain import SplitScheme
from walkforward.errors import InvalidInputError
from walkforward.features.demo import generate_market
from walkforward.features.pipeline import ingest_frames
from walkforward.features.store import FeatureStore
from walkforward.registry import ModelRecord, ModelStore
from walkforward.request import TrainRequest
from walkforward.training import train
from walkforward.training.schedule import simulate_retraining

SYMBOLS = ("AAPL", "QQQ", "VIX")
PRICES = ("open", "high", "low", "close", "vwap")
EVERY, INITIAL = 3, 8


def switched_market(first: int, second: int, *, seed: int, strength: float) -> dict[str, pd.DataFrame]:
    """``first`` days where AAPL follows QQQ's last 5 minutes, then ``second`` days where it goes against them.

    The second part's prices are scaled to start at the first part's last close (no jump at the switch).
    """
    a = generate_market(days=first, symbols=SYMBOLS, seed=seed, predictability=strength)
    last = a["AAPL"]["ts"].dt.tz_convert("America/New_York").dt.date.max()
    start = np.busday_offset(np.datetime64(last, "D"), 1, roll="forward").astype(object)
    b = generate_market(days=second, symbols=SYMBOLS, seed=seed + 100, predictability=-strength, start=start)
    out = {}
    for sym in SYMBOLS:
        later = b[sym].copy()
        ratio = a[sym]["close"].iloc[-1] / later["close"].iloc[0]
        for col in PRICES:
            if col in later:
                later[col] = later[col] * ratio
        out[sym] = pd.concat([a[sym], later], ignore_index=True)
    return out


@pytest.fixture(scope="module")
def regime_store(tmp_path_factory: pytest.TempPathFactory) -> FeatureStore:
    store = FeatureStore(tmp_path_factory.mktemp("regime"))
    ingest_frames(store, switched_market(10, 14, seed=2, strength=0.8), scheme=SplitScheme(4, 2))
    return store


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelStore]:
    root = tmp_path_factory.mktemp("schedule-registry")
    opened = ModelStore.open(f"sqlite:///{root / 'registry.db'}", root / "models")
    yield opened
    opened.dispose()


@pytest.fixture(scope="module")
def model(regime_store: FeatureStore, registry: ModelStore) -> ModelRecord:
    req = TrainRequest.model_validate(
        {
            "symbol": ",".join(SYMBOLS),
            "algorithm": "elasticnet_regression",
            "timeframe": "1m",
            "target_transform": "log_return",
            "hyperparameters": {"alpha": 1e-5, "l1_ratio": 0.5},
            "explain": False,
            "cost_bps": 0.0,  # the switch is what is measured here, not costs
            "slippage_bps": 0.0,
        }
    )
    return train(req, store=regime_store, registry=registry)


@pytest.fixture(scope="module")
def report(model: ModelRecord, regime_store: FeatureStore, registry: ModelStore) -> dict:
    return simulate_retraining(model.id, store=regime_store, registry=registry, every=EVERY, initial_days=INITIAL)


def test_the_report_compares_frozen_and_retrained_net_returns(report: dict, registry: ModelStore) -> None:
    sessions = 24 - INITIAL
    assert len(report["refits"]) == -(-sessions // EVERY)
    for arm in ("frozen", "retrained"):
        assert set(report[arm]) >= {"net_return", "sharpe", "max_drawdown", "net_annual_return"}
        assert report[arm]["sessions"] == sessions == len(report["daily"][arm])
        daily = np.array(report["daily"][arm])
        assert report[arm]["net_return"] == pytest.approx(np.prod(1 + daily) - 1)
    diff = report["difference"]
    gap = np.array(report["daily"]["retrained"]) - np.array(report["daily"]["frozen"])
    assert diff["mean_daily"] == pytest.approx(gap.mean())
    assert diff["ci95"][0] < diff["mean_daily"] < diff["ci95"][1] and 0 <= diff["p_value"] <= 1
    # until the first refit after the initial one, both arms are the same model trading the same rows
    np.testing.assert_allclose(report["daily"]["frozen"][:EVERY], report["daily"]["retrained"][:EVERY])
    assert not np.allclose(report["daily"]["frozen"], report["daily"]["retrained"])
    assert report["trading"]["commission_bps"] == 0.0 and report["trading"]["lag"] == 1
    assert len(registry.descendants(report["model_id"])) == 0  # a simulation registers nothing


def test_no_refit_trains_on_the_period_it_trades(report: dict) -> None:
    for refit in report["refits"]:
        assert refit["last_train_session"] < refit["trade_start"] <= refit["trade_end"]
    starts = [r["trade_start"] for r in report["refits"]]
    assert starts == sorted(set(starts))


def test_after_the_switch_retraining_beats_the_frozen_model(report: dict) -> None:
    """The frozen model keeps trading the first regime's sign after it flipped; refits learn the new one."""
    assert report["retrained"]["net_return"] > report["frozen"]["net_return"]
    assert report["difference"]["ci95"][0] > 0  # measurably: the paired 95% interval excludes zero
    assert report["retrained"]["sharpe"] > report["frozen"]["sharpe"]


def test_refusals(model: ModelRecord, regime_store: FeatureStore, registry: ModelStore) -> None:
    with pytest.raises(InvalidInputError, match="no session follows model"):
        simulate_retraining(model.id, store=regime_store, registry=registry, every=3)  # trained on every day
    with pytest.raises(InvalidInputError, match="none after an initial window of 24"):
        simulate_retraining(model.id, store=regime_store, registry=registry, every=3, initial_days=24)


def test_the_cli_prints_the_same_report(
    model: ModelRecord, regime_store: FeatureStore, registry: ModelStore, report: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEATURES_PARQUET_DIR", str(regime_store.root))
    monkeypatch.setenv("MODELS_DIR", str(registry.models_dir))
    monkeypatch.setenv("METADATA_DB_URL", str(registry.url))
    args = ["retrain", model.id, "--simulate", "--every", str(EVERY), "--initial-days", str(INITIAL)]
    res = CliRunner().invoke(app, [*args, "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    shown = json.loads(res.stdout)
    assert shown["frozen"] == report["frozen"] and shown["retrained"] == report["retrained"]
    table = CliRunner().invoke(app, args, catch_exceptions=False)
    assert table.exit_code == 0 and "retrained - frozen" in table.stdout and "frozen" in table.stdout


def test_the_cli_retrains_once_then_says_no_new_data(
    model: ModelRecord, regime_store: FeatureStore, registry: ModelStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEATURES_PARQUET_DIR", str(regime_store.root))
    monkeypatch.setenv("MODELS_DIR", str(registry.models_dir))
    monkeypatch.setenv("METADATA_DB_URL", str(registry.url))
    res = CliRunner().invoke(app, ["retrain", model.id, "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    done = json.loads(res.stdout)
    assert done["trained"] and done["retrained_from"] == model.id
    assert (
        done["retrain"]["rows"].startswith("all up to ")
        and done["retrain"]["rows_used"] > model.folds["final_train_rows"]
    )
    again = CliRunner().invoke(app, ["retrain", model.id], catch_exceptions=False)
    assert again.exit_code == 0 and "no new data since" in again.stdout and "nothing trained" in again.stdout
    lineage = CliRunner().invoke(app, ["models", "lineage", done["model_id"], "--json"], catch_exceptions=False)
    assert json.loads(lineage.stdout)["model"]["retrained_from"] == model.id
    missing = CliRunner().invoke(app, ["retrain", "nope"])
    assert missing.exit_code != 0


@pytest.fixture(scope="module", params=["lightgbm_regressor", "xgboost_regressor"])
def booster(request: pytest.FixtureRequest, regime_store: FeatureStore, registry: ModelStore) -> ModelRecord:
    req = TrainRequest.model_validate(
        {
            "symbol": ",".join(SYMBOLS),
            "algorithm": request.param,
            "timeframe": "5m",
            "target_transform": "log_return",
            "hyperparameters": {"n_estimators": 15, "max_depth": 3},
            "explain": False,
        }
    )
    return train(req, store=regime_store, registry=registry)


def test_warm_start_continues_the_trees_on_the_new_rows_only(
    booster: ModelRecord, regime_store: FeatureStore, registry: ModelStore
) -> None:
    kw = {"store": regime_store, "registry": registry, "every": 4, "initial_days": INITIAL}
    warm = simulate_retraining(booster.id, warm_start=True, **kw)
    cold = simulate_retraining(booster.id, **kw)
    assert warm["warm_start"] and not cold["warm_start"]
    refits = warm["refits"]
    assert [r["trees"] for r in refits] == [15 * (k + 1) for k in range(len(refits))]
    assert refits[0]["rows_fitted"] == refits[0]["train_rows"]
    for before, now in zip(refits, refits[1:], strict=False):
        assert now["rows_fitted"] == now["train_rows"] - before["train_rows"] > 0  # only rows labelled since
    assert all(r["trees"] == 15 and r["rows_fitted"] == r["train_rows"] for r in cold["refits"])
    # the frozen arm is the same first fit either way (continuing never touched it)
    np.testing.assert_allclose(warm["daily"]["frozen"], cold["daily"]["frozen"])
    assert not np.allclose(warm["daily"]["retrained"], cold["daily"]["retrained"])


def test_warm_start_is_refused_for_a_model_without_one(
    model: ModelRecord, regime_store: FeatureStore, registry: ModelStore
) -> None:
    with pytest.raises(InvalidInputError, match="warm start is for boosters"):
        simulate_retraining(
            model.id, store=regime_store, registry=registry, every=3, initial_days=INITIAL, warm_start=True
        )
