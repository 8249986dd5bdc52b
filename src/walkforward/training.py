"""One training run: request -> data -> folds -> fit and evaluate per fold -> final fit -> registry.

The reference's 12-step workflow with its leaks closed: every step that learns (imputation, p-value
pruning, scaling) is inside the pipeline refitted on each fold's training rows; the final model is
fitted on every training row that survives purge and embargo; the artifact is on disk, hashed,
before its registry row is committed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from walkforward.data.loader import Dataset, LoadRequest, load_dataset
from walkforward.domain import TargetTransform
from walkforward.errors import InvalidInputError
from walkforward.evaluation.metrics import aggregate, classification_metrics, direction_labels, regression_metrics
from walkforward.features.store import FeatureStore
from walkforward.model_selection.fingerprint import data_signature, fingerprint
from walkforward.model_selection.splitters import FoldPlan, Scheme, make_folds
from walkforward.models.catalog import AlgorithmSpec, get_algorithm
from walkforward.preprocessing.pipeline import build_pipeline, pruning_report, selected_features
from walkforward.registry import ModelRecord, ModelStore, NewModel

log = logging.getLogger(__name__)

VALIDATIONS: tuple[Scheme, ...] = ("walk_forward", "expanding", "holdout")
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class TrainRequest:
    """Everything one training run needs, with the reference's parameter names and defaults."""

    symbol: str
    algorithm: str
    target_col: str = "close"
    timeframe: str = "1m"
    target_transform: str = "none"
    lookforward: int = 1
    data_options: str | None = None
    start: str | None = None
    end: str | None = None
    p_value_threshold: float | None = 0.05
    parent_model_id: str | None = None
    feature_whitelist: tuple[str, ...] | None = None
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    validation: str = "walk_forward"
    embargo: int | None = None

    def load_request(self) -> LoadRequest:
        return LoadRequest.build(
            self.symbol,
            timeframe=self.timeframe,
            target_col=self.target_col,
            target_transform=self.target_transform,
            lookforward=self.lookforward,
            data_options=self.data_options,
            start=self.start,
            end=self.end,
        )

    def validate(self) -> AlgorithmSpec:
        """Check every field that can be checked before loading data; return the algorithm's spec."""
        spec = get_algorithm(self.algorithm)
        spec.build(self.hyperparameters)  # unknown hyperparameters are refused here, not after loading
        self.load_request()
        if self.validation not in VALIDATIONS:
            raise InvalidInputError(f"unknown validation {self.validation!r}: use one of {', '.join(VALIDATIONS)}")
        t = self.p_value_threshold
        if t is not None and not (isinstance(t, int | float) and 0.0 < float(t) <= 1.0):
            raise InvalidInputError(f"invalid p_value_threshold {t!r}: use a number in (0, 1], or none to keep all")
        if self.embargo is not None and self.embargo < 0:
            raise InvalidInputError(f"invalid embargo {self.embargo}: use a whole number of bars >= 0")
        return spec

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["feature_whitelist"] = list(self.feature_whitelist) if self.feature_whitelist is not None else None
        d["hyperparameters"] = dict(self.hyperparameters)
        return d


@dataclass(frozen=True)
class PreparedData:
    """A loaded data set with the features, labels and folds a run (or a grid of runs) shares."""

    dataset: Dataset
    features: tuple[str, ...]
    feature_source: str
    dropped_features: tuple[str, ...]
    y: np.ndarray
    plan: FoldPlan
    data_hash: str

    @property
    def X(self) -> pd.DataFrame:  # noqa: N802
        return self.dataset.frame.loc[:, list(self.features)]


def _resolve_features(ds: Dataset, req: TrainRequest, registry: ModelStore) -> tuple[list[str], str]:
    available = list(ds.feature_columns)
    if req.feature_whitelist is not None:
        missing = [f for f in req.feature_whitelist if f not in available]
        if missing:
            raise InvalidInputError(
                f"feature_whitelist names unknown feature(s) {', '.join(missing[:8])}: "
                f"see `walkforward dataset {req.symbol}` for the available ones"
            )
        return list(dict.fromkeys(req.feature_whitelist)), "whitelist"
    if req.parent_model_id:
        parent = registry.get(req.parent_model_id)  # ModelNotFoundError names the id
        keep = [c for c in available if c in set(parent.features)]
        log.info("applied parent feature mask: %d -> %d features", len(available), len(keep))
        if not keep:
            raise InvalidInputError(
                f"parent model {req.parent_model_id} shares no feature with this data set "
                f"(its features: {', '.join(parent.features[:5])} ...): check the symbols and data options"
            )
        return keep, "parent"
    return available, "all"


