"""Registering is a separate, explicit step: write the artifact and its registry row; train = prepare, fit, register."""

from __future__ import annotations

import logging
import platform
from collections.abc import Iterable, Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from walkforward.errors import InvalidInputError
from walkforward.features.store import FeatureStore
from walkforward.model_selection.fingerprint import FINGERPRINT_VERSION
from walkforward.models.catalog import AlgorithmSpec
from walkforward.registry import ModelRecord, ModelStore, NewModel
from walkforward.request import TrainRequest
from walkforward.training.data import PreparedData, explanation_sample, model_fingerprint, prepare
from walkforward.training.fit import Progress, TrainedModel, fit

log = logging.getLogger(__name__)

Explanations = tuple[Any, Any, Any]
_LIBRARIES = ("walkforward", "numpy", "pandas", "scikit-learn", "scipy", "duckdb", "pyarrow")
_BOOSTERS = {"lightgbm": "lightgbm", "xgboost": "xgboost"}


def library_versions(algorithm: str) -> dict[str, str]:
    """The versions of the libraries a model is fitted with (its booster's too), for the record."""
    names = [*_LIBRARIES, *(dist for key, dist in _BOOSTERS.items() if key in algorithm)]
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            if name == "xgboost":  # installed as xgboost-cpu
                out[name] = version("xgboost-cpu")
    return out


def register(
    trained: TrainedModel,
    *,
    registry: ModelStore,
    fingerprint: str | None = None,
    cohort_id: str | None = None,
    search: Mapping[str, Any] | None = None,
    explanations: Explanations = (None, None, None),
    parent_model_id: str | None = None,
    lineage: Mapping[str, Any] | None = None,
) -> ModelRecord:
    """Write the artifact and its registry row (the row only once the file is safely on disk).

    The row keeps what was asked (``request``) apart from what the run derived (``derived``).
    ``parent_model_id`` links the row to another model than the request's (a retrain to the model it
    retrains) and ``lineage`` is merged into ``derived`` (e.g. ``retrained_from``).
    """
    req, data = trained.request, trained.data
    fp = fingerprint or model_fingerprint(req, data, trained.hyperparameters)
    artifact = {
        "pipeline": trained.pipeline,
        "input_features": list(data.features),
        "features": trained.selected,
        "algorithm": req.algorithm.value,
        "task": req.spec.task,
        "request": req.inputs(),
    }
    derived = trained.derived()
    if search:
        derived["search"] = dict(search)
    if lineage:
        derived.update(lineage)
    details, regimes, info = explanations
    if info:
        derived["explanations"] = info
    new = NewModel(
        symbol=req.symbols[0],
        symbols=data.dataset.symbols_used,
        algorithm=req.algorithm.value,
        timeframe=req.timeframe.value,
        target_transform=req.target_transform.value,
        request=req.inputs(),
        derived=derived,
        features=tuple(trained.selected),
        hyperparameters=trained.hyperparameters,
        folds=data.plan.to_dict(),
        metrics=trained.metrics,
        fingerprint=fp,
        fingerprint_version=FINGERPRINT_VERSION,
        versions=library_versions(req.algorithm.value),
        cohort_id=cohort_id,
        parent_model_id=parent_model_id or req.parent_model_id,
        cv_score=trained.cv_score,
        feature_details=details,
        regime_importance=regimes,
    )
    return registry.add(new, artifact, predictions=trained.predictions)


def explain_pipeline(
    pipe: Pipeline, data: PreparedData, spec: AlgorithmSpec, *, cluster_threshold: float | None = None
) -> Explanations:
    """feature_details, regime_importance and notes (with the clustered importance under ``clusters``)
    for a fitted pipeline; never raises (a model is kept)."""
    from walkforward.evaluation.importance import explain
    from walkforward.training.clusters import add_to_info

    X, y = explanation_sample(data)
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            details, regimes, info = explain(pipe, X, y, task=spec.task, family=spec.family)
    except Exception as exc:  # explanations must never lose a trained model
        log.warning("explanations failed for %s: %s", spec.name, exc)
        return None, None, {"error": str(exc)}
    return details, regimes, add_to_info(info, pipe, data, task=spec.task, threshold=cluster_threshold)


def train(
    req: TrainRequest,
    *,
    store: FeatureStore,
    registry: ModelStore,
    progress: Progress | None = None,
) -> ModelRecord:
    """Train, evaluate and register one model; an identical model already registered is returned as is.

    Examples
    --------
    >>> rec = train(TrainRequest(symbol="AAPL,QQQ,VIX", algorithm="elasticnet_regression", timeframe="5m",
    ...                          target_transform="log_return"), store=store, registry=registry)  # doctest: +SKIP
    >>> rec.metrics["cv"]["r2"]  # doctest: +SKIP
    """
    data = prepare(req, store=store, registry=registry)
    fp = model_fingerprint(req, data, req.spec.params(req.hyperparameters))
    existing = registry.get_by_fingerprint(fp)
    if existing is not None:
        log.info("an identical model is already registered: %s (fingerprint %s)", existing.id, fp[:12])
        return existing
    trained = fit(req, data, progress=progress)
    explanations = (
        explain_pipeline(trained.pipeline, data, req.spec, cluster_threshold=req.cluster_threshold)
        if req.explain
        else (None, None, None)
    )
    return register(trained, registry=registry, fingerprint=fp, explanations=explanations)


def request_of(record: ModelRecord) -> TrainRequest:
    """The training request a registered model was trained from (an ensemble's: its members' shared one)."""
    from walkforward.ensembles.build import base_request, is_ensemble

    if is_ensemble(record.request):
        return base_request(record.request)
    return TrainRequest.model_validate(record.request)


def walkforward_artifact(registry: ModelStore, record: ModelRecord) -> Mapping[str, Any]:
    """The record's artifact, checked (hash, then shape) before use."""
    artifact = registry.load_artifact(record)  # refuses a changed or truncated file before unpickling
    if not isinstance(artifact, Mapping) or "pipeline" not in artifact:
        raise InvalidInputError(f"model {record.id}'s artifact is not a walkforward model")
    return artifact


def input_features(artifact: Mapping[str, Any], columns: Iterable[str], model_id: str) -> list[str]:
    """The artifact's input features, all of which ``columns`` (the loaded data) must hold."""
    features = list(artifact["input_features"])
    have = set(columns)
    missing = [c for c in features if c not in have]
    if missing:
        raise InvalidInputError(
            f"the data no longer holds feature(s) {', '.join(missing[:5])} that model {model_id} needs: "
            "re-ingest with the same feature set version"
        )
    return features


def explain_registered(model_id: str, *, store: FeatureStore, registry: ModelStore) -> ModelRecord:
    """Compute and store the explanations of a registered model (e.g. the best of a cohort saved without them)."""
    from walkforward.ensembles.build import is_ensemble

    record = registry.get(model_id)
    if is_ensemble(record.request):
        raise InvalidInputError(
            f"model {model_id} is an ensemble: explain its members (`walkforward models lineage {model_id}` lists them)"
        )
    artifact = walkforward_artifact(registry, record)
    inputs = list(artifact["input_features"])
    req = request_of(record).model_copy(update={"feature_whitelist": tuple(inputs), "parent_model_id": None})
    data = prepare(req, store=store, registry=registry)
    pipe = artifact["pipeline"]
    details, regimes, info = explain_pipeline(pipe, data, req.spec, cluster_threshold=req.cluster_threshold)
    if details is not None:
        registry.update_explanations(model_id, details, regimes, info)
    return registry.get(model_id)
