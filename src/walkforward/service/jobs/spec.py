"""Queue a job (:func:`submit`) or queue an ended one again (:func:`resume`), checked completely first.

A training job's payload is its :class:`~walkforward.request.SearchRequest` (``search="none"`` is a
single run) as JSON; the same request and the same checks serve the CLI and the library. A retrain
job's (and a retraining-schedule simulation's) payload names the parent model (:mod:`.retrain`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from walkforward.model_selection.executors import check_scheduler
from walkforward.preflight import check_request
from walkforward.registry import ModelStore
from walkforward.registry.jobs import JobRecord, JobStateError, JobStatus, JobStore
from walkforward.request import SearchRequest, parse
from walkforward.service.jobs.retrain import KINDS, resume_retrain

if TYPE_CHECKING:  # the store's module loads pandas and pyarrow: not at the API's start
    from walkforward.features.store import FeatureStore

RESUMABLE: tuple[str, ...] = (JobStatus.INTERRUPTED, JobStatus.FAILED, JobStatus.CANCELLED)


def _check(req: SearchRequest, store: FeatureStore, registry: ModelStore, scheduler: str | None) -> None:
    check_request(req, store=store, registry=registry)
    if scheduler and req.kind == "search":  # a single training run stays in its job worker
        check_scheduler(scheduler)


def submit(
    req: SearchRequest, *, jobs: JobStore, store: FeatureStore, registry: ModelStore, scheduler: str | None = None
) -> JobRecord:
    """Check ``req`` against the store and registry (no data is read) and queue it; the job is ``queued``.

    With a Dask ``scheduler`` (the server's ``WALKFORWARD_DASK_SCHEDULER``), a search is refused with
    :class:`~walkforward.model_selection.executors.SchedulerUnreachableError` unless the scheduler
    answers within 2 s: a job that could only fail is not queued.
    """
    _check(req, store, registry, scheduler)
    return jobs.create(req.kind, req.model_dump(mode="json"))


def job_request(job: JobRecord) -> SearchRequest:
    """The request a job was queued with."""
    return parse(SearchRequest, job.request)


def resume(
    job_id: str, *, jobs: JobStore, store: FeatureStore, registry: ModelStore, scheduler: str | None = None
) -> JobRecord:
    """Queue a new job with the request of an interrupted, failed or cancelled one (checked again).

    Raises
    ------
    JobStateError
        The job is queued, running or done.
    """
    old = jobs.get(job_id)
    if old.status not in RESUMABLE:
        hint = "it is done: submit a new job to train more" if old.status == JobStatus.DONE else "wait for it to end"
        raise JobStateError(f"job {job_id} is {old.status}: only {', '.join(RESUMABLE)} jobs can be resumed ({hint})")
    if old.kind in KINDS:
        return resume_retrain(old, jobs=jobs, store=store, registry=registry)
    _check(job_request(old), store, registry, scheduler)
    return jobs.create(old.kind, old.request, resumed_from=old.id)


__all__ = ["RESUMABLE", "job_request", "resume", "submit"]
