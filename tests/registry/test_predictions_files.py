"""Kept out-of-sample predictions: written beside the artifact, hash-checked, deleted and swept with it."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from walkforward.registry import ModelStore, NewModel
from walkforward.registry.errors import ArtifactIntegrityError, ArtifactMissingError


def _frame(n: int = 50) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "fold": np.repeat([1, 2], n // 2).astype(np.int32),
            "ts": pd.date_range("2024-01-02 14:30", periods=n, freq="5min"),
            "y": rng.normal(size=n),
            "prediction": rng.normal(size=n),
        }
    )


def test_predictions_round_trip_and_a_changed_file_is_refused(
    store: ModelStore, new_model: Callable[..., NewModel]
) -> None:
    frame = _frame()
    rec = store.add(new_model(), {"w": 1}, predictions=frame)
    kept = rec.derived["predictions"]
    path = store.models_dir / kept["file"]
    assert kept["rows"] == 50 and path.exists() and path.stat().st_mode & 0o777 == 0o600
    pd.testing.assert_frame_equal(store.load_predictions(rec.id), frame)
    assert store.load_predictions(store.add(new_model(), {"w": 2})) is None  # none kept: None, not an error
    data = bytearray(path.read_bytes())
    data[-20] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactIntegrityError, match="predictions file .* was changed or truncated"):
        store.load_predictions(rec.id)
    path.unlink()
    with pytest.raises(ArtifactMissingError, match="predictions file .* is missing"):
        store.load_predictions(rec.id)


def test_delete_and_sweep_take_the_predictions_with_the_artifact(
    store: ModelStore, new_model: Callable[..., NewModel]
) -> None:
    one = store.add(new_model(), {"w": 1}, predictions=_frame())
    two = store.add(new_model(cohort_id="c"), {"w": 2}, predictions=_frame())
    files = {p.name for p in store.models_dir.iterdir()}
    assert f"{one.id}.predictions.parquet" in files and f"{two.id}.predictions.parquet" in files
    store.delete(one.id)
    store.delete_cohort("c")
    assert not [p for p in store.models_dir.iterdir() if p.name.endswith(".parquet")]
    orphan = store.models_dir / "deadbeef.predictions.parquet"  # a killed writer's file, no row
    _frame().to_parquet(orphan)
    kept = store.add(new_model(), {"w": 3}, predictions=_frame())
    old = time.time() - 7200
    for p in store.models_dir.iterdir():
        os.utime(p, (old, old))
    assert [p.name for p in store.sweep_orphans()] == ["deadbeef.predictions.parquet"]
    assert store.load_predictions(kept.id) is not None