def prepare(req: TrainRequest, *, store: FeatureStore, registry: ModelStore) -> PreparedData:
    """Load the data, resolve the feature list, build labels and folds (no model is fitted here)."""
    spec = req.validate()
    ds = load_dataset(store, req.load_request())
    features, source = _resolve_features(ds, req, registry)
    lookbacks = [ds.lookbacks.get(c) for c in features]
    if req.embargo is None and any(v is None for v in lookbacks):
        raise InvalidInputError("some features have no recorded lookback: pass an explicit embargo (--embargo BARS)")
    embargo = req.embargo if req.embargo is not None else max((int(v or 0) for v in lookbacks), default=0)
    plan = make_folds(ds.split, ds.ts.to_numpy(), lookforward=req.lookforward, embargo=embargo, scheme=req.validation)  # type: ignore[arg-type]
    train_rows = np.unique(np.concatenate([plan.final_train_index, *[f.train_index for f in plan.folds]]))
    # Columns that carry nothing on the training rows are dropped before fitting (judged on training rows only).
    block = ds.frame.loc[train_rows, features]
    nunique = block.nunique(dropna=True)
    dropped = [c for c in features if nunique[c] <= 1]
    if dropped:
        log.warning("dropping %d all-NaN or constant feature(s): %s", len(dropped), ", ".join(dropped))
        features = [c for c in features if c not in dropped]
    if not features:
        raise InvalidInputError("no usable feature left (all are NaN or constant on the training rows)")
    transform = TargetTransform(req.load_request().target_transform)
    target = ds.y.to_numpy(dtype=float)
    if spec.is_classifier:
        y = direction_labels(target, ds.frame[req.target_col].to_numpy(dtype=float), transform)
        for name, rows in [("the training rows", plan.final_train_index)] + [
            (f"fold {f.number}'s training rows", f.train_index) for f in plan.folds
        ]:
            if np.unique(y[rows]).size < 2:
                raise InvalidInputError(
                    f"the classification target has a single class on {name} "
                    f"(every label is {int(y[rows][0])}): use more data or a regression algorithm"
                )
    else:
        y = target
    return PreparedData(
        dataset=ds,
        features=tuple(features),
        feature_source=source,
        dropped_features=tuple(dropped),
        y=y,
        plan=plan,
        data_hash=data_signature(ds.frame, features),
    )


def model_fingerprint(req: TrainRequest, data: PreparedData, hyperparameters: Mapping[str, Any]) -> str:
    """The fingerprint of a model trained from ``data`` with ``hyperparameters`` (see fingerprint module)."""
    lr = req.load_request()
    return fingerprint(
        {
            "symbols": list(lr.symbols),
            "algorithm": req.algorithm,
            "target_col": lr.target_col,
            "timeframe": lr.timeframe.value,
            "target_transform": lr.target_transform.value,
            "lookforward": lr.lookforward,
            "data_options": lr.data_options,
            "start": str(lr.start),
            "end": str(lr.end),
            "data": data.data_hash,
            "features": list(data.features),
            "p_value_threshold": req.p_value_threshold,
            "validation": {"scheme": data.plan.scheme, "embargo": data.plan.embargo},
            "hyperparameters": dict(hyperparameters),
        }
    )


@dataclass(frozen=True)
class FitResult:
    """A fitted final pipeline with its cross-validated metrics."""

    pipeline: Pipeline
    fold_metrics: list[dict[str, Any]]
    metrics: dict[str, Any]
    cv_score: float
    selected: list[str]
    pruning: dict[str, Any]
    hyperparameters: dict[str, Any]


