"""Reads and actions on the registry and the feature store, shared by the CLI and the API.

Each function takes the opened stores, does one thing and returns either a JSON-ready dict or a
small frozen view whose ``to_dict()`` is what ``--json`` prints and the API returns; the records
stay on the view for the CLI's tables. No HTTP, no terminal here, and nothing heavy at import:
the search statistics and the prediction pipeline are imported by the functions that use them.

Examples
--------
>>> from walkforward import queries
>>> queries.cohort(registry, "3f2a...").to_dict()["selection"]  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from walkforward.errors import DataNotFoundError
from walkforward.forecast_queries import compare, equity, kept_predictions, predictions_dict
from walkforward.lineage import Lineage, lineage
from walkforward.reports.payloads import model_dict, summary_dict

if TYPE_CHECKING:
    from collections.abc import Callable

    import pandas as pd

    from walkforward.config import Settings
    from walkforward.features.store import FeatureStore
    from walkforward.registry import ModelRecord, ModelStore, ModelSummary


def _no_cohort(cohort_id: str) -> DataNotFoundError:
    return DataNotFoundError(
        f"no cohort {cohort_id!r}: `walkforward models list` (or GET /models) shows models with their cohort_id"
    )


@dataclass(frozen=True)
class ModelPage:
    """One page of registered models (list rows); ``total`` counts every match."""

    models: list[ModelSummary]
    total: int
    offset: int
    tags: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)

    def items(self) -> list[dict[str, Any]]:
        """The page's models in brief form, each with its tags (the user's labels; ``[]`` when none)."""
        return [{**summary_dict(r), "tags": list(self.tags.get(r.id, ()))} for r in self.models]


@dataclass(frozen=True)
class Cohort:
    """A search's registered models, best first, with the selection summary over all of them."""

    cohort_id: str
    models: list[ModelRecord]
    selection: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        """Each sibling as a list row plus its hyperparameters and fallback (one request shows a cohort)."""
        return {
            "cohort_id": self.cohort_id,
            "selection": self.selection,
            "models": [
                {
                    **model_dict(r, brief=True),
                    "hyperparameters": r.hyperparameters,
                    "fallback": r.derived.get("fallback") or r.derived.get("ols_fallback"),
                }
                for r in self.models
            ],
        }


@dataclass(frozen=True)
class Predictions:
    """Every prediction of a model over the requested range (``ts``, prediction and target columns)."""

    model_id: str
    frame: pd.DataFrame

    def latest(self, limit: int) -> pd.DataFrame:
        """The last ``limit`` rows."""
        return self.frame.tail(limit)

    def to_dict(self, limit: int) -> dict[str, Any]:
        """The latest ``limit`` rows as JSON records (ISO timestamps) and how many rows there are."""
        rows = json.loads(self.latest(limit).to_json(orient="records", date_format="iso"))
        return {"model_id": self.model_id, "rows": len(self.frame), "predictions": rows}


def list_models(
    registry: ModelStore,
    *,
    symbol: str | None = None,
    algorithm: str | None = None,
    cohort_id: str | None = None,
    parent_model_id: str | None = None,
    sort: str = "created_at",
    descending: bool = True,
    limit: int = 50,
    offset: int = 0,
    task: str | None = None,
    id_prefix: str | None = None,
    where: Sequence[str] = (),
    primary_only: bool = False,
    tag: str | None = None,
) -> ModelPage:
    """Models matching the filters, sorted, one page.

    ``symbol`` (any case) matches any symbol a model was trained on, primary or context, or only the
    primary one with ``primary_only``. ``task`` (regression or classification) keeps the models of
    that task's algorithms and ensembles, so a sort by score never mixes R² with accuracy; ``id_prefix`` those whose
    id starts with it; ``where`` those whose listed metrics satisfy every filter text
    (``["sharpe > 1", "ic > 0 and net_annual_return >= 0.05"]``; a bad one is ``InvalidInputError``
    naming the token and the allowed metrics); ``tag`` those tagged with it (any case).
    """
    from walkforward.metric_filter import parse_where

    conditions = parse_where(where)
    algorithms, ensemble_score = None, None
    if task is not None:
        from walkforward.models.catalog import ALGORITHMS

        specs = [spec for spec in ALGORITHMS.values() if spec.task == task]
        algorithms = sorted(spec.name for spec in specs)
        ensemble_score = specs[0].score_key  # one per task: r2 or accuracy
    rows, total = registry.list(
        symbol=symbol.upper() if symbol else None,
        algorithm=algorithm,
        cohort_id=cohort_id,
        parent_model_id=parent_model_id,
        sort=sort,
        descending=descending,
        limit=limit,
        offset=offset,
        algorithms=algorithms,
        id_prefix=id_prefix,
        primary_only=primary_only,
        metric_filters=conditions,
        ensemble_score=ensemble_score,
        tag=tag,
    )
    return ModelPage(list(rows), total, offset, registry.tags_of([r.id for r in rows]))


