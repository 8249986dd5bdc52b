"""Load test of the HTTP API on loopback: listing models from a 10,000-model SQLite registry.

The registry is filled by inserting rows straight into the ``models`` table in one transaction (with
no artifact files: listing never opens them), which takes about a second; ``ModelStore.add`` would
write, fsync and hash 10,000 artifacts first. A real ``walkforward serve`` process then answers
``GET /models?limit=50&sort=metrics.r2`` (varying offsets, filters and directions) from 20 concurrent
clients (httpx.AsyncClient in one process) for 15 s.

    .venv/bin/python bench/bench_api.py [--models 10000] [--clients 20] [--seconds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from walkforward.model_selection.fingerprint import FINGERPRINT_VERSION
from walkforward.registry import ModelStore
from walkforward.registry._schema import models
from walkforward.request import TrainRequest
from walkforward.training import library_versions

SYMBOLS = ("AAPL", "MSFT", "QQQ", "NVDA", "AMZN")
ALGORITHMS = ("elasticnet_regression", "lightgbm_regressor", "xgboost_regressor", "random_forest_regressor")
ESTIMATORS = {
    "elasticnet_regression": "ElasticNet",
    "lightgbm_regressor": "LGBMRegressor",
    "xgboost_regressor": "XGBRegressor",
    "random_forest_regressor": "RandomForestRegressor",
}
N_INPUT, N_KEPT = 40, 30


def symbols_of(symbol: str) -> list[str]:
    """The primary symbol, then the context symbols (QQQ and VIX) it is not itself."""
    return [symbol, *(c for c in ("QQQ", "VIX") if c != symbol)]


def derived(rng: random.Random, algorithm: str) -> dict[str, Any]:
    """What training records apart from the request: input features, the pruning report, the estimator."""
    names = [f"f{j}" for j in range(N_INPUT)]
    pruning = {
        n: {"p_value": rng.uniform(0.0, 0.05 if j < N_KEPT else 1.0), "beta": rng.gauss(0.0, 0.1), "kept": j < N_KEPT}
        for j, n in enumerate(names)
    }
    return {
        "input_features": names,
        "feature_source": "all",
        "dropped_features": [],
        "skipped_symbols": [],
        "pruning": pruning,
        "fitted_estimator": ESTIMATORS[algorithm],
        "search": {"strategy": "grid", "grid_size": 50},
    }


def fill(url: str, models_dir: Path, n: int) -> float:
    """Insert ``n`` model rows shaped like the training's (full request, ``derived``, nested fold metrics).

    Returns the seconds taken.
    """
    store = ModelStore.open(url, models_dir)  # migrates
    rng = random.Random(0)
    now = dt.datetime.now(dt.UTC)
    # The request as training stores it (every field, JSON-ready), built once per symbol and algorithm.
    requests = {
        (sym, alg): TrainRequest(
            symbol=",".join(symbols_of(sym)), algorithm=alg, timeframe="5m", target_transform="log_return", embargo=12
        ).inputs()
        for sym in SYMBOLS
        for alg in ALGORITHMS
    }
    versions = {alg: library_versions(alg) for alg in ALGORITHMS}
    rows = []
    for i in range(n):
        symbol, algorithm = SYMBOLS[i % len(SYMBOLS)], ALGORITHMS[i % len(ALGORITHMS)]
        r2 = rng.gauss(0.0, 0.02)
        cv = {"r2": r2, "rmse": abs(rng.gauss(0.002, 0.0005)), "hit_rate": rng.uniform(0.45, 0.55)}
        model_id = uuid.uuid4().hex
        rows.append(
            {
                "id": model_id,
                "created_at": now - dt.timedelta(seconds=i),
                "status": "ready",
                "symbol": symbol,
                "symbols": symbols_of(symbol),
                "algorithm": algorithm,
                "timeframe": "5m",
                "target_transform": "log_return",
                "request": requests[symbol, algorithm],
                "derived": derived(rng, algorithm),
                "versions": versions[algorithm],
                "fingerprint_version": FINGERPRINT_VERSION,
                "features": [f"f{j}" for j in range(N_KEPT)],
                "hyperparameters": {"alpha": rng.choice([0.0001, 0.001, 0.01]), "l1_ratio": 0.5},
                "folds": {"folds": [{"fold": k, "train_rows": 1000, "test_rows": 300} for k in range(3)]},
                # top-level r2 so that sort=metrics.r2 has values to order (training nests them under "cv")
                "metrics": {"r2": r2, "cv": cv, "folds": [cv, cv, cv], "score": "r2"},
                "fingerprint": uuid.uuid4().hex,
                "cohort_id": f"cohort{i // 50:05d}",
                "parent_model_id": None,
                "artifact_path": f"{model_id}.joblib",
                "artifact_sha256": "0" * 64,
                "cv_score": r2,
                "cohort_rank": i % 50 + 1,
                "feature_details": None,
                "regime_importance": None,
            }
        )
    start = time.perf_counter()
    with store.database.transaction(write=True) as conn:
        conn.execute(sa.insert(models), rows)
    took = time.perf_counter() - start
    store.dispose()
    return took


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def load(base: str, n_models: int, clients: int, seconds: float, sort: str) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds

    async def client(seed: int) -> None:
        nonlocal errors
        rng = random.Random(seed)
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            while time.perf_counter() < stop_at:
                params: dict[str, str | int] = {
                    "limit": 50,
                    "sort": sort,
                    "offset": rng.randrange(0, n_models // 2, 50),
                }
                pick = rng.random()
                if pick < 0.3:
                    params["symbol"] = rng.choice(SYMBOLS)
                elif pick < 0.5:
                    params["algorithm"] = rng.choice(ALGORITHMS)
                if rng.random() < 0.5:
                    params["descending"] = "false"
                t0 = time.perf_counter()
                response = await http.get("/models", params=params)
                latencies.append(time.perf_counter() - t0)
                if response.status_code != 200:
                    errors += 1

    await asyncio.gather(*(client(i) for i in range(clients)))
    return latencies, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--sort", default="metrics.r2", help="metrics.r2 (JSON, per row) or a column: cv_score")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        root = Path(tmp)
        url = f"sqlite:///{root / 'metadata.db'}"
        took = fill(url, root / "models", args.models)
        print(f"inserted {args.models:,} models in {took:.2f} s")
        port = free_port()
        env = {
            **os.environ,
            "METADATA_DB_URL": url,
            "MODELS_DIR": str(root / "models"),
            "FEATURES_PARQUET_DIR": str(root / "features"),
            "LOG_LEVEL": "WARNING",
        }
        env.pop("API_TOKEN", None)
        server = subprocess.Popen(
            [sys.executable, "-m", "walkforward", "serve", "--port", str(port)], env=env, start_new_session=True
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start")
                time.sleep(0.25)
            httpx.get(f"{base}/models", params={"sort": args.sort}, timeout=30)  # warm up
            latencies, errors = asyncio.run(load(base, args.models, args.clients, args.seconds, args.sort))
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    ms = sorted(x * 1000 for x in latencies)
    q = statistics.quantiles(ms, n=100)
    print(
        f"sort={args.sort}: {len(ms):,} requests in {args.seconds:.0f} s from {args.clients} clients: "
        f"{len(ms) / args.seconds:.0f} req/s, "
        f"p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms, p99 {q[98]:.1f} ms, max {ms[-1]:.1f} ms, errors {errors}"
    )


if __name__ == "__main__":
    main()
