"""Predictions of a registered model through the same loader and pipeline it was trained with."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from walkforward.data.loader import load_dataset
from walkforward.data.lockbox import in_lockbox
from walkforward.domain import TargetTransform, parse_date
from walkforward.features.store import FeatureStore
from walkforward.registry import ModelStore
from walkforward.training.fit import predict_values
from walkforward.training.run import input_features, request_of, walkforward_artifact


def predict(
    model_id: str,
    *,
    store: FeatureStore,
    registry: ModelStore,
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
) -> pd.DataFrame:
    """Predictions of a registered model on its symbols and timeframe.

    Returns ``ts``, ``prediction`` (the target's units, or 0/1 "up or flat" for classifiers),
    ``probability_up`` for classifiers, the price prediction for return targets, and the realised
    ``target`` where it is already known, and ``in_sample``: True up to the last bar the model was
    trained or selected on (its historical rows), False for rows that arrived after.
    Serving is not selection, so prediction reads the lock box too; with a lock box set, a boolean
    ``lockbox`` column marks its rows and their ``target`` is withheld (NaN): judging a model on the
    lock box is ``walkforward models lockbox``, once, and handing out its realised targets with every
    prediction would let it be judged again and again.
    """
    record = registry.get(model_id)
    artifact = walkforward_artifact(registry, record)
    base = request_of(record)
    req = base.model_copy(
        update={"start": parse_date(start, "start date") or base.start, "end": parse_date(end, "end date") or base.end}
    )
    ds = load_dataset(store, req.load_request(), drop_unlabelled=False, include_lockbox=True)
    features = input_features(artifact, ds.frame.columns, model_id)
    spec = req.spec
    with threadpool_limits(limits=1, user_api="blas"):
        pred, proba = predict_values(spec, artifact["pipeline"], ds.frame.loc[:, list(features)])
    out = pd.DataFrame({"ts": ds.ts, "prediction": pred})
    if proba is not None:
        out["probability_up"] = proba
    transform = req.target_transform
    if not spec.is_classifier and transform in (TargetTransform.LOG_RETURN, TargetTransform.PCT_CHANGE):
        ref = ds.frame[req.target_col].to_numpy(dtype=float)
        out["predicted_price"] = ref * (np.exp(pred) if transform is TargetTransform.LOG_RETURN else 1.0 + pred)
    out["target"] = ds.y.to_numpy()
    data_end = record.derived.get("data_end")
    if data_end:  # rows the model was trained or selected on: in-sample, whatever they look like
        out["in_sample"] = out["ts"] <= pd.Timestamp(data_end)
    if ds.lockbox_start is not None:
        out["lockbox"] = in_lockbox(ds.local_ts.dt.date.to_numpy(), ds.lockbox_start)
        out.loc[out["lockbox"], "target"] = np.nan
    return out
