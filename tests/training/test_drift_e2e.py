"""Drift end to end: demo bars ingested, a model trained, later days with a regime shift ingested, drift reported."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from walkforward.config import Settings
from walkforward.domain import SplitScheme
from walkforward.errors import DataNotFoundError
from walkforward.evaluation.drift import DriftConfig
from walkforward.features.demo import generate_market
from walkforward.features.pipeline import ingest_frames
from walkforward.features.store import FeatureStore
from walkforward.registry import ModelStore
from walkforward.service import Services, create_app
from walkforward.training import TrainRequest, train
from walkforward.training.drift import drift_report

SYMBOLS = ("AAPL", "QQQ", "VIX")
DAYS, TRAIN_DAYS = 24, 16


def shifted_market(seed: int = 5) -> dict[str, pd.DataFrame]:
    """The demo market whose stocks' returns are 3x as volatile, and volume 4x, after the first 16 days."""
    frames = generate_market(days=DAYS, symbols=SYMBOLS, seed=seed)
    out = {}
    for sym, bars in frames.items():
        bars = bars.copy()
        days = bars["ts"].dt.tz_convert("America/New_York").dt.date
        later = (days > sorted(days.unique())[TRAIN_DAYS - 1]).to_numpy()
        if "open" in bars:
            r = np.diff(np.log(bars["close"].to_numpy()), prepend=np.log(bars["close"].iloc[0]))
            r[~later] = 0.0
            scale = np.exp(np.cumsum(2.0 * r))  # the later returns tripled: r + 2r
            for col in ("open", "high", "low", "close", "vwap"):
                bars[col] = bars[col] * scale
            bars.loc[later, "volume"] = bars.loc[later, "volume"] * 4
        out[sym] = bars
    return out


def first_days(frames: dict[str, pd.DataFrame], n: int) -> dict[str, pd.DataFrame]:
    out = {}
    for sym, bars in frames.items():
        days = bars["ts"].dt.tz_convert("America/New_York").dt.date
        out[sym] = bars[days <= sorted(days.unique())[n - 1]].reset_index(drop=True)
    return out


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, FeatureStore, ModelStore, str]]:
    root = tmp_path_factory.mktemp("drift")
    store = FeatureStore(root / "features_parquet")
    market = shifted_market()
    ingest_frames(store, first_days(market, TRAIN_DAYS), scheme=SplitScheme(4, 2))
    registry = ModelStore.open(f"sqlite:///{root / 'metadata.db'}", root / "models")
    req = TrainRequest(
        symbol=",".join(SYMBOLS),
        algorithm="linear_regression",
        timeframe="5m",
        target_transform="log_return",
        embargo=12,
        explain=False,
    )
    record = train(req, store=store, registry=registry)
    yield root, store, registry, record.id
    registry.dispose()


@pytest.mark.slow
def test_no_later_data_is_a_clear_message_then_a_shift_alerts(
    setup: tuple[Path, FeatureStore, ModelStore, str],
) -> None:
    root, store, registry, model_id = setup
    record = registry.get(model_id)
    end = pd.Timestamp(record.derived["data_end"])
    with pytest.raises(DataNotFoundError, match=rf"no data after {end:%Y-%m-%d %H:%M} UTC .*ingest newer bars"):
        drift_report(model_id, store=store, registry=registry)

    ingest_frames(store, shifted_market(), scheme=SplitScheme(4, 2))  # the bars file again, 8 days longer
    report = drift_report(model_id, store=store, registry=registry, config=DriftConfig(draws=300))
    assert report["status"] == "alert", report["reasons"]
    columns = report["features"]["columns"]
    assert [c["status"] for c in columns] == sorted(
        (c["status"] for c in columns), key=["alert", "warn", "ok"].index
    )  # drifting first
    alerted = {c["name"] for c in columns if c["status"] == "alert"}
    assert alerted & {"realized_vol_60", "volume_z_20", "volume", "realized_vol_60_QQQ"}, alerted
    assert pd.Timestamp(report["window"]["start"]) > end
    assert report["training"]["end"] == end.isoformat()
    # every 5-minute bar of the 8 later days, and the training day's last bar (no target then: not trained on)
    assert report["window"]["rows"] == 8 * 78 + 1
    perf = report["performance"]
    assert perf["metric"] == "r2" and perf["rows"] < report["window"]["rows"]  # the last bars have no target yet
    assert report["predictions"]["columns"][0]["name"] == "prediction"


@pytest.mark.slow
@pytest.mark.e2e
def test_cli_drift_json_and_table(setup: tuple[Path, FeatureStore, ModelStore, str]) -> None:
    root, store, registry, model_id = setup
    ingest_frames(store, shifted_market(), scheme=SplitScheme(4, 2))  # as the test above (the same files again)
    env = {
        **os.environ,
        "FEATURES_PARQUET_DIR": str(root / "features_parquet"),
        "MODELS_DIR": str(root / "models"),
        "METADATA_DB_PATH": str(root / "metadata.db"),
        "WALKFORWARD_DRIFT_DRAWS": "200",
    }
    env.pop("METADATA_DB_URL", None)
    cmd = [sys.executable, "-m", "walkforward", "models", "drift", model_id]
    done = subprocess.run([*cmd, "--json"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["status"] == "alert" and found["method"]["draws"] == 200
    table = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert table.returncode == 0, table.stderr
    assert "ALERT" in table.stdout and "drifting first" in table.stdout
    later = (dt.date.fromisoformat(found["window"]["end"][:10]) + dt.timedelta(days=7)).isoformat()
    none = subprocess.run([*cmd, "--since", later], env=env, capture_output=True, text=True, timeout=300)
    message = " ".join(none.stderr.split())  # rich wraps the line
    assert none.returncode == 2 and "Traceback" not in message
    assert f"training end) from {later}; ingest newer bars" in message, message


@pytest.mark.slow
def test_api_drift_answers_and_says_when_there_is_no_new_data(
    setup: tuple[Path, FeatureStore, ModelStore, str],
) -> None:
    root, store, registry, model_id = setup
    ingest_frames(store, shifted_market(), scheme=SplitScheme(4, 2))
    settings_ = Settings(
        features_parquet_dir=root / "features_parquet",
        models_dir=root / "models",
        metadata_db_path=root / "metadata.db",
        walkforward_drift_draws=200,
        walkforward_drift_psi_alert=0.5,
    )
    svc = Services.open(settings_, run_jobs=False)
    try:
        with TestClient(create_app(settings_, services=svc)) as client:
            found = client.get(f"/models/{model_id}/drift")
            assert found.status_code == 200, found.text
            body = found.json()
            assert body["status"] == "alert" and body["method"]["psi_alert"] == 0.5
            assert all(c["psi_alert"] >= 0.5 for c in body["features"]["columns"])
            late = client.get(f"/models/{model_id}/drift", params={"since": "2030-01-02"})
            assert late.status_code == 404
            assert late.json()["detail"].endswith("from 2030-01-02; ingest newer bars")
            assert client.get(f"/models/{model_id}/drift", params={"since": "soon"}).status_code == 422
            assert client.get("/models/nope/drift").status_code == 404
    finally:
        svc.close()
