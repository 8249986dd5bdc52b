"""The feature store's contents and the service's health."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from walkforward import queries
from walkforward.features.store import FeatureStore
from walkforward.service.deps import Services, feature_store, services
from walkforward.service.queries import health as health_report
from walkforward.service.schemas import Health

router = APIRouter(tags=["data"])
health_router = APIRouter(tags=["system"])


@router.get("/symbols")
def list_symbols(store: Annotated[FeatureStore, Depends(feature_store)]) -> list[dict[str, Any]]:
    """What the feature store holds: symbols with their first and last dates, days and feature sets."""
    return queries.symbols(store)


@router.get("/algorithms", tags=["models"])
def list_algorithms() -> list[dict[str, Any]]:
    """The algorithms a training request may name: task, defaults, grid names and default grid size."""
    return queries.algorithms()


@health_router.get("/health", response_model=Health, responses={503: {"model": Health}})
def health(svc: Annotated[Services, Depends(services)]) -> Any:
    """Liveness and readiness: the database answers and the feature store is readable (no auth).

    ``executor`` says where search jobs run (``local``, or ``dask`` with the scheduler and whether it answers).
    """
    ok, body = health_report(svc.jobs, svc.store, svc.settings.walkforward_dask_scheduler)
    return body if ok else JSONResponse(body, status_code=503)
