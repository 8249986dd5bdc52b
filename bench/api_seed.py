"""Realistic registry rows for the API benchmark: real models' rows, copied with varied ids and metrics.

:func:`template_rows` trains a few small real models with explanations through the library (a demo
market of 40 days, 5-minute bars) and reads their ``models`` rows as stored (35-50 KB each, mostly
explanations); they are cached as JSON in ``bench/out/api-template-rows.json``. :func:`seed` copies
them to ``n`` rows with fresh ids and fingerprints, other symbols, cohorts and scaled metrics, and
inserts them with their list rows (``model_summaries``, ``model_metrics``, ``model_symbols``, written by
the store's own function) in batches (no artifact files: listing never opens them).

    .venv/bin/python bench/api_seed.py --retrain     # rebuild the cached template rows
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import logging
import random
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from walkforward.model_summary import score_name
from walkforward.registry import ModelStore
from walkforward.registry._listing import insert_list_rows
from walkforward.registry._schema import models

OUT = Path(__file__).resolve().parent / "out"
TEMPLATES = OUT / "api-template-rows.json"
#: One of each kind of model a registry holds: a linear model, a booster, a classifier.
TEMPLATE_ALGORITHMS = ("elasticnet_regression", "lightgbm_regressor", "lightgbm_classifier")
SYMBOLS = ("AAPL", "MSFT", "QQQ", "NVDA", "AMZN")
_BATCH = 500
log = logging.getLogger("bench.api_seed")


def _train_templates() -> list[dict[str, Any]]:
    import walkforward as wf

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-api-templates-") as tmp:
        root = Path(tmp)
        store = wf.FeatureStore(root / "features_parquet")
        wf.write_demo_market(store, days=40, symbols=["AAPL", "QQQ", "VIX"], split_scheme="16:4")
        with wf.ModelStore.open(f"sqlite:///{root / 'registry.db'}", root / "models") as registry:
            for algorithm in TEMPLATE_ALGORITHMS:
                req = wf.TrainRequest(
                    symbol="AAPL,QQQ,VIX",
                    algorithm=algorithm,
                    timeframe="5m",
                    target_transform="log_return",
                    embargo=12,
                    explain=True,
                )
                record = wf.train(req, store=store, registry=registry)
                with registry.database.transaction() as conn:
                    row = conn.execute(sa.select(models).where(models.c.id == record.id)).mappings().one()
                rows.append({k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in row.items()})
    return rows


def template_rows(retrain: bool = False) -> list[dict[str, Any]]:
    """The real models' rows (trained once, then read from the cache file)."""
    if TEMPLATES.is_file() and not retrain:
        return list(json.loads(TEMPLATES.read_text()))
    start = time.perf_counter()
    rows = _train_templates()
    OUT.mkdir(parents=True, exist_ok=True)
    TEMPLATES.write_text(json.dumps(rows))
    log.info("trained %d template models in %.1f s", len(rows), time.perf_counter() - start)
    return rows


def row_bytes(row: dict[str, Any]) -> int:
    """The size of a row's values as JSON (what a full read decodes)."""
    return len(json.dumps(row, default=str))


def _scaled_metrics(metrics: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The template's metrics with every aggregated value moved a little (so sorts have work to do)."""
    out = copy.deepcopy(metrics)
    cv = out.get("cv", {})
    for name, value in cv.items():
        if isinstance(value, float):
            cv[name] = value * rng.uniform(0.5, 1.5) + rng.gauss(0.0, 0.01)
    return out


def copies(templates: list[dict[str, Any]], n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` rows copied from ``templates`` in turn: new id, fingerprint, symbol, cohort, time and metrics.

    The large JSON values (request, folds, explanations, derived) are shared between copies, not
    copied: they are serialised at insert time anyway.
    """
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    out = []
    for i in range(n):
        template = templates[i % len(templates)]
        model_id = uuid.UUID(int=rng.getrandbits(128)).hex
        symbol = SYMBOLS[(i // len(templates)) % len(SYMBOLS)]
        metrics = _scaled_metrics(template["metrics"], rng)
        score = score_name(metrics)
        row = {name: template[name] for name in models.c.keys() if name in template}
        row.update(
            id=model_id,
            created_at=now - dt.timedelta(seconds=i),
            symbol=symbol,
            symbols=[symbol, *(s for s in ("QQQ", "VIX") if s != symbol)],
            fingerprint=uuid.UUID(int=rng.getrandbits(128)).hex,
            artifact_path=f"{model_id}.joblib",
            metrics=metrics,
            cv_score=metrics["cv"].get(score) if score else None,
            cohort_id=f"cohort{i // 50:05d}",
            cohort_rank=i % 50 + 1,
            parent_model_id=None,
        )
        out.append(row)
    return out


def insert(store: ModelStore, rows: list[dict[str, Any]]) -> float:
    """Insert ``models`` rows with their list rows in batches; the seconds it took."""
    start = time.perf_counter()
    for first in range(0, len(rows), _BATCH):
        batch = rows[first : first + _BATCH]
        with store.database.transaction(write=True) as conn:
            conn.execute(sa.insert(models), batch)
            insert_list_rows(conn, batch)
    return time.perf_counter() - start


def seed(url: str, models_dir: Path, n: int, templates: list[dict[str, Any]]) -> float:
    """Migrate the registry at ``url`` and insert ``n`` copies of ``templates``; the seconds the inserts took."""
    store = ModelStore.open(url, models_dir)
    try:
        return insert(store, copies(templates, n))
    finally:
        store.dispose()


def fill(url: str, models_dir: Path, n: int) -> float:
    """``seed`` with the real template rows (trained once, then read from the cache): what the start-up benches list."""
    return seed(url, models_dir, n, template_rows())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--retrain", action="store_true", help="train the template models again")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rows = template_rows(retrain=args.retrain)
    for row in rows:
        print(f"{row['algorithm']}: {row_bytes(row):,} bytes of values, {len(row['features'])} features")


if __name__ == "__main__":
    main()
