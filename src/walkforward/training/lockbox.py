"""A registered model's one evaluation on the lock box: predict its rows, score them, record the result once.

The lock box (``WALKFORWARD_LOCKBOX_START``) is the period no training, search or statistic reads
(:mod:`walkforward.data.lockbox`). Looking at it is what makes it worth keeping, so each model is
judged on it once, on request: its registered final pipeline predicts the lock-box rows (from the
lock box's first day to the last labelled bar), the same metrics and trading figures as its folds
are computed on them (the rows scored as one out-of-sample block, fold 1), and the result is
written to the registry's ``lockbox_evaluations`` table. A second request gets the recorded result
back with :class:`~walkforward.registry.errors.LockboxEvaluatedError`, whatever changed since.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from walkforward.data.loader import load_dataset
from walkforward.data.lockbox import SETTING, in_lockbox
from walkforward.errors import DataNotFoundError, InvalidInputError
from walkforward.evaluation.metrics import classification_metrics, direction_labels, regression_metrics
from walkforward.features.store import FeatureStore
from walkforward.registry import LockboxRecord, ModelRecord, ModelStore
from walkforward.registry.lockbox import already_evaluated
from walkforward.training.evaluate import evaluate, headline
from walkforward.training.fit import predict_values
from walkforward.training.oos import rows_frame
from walkforward.training.run import input_features, request_of, walkforward_artifact

__all__ = ["LOCKBOX_FOLD", "check_unseen", "evaluate_lockbox"]

#: the fold number the lock-box rows are scored as (one out-of-sample block)
LOCKBOX_FOLD = 1


def check_unseen(record: ModelRecord, lockbox_start: dt.date) -> None:
    """Refuse a model whose training data may reach ``lockbox_start`` (trained before the lock box was set or moved)."""
    kept: Mapping[str, Any] = record.derived.get("lockbox") or {}
    if kept.get("start") and dt.date.fromisoformat(str(kept["start"])) <= lockbox_start:
        return
    end = record.request.get("end")
    if end and dt.date.fromisoformat(str(end)) < lockbox_start:
        return
    when = f"while the lock box started at {kept['start']}" if kept.get("start") else "without a lock box"
    raise InvalidInputError(
        f"model {record.id} was trained {when}, so its data may include days from {lockbox_start} on "
        f"(the lock box {SETTING} sets now): train it again with the setting in place and evaluate that model"
    )


def evaluate_lockbox(model_id: str, *, store: FeatureStore, registry: ModelStore) -> LockboxRecord:
    """Evaluate ``model_id`` on the lock box and record it; refuse a second evaluation (same id or fingerprint).

    Examples
    --------
    >>> found = evaluate_lockbox(model_id, store=store, registry=registry)  # doctest: +SKIP
    >>> found.metrics["lockbox"]["r2"], found.sessions  # doctest: +SKIP
    """
    start = store.lockbox_start
    if start is None:
        raise InvalidInputError(
            f"no lock box is set: set {SETTING}=YYYY-MM-DD (its first day) before training, "
            "so that no search or statistic sees it"
        )
    record = registry.get(model_id)
    found = registry.lockbox(model_id, record.fingerprint)
    if found is not None:
        raise already_evaluated(found, model_id)
    check_unseen(record, start)
    artifact = walkforward_artifact(registry, record)
    req = request_of(record)
    # From the model's own start, so the first lock-box row has its one-bar return and context joins.
    ds = load_dataset(store, dataclasses.replace(req.load_request(), end=None), include_lockbox=True)
    rows = np.flatnonzero(in_lockbox(ds.local_ts.dt.date.to_numpy(), start))
    if rows.size == 0:
        raise DataNotFoundError(
            f"the lock box from {start} holds no labelled {req.timeframe.value} bar of {req.symbols[0]} yet "
            f"(a bar needs {req.lookforward} later bar(s) for its target): ingest more data, then evaluate"
        )
    features = input_features(artifact, ds.frame.columns, model_id)
    spec = req.spec
    with threadpool_limits(limits=1, user_api="blas"):
        pred, proba = predict_values(spec, artifact["pipeline"], ds.frame.loc[rows, features])
    target = ds.y.to_numpy(dtype=float)
    price = ds.frame[req.target_col].to_numpy(dtype=float)
    labels = direction_labels(target, price, req.target_transform) if spec.is_classifier else target
    if spec.is_classifier:
        scores = classification_metrics(labels[rows], pred, proba)
    else:
        scores = regression_metrics(target[rows], pred, price[rows], req.target_transform)
    frame = rows_frame(ds, labels, rows, LOCKBOX_FOLD, pred, proba)
    report = evaluate(req, frame)
    metrics = {"lockbox": {**scores, **headline(report)}, **report}
    return registry.record_lockbox(
        model_id,
        fingerprint=record.fingerprint,
        lockbox_start=start,
        rows=int(rows.size),
        sessions=int(frame["session"].nunique()),
        metrics=metrics,
    )
