"""What routes depend on: the app's services (built in the lifespan) and the optional bearer token.

The service getters are ``async def``: they only read ``app.state``, and a plain ``def`` dependency
would take a thread of the pool the routes share for each request (``/health`` must never wait there).
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from walkforward.config import Settings
from walkforward.model_selection.cleanup import sweep_quietly
from walkforward.model_selection.executors import scheduler_endpoint
from walkforward.registry import ModelStore
from walkforward.registry.jobs import JobRecord, JobStore
from walkforward.request import SearchRequest
from walkforward.service.health_check import HealthCheck
from walkforward.service.jobs import JobRunner, resume, submit
from walkforward.service.jobs.retrain import submit_retrain, submit_schedule
from walkforward.service.plot_cache import PlotCache

if TYPE_CHECKING:
    from walkforward.features.store import FeatureStore

log = logging.getLogger(__name__)

_bearer = HTTPBearer(auto_error=False, description="Needed when the server's API_TOKEN is set.")


@dataclass
class Services:
    """The stores, the job runner, the chart cache and the health check one app instance uses."""

    settings: Settings
    registry: ModelStore
    jobs: JobStore
    runner: JobRunner | None = None
    owned: bool = field(default=True, repr=False)
    plots: PlotCache = field(default_factory=PlotCache, repr=False)
    health_check: HealthCheck | None = field(default=None, repr=False)  # made by GET /health
    _store: FeatureStore | None = field(default=None, init=False, repr=False)

    @property
    def store(self) -> FeatureStore:
        """The feature store, opened on first use: its module loads pandas and pyarrow (~70 MB), which
        listing models, the UI and ``/health`` never need."""
        if self._store is None:
            from walkforward.features.store import FeatureStore

            self._store = FeatureStore(
                self.settings.features_parquet_dir, lockbox_start=self.settings.walkforward_lockbox_start
            )
        return self._store

    @classmethod
    def open(cls, settings: Settings, *, run_jobs: bool = True, job_concurrency: int = 1) -> Services:
        """Open (and migrate) the registry and build the job runner (not started).

        A malformed ``WALKFORWARD_DASK_SCHEDULER`` stops the start-up here, not every search later.
        Orphan artifacts and dead processes' temporary files are swept first.
        """
        if settings.walkforward_dask_scheduler:
            scheduler_endpoint(settings.walkforward_dask_scheduler)
        registry = ModelStore.open(settings.database_url, settings.models_dir)
        # What killed searches and workers left (files owned by no live job; see registry.sweep).
        sweep_quietly(registry, "at server start")
        jobs = JobStore(registry.database)
        runner = JobRunner(jobs, settings, concurrency=job_concurrency) if run_jobs else None
        return cls(settings, registry, jobs, runner)

    def _queued(self, job: JobRecord) -> JobRecord:
        """Wake the runner (when this process runs jobs) for a job just queued; return the job."""
        if self.runner is not None:
            self.runner.wake()
        return job

    def submit(self, req: SearchRequest) -> JobRecord:
        scheduler = self.settings.walkforward_dask_scheduler
        return self._queued(submit(req, jobs=self.jobs, store=self.store, registry=self.registry, scheduler=scheduler))

    def submit_retrain(self, model_id: str) -> JobRecord:
        """Queue a retrain of ``model_id`` (refused at once: unknown model, ensemble, data gone)."""
        return self._queued(submit_retrain(model_id, jobs=self.jobs, store=self.store, registry=self.registry))

    def submit_schedule(self, model_id: str, schedule: dict[str, Any]) -> JobRecord:
        """Queue a retraining-schedule simulation of ``model_id`` (refused at once as a retrain is)."""
        job = submit_schedule(model_id, schedule, jobs=self.jobs, store=self.store, registry=self.registry)
        return self._queued(job)

    def plan(self, req: SearchRequest) -> dict[str, Any]:
        """A search's dry run as a job would run it (local worker processes, one per core); nothing is queued."""
        from walkforward.search.plan import dry_run

        return dry_run(req, store=self.store, registry=self.registry, n_jobs=os.cpu_count() or 1).to_dict()

    def resume(self, job_id: str) -> JobRecord:
        scheduler = self.settings.walkforward_dask_scheduler
        job = resume(job_id, jobs=self.jobs, store=self.store, registry=self.registry, scheduler=scheduler)
        return self._queued(job)

    def close(self) -> None:
        if self.runner is not None:
            self.runner.stop()
        if self.owned:
            self.registry.dispose()


async def services(request: Request) -> Services:
    """The app's :class:`Services` (set on ``app.state`` by the app factory / lifespan)."""
    found: Services | None = getattr(request.app.state, "services", None)
    if found is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the service is starting; retry in a moment")
    return found


async def registry(svc: Annotated[Services, Depends(services)]) -> ModelStore:
    return svc.registry


async def job_store(svc: Annotated[Services, Depends(services)]) -> JobStore:
    return svc.jobs


def require_token(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Refuse the request (401) unless it carries ``Authorization: Bearer <API_TOKEN>`` when a token is set."""
    expected: str | None = request.app.state.settings.api_token
    if not expected:
        return
    given = credentials.credentials if credentials is not None and credentials.scheme.lower() == "bearer" else ""
    if not secrets.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or wrong API token: send the header 'Authorization: Bearer <API_TOKEN>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
