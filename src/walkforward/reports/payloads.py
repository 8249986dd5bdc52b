"""Plain JSON-ready dicts of what was built or loaded (``--json`` and the API speak the same)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from walkforward.model_summary import LISTED_METRICS, listed_metrics, metric_values

if TYPE_CHECKING:
    from walkforward.data.loader import Dataset
    from walkforward.model_selection.splitters import FoldPlan
    from walkforward.registry import ModelRecord, ModelSummary
    from walkforward.search import SearchResult

#: The cross-validated metrics a brief model (a list row) carries.
BRIEF_METRICS = LISTED_METRICS


def dataset_dict(ds: Dataset, plan: FoldPlan) -> dict[str, Any]:
    """A loaded data set and its folds: symbols, target, rows, range, feature columns, fold plan."""
    req = ds.request
    return {
        "symbols": list(ds.symbols_used),
        "skipped_symbols": list(ds.skipped_symbols),
        "timeframe": req.timeframe.value,
        "target_col": req.target_col,
        "target_transform": req.target_transform.value,
        "lookforward": req.lookforward,
        "data_options": req.data_options,
        "rows": len(ds.frame),
        "timezone": ds.timezone,  # the primary's exchange: days are its local dates; ts are UTC
        "first_ts": ds.ts.iloc[0].tz_localize("UTC").isoformat(),
        "last_ts": ds.ts.iloc[-1].tz_localize("UTC").isoformat(),
        "days": int(ds.local_ts.dt.normalize().nunique()),
        "features": len(ds.feature_columns),
        "feature_columns": list(ds.feature_columns),
        "test_rows": int((ds.frame["data_split"] == "test").sum()),
        "folds": plan.to_dict(),
    }


def model_dict(r: ModelRecord, *, brief: bool = False) -> dict[str, Any]:
    """A registered model.

    ``brief`` gives what a list row shows (as :func:`summary_dict`): the number of features instead
    of their names and only the :data:`BRIEF_METRICS` of the cross-validated aggregate; the full form
    adds the request, hyperparameters, folds, all metrics, the artifact and the explanations.
    """
    d: dict[str, Any] = {
        "id": r.id,
        "created_at": r.created_at.isoformat(),
        "status": r.status,
        "symbol": r.symbol,
        "symbols": list(r.symbols),
        "algorithm": r.algorithm,
        "timeframe": r.timeframe,
        "target_transform": r.target_transform,
        "cv_score": r.cv_score,
        "cohort_id": r.cohort_id,
        "cohort_rank": r.cohort_rank,
        "parent_model_id": r.parent_model_id,
        "fingerprint": r.fingerprint,
        "features": len(r.features) if brief else list(r.features),
    }
    if brief:
        d["metrics"] = listed_metrics(metric_values(r.metrics))
        return d
    d.update(
        request=r.request,
        derived=r.derived,
        versions=r.versions,
        fingerprint_version=r.fingerprint_version,
        hyperparameters=r.hyperparameters,
        folds=r.folds,
        metrics=r.metrics,
        artifact_path=r.artifact_path,
        artifact_sha256=r.artifact_sha256,
        feature_details=r.feature_details,
        regime_importance=r.regime_importance,
    )
    return d


def summary_dict(s: ModelSummary) -> dict[str, Any]:
    """A list row: the same keys and values as ``model_dict(record, brief=True)`` of its record."""
    return {
        "id": s.id,
        "created_at": s.created_at.isoformat(),
        "status": s.status,
        "symbol": s.symbol,
        "symbols": list(s.symbols),
        "algorithm": s.algorithm,
        "timeframe": s.timeframe,
        "target_transform": s.target_transform,
        "cv_score": s.cv_score,
        "cohort_id": s.cohort_id,
        "cohort_rank": s.cohort_rank,
        "parent_model_id": s.parent_model_id,
        "fingerprint": s.fingerprint,
        "features": s.n_features,
        "metrics": dict(s.metrics),
    }


def search_dict(result: SearchResult) -> dict[str, Any]:
    """A search's outcome: the cohort, what was tried, trained and saved, the best, the selection summary."""
    return {
        "cohort_id": result.cohort_id,
        "strategy": result.strategy,
        "grid_size": result.grid_size,
        "tried": result.tried,
        "existing": result.existing,
        "trained": result.trained,
        "saved": [model_dict(r, brief=True) for r in result.saved],
        "duplicates": result.duplicates,
        "best": model_dict(result.best, brief=True) if result.best else None,
        "selection": result.selection,
        "notes": result.notes,
        "complete": result.complete,
    }


__all__ = ["BRIEF_METRICS", "dataset_dict", "model_dict", "search_dict", "summary_dict"]
