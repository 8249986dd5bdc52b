"""Functions run in spawned processes by the concurrency tests (importable by the children)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from walkforward.registry import Database, DuplicateModelError, ModelStore, NewModel, TrialStore


def _new(fingerprint: str) -> NewModel:
    return NewModel(
        symbol="AAPL",
        symbols=("AAPL",),
        algorithm="ridge",
        timeframe="1h",
        target_transform="log_return",
        request={},
        features=("rsi_14",),
        hyperparameters={"alpha": 1.0},
        folds={},
        metrics={"r2": 0.1},
        fingerprint=fingerprint,
    )


def add_models(url: str, models_dir: str, fingerprints: list[str], barrier: Any, results: Any) -> None:
    """Open the store, wait for the others, add one model per fingerprint, report each outcome.

    Put a fingerprint shared with other workers first: all workers then race on it at once.
    """
    store = ModelStore.open(url, Path(models_dir))
    try:
        barrier.wait(timeout=60)
        for fingerprint in fingerprints:
            try:
                record = store.add(_new(fingerprint), {"payload": uuid.uuid4().hex})
                results.put(("ok", fingerprint, record.id))
            except DuplicateModelError as exc:
                results.put(("duplicate", fingerprint, exc.existing_id))
            except Exception as exc:  # reported to the parent, which fails the test
                results.put(("error", fingerprint, repr(exc)))
    finally:
        store.dispose()


def record_trial(url: str, fingerprint: str, r2: float, barrier: Any, results: Any) -> None:
    """Open the database, wait for the others, record one trial (all workers race on the same key)."""
    database = Database.open(url)
    try:
        barrier.wait(timeout=60)
        try:
            written = TrialStore(database).record(fingerprint, "full", [{"fold": 1, "r2": r2}], r2)
            results.put(("ok", r2, written))
        except Exception as exc:  # reported to the parent, which fails the test
            results.put(("error", r2, repr(exc)))
    finally:
        database.dispose()