def _predict(spec: AlgorithmSpec, pipe: Pipeline, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
    if spec.is_classifier:
        proba = pipe.predict_proba(X)[:, 1]
        return (proba >= 0.5).astype(np.int64), proba
    return np.asarray(pipe.predict(X), dtype=float), None


def fit_and_evaluate(
    req: TrainRequest,
    data: PreparedData,
    hyperparameters: Mapping[str, Any],
    *,
    progress: Progress | None = None,
) -> FitResult:
    """Fit one pipeline per fold (scored on its test block), then the final one on all training rows."""
    spec = get_algorithm(req.algorithm)
    params = {**spec.defaults, **hyperparameters}
    template = build_pipeline(
        spec.build(hyperparameters), linear=spec.family == "linear", p_value_threshold=req.p_value_threshold
    )
    X, y = data.X, data.y
    ref = data.dataset.frame[req.target_col].to_numpy(dtype=float)
    transform = TargetTransform(req.target_transform)
    total = len(data.plan.folds) + 1
    fold_metrics: list[dict[str, Any]] = []
    # One BLAS thread: the tiny solves inside scikit-learn's linear models ran 100x slower with
    # OpenBLAS's own threads on this 2-core machine (see bench/README.md).
    with threadpool_limits(limits=1, user_api="blas"):
        for i, fold in enumerate(data.plan.folds):
            pipe = clone(template).fit(X.iloc[fold.train_index], y[fold.train_index])
            pred, proba = _predict(spec, pipe, X.iloc[fold.test_index])
            yt = y[fold.test_index]
            m = (
                classification_metrics(yt, pred, proba)
                if spec.is_classifier
                else regression_metrics(yt, pred, ref[fold.test_index], transform)
            )
            m["features_kept"] = len(selected_features(pipe))
            fold_metrics.append({"fold": fold.number, **m})
            if progress:
                progress(f"fold {fold.number}/{len(data.plan.folds)}", i + 1, total)
        final = clone(template).fit(X.iloc[data.plan.final_train_index], y[data.plan.final_train_index])
    if progress:
        progress("final fit", total, total)
    agg = aggregate([{k: v for k, v in m.items() if k != "fold"} for m in fold_metrics])
    score_key = "accuracy" if spec.is_classifier else "r2"
    return FitResult(
        pipeline=final,
        fold_metrics=fold_metrics,
        metrics={"folds": fold_metrics, "cv": agg, "score": score_key},
        cv_score=float(agg[score_key]),
        selected=selected_features(final),
        pruning=pruning_report(final, data.features),
        hyperparameters=params,
    )


def register(
    req: TrainRequest,
    data: PreparedData,
    fit: FitResult,
    *,
    registry: ModelStore,
    fp: str,
    cohort_id: str | None = None,
    extra: Mapping[str, Any] | None = None,
    explanations: tuple[Any, Any, Any] = (None, None, None),
) -> ModelRecord:
    """Write the artifact and its registry row (the row only once the file is safely on disk)."""
    spec = get_algorithm(req.algorithm)
    lr = req.load_request()
    artifact = {
        "pipeline": fit.pipeline,
        "input_features": list(data.features),
        "features": fit.selected,
        "algorithm": req.algorithm,
        "task": spec.task,
        "request": req.to_dict(),
    }
    request = {
        **req.to_dict(),
        "input_features": list(data.features),
        "feature_source": data.feature_source,
        "dropped_features": list(data.dropped_features),
        "skipped_symbols": list(data.dataset.skipped_symbols),
        "pruning": fit.pruning,
        **(dict(extra) if extra else {}),
    }
    details, regimes, info = explanations
    if info:
        request["explanations"] = info
    new = NewModel(
        symbol=lr.primary,
        symbols=data.dataset.symbols_used,
        algorithm=req.algorithm,
        timeframe=lr.timeframe.value,
        target_transform=lr.target_transform.value,
        request=request,
        features=tuple(fit.selected),
        hyperparameters=fit.hyperparameters,
        folds=data.plan.to_dict(),
        metrics=fit.metrics,
        fingerprint=fp,
        cohort_id=cohort_id,
        parent_model_id=req.parent_model_id,
        cv_score=fit.cv_score,
        feature_details=details,
        regime_importance=regimes,
    )
    return registry.add(new, artifact)


def explanation_sample(data: PreparedData, max_rows: int = 500) -> tuple[pd.DataFrame, np.ndarray]:
    """Out-of-sample rows (the folds' test blocks, evenly thinned to ``max_rows``) to explain models on."""
    test_rows = np.concatenate([f.test_index for f in data.plan.folds])
    take = test_rows[np.linspace(0, test_rows.size - 1, min(max_rows, test_rows.size)).astype(int)]
    return data.X.iloc[take], data.y[take]


def explain_pipeline(pipe: Pipeline, data: PreparedData, spec: AlgorithmSpec) -> tuple[Any, Any, dict[str, Any]]:
    """feature_details, regime_importance and notes for a fitted pipeline; never raises (a model is kept)."""
    from walkforward.evaluation.importance import explain

    X, y = explanation_sample(data)
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            return explain(pipe, X, y, task=spec.task, family=spec.family)
    except Exception as exc:  # explanations must never lose a trained model
        log.warning("explanations failed for %s: %s", spec.name, exc)
        return None, None, {"error": str(exc)}


def train(
    req: TrainRequest,
    *,
    store: FeatureStore,
    registry: ModelStore,
    progress: Progress | None = None,
    explain: bool = True,
) -> ModelRecord:
    """Train, evaluate and register one model; an identical model already registered is returned as is.

    Examples
    --------
    >>> rec = train(TrainRequest("AAPL,QQQ,VIX", "elasticnet_regression", timeframe="5m",
    ...                          target_transform="log_return"), store=store, registry=registry)  # doctest: +SKIP
    >>> rec.metrics["cv"]["r2"]  # doctest: +SKIP
    """
    data = prepare(req, store=store, registry=registry)
    fp = model_fingerprint(req, data, {**get_algorithm(req.algorithm).defaults, **req.hyperparameters})
    existing = registry.get_by_fingerprint(fp)
    if existing is not None:
        log.info("an identical model is already registered: %s (fingerprint %s)", existing.id, fp[:12])
        return existing
    fit = fit_and_evaluate(req, data, req.hyperparameters, progress=progress)
    details, regimes, info = (
        explain_pipeline(fit.pipeline, data, get_algorithm(req.algorithm)) if explain else (None, None, None)
    )
    return register(req, data, fit, registry=registry, fp=fp, explanations=(details, regimes, info))


def explain_registered(model_id: str, *, store: FeatureStore, registry: ModelStore) -> ModelRecord:
    """Compute and store the explanations of a registered model (e.g. the best of a cohort saved without them)."""
    record = registry.get(model_id)
    artifact = registry.load_artifact(record)
    base = TrainRequest(**{k: v for k, v in record.request.items() if k in TrainRequest.__dataclass_fields__})
    base = replace(
        base, feature_whitelist=tuple(record.request.get("input_features") or ()) or None, parent_model_id=None
    )
    data = prepare(base, store=store, registry=registry)
    if not isinstance(artifact, Mapping) or "pipeline" not in artifact:
        raise InvalidInputError(f"model {model_id}'s artifact is not a walkforward model")
    details, regimes, _ = explain_pipeline(artifact["pipeline"], data, get_algorithm(record.algorithm))
    if details is not None:
        registry.update_explanations(model_id, details, regimes)
    return registry.get(model_id)


def predict(
    model_id: str,
    *,
    store: FeatureStore,
    registry: ModelStore,
    start: str | None = None,
    end: str | None = None,
) -> pd.DataFrame:
    """Predictions of a registered model on its symbols and timeframe, through the same loader and pipeline.

    Returns ``ts``, ``prediction`` (the target's units, or 0/1 "up or flat" for classifiers),
    ``probability_up`` for classifiers, the price prediction for return targets, and the realised
    ``target`` where it is already known.
    """
    record = registry.get(model_id)
    artifact = registry.load_artifact(record)  # refuses a changed or truncated file before unpickling
    if not isinstance(artifact, Mapping) or "pipeline" not in artifact:
        raise InvalidInputError(f"model {model_id}'s artifact is not a walkforward model")
    base = TrainRequest(**{k: v for k, v in record.request.items() if k in TrainRequest.__dataclass_fields__})
    req = replace(base, start=start or base.start, end=end or base.end)
    ds = load_dataset(store, req.load_request(), drop_unlabelled=False)
    features: Sequence[str] = artifact["input_features"]
    missing = [c for c in features if c not in ds.frame.columns]
    if missing:
        raise InvalidInputError(
            f"the data no longer holds feature(s) {', '.join(missing[:5])} that model {model_id} needs: "
            "re-ingest with the same feature set version"
        )
    spec = get_algorithm(record.algorithm)
    with threadpool_limits(limits=1, user_api="blas"):
        pred, proba = _predict(spec, artifact["pipeline"], ds.frame.loc[:, list(features)])
    out = pd.DataFrame({"ts": ds.ts, "prediction": pred})
    if proba is not None:
        out["probability_up"] = proba
    transform = TargetTransform(req.target_transform)
    if not spec.is_classifier and transform in (TargetTransform.LOG_RETURN, TargetTransform.PCT_CHANGE):
        ref = ds.frame[req.target_col].to_numpy(dtype=float)
        out["predicted_price"] = ref * (np.exp(pred) if transform is TargetTransform.LOG_RETURN else 1.0 + pred)
    out["target"] = ds.y.to_numpy()
    return out
