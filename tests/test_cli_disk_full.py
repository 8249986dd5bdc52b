"""A full disk under the CLI, as a real process: one line, a non-zero exit, nothing half-written.

The disks are small tmpfs filesystems filled to the last byte (skipped where mounting is not allowed).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from walkforward.features.store import FeatureStore

pytestmark = pytest.mark.slow

TRAIN = ["train", "AAPL,QQQ,VIX", "--algorithm", "elasticnet_regression", "--timeframe", "15m"]


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "COLUMNS": "200", **env}
    full.pop("METADATA_DB_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "walkforward", *args], env=full, capture_output=True, text=True, timeout=300
    )


def _one_line(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode == 2, (res.returncode, res.stderr)
    assert "Traceback" not in res.stderr, res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert errors == [lines[-1]], res.stderr  # one error line, the last thing said (log lines may precede it)
    return lines[-1]


def test_demo_data_on_a_full_disk(small_disk: Any, tmp_path: Path) -> None:
    disk = small_disk.mount("256k")
    store = disk / "features_parquet"
    store.mkdir()
    small_disk.fill(disk)
    res = _run(
        {
            "FEATURES_PARQUET_DIR": str(store),
            "MODELS_DIR": str(tmp_path / "m"),
            "METADATA_DB_PATH": str(tmp_path / "m.db"),
        },
        "demo-data",
        "--days",
        "3",
        "--json",
    )
    line = _one_line(res)
    assert line.startswith("error: no space left on device writing FEATURES_PARQUET_DIR"), line
    assert line.endswith("free space or set FEATURES_PARQUET_DIR to a directory on a larger disk")
    assert str(disk) not in line
    # no partial or temporary file (an empty per-symbol lock file holds no data and is reused)
    assert not [p for p in store.rglob("*") if p.is_file() and not (p.name == ".lock" and p.stat().st_size == 0)]
    assert res.stdout == ""


def test_train_with_a_full_models_disk(small_disk: Any, demo_store: FeatureStore, tmp_path: Path) -> None:
    disk = small_disk.mount("256k")
    models = disk / "models"
    models.mkdir()
    small_disk.fill(disk)
    db = tmp_path / "meta.db"
    env = {"FEATURES_PARQUET_DIR": str(demo_store.root), "MODELS_DIR": str(models), "METADATA_DB_PATH": str(db)}
    line = _one_line(_run(env, *TRAIN, "--target-transform", "log_return", "--embargo", "5", "--no-explain"))
    assert line.startswith("error: no space left on device writing MODELS_DIR/") and ".joblib: free space" in line
    assert list(models.iterdir()) == []
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM models").fetchone() == (0,)  # no row without its file
