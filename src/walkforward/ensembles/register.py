"""An ensemble's out-of-sample frame, metrics, artifact and registry row (called by :mod:`.build`).

Metrics come from the code every model's come from: the fold metrics of
:mod:`walkforward.evaluation.metrics`, aggregated by :func:`walkforward.training.fit.summarize`, and
the trading figures of :func:`walkforward.training.evaluate.evaluate` added by ``add_to_metrics``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from walkforward.ensembles.nested import FoldChoice
    from walkforward.ensembles.request import EnsembleRequest
    from walkforward.registry import ModelRecord, ModelStore
    from walkforward.request import TrainRequest


def fold_metrics(req: TrainRequest, frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Each fold's metrics from an out-of-sample frame, as :func:`walkforward.training.fit.fold_metrics_of`."""
    from walkforward.evaluation.metrics import classification_metrics, regression_metrics

    out = []
    for number in sorted(int(f) for f in frame["fold"].unique()):
        rows = frame[frame["fold"] == number]
        if req.spec.is_classifier:
            proba = rows["probability"].to_numpy(dtype=float)
            m = classification_metrics(rows["y"].to_numpy(), (proba >= 0.5).astype(np.int64), proba)
        else:
            y, pred, price = (rows[c].to_numpy(dtype=float) for c in ("y", "prediction", "price"))
            m = regression_metrics(y, pred, price, req.target_transform)
        out.append({"fold": number, **m})
    return out


def _metrics(req: TrainRequest, frame: pd.DataFrame) -> tuple[dict[str, Any], float]:
    from walkforward.training.evaluate import add_to_metrics, evaluate
    from walkforward.training.fit import summarize

    metrics, score = summarize(fold_metrics(req, frame), req.spec.score_key)
    add_to_metrics(metrics, metrics["folds"], evaluate(req, frame))
    return metrics, score


def _estimator(
    chosen: Sequence[ModelRecord], final: FoldChoice, method: str, classifier: bool, registry: ModelStore
) -> Any:
    from walkforward.ensembles.estimator import EnsembleEstimator, Member
    from walkforward.training.run import walkforward_artifact

    members = []
    for record in chosen:
        artifact = walkforward_artifact(registry, record)
        members.append(Member(record.id, artifact["pipeline"], tuple(artifact["input_features"])))
    return EnsembleEstimator(members=members, choice=final, method=method, classifier=classifier)


def evaluate_and_register(
    ordered: Sequence[ModelRecord],
    req: EnsembleRequest,
    top: int,
    base: TrainRequest,
    fp: str,
    *,
    registry: ModelStore,
) -> ModelRecord:
    """Combine ``ordered`` candidates fold by fold, score, and register (files first, then the row)."""
    from walkforward.ensembles.build import ENSEMBLE, aligned_predictions
    from walkforward.ensembles.nested import choose, nested
    from walkforward.model_selection.fingerprint import FINGERPRINT_VERSION
    from walkforward.registry import NewModel
    from walkforward.request import TRADING_FIELDS, DataRequest
    from walkforward.training.oos import COLUMNS
    from walkforward.training.run import library_versions

    classifier = base.spec.is_classifier
    table = aligned_predictions(ordered, registry, classifier=classifier)
    P = table[[f"m{i}" for i in range(len(ordered))]].to_numpy()
    folds = table["fold"].to_numpy()
    method = req.method.value
    y = table["y"].to_numpy(dtype=float)
    first_fold, purge = req.first_fold.value, base.lookforward
    result = nested(P, y, folds, method=method, top=top, classifier=classifier, first_fold=first_fold, purge=purge)
    final = choose(P, y, folds, fold=None, method=method, top=top, classifier=classifier)
    frame = table.loc[result.kept, list(COLUMNS)].copy()
    forecast = result.forecast[result.kept]
    if classifier:
        frame["probability"] = forecast
        frame["prediction"] = (forecast >= 0.5).astype(float)
    else:
        frame["prediction"] = forecast
    frame = frame.reset_index(drop=True)
    metrics, score = _metrics(base, frame)

    ids = [r.id for r in ordered]
    chosen = [ordered[i] for i in final.members]
    estimator = _estimator(chosen, final, method, classifier, registry)
    inputs = estimator.input_features
    features = tuple(dict.fromkeys(f for r in chosen for f in r.features))
    spec = {"method": method, "top": top, "first_fold": req.first_fold.value}
    request = {
        **{k: v for k, v in base.inputs().items() if k in DataRequest.model_fields or k in TRADING_FIELDS},
        "algorithm": ENSEMBLE,
        "ensemble": {**spec, "from_cohort": req.from_cohort, "models": ids, "member_algorithm": base.algorithm.value},
    }
    first = result.choices[0]
    ends = [str(r.derived["data_end"]) for r in ordered if r.derived.get("data_end")]
    derived: dict[str, Any] = {
        "ensemble": {
            **spec,
            "from_cohort": req.from_cohort,
            "candidates": ids,
            "members": [r.id for r in chosen],
            "first_fold_policy": first.basis,
            "purged_rows_per_fold": base.lookforward,
            "folds": [c.to_dict(ids) for c in result.choices],
            "final": final.to_dict(ids),
        },
        "input_features": inputs,
        "feature_source": "ensemble members",
        "data_end": max(ends) if ends else None,
    }
    boxes = {str(r.derived.get("lockbox")) for r in ordered}
    if len(boxes) == 1 and ordered[0].derived.get("lockbox"):
        derived["lockbox"] = ordered[0].derived["lockbox"]
    artifact = {
        "pipeline": estimator,
        "input_features": inputs,
        "features": list(features),
        "algorithm": ENSEMBLE,
        "task": base.spec.task,
        "request": request,
    }
    new = NewModel(
        symbol=ordered[0].symbol,
        symbols=ordered[0].symbols,
        algorithm=ENSEMBLE,
        timeframe=ordered[0].timeframe,
        target_transform=ordered[0].target_transform,
        request=request,
        derived=derived,
        features=features,
        hyperparameters=spec,
        folds=ordered[0].folds,
        metrics=metrics,
        fingerprint=fp,
        fingerprint_version=FINGERPRINT_VERSION,
        versions=library_versions(ENSEMBLE),
        cohort_id=None,
        parent_model_id=None,
        cv_score=score,
    )
    return registry.add(new, artifact, predictions=frame)
