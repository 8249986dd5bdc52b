"""What only the service asks: its health. Reads and actions on models and data are in :mod:`walkforward.queries`."""

from __future__ import annotations

import logging
from typing import Any

from walkforward.errors import WalkforwardError
from walkforward.features.store import FeatureStore
from walkforward.registry.jobs import JobStore

log = logging.getLogger(__name__)


def health(jobs: JobStore, store: FeatureStore) -> tuple[bool, dict[str, Any]]:
    """Whether the database answers and the store is readable; never raises."""
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
    return ok, {"status": "ok" if ok else "degraded", "database": database, "store": store_info}
