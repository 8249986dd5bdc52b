"""What only the service asks: its health. Reads and actions on models and data are in :mod:`walkforward.queries`."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from walkforward.errors import WalkforwardError
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


def store_info(root: Path) -> dict[str, Any]:
    """Whether the feature store's folder is readable (a missing one is an empty store), and its symbol folders.

    Only the folder is listed: reading the store itself loads pandas and pyarrow, which a health
    check has no use for.
    """
    if not root.exists():
        return {"ok": True, "symbols": 0}
    with os.scandir(root) as entries:
        return {"ok": True, "symbols": sum(1 for e in entries if e.is_dir() and not e.name.startswith("."))}


def health(jobs: JobStore, store_root: Path, scheduler: str | None = None) -> tuple[bool, dict[str, Any]]:
    """Whether the database answers and the store is readable; never raises.

    The database is asked on a connection of its own (:meth:`JobStore.ping`). The executor is
    reported (``executor``) but does not make the service unhealthy: with the Dask scheduler down,
    everything but new searches still works (they are refused with 503).
    """
    database: dict[str, Any] = {"backend": jobs.backend}
    try:
        jobs.ping()
        database["ok"] = True
    except WalkforwardError as exc:
        log.warning("health: database check failed: %s", exc)
        database["ok"] = False
    try:
        store = store_info(Path(store_root))
    except OSError as exc:
        log.warning("health: feature store check failed: %s", exc)
        store = {"ok": False}
    ok = bool(database["ok"] and store["ok"])
    return ok, {
        "status": "ok" if ok else "degraded",
        "database": database,
        "store": store,
        "executor": executor_info(scheduler),
    }


def unanswered(backend: str, seconds: float) -> dict[str, Any]:
    """The health report when the checks did not finish within ``seconds`` (a hung database or disk)."""
    return {
        "status": "degraded",
        "database": {"backend": backend, "ok": False, "error": f"no answer within {seconds:g} s"},
        "store": {"ok": False, "error": f"not checked within {seconds:g} s"},
        "executor": {"name": "unknown", "where": "not checked"},
    }
