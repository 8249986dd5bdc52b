"""What the routes call: one function per read or action, returning JSON-ready values.

Routes stay thin (parse, call one of these, map the result); these stay free of HTTP.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

from walkforward.errors import DataNotFoundError, WalkforwardError
from walkforward.features.store import FeatureStore
from walkforward.registry import ModelStore
from walkforward.registry.jobs import JobStore
from walkforward.reports import model_dict, plot_png  # noqa: F401 - plot_png is used by the routes
from walkforward.search import cohort_selection
from walkforward.training import predict

log = logging.getLogger(__name__)


def cohort_report(registry: ModelStore, cohort_id: str) -> dict[str, Any]:
    """A cohort's siblings, best first, with the selection summary (as ``walkforward models cohort``)."""
    rows = registry.cohort(cohort_id)
    if not rows:
        raise DataNotFoundError(f"no cohort {cohort_id!r}: GET /models lists models with their cohort_id")
    summary = cohort_selection(rows)
    return {"cohort_id": cohort_id, "selection": summary, "models": [model_dict(r, brief=True) for r in rows]}


def delete_cohort(registry: ModelStore, cohort_id: str) -> dict[str, Any]:
    """Delete a cohort's models and artifacts; a cohort with no model is not found."""
    deleted = registry.delete_cohort(cohort_id)
    if deleted == 0:
        raise DataNotFoundError(f"no cohort {cohort_id!r}: GET /models lists models with their cohort_id")
    return {"cohort_id": cohort_id, "deleted": deleted}


def delete_model(registry: ModelStore, model_id: str) -> dict[str, Any]:
    registry.delete(model_id)
    return {"deleted": [model_id]}


def lineage(registry: ModelStore, model_id: str) -> dict[str, Any]:
    """A model with its ancestors (parent first) and descendants (breadth-first)."""
    me = registry.get(model_id)
    return {
        "model": model_dict(me, brief=True),
        "ancestors": [model_dict(r, brief=True) for r in registry.ancestors(model_id)],
        "descendants": [model_dict(r, brief=True) for r in registry.descendants(model_id)],
    }


def latest_predictions(
    registry: ModelStore, store: FeatureStore, model_id: str, *, start: str | None, end: str | None, limit: int
) -> dict[str, Any]:
    """The latest ``limit`` rows of :func:`walkforward.training.predict` (as ``walkforward predict --json``)."""
    frame = predict(model_id, store=store, registry=registry, start=start, end=end)
    shown = frame.tail(limit)
    rows = json.loads(shown.to_json(orient="records", date_format="iso"))
    return {"model_id": model_id, "rows": len(frame), "predictions": rows}


def symbols(store: FeatureStore) -> list[dict[str, Any]]:
    """What the feature store holds: one entry per symbol with its date range."""
    return [dataclasses.asdict(store.describe(s)) for s in store.symbols()]


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