def model(registry: ModelStore, model_id: str) -> dict[str, Any]:
    """A model in full: request, features, folds, metrics, explanations; its lock-box evaluation and notes apart."""
    record = registry.get(model_id)
    found = registry.lockbox(model_id)
    notes = registry.notes(model_id).to_dict()
    return {**model_dict(record), "lockbox": None if found is None else found.to_dict(), "notes": notes}


def lockbox(registry: ModelStore, model_id: str) -> dict[str, Any]:
    """A model's recorded lock-box evaluation; none recorded is not found."""
    registry.get(model_id)  # an unknown model is ModelNotFoundError, not "not evaluated"
    found = registry.lockbox(model_id)
    if found is None:
        raise DataNotFoundError(
            f"model {model_id} has not been evaluated on the lock box: "
            f"`walkforward models lockbox {model_id}` (or POST /models/{model_id}/lockbox) does it, once"
        )
    return found.to_dict()


def evaluate_lockbox(registry: ModelStore, store: FeatureStore, model_id: str) -> dict[str, Any]:
    """Evaluate a model on the lock box once and record it (a second time raises ``LockboxEvaluatedError``)."""
    from walkforward.training.lockbox import evaluate_lockbox as run

    return run(model_id, store=store, registry=registry).to_dict()


def drift(
    registry: ModelStore, store: FeatureStore, settings: Settings, model_id: str, *, since: str | None = None
) -> dict[str, Any]:
    """A model's drift after its training end (features, predictions, performance): ok / warn / alert."""
    from walkforward.training.drift import drift_config, drift_report

    return drift_report(model_id, store=store, registry=registry, config=drift_config(settings), since=since)


def cohort(registry: ModelStore, cohort_id: str, *, selection: Literal["true", "false", "kept"] = "true") -> Cohort:
    """A cohort's siblings, best first, with the selection summary: computed if need be (``"true"``:
    seconds the first time), only if already kept (``"kept"``, else ``None``) or left out (``"false"``);
    the siblings alone are one registry query. An empty cohort is not found."""
    from walkforward.selection_cache import cohort_selection

    rows = registry.cohort(cohort_id)
    if not rows:
        raise _no_cohort(cohort_id)
    stats = None if selection == "false" else cohort_selection(registry, cohort_id, rows, compute=selection == "true")
    return Cohort(cohort_id, list(rows), stats)


def cohort_explore(registry: ModelStore, cohort_id: str, *, selection: bool = False) -> dict[str, Any]:
    """A cohort explored: varied hyperparameters, each sibling's score, importance and history (see
    :func:`walkforward.evaluation.explore.explore`), with the selection summary of :func:`cohort`
    when ``selection`` (the UI's second request brings both); an empty cohort is not found."""
    from walkforward.registry import TrialStore
    from walkforward.registry.artifacts import cohort_explore_file
    from walkforward.selection_cache import cached, cohort_selection

    rows = registry.cohort(cohort_id)
    if not rows:
        raise _no_cohort(cohort_id)
    trials = TrialStore(registry.database)

    def compute() -> dict[str, Any]:
        from walkforward.evaluation.explore import explore  # sklearn and optuna: not for a kept value

        return explore(cohort_id, rows, trials.of_cohort(cohort_id))

    # A pure function of the members and of the trials their searches scored (fingerprints name
    # their hyperparameters; scores and trial order never change once written): fANOVA costs 0.5-3 s
    # a cohort, so each is computed once, and kept beside the models like the selection statistics
    # (a search's end computes both). A search adding trials changes their count and latest time.
    key = (
        "explore",
        cohort_id,
        tuple((r.id, r.fingerprint, r.cv_score) for r in rows),
        trials.cohort_state(cohort_id),
    )
    out = cached(key, compute, cohort_explore_file(registry.models_dir, cohort_id))
    return {**out, "selection": cohort_selection(registry, cohort_id, rows)} if selection else out


