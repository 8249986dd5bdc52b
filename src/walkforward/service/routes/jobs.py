"""Jobs: submit a training run or a search, follow it, cancel it, resume it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from walkforward.registry.jobs import JobStatus, JobStore
from walkforward.request import SearchRequest
from walkforward.service.deps import Services, job_store, services
from walkforward.service.routes._params import JobId, Limit, Offset
from walkforward.service.schemas import JobOut, JobPage, PlanOut, Submitted

router = APIRouter(tags=["jobs"])


@router.post(
    "/train",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Submitted | PlanOut,
    responses={200: {"model": PlanOut, "description": "dry_run=true: the search's plan; no job was created."}},
)
def submit_training(
    body: SearchRequest,
    svc: Annotated[Services, Depends(services)],
    response: Response,
    dry_run: Annotated[
        bool, Query(description="Return the search's plan and an estimated time (200) instead of queueing it.")
    ] = False,
) -> Submitted | PlanOut:
    """Queue a training run (``search="none"``) or a search; returns the job id at once.

    The body is checked completely (fields, hyperparameters and grids against the algorithm, symbols,
    feature names and the parent model) before anything is queued; a refusal is a 422 with one line.
    With ``?dry_run=true`` a search is planned instead (the CLI's ``search --dry-run``): its data is
    read and one short fit timed, nothing is trained, registered or queued, and the answer is 200.
    """
    if dry_run:
        response.status_code = status.HTTP_200_OK
        return PlanOut.model_validate(svc.plan(body))
    job = svc.submit(body)
    return Submitted(job_id=job.id, status=job.status)


@router.get("/jobs", response_model=JobPage)
def list_jobs(
    jobs: Annotated[JobStore, Depends(job_store)],
    status_: Annotated[JobStatus | None, Query(alias="status")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> JobPage:
    """Jobs, newest first (without their logs and results: GET /jobs/{id} has them)."""
    rows, total = jobs.list(status=status_.value if status_ else None, limit=limit, offset=offset)
    return JobPage(total=total, items=[JobOut.of(j, detail=False) for j in rows])


@router.get("/jobs/{job_id}", response_model=JobOut)
def get_job(job_id: JobId, jobs: Annotated[JobStore, Depends(job_store)]) -> JobOut:
    """A job's status, progress, best score so far, last log lines, error and result."""
    return JobOut.of(jobs.get(job_id))


@router.post("/jobs/{job_id}/cancel", response_model=JobOut)
def cancel_job(job_id: JobId, jobs: Annotated[JobStore, Depends(job_store)]) -> JobOut:
    """Cancel a queued job at once, or ask a running one to stop (status ``cancelling``)."""
    return JobOut.of(jobs.request_cancel(job_id))


@router.post("/jobs/{job_id}/resume", status_code=status.HTTP_202_ACCEPTED, response_model=Submitted)
def resume_job(job_id: JobId, svc: Annotated[Services, Depends(services)]) -> Submitted:
    """Queue the request of an interrupted, failed or cancelled job again; it trains only what is missing."""
    job = svc.resume(job_id)
    return Submitted(job_id=job.id, status=job.status, resumed_from=job.resumed_from)
