"""Retrain jobs: ``POST /models/{id}/retrain`` (and ``/retrain/simulate``) checked at once, queued, run in a worker.

A retrain takes as long as training the model's request, a schedule simulation as long as one fit per
refit; run in the request they held a server thread and were lost with a client timeout or a restart.
As jobs they survive both. A retrain job's request is the parent's id (with its algorithm, symbol and
timeframe, for the jobs list); its result is what the synchronous call answered (the child's id,
``trained``, the message, ``retrain`` with the rows used) plus the job fields the UI reads
(``model_ids``, ``best_score``, ``notes``). A schedule job (:data:`SCHEDULE`) adds ``every``,
``initial_days`` and ``warm_start``; its result is the simulation's report (it registers nothing).

Resuming a retrain job queues the same parent again: the child's fingerprint (parent and data end)
makes a retrain that had finished before its worker stopped come back as the existing child; a
resumed simulation runs again from the start (it keeps nothing along the way). The library calls
(:mod:`walkforward.queries`, the CLI's ``walkforward retrain [--simulate]``) stay synchronous.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from walkforward.errors import InvalidInputError
from walkforward.preflight import check_request
from walkforward.registry import ModelRecord, ModelStore
from walkforward.registry.jobs import JobRecord, JobStateError, JobStatus, JobStore

if TYPE_CHECKING:  # the store's module loads pandas and pyarrow: not at the API's start
    from walkforward.features.store import FeatureStore

#: The job kind of a retrain (``jobs.kind``).
RETRAIN = "retrain"
#: The job kind of a retraining-schedule simulation (``jobs.kind`` holds 16 characters).
SCHEDULE = "retrain_schedule"
#: The kinds this module runs.
KINDS = (RETRAIN, SCHEDULE)

#: The progress callback of a worker: ``(done, total, best, message)``.
Progress = Callable[[int, int, float | None, str], None]


def check_retrain(model_id: str, *, store: FeatureStore, registry: ModelStore, warm_start: bool = False) -> ModelRecord:
    """What can be refused before queueing: an unknown model (404), an ensemble, data no longer in the store.

    Raises
    ------
    ModelNotFoundError
        No such model.
    InvalidInputError
        An ensemble (retrain its members), a symbol or feature of its request that the store no
        longer holds (the same checks and words as a training request's), or ``warm_start`` for an
        algorithm that cannot continue a fit.
    """
    from walkforward.training.retrain import retrain_request  # loads pandas: on first use only

    record = registry.get(model_id)
    req = retrain_request(record)
    if warm_start:
        from walkforward.training.warm import check_warm_start

        check_warm_start(req.spec)
    check_request(req, store=store, registry=registry)
    return record


def submit_retrain(model_id: str, *, jobs: JobStore, store: FeatureStore, registry: ModelStore) -> JobRecord:
    """Check that ``model_id`` can be retrained and queue a retrain job of it; the job is ``queued``.

    Raises
    ------
    JobStateError
        A retrain of the same model is queued or running: two would race to register one child.
    """
    record = check_retrain(model_id, store=store, registry=registry)
    _refuse_twice(jobs, record.id)
    return jobs.create(RETRAIN, retrain_payload(record))


def _refuse_twice(jobs: JobStore, model_id: str) -> None:
    queued, _ = jobs.list(status=JobStatus.QUEUED, limit=1000)
    for job in [*queued, *jobs.active()]:
        if job.kind == RETRAIN and job.request.get("model_id") == model_id:
            raise JobStateError(
                f"a retrain of model {model_id} is already {job.status} (job {job.id}): "
                f"follow it with GET /jobs/{job.id}, or cancel it first"
            )


def submit_schedule(
    model_id: str,
    schedule: Mapping[str, Any],
    *,
    jobs: JobStore,
    store: FeatureStore,
    registry: ModelStore,
) -> JobRecord:
    """Check and queue a schedule simulation; ``schedule`` has ``every``, ``initial_days`` and ``warm_start``."""
    record = check_retrain(model_id, store=store, registry=registry, warm_start=bool(schedule.get("warm_start")))
    return jobs.create(SCHEDULE, {**retrain_payload(record), **_schedule(schedule)})


def _schedule(request: Mapping[str, Any]) -> dict[str, Any]:
    """The schedule fields of a body or of a stored job's request, checked by the API's
    :class:`~walkforward.service.schemas.ScheduleBody` (where they are declared, once)."""
    from walkforward.service.schemas import ScheduleBody

    return ScheduleBody.model_validate({k: request[k] for k in ScheduleBody.model_fields if k in request}).model_dump()


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
    """Queue the retrain or simulation of an ended job again (checked again: the model may be gone since)."""
    warm = old.kind == SCHEDULE and bool(old.request.get("warm_start"))
    record = check_retrain(parent_id(old.request), store=store, registry=registry, warm_start=warm)
    if old.kind == RETRAIN:
        _refuse_twice(jobs, record.id)
    payload = retrain_payload(record) if old.kind == RETRAIN else {**retrain_payload(record), **_schedule(old.request)}
    return jobs.create(old.kind, payload, resumed_from=old.id)


def execute_retrain(
    kind: str, request: Mapping[str, Any], *, store: FeatureStore, registry: ModelStore, progress: Progress
) -> dict[str, Any]:
    """Run a retrain or schedule job in this process; return its JSON result (the synchronous answer and more)."""
    from walkforward import queries

    parent = parent_id(request)
    steps = functools.partial(_steps, progress)
    if kind == SCHEDULE:
        report = queries.simulate_retraining(registry, store, parent, progress=steps, **_schedule(request))
        message = _schedule_message(report)
        return {**report, "kind": SCHEDULE, "message": message, "model_ids": [], "notes": [message]}
    out = queries.retrain(registry, store, parent, progress=steps)
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


def _steps(progress: Progress, msg: str, done: int, total: int) -> None:
    progress(done, total, None, msg)


def _schedule_message(report: Mapping[str, Any]) -> str:
    """One line of a simulation: its refits and the mean daily difference (retrained - frozen)."""
    diff = report.get("difference") or {}
    mean = diff.get("mean_daily")
    p = diff.get("p_value")
    said = f"{len(report.get('refits', []))} refit(s) every {report['every']} session(s) after {report['initial_days']}"
    if mean is not None:
        said += f"; retrained - frozen {100 * mean:.4f}% a day" + ("" if p is None else f" (p = {p:.3g})")
    return said


def describe(kind: str, request: Mapping[str, Any]) -> str:
    """What a job of this module trains, in brief: ``retrain of 1a2b3c4d · algorithm · symbol · timeframe``
    (``retraining schedule of 1a2b3c4d every 5 · ...`` for a simulation)."""
    parts = [request.get(k) for k in ("algorithm", "symbol", "timeframe")]
    head = f"retrain of {str(request.get('model_id', '?'))[:8]}"
    if kind == SCHEDULE:
        head = f"retraining schedule of {str(request.get('model_id', '?'))[:8]} every {request.get('every')}"
    return " · ".join([head, *(str(p) for p in parts if p)])


__all__ = [
    "KINDS",
    "RETRAIN",
    "SCHEDULE",
    "check_retrain",
    "describe",
    "execute_retrain",
    "parent_id",
    "resume_retrain",
    "retrain_payload",
    "submit_retrain",
    "submit_schedule",
]
