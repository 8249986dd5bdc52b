"""Conversions between the registry's frozen records and rows of ``models`` and its summary tables.

Only the store uses these: rows never leave the registry package.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from walkforward.model_summary import listed_metrics, metric_values, score_name
from walkforward.registry.artifacts import artifact_file_name
from walkforward.registry.database import to_json
from walkforward.registry.records import ModelRecord, ModelSummary, NewModel

#: Fields of :class:`NewModel` stored as JSON exactly as given (after :func:`to_json`).
_JSON_FIELDS: tuple[str, ...] = (
    "symbols",
    "request",
    "features",
    "hyperparameters",
    "folds",
    "metrics",
    "feature_details",
    "regime_importance",
    "derived",
    "versions",
)


def _finite_or_none(value: float | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def new_row(new: NewModel, model_id: str) -> dict[str, Any]:
    """The row to insert for ``new`` (without ``artifact_sha256``, known once the file is written).

    Raises :class:`~walkforward.errors.InvalidInputError` when a JSON field is not serialisable.
    """
    row: dict[str, Any] = {
        "id": model_id,
        "created_at": dt.datetime.now(dt.UTC),
        "status": new.status,
        "symbol": new.symbol,
        "algorithm": new.algorithm,
        "timeframe": new.timeframe,
        "target_transform": new.target_transform,
        "fingerprint": new.fingerprint,
        "fingerprint_version": int(new.fingerprint_version),
        "cohort_id": new.cohort_id,
        "parent_model_id": new.parent_model_id,
        "artifact_path": artifact_file_name(model_id),
        "cv_score": _finite_or_none(new.cv_score),
        "cohort_rank": new.cohort_rank,
    }
    for name in _JSON_FIELDS:
        row[name] = to_json(name, getattr(new, name))
    return row


#: The columns ``model_summaries`` copies from ``models`` as they are.
SUMMARY_COPIED: tuple[str, ...] = (
    "id",
    "created_at",
    "status",
    "symbol",
    "symbols",
    "algorithm",
    "timeframe",
    "target_transform",
    "fingerprint",
    "cohort_id",
    "cohort_rank",
    "parent_model_id",
    "cv_score",
)


def summary_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """The ``model_summaries`` row of a ``models`` row (as :func:`new_row` builds it)."""
    summary = {name: row[name] for name in SUMMARY_COPIED}
    summary["score_name"] = score_name(row["metrics"])
    summary["n_features"] = len(row["features"])
    summary["metrics"] = listed_metrics(metric_values(row["metrics"]))
    return summary


def metric_rows(model_id: str, metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ``model_metrics`` rows of a model whose (JSON-ready) metrics are ``metrics``."""
    return [{"model_id": model_id, "name": name, "value": value} for name, value in metric_values(metrics).items()]


#: Longest symbol kept in ``model_symbols`` (the width of the ``symbol`` columns).
SYMBOL_MAX = 32


def symbol_rows(model_id: str, symbol: str, symbols: Sequence[str]) -> list[dict[str, Any]]:
    """The ``model_symbols`` rows of a model: its primary symbol and every context symbol, once each."""
    wanted = dict.fromkeys(s for s in (symbol, *symbols) if isinstance(s, str) and 0 < len(s) <= SYMBOL_MAX)
    return [{"model_id": model_id, "symbol": s} for s in wanted]


def explanation_values(
    feature_details: Mapping[str, Any],
    regime_importance: Mapping[str, Any] | None,
    derived: Mapping[str, Any] | None = None,
    info: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The column values that store a model's explanations; with ``info`` (their notes and clustered
    importance), also ``derived`` with it under ``"explanations"``."""
    values = {
        "feature_details": to_json("feature_details", feature_details),
        "regime_importance": to_json("regime_importance", regime_importance),
    }
    if info is not None:
        values["derived"] = to_json("derived", {**(derived or {}), "explanations": dict(info)})
    return values


def _utc(created_at: dt.datetime) -> dt.datetime:
    if created_at.tzinfo is None:  # SQLite keeps no offset; we always write UTC
        return created_at.replace(tzinfo=dt.UTC)
    return created_at.astimezone(dt.UTC)


_IDENTITY = (
    "id",
    "status",
    "symbol",
    "algorithm",
    "timeframe",
    "target_transform",
    "fingerprint",
    "cohort_id",
    "cohort_rank",
    "parent_model_id",
    "cv_score",
)


def _identity(row: Mapping[Any, Any]) -> dict[str, Any]:
    """The fields a list row and a full record share, read the same way."""
    return {
        **{name: row[name] for name in _IDENTITY},
        "created_at": _utc(row["created_at"]),
        "symbols": tuple(row["symbols"]),
    }


def to_summary(row: Mapping[Any, Any]) -> ModelSummary:
    """The list row of a ``model_summaries`` row."""
    return ModelSummary(
        **_identity(row),
        score_name=row["score_name"],
        n_features=row["n_features"],
        metrics=dict(row["metrics"]),
    )


def to_record(row: Mapping[Any, Any], models_dir: Path) -> ModelRecord:
    """The frozen record of a ``models`` row (``artifact_path`` made absolute under ``models_dir``)."""
    return ModelRecord(
        **_identity(row),
        request=row["request"],
        features=tuple(row["features"]),
        hyperparameters=row["hyperparameters"],
        folds=row["folds"],
        metrics=row["metrics"],
        artifact_path=str(models_dir / row["artifact_path"]),
        artifact_sha256=row["artifact_sha256"],
        feature_details=row["feature_details"],
        regime_importance=row["regime_importance"],
        derived=row["derived"] or {},
        versions=row["versions"] or {},
        fingerprint_version=int(row["fingerprint_version"]),
    )
