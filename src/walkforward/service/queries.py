"""What only the service asks: its health. Reads and actions on models and data are in :mod:`walkforward.queries`."""

from __future__ import annotations

import logging
from typing import Any

from walkforward.errors import WalkforwardError
from walkforward.features.store import FeatureStore
from walkforward.model_selection.executors import check_scheduler
from walkforward.registry.jobs import JobStore

log = logging.getLogger(__name__)


def executor_info(scheduler: str | None) -> dict[str, Any]:
    """Where search jobs run: ``local``, or ``dask`` with the scheduler's address and whether it answers."""
    if not scheduler:
        return {"name": "local", "where": "worker processes on this machine"}
    info: dict[str, Any] = {"name": "dask", "where": f"dask {scheduler}", "scheduler": scheduler}
    try:
        check_scheduler(scheduler)
        info["ok"] = True
    except WalkforwardError as exc:
        log.warning("health: %s", exc)
        info.update(ok=False, error=str(exc))
    return info


def health(jobs: JobStore, store: FeatureStore, scheduler: str | None = None) -> tuple[bool, dict[str, Any]]:
    """Whether the database answers and the store is readable; never raises.

    The executor is reported (``executor``) but does not make the service unhealthy: with the Dask
    scheduler down, everything but new searches still works (they are refused with 503).
    """
    database: dict[str, Any] = {"backend": jobs.backend}
    try:
        jobs.ping()
        database["ok"] = True
    except WalkforwardError as exc:
        log.warning("health: database check failed: %s", exc)
        database["ok"] = False
    store_info: dict[str, Any] = {}
    try:
        store_info.update(ok=True, symbols=len(store.symbols()))
    except OSError as exc:
        log.warning("health: feature store check failed: %s", exc)
        store_info["ok"] = False
    ok = bool(database["ok"] and store_info["ok"])
    return ok, {
        "status": "ok" if ok else "degraded",
        "database": database,
        "store": store_info,
        "executor": executor_info(scheduler),
    }
