"""Searches as real processes: racing on one PostgreSQL registry, killed and resumed, and the CLI output."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from walkforward.features.store import FeatureStore

GRID = ["--grid", "alpha_grid=[0.0001, 0.001, 0.01, 0.1]", "--grid", "l1_ratio_grid=[0.1, 0.5, 0.9]"]
ARGS = [
    "search",
    "AAPL,QQQ,VIX",
    "--algorithm",
    "elasticnet_regression",
    "--timeframe",
    "5m",
    "--target-transform",
    "log_return",
    "--embargo",
    "12",
    *GRID,
    "--save-all-grid-models",
    "--n-jobs",
    "1",
]


def _env(store: FeatureStore, tmp: Path, url: str | None = None) -> dict[str, str]:
    env = {
        **os.environ,
        "FEATURES_PARQUET_DIR": str(store.root),
        "MODELS_DIR": str(tmp / "models"),
        "METADATA_DB_PATH": str(tmp / "meta.db"),
        "COLUMNS": "200",
    }
    env.pop("METADATA_DB_URL", None)
    if url:
        env["METADATA_DB_URL"] = url
    return env


def _search(env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "walkforward", *ARGS, *extra],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def test_two_racing_searches_save_each_model_once(
    planted_store: FeatureStore, tmp_path: Path, pg_registry_url: str
) -> None:
    env = _env(planted_store, tmp_path, pg_registry_url)
    procs = [_search(env, "--no-explain", "--json") for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    results = [json.loads(o) for o, _ in outs]
    engine = sa.create_engine(pg_registry_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT fingerprint, count(*) FROM models GROUP BY fingerprint")).all()
    engine.dispose()
    assert len(rows) == 12 and all(n == 1 for _, n in rows)
    saved = sum(len(r["saved"]) for r in results)
    assert saved == 12  # what one run saved, the other skipped (existing) or lost the race (duplicate)
    assert results[0]["cohort_id"] == results[1]["cohort_id"]
    files = list((tmp_path / "models").glob("*.joblib"))
    assert len(files) == 12, "a losing racer left an artifact behind"


def test_a_killed_search_resumes_with_what_is_missing(planted_store: FeatureStore, tmp_path: Path) -> None:
    env = _env(planted_store, tmp_path)
    proc = _search(env)  # with explanations: slow enough to be killed part-way
    db = tmp_path / "meta.db"
    deadline = time.time() + 300
    saved = 0
    while time.time() < deadline and proc.poll() is None:
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=5) as conn:
                    saved = conn.execute("SELECT count(*) FROM models").fetchone()[0]
            except sqlite3.OperationalError:
                saved = 0
        if saved >= 1:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the search ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    with sqlite3.connect(db) as conn:
        before = conn.execute("SELECT count(*) FROM models").fetchone()[0]
    assert 1 <= before < 12
    res = subprocess.run(
        [sys.executable, "-m", "walkforward", *ARGS, "--no-explain", "--json"],
        env=env,
        text=True,
        capture_output=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["existing"] == before and out["trained"] == 12 - before
    assert out["notes"][0] == f"{before}/12 already exist, training {12 - before}"
    with sqlite3.connect(db) as conn:
        fps = conn.execute("SELECT fingerprint FROM models").fetchall()
    assert len(fps) == 12 == len(set(fps))


def test_the_cli_shows_progress_and_a_ranked_cohort(planted_store: FeatureStore, tmp_path: Path) -> None:
    env = _env(planted_store, tmp_path)
    res = subprocess.run(
        [sys.executable, "-m", "walkforward", *ARGS, "--no-explain"],
        env=env,
        text=True,
        capture_output=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr
    assert "0/12 already exist, training 12" in res.stdout
    assert "Cohort" in res.stdout and "sessions" in res.stdout and "rank" in res.stdout
    again = subprocess.run(
        [sys.executable, "-m", "walkforward", *ARGS, "--no-explain"],
        env=env,
        text=True,
        capture_output=True,
        timeout=600,
    )
    assert "12/12 already exist, training 0" in again.stdout


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        # What only the command line has (the request's refusals are one table in tests/test_refusals.py,
        # checked in-process); here the console script's exit code and one-line output are the point.
        (["--grid", "alpha_grid=0.1"], "is not NAME=[values]"),
        (["--executor", "dask"], "the dask executor needs a scheduler address"),
    ],
)
def test_bad_search_input_is_one_clear_line(
    planted_store: FeatureStore, tmp_path: Path, extra: list[str], message: str
) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "walkforward", *ARGS, *extra],
        env=_env(planted_store, tmp_path),
        text=True,
        capture_output=True,
        timeout=300,
    )
    assert res.returncode == 2 and message in " ".join(res.stderr.split()), res.stderr
    assert "Traceback" not in res.stderr
