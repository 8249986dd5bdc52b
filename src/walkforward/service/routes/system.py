"""The feature store's contents and the service's health."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from walkforward import queries
from walkforward.service.capacity import HEALTH_TIMEOUT
from walkforward.service.deps import Services, services
from walkforward.service.health_check import HealthCheck
from walkforward.service.queries import health as health_report
from walkforward.service.queries import unanswered
from walkforward.service.schemas import Health

router = APIRouter(tags=["data"])
health_router = APIRouter(tags=["system"])


@router.get("/symbols")
def list_symbols(svc: Annotated[Services, Depends(services)]) -> list[dict[str, Any]]:
    """What the feature store holds: symbols with their first and last dates, days and feature sets."""
    return queries.symbols(svc.store)


@router.get("/algorithms", tags=["models"])
def list_algorithms() -> list[dict[str, Any]]:
    """The algorithms a training request may name: task, defaults, grid names and default grid size."""
    return queries.algorithms()


@health_router.get("/health", response_model=Health, responses={503: {"model": Health}})
async def health(svc: Annotated[Services, Depends(services)]) -> Any:
    """Liveness and readiness: the database answers and the feature store is readable (no auth).

    ``executor`` says where search jobs run (``local``, or ``dask`` with the scheduler and whether it answers).
    The checks run about once a second, on threads and a database connection of their own
    (``checked_at`` says when), so a busy server still answers at once; checks that take longer than
    a few seconds answer 503.
    """
    check = svc.health_check
    if check is None:
        settings = svc.settings
        check = svc.health_check = HealthCheck(
            lambda: health_report(svc.jobs, settings.features_parquet_dir, settings.walkforward_dask_scheduler),
            on_timeout=lambda: (False, unanswered(svc.jobs.backend, HEALTH_TIMEOUT)),
        )
    ok, body = await check.report()
    return body if ok else JSONResponse(body, status_code=503)
