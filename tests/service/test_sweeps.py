"""The server sweeps leftovers at start and after every job: orphan artifacts and dead writers' temporary files."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from walkforward.config import Settings
from walkforward.registry import ModelStore, NewModel
from walkforward.service import Services

AN_HOUR_AGO = 3600 + 600


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def plant_leftovers(models: Path) -> dict[str, Path]:
    """What a killed search leaves: an artifact whose row was never committed (old), a dead writer's temporary file."""
    models.mkdir(parents=True, exist_ok=True)
    orphan = models / f"{uuid.uuid4().hex}.joblib"
    orphan.write_bytes(b"renamed, then the process was killed before its row was committed")
    then = time.time() - AN_HOUR_AGO
    os.utime(orphan, (then, then))
    stray = models / f".tmp-{_dead_pid()}~{socket.gethostname()}~{uuid.uuid4().hex}-k1.part"
    stray.write_bytes(b"half a pickle")
    young = models / f"{uuid.uuid4().hex}.joblib"
    young.write_bytes(b"may be committed any moment by a live writer")
    return {"orphan": orphan, "stray": stray, "young": young}


def test_the_server_sweeps_at_start(service_store: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    settings = Settings(features_parquet_dir=service_store, models_dir=models, metadata_db_path=tmp_path / "m.db")
    with ModelStore.open(settings.database_url, models) as registry:
        kept = registry.add(
            NewModel(
                symbol="AAPL",
                symbols=("AAPL",),
                algorithm="ridge",
                timeframe="1h",
                target_transform="log_return",
                request={},
                features=("rsi_14",),
                hyperparameters={},
                folds={},
                metrics={},
                fingerprint=uuid.uuid4().hex,
            ),
            {"coef": [1.0]},
        )
    left = plant_leftovers(models)
    then = time.time() - AN_HOUR_AGO
    os.utime(kept.artifact_path, (then, then))
    svc = Services.open(settings, run_jobs=False)
    try:
        assert {p.name for p in models.iterdir()} == {Path(kept.artifact_path).name, left["young"].name}
        assert svc.registry.load_artifact(kept.id) == {"coef": [1.0]}
    finally:
        svc.close()


@pytest.mark.e2e
def test_the_server_sweeps_after_every_job(
    server_env: Callable[..., dict[str, str]], start_server: Callable[..., Any], tmp_path: Path
) -> None:
    server = start_server(server_env(f"sqlite:///{tmp_path / 'metadata.db'}"))
    left = plant_leftovers(tmp_path / "models")  # after the start-up sweep: only a job's end can take them
    body = {
        "symbol": "AAPL,QQQ,VIX",
        "algorithm": "elasticnet_regression",
        "timeframe": "15m",
        "target_transform": "log_return",
        "embargo": 5,
        "explain": False,
    }
    submitted = server.client.post("/train", json=body)
    assert submitted.status_code == 202, submitted.text
    job = server.wait_job(submitted.json()["job_id"])
    assert job["status"] == "done", job
    model_files = {f"{job['result']['model_id']}.joblib", f"{job['result']['model_id']}.predictions.parquet"}
    deadline = time.monotonic() + 60  # the runner sweeps once it has reaped the worker
    while time.monotonic() < deadline and left["orphan"].exists():
        time.sleep(0.2)
    assert {p.name for p in (tmp_path / "models").iterdir()} == {*model_files, left["young"].name}

    # A search sweeps as it starts, in the job's worker: its log says so without the server's paths.
    plant_leftovers(tmp_path / "models")
    grid = {**body, "search": "grid", "alpha_grid": [0.0001, 0.001], "l1_ratio_grid": [0.5]}
    search = server.wait_job(server.client.post("/train", json=grid).json()["job_id"])
    assert search["status"] == "done", search
    text = json.dumps(search)
    assert "swept 2 orphan artifact file(s) from MODELS_DIR" in text, search["log"]
    assert str(tmp_path) not in text
