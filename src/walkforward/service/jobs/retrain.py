"""Retrain jobs: ``POST /models/{id}/retrain`` is checked at once, queued, and refitted in a job worker.

A retrain takes as long as training the model's request; run in the request it held a server thread
and was lost with a client timeout or a restart. As a job it survives both: the job's request is the
parent's id (with its algorithm, symbol and timeframe, for the jobs list), its result is what the
synchronous call answered (the child's id, ``trained``, the message, ``retrain`` with the rows used)
plus the job fields the UI reads (``model_ids``, ``best_score``, ``notes``).

Resuming a retrain job queues the same parent again: the child's fingerprint (parent and data end)
makes a retrain that had finished before its worker stopped come back as the existing child.
The library call (:func:`walkforward.queries.retrain`, the CLI's ``walkforward retrain``) stays synchronous.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from walkforward.errors import InvalidInputError
from walkforward.preflight import check_request
from walkforward.registry import ModelRecord, ModelStore
from walkforward.registry.jobs import JobRecord, JobStore

if TYPE_CHECKING:  # the store's module loads pandas and pyarrow: not at the API's start
    from walkforward.features.store import FeatureStore

#: The job kind of a retrain (``jobs.kind``).
RETRAIN = "retrain"

#: The progress callback of a worker: ``(done, total, best, message)``.
Progress = Callable[[int, int, float | None, str], None]


def check_retrain(model_id: str, *, store: FeatureStore, registry: ModelStore) -> ModelRecord:
    """What can be refused before queueing: an unknown model (404), an ensemble, data no longer in the store.

    Raises
    ------
    ModelNotFoundError
        No such model.
    InvalidInputError
        An ensemble (retrain its members), or a symbol or feature of its request that the store no
        longer holds (the same checks and words as a training request's).
    """
    from walkforward.training.retrain import retrain_request  # loads pandas: on first use only

    record = registry.get(model_id)
    check_request(retrain_request(record), store=store, registry=registry)
    return record


def submit_retrain(model_id: str, *, jobs: JobStore, store: FeatureStore, registry: ModelStore) -> JobRecord:
    """Check that ``model_id`` can be retrained and queue a retrain job of it; the job is ``queued``."""
    record = check_retrain(model_id, store=store, registry=registry)
    return jobs.create(RETRAIN, retrain_payload(record))


def retrain_payload(record: ModelRecord) -> dict[str, Any]:
    """A retrain job's request: the parent's full id, and what it is (shown by the jobs list)."""
    return {
        "model_id": record.id,
        "algorithm": record.algorithm,
        "symbol": record.symbol,
        "timeframe": record.timeframe,
    }


def parent_id(request: Mapping[str, Any]) -> str:
    """The id of the model a retrain job's request names."""
    model_id = request.get("model_id")
    if not isinstance(model_id, str) or not model_id:
        raise InvalidInputError(f"a retrain job's request must name a model_id, not {request!r}")
    return model_id


def resume_retrain(old: JobRecord, *, jobs: JobStore, store: FeatureStore, registry: ModelStore) -> JobRecord:
    """Queue the retrain of an ended retrain job again (checked again: the model may be gone since)."""
    record = check_retrain(parent_id(old.request), store=store, registry=registry)
    return jobs.create(RETRAIN, retrain_payload(record), resumed_from=old.id)


def execute_retrain(
    request: Mapping[str, Any], *, store: FeatureStore, registry: ModelStore, progress: Progress
) -> dict[str, Any]:
    """Run a retrain job's retrain in this process; return its JSON result (the synchronous answer and more)."""
    from walkforward import queries

    parent = parent_id(request)
    out = queries.retrain(registry, store, parent, progress=lambda msg, done, total: progress(done, total, None, msg))
    child = out["model"]
    return {
        **out,
        "kind": RETRAIN,
        "parent_model_id": parent,
        "model_ids": [out["model_id"]],
        "best_score": child.get("cv_score"),
        "rows_used": (out.get("retrain") or {}).get("rows_used"),
        "existing": int(not out["trained"]),
        "notes": [out["message"]],
    }


def describe(request: Mapping[str, Any]) -> str:
    """What a retrain job trains, in brief: ``retrain of 1a2b3c4d · algorithm · symbol · timeframe``."""
    parts = [request.get(k) for k in ("algorithm", "symbol", "timeframe")]
    return " · ".join([f"retrain of {str(request.get('model_id', '?'))[:8]}", *(str(p) for p in parts if p)])


__all__ = [
    "RETRAIN",
    "check_retrain",
    "describe",
    "execute_retrain",
    "parent_id",
    "resume_retrain",
    "retrain_payload",
    "submit_retrain",
]
