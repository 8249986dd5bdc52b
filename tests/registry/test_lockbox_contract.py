"""The lock-box evaluations on every backend: recorded once per model and per fingerprint, read back as written."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from walkforward.registry import LockboxEvaluatedError, ModelStore, NewModel

START = dt.date(2024, 3, 1)
METRICS = {"lockbox": {"r2": -0.01, "sharpe": 0.4, "n": 120}, "trading": {"overall": {"sharpe": 0.4}}}


def test_recorded_once_and_read_back(store: ModelStore, new_model: Callable[..., NewModel]) -> None:
    model = store.add(new_model(), {"pipeline": None})
    assert store.lockbox(model.id) is None
    first = store.record_lockbox(
        model.id, fingerprint=model.fingerprint, lockbox_start=START, rows=120, sessions=3, metrics=METRICS
    )
    read = store.lockbox(model.id)
    assert read == first
    assert read.lockbox_start == START and read.rows == 120 and read.sessions == 3
    assert read.metrics == METRICS
    assert read.evaluated_at.tzinfo is not None
    with pytest.raises(LockboxEvaluatedError, match="already evaluated") as refused:
        store.record_lockbox(
            model.id, fingerprint=model.fingerprint, lockbox_start=START, rows=1, sessions=1, metrics={}
        )
    assert refused.value.evaluation == first  # the recorded result, unchanged by the refused attempt
    assert store.lockbox(model.id) == first


def test_same_fingerprint_under_another_id_is_refused(store: ModelStore, new_model: Callable[..., NewModel]) -> None:
    """A model deleted and trained again (same fingerprint, new id) does not get a second look."""
    model = store.add(new_model(), {"pipeline": None})
    first = store.record_lockbox(
        model.id, fingerprint=model.fingerprint, lockbox_start=START, rows=10, sessions=1, metrics=METRICS
    )
    store.delete(model.id)
    assert store.lockbox(model.id) == first  # the record of the look outlives the model
    with pytest.raises(LockboxEvaluatedError, match=f"as model {model.id}"):
        store.record_lockbox(
            "another-id", fingerprint=model.fingerprint, lockbox_start=START, rows=10, sessions=1, metrics=METRICS
        )
    assert store.lockbox("another-id", model.fingerprint) == first
    assert store.lockbox("another-id") is None
