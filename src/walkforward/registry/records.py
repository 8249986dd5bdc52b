"""Frozen records the registry returns and accepts (database rows never leave the store)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class NewModel:
    """A trained model's metadata, before it is registered.

    Every value must be JSON-serialisable (numpy scalars are accepted and converted). Float NaN or
    infinity anywhere in the JSON fields or ``cv_score`` is stored as ``None``: JSON has no NaN.

    ``request`` is what was asked (enough to train the model again); ``derived`` is what the run
    worked out from it (input features, dropped features, skipped symbols, pruning, search details,
    explanations, ...). ``versions`` names the library versions the model was fitted with, and
    ``fingerprint_version`` the version of the fingerprint scheme that produced ``fingerprint``.

    Examples
    --------
    >>> new = NewModel(symbol="AAPL", symbols=("AAPL",), algorithm="ridge", timeframe="1h",
    ...                target_transform="log_return", request={}, features=("rsi_14",),
    ...                hyperparameters={"alpha": 1.0}, folds={}, metrics={"r2": 0.1}, fingerprint="ab12")
    >>> new.status
    'ready'
    """

    symbol: str
    symbols: tuple[str, ...]
    algorithm: str
    timeframe: str
    target_transform: str
    request: dict[str, Any]
    features: tuple[str, ...]
    hyperparameters: dict[str, Any]
    folds: dict[str, Any]
    metrics: dict[str, Any]
    fingerprint: str
    status: str = "ready"
    cohort_id: str | None = None
    parent_model_id: str | None = None
    cv_score: float | None = None
    cohort_rank: int | None = None
    feature_details: dict[str, Any] | None = field(default=None)
    regime_importance: dict[str, Any] | None = field(default=None)
    derived: Mapping[str, Any] = field(default_factory=dict)
    versions: Mapping[str, str] = field(default_factory=dict)
    fingerprint_version: int = 1


@dataclass(frozen=True)
class ModelRecord:
    """A registered model, as stored.

    ``created_at`` is timezone-aware UTC. ``artifact_path`` is the full path of the joblib file (the
    database keeps only its name relative to the store's models directory, so the directory can be
    moved); load it with :meth:`ModelStore.load_artifact`, which checks ``artifact_sha256`` first.
    ``parent_model_id`` is plain text: deleting a parent leaves it dangling on purpose. ``request``,
    ``derived``, ``versions`` and ``fingerprint_version`` are as in :class:`NewModel`; models
    registered before ``derived`` existed had its keys moved there from ``request`` by migration 0004.
    """

    id: str
    created_at: dt.datetime
    status: str
    symbol: str
    symbols: tuple[str, ...]
    algorithm: str
    timeframe: str
    target_transform: str
    request: dict[str, Any]
    features: tuple[str, ...]
    hyperparameters: dict[str, Any]
    folds: dict[str, Any]
    metrics: dict[str, Any]
    fingerprint: str
    cohort_id: str | None
    parent_model_id: str | None
    artifact_path: str
    artifact_sha256: str
    cv_score: float | None
    cohort_rank: int | None
    feature_details: dict[str, Any] | None
    regime_importance: dict[str, Any] | None
    derived: Mapping[str, Any] = field(default_factory=dict)
    versions: Mapping[str, str] = field(default_factory=dict)
    fingerprint_version: int = 1


@dataclass(frozen=True)
class ModelSummary:
    """A registered model as a list shows it: identity, score and listed metrics, read without JSON.

    What :meth:`ModelStore.list` returns (a model's row is 20-50 KB, mostly explanations; a list
    reads none of it). ``n_features`` is the number of kept features, ``score_name`` the metric
    ``cv_score`` is (``metrics["score"]``), ``metrics`` the cross-validated values of
    :data:`~walkforward.model_summary.LISTED_METRICS` the model has. The full record is
    :meth:`ModelStore.get`.
    """

    id: str
    created_at: dt.datetime
    status: str
    symbol: str
    symbols: tuple[str, ...]
    algorithm: str
    timeframe: str
    target_transform: str
    fingerprint: str
    cohort_id: str | None
    cohort_rank: int | None
    parent_model_id: str | None
    cv_score: float | None
    score_name: str | None
    n_features: int | None
    metrics: Mapping[str, float] = field(default_factory=dict)