def predictions(
    registry: ModelStore, store: FeatureStore, model_id: str, *, start: str | None = None, end: str | None = None
) -> Predictions:
    """Predict with a registered model through the loader and pipeline it was trained with."""
    from walkforward.training import predict

    return Predictions(model_id, predict(model_id, store=store, registry=registry, start=start, end=end))


def delete_model(registry: ModelStore, model_id: str) -> dict[str, Any]:
    """Delete a model and its artifact (unknown model: ``ModelNotFoundError``)."""
    registry.delete(model_id)
    return {"deleted": [model_id]}


def delete_cohort(registry: ModelStore, cohort_id: str) -> dict[str, Any]:
    """Delete a cohort's models and artifacts; a cohort with no model is not found."""
    deleted = registry.delete_cohort(cohort_id)
    if deleted == 0:
        raise _no_cohort(cohort_id)
    return {"cohort_id": cohort_id, "deleted": deleted}


def prune_models(registry: ModelStore, older_than: str, *, apply: bool = False) -> dict[str, Any]:
    """The non-best models of cohorts older than ``older_than`` (``30d``): listed, or deleted with ``apply``."""
    from walkforward.registry.retention import parse_age

    plan = registry.prune(parse_age(older_than), apply=apply)
    return {
        "older_than": older_than,
        "cutoff": plan.cutoff.isoformat(),
        "applied": plan.applied,
        "cohorts": len(plan.cohorts),
        "delete": [row.to_dict() for row in plan.delete],
        "deleted": len(plan.delete) if plan.applied else 0,
        "kept_best": list(plan.kept_best),
        "kept_parents": list(plan.kept_parents),
    }


def algorithms() -> list[dict[str, Any]]:
    """The algorithms with their task, defaults, the request grid names and the reference's default grid."""
    from walkforward.model_selection.grids import grid_size
    from walkforward.models.catalog import ALGORITHMS

    return [
        {
            "name": spec.name,
            "task": spec.task,
            "family": spec.family,
            "score": spec.score_key,
            "defaults": dict(spec.defaults),
            "grid_names": dict(spec.grid_names),
            "default_grid": {k: list(v) for k, v in spec.grid.items()},
            "default_grid_size": grid_size(spec.grid),
        }
        for spec in ALGORITHMS.values()
    ]


def retrain(
    registry: ModelStore, store: FeatureStore, model_id: str, *, progress: Callable[[str, int, int], None] | None = None
) -> dict[str, Any]:
    """Retrain a model on the data up to now (lock box excluded); the child, or the existing one if no new data."""
    from walkforward.training.retrain import retrain as run

    done = run(model_id, store=store, registry=registry, progress=progress)
    derived = done.record.derived
    return {
        **done.to_dict(),
        "retrained_from": derived.get("retrained_from"),
        "data_end": derived.get("data_end"),
        "retrain": derived.get("retrain"),
        "model": model_dict(done.record, brief=True),
    }


def simulate_retraining(
    registry: ModelStore,
    store: FeatureStore,
    model_id: str,
    *,
    every: int,
    initial_days: int | None = None,
    warm_start: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Frozen vs retrained every ``every`` sessions on the same rows (:mod:`walkforward.training.schedule`)."""
    from walkforward.training.schedule import simulate_retraining as run

    return run(
        model_id,
        store=store,
        registry=registry,
        every=every,
        initial_days=initial_days,
        warm_start=warm_start,
        progress=progress,
    )


def symbols(store: FeatureStore) -> list[dict[str, Any]]:
    """What the feature store holds: one entry per symbol with its date range, days and feature sets."""
    return [dataclasses.asdict(store.describe(s)) for s in store.symbols()]


__all__ = [
    "Cohort",
    "Lineage",
    "ModelPage",
    "Predictions",
    "cohort",
    "compare",
    "delete_cohort",
    "delete_model",
    "equity",
    "kept_predictions",
    "lineage",
    "list_models",
    "model",
    "predictions",
    "predictions_dict",
    "prune_models",
    "retrain",
    "simulate_retraining",
    "symbols",
]
