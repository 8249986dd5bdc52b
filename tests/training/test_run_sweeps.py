"""A CLI training run sweeps what killed runs left, once it is done (the search does it at start and end)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from planted_cli import planted
from typer.testing import CliRunner

from walkforward.cli import app
from walkforward.features.store import FeatureStore


def test_cli_train_sweeps_old_orphans_and_dead_writers_files(
    planted_store: FeatureStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "models"
    monkeypatch.setenv("FEATURES_PARQUET_DIR", str(planted_store.root))
    monkeypatch.setenv("MODELS_DIR", str(models))
    monkeypatch.setenv("METADATA_DB_PATH", str(tmp_path / "meta.db"))
    monkeypatch.delenv("METADATA_DB_URL", raising=False)
    models.mkdir()
    dead = subprocess.Popen(["true"])
    dead.wait()
    orphan = models / f"{uuid.uuid4().hex}.joblib"
    stray = models / f".tmp-{dead.pid}~{socket.gethostname()}~{uuid.uuid4().hex}-k1.part"
    young = models / f"{uuid.uuid4().hex}.joblib"
    for path in (orphan, stray, young):
        path.write_bytes(b"left by a killed run")
    then = time.time() - 7200
    os.utime(orphan, (then, then))
    res = CliRunner().invoke(app, planted("train", "elasticnet_regression", "--no-explain", "--json"))
    assert res.exit_code == 0, res.output
    model_id = json.loads(res.stdout)["id"]
    assert {p.name for p in models.iterdir()} == {f"{model_id}.joblib", f"{model_id}.predictions.parquet", young.name}
