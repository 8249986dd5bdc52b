"""Retrain a registered model on the data up to now, as a child that records what it was trained on.

The child refits the parent's request (its features resolution, pruning, effective hyperparameters
and trading settings) with no end date, so it reads every stored day up to now; the store's lock box
(``WALKFORWARD_LOCKBOX_START``) stays excluded, as for any load. Which rows learn what:

- **the final model** (the one that would go into production) is fitted on *every* labelled row up
  to the last one before the lock box, test-labelled rows included: no rows are held back from it;
- **its metrics** are out-of-sample: the walk-forward folds of the extended data are made, fitted
  and scored exactly as a fresh ``train`` of the same request would make them (each fold fitted on
  its own training rows). They say how this procedure forecasts out of sample; the final fit on all
  rows has no out-of-sample score of its own until new data (or the lock box) arrives.

The child's fingerprint covers the parent and the last labelled bar, so retraining again before
new data arrives trains nothing and returns the existing child.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from walkforward.errors import InvalidInputError
from walkforward.features.store import FeatureStore
from walkforward.model_selection.fingerprint import fingerprint
from walkforward.registry import ModelRecord, ModelStore
from walkforward.request import TrainRequest
from walkforward.training.data import PreparedData, fingerprint_parts, prepare
from walkforward.training.fit import Progress, fit
from walkforward.training.run import explain_pipeline, register, request_of

log = logging.getLogger(__name__)

#: what a retrained model's metrics mean (recorded with it and shown by the CLI)
METRICS_MEANING = (
    "out-of-sample: the walk-forward folds of the data up to data_end, each fitted on its own training rows "
    "and scored on its test block, as a fresh train of the same request would be; the final model is fitted "
    "on every row (test-labelled ones included) and has no out-of-sample score of its own"
)


@dataclass(frozen=True)
class Retrained:
    """The child model, whether this call trained it, and a one-line message saying what happened."""

    record: ModelRecord
    trained: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"model_id": self.record.id, "trained": self.trained, "message": self.message}


def retrain_request(record: ModelRecord) -> TrainRequest:
    """The parent's request with no end date (data up to now; the loader still keeps the lock box out).

    An ensemble is refused: its request is its members' shared one, so refitting it would register a
    single member-like model as the ensemble's child.
    """
    from walkforward.ensembles.build import is_ensemble

    if is_ensemble(record.request):
        raise InvalidInputError(
            f"model {record.id} is an ensemble: retrain its members, then build the ensemble again from them "
            "(`walkforward ensemble --models ID,ID,...`)"
        )
    return request_of(record).model_copy(update={"end": None})


def all_rows(data: PreparedData, rows_text: str) -> PreparedData:
    """``data`` whose final fit uses every labelled row (the folds are unchanged)."""
    n = len(data.dataset.frame)
    plan = dataclasses.replace(
        data.plan,
        final_train_index=np.arange(n),
        notes=(*data.plan.notes, f"retrain: the final fit uses {rows_text} ({n} rows); the folds are unchanged"),
    )
    return dataclasses.replace(data, plan=plan)


def _data_end(data: PreparedData) -> str:
    ts = data.dataset.ts
    return pd.Timestamp(ts.iloc[-1]).isoformat() if len(ts) else ""


def retrain(model_id: str, *, store: FeatureStore, registry: ModelStore, progress: Progress | None = None) -> Retrained:
    """Retrain ``model_id`` on every row up to now (lock box excluded) and register the child.

    Examples
    --------
    >>> done = retrain(parent.id, store=store, registry=registry)  # doctest: +SKIP
    >>> done.record.derived["retrained_from"] == parent.id, done.record.derived["retrain"]["rows"]  # doctest: +SKIP
    (True, 'all up to 2024-02-05 except lock box')
    """
    parent = registry.get(model_id)
    req = retrain_request(parent)
    data = prepare(req, store=store, registry=registry)
    end = _data_end(data)
    last_day = str(data.dataset.local_ts.iloc[-1].date())
    lockbox = data.dataset.lockbox_start
    rows_text = f"all up to {last_day} except lock box" if lockbox else f"all up to {last_day} (no lock box set)"
    own = parent.derived.get("retrain") or {}
    if (
        parent.derived.get("retrained_from")
        and parent.derived.get("data_end") == end
        and own.get("data") == data.data_hash
    ):
        return Retrained(parent, False, f"no new data since {last_day}; nothing trained ({parent.id} is up to date)")
    hyperparameters = req.spec.params(parent.hyperparameters)
    fp = fingerprint(
        {
            **fingerprint_parts(req, data),
            "hyperparameters": dict(hyperparameters),
            "retrain": {"from": parent.id, "data_end": end, "rows": "all"},
        }
    )
    existing = registry.get_by_fingerprint(fp)
    if existing is not None:
        return Retrained(
            existing, False, f"no new data since {last_day}; nothing trained (the retrain is {existing.id})"
        )
    data = all_rows(data, rows_text)
    trained = fit(req, data, hyperparameters, progress=progress)
    explanations = explain_pipeline(trained.pipeline, data, req.spec) if req.explain else (None, None, None)
    rows = data.dataset.ts
    lineage = {
        "retrained_from": parent.id,
        "retrain": {
            "rows": rows_text,
            "rows_used": int(len(rows)),
            "first_row": pd.Timestamp(rows.iloc[0]).isoformat(),
            "data_end": end,
            "parent_data_end": parent.derived.get("data_end"),
            "lockbox_start": None if lockbox is None else lockbox.isoformat(),
            "data": data.data_hash,
            "metrics": METRICS_MEANING,
        },
    }
    record = register(
        trained,
        registry=registry,
        fingerprint=fp,
        explanations=explanations,
        parent_model_id=parent.id,
        lineage=lineage,
    )
    log.info("retrained %s as %s on %d rows up to %s", parent.id, record.id, len(rows), end)
    return Retrained(record, True, f"retrained {parent.id} as {record.id} on {rows_text} ({len(rows)} rows)")


__all__ = ["METRICS_MEANING", "Retrained", "retrain", "retrain_request"]
