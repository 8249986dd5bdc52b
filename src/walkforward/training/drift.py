"""Drift of a registered model: its training rows against the rows ingested after its training end.

The training rows are the rows its final pipeline was fitted on (the request's data up to
``derived["data_end"]``, purged and embargoed as at training, re-read from the store); the new
window is every bar after ``data_end`` (from ``since`` on, if given) up to the latest stored bar,
labelled or not. The lock box (``WALKFORWARD_LOCKBOX_START``) is left out of the window: judging a
model on it is ``walkforward models lockbox``, once. The computation is
:mod:`walkforward.evaluation.drift` and :mod:`walkforward.evaluation.drift_status`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from walkforward.data.loader import Dataset, load_dataset
from walkforward.domain import parse_date
from walkforward.errors import DataNotFoundError, InvalidInputError
from walkforward.evaluation.drift import DriftConfig, DriftTable, compare
from walkforward.evaluation.drift_status import PerformanceDrift, overall, performance, uncounted_note
from walkforward.evaluation.metrics import classification_metrics, direction_labels, regression_metrics
from walkforward.training.data import prepare
from walkforward.training.fit import predict_values
from walkforward.training.run import input_features, request_of, walkforward_artifact

if TYPE_CHECKING:
    from walkforward.config import Settings
    from walkforward.features.store import FeatureStore
    from walkforward.registry import ModelRecord, ModelStore
    from walkforward.request import TrainRequest

__all__ = ["drift_config", "drift_report"]

log = logging.getLogger(__name__)


def drift_config(settings: Settings) -> DriftConfig:
    """The ``WALKFORWARD_DRIFT_*`` settings as the computation's configuration (inconsistent ones refused)."""
    try:
        return _config(settings)
    except ValueError as exc:
        raise InvalidInputError(f"WALKFORWARD_DRIFT_* settings: {exc}") from None


def _config(settings: Settings) -> DriftConfig:
    return DriftConfig(
        psi_warn=settings.walkforward_drift_psi_warn,
        psi_alert=settings.walkforward_drift_psi_alert,
        ks_warn=settings.walkforward_drift_ks_warn,
        ks_alert=settings.walkforward_drift_ks_alert,
        warn_level=settings.walkforward_drift_warn_level,
        alert_level=settings.walkforward_drift_alert_level,
        draws=settings.walkforward_drift_draws,
        seed=settings.walkforward_drift_seed,
        perf_warn_z=settings.walkforward_drift_perf_warn_z,
        perf_alert_z=settings.walkforward_drift_perf_alert_z,
        min_rows=settings.walkforward_drift_min_rows,
    )


def _iso(ts: Any) -> str:
    return pd.Timestamp(ts).isoformat()


def _no_data(end: pd.Timestamp, model_id: str, since: dt.date | None = None, why: str = "") -> DataNotFoundError:
    after = f"{end:%Y-%m-%d %H:%M} UTC (model {model_id}'s training end)"
    if since is not None and since > end.date():
        after = f"{after} from {since}"
    return DataNotFoundError(f"no data after {after}{why}; ingest newer bars")


def _new_rows(
    store: FeatureStore, req: TrainRequest, record: ModelRecord, end: pd.Timestamp, since: dt.date | None
) -> tuple[Dataset, np.ndarray]:
    """The data set from (about) the training end on, and the positions of its rows after ``end``."""
    # A day before the end's UTC date: the end's local date is at most a day earlier (and the rows up
    # to ``end`` are dropped just below, so starting early only reads a little more).
    start = since if since is not None and since > end.date() else end.date() - dt.timedelta(days=1)
    try:
        ds = load_dataset(store, dataclasses.replace(req.load_request(), start=start, end=None), drop_unlabelled=False)
    except DataNotFoundError as exc:
        log.debug("no new rows: %s", exc)
        raise _no_data(end, record.id, since) from None
    except InvalidInputError as exc:
        if not str(exc).startswith("lookforward "):  # too few bars to place a target: no new data either
            raise
        raise _no_data(end, record.id, since) from None
    after = ds.ts.to_numpy() > np.datetime64(end.to_datetime64())
    if since is not None:
        after &= (ds.local_ts.dt.date >= since).to_numpy()
    rows = np.flatnonzero(after)
    if rows.size == 0:
        held = f" outside the lock box from {store.lockbox_start}" if store.lockbox_start else ""
        raise _no_data(end, record.id, since, held)
    return ds, rows


def _training_rows(
    store: FeatureStore, registry: ModelStore, req: TrainRequest, features: list[str], end: pd.Timestamp, zone: str
) -> pd.DataFrame:
    """The rows the final pipeline was fitted on, re-read: the request up to ``end``, purged and embargoed."""
    last_day = pd.Timestamp(end).tz_localize("UTC").tz_convert(zone).date()
    if req.end is not None:
        last_day = min(last_day, req.end)
    again = req.model_copy(update={"end": last_day, "feature_whitelist": tuple(features), "parent_model_id": None})
    data = prepare(again, store=store, registry=registry)
    rows = data.plan.final_train_index
    rows = rows[data.dataset.ts.to_numpy()[rows] <= np.datetime64(end.to_datetime64())]
    return data.dataset.frame.iloc[rows]


def _performance(
    record: ModelRecord,
    req: TrainRequest,
    ds: Dataset,
    rows: np.ndarray,
    predicted: tuple[np.ndarray, np.ndarray | None],
    config: DriftConfig,
) -> PerformanceDrift | None:
    """The model's metric on the labelled new rows against its folds (None: no score metric recorded)."""
    pred, proba = predicted
    metrics = record.metrics or {}
    metric = metrics.get("score")
    cv = (metrics.get("cv") or {}).get(metric) if metric else None
    if metric is None or cv is None:
        return None
    target = ds.y.to_numpy(dtype=float)[rows]
    labelled = np.flatnonzero(~np.isnan(target))  # the latest bars have no target yet
    price = ds.frame[req.target_col].to_numpy(dtype=float)[rows][labelled]
    target, pred = target[labelled], pred[labelled]
    spec, transform = req.spec, req.target_transform
    if spec.is_classifier:
        labels = direction_labels(target, price, transform)
        probs = None if proba is None else proba[labelled]

        def score(lo: int, hi: int) -> float:
            return float(
                classification_metrics(labels[lo:hi], pred[lo:hi], None if probs is None else probs[lo:hi])[metric]
            )
    else:

        def score(lo: int, hi: int) -> float:
            return float(regression_metrics(target[lo:hi], pred[lo:hi], price[lo:hi], transform)[metric])

    fold_scores = [float(f[metric]) for f in metrics.get("folds", []) if f.get(metric) is not None]
    test_rows = [int(f["test_rows"]) for f in (record.folds or {}).get("folds", []) if f.get("test_rows")]
    stamps = [_iso(t) for t in ds.ts.to_numpy()[rows][labelled]]
    return performance(
        score,
        rows=int(labelled.size),
        metric=str(metric),
        cv=float(cv),
        fold_scores=fold_scores,
        fold_rows=int(np.median(test_rows)) if test_rows else int(labelled.size),
        config=config,
        starts=stamps,
    )


def _predictions_drift(
    registry: ModelStore, record: ModelRecord, new: np.ndarray, column: str, config: DriftConfig
) -> tuple[DriftTable | None, str | None]:
    kept = registry.load_predictions(record)
    if kept is None:
        return None, "no kept out-of-sample predictions (registered before they were kept): prediction drift skipped"
    oos = kept.sort_values("ts", kind="stable")[column].to_numpy(dtype=float)
    if oos.size < config.min_rows:
        return None, f"{oos.size} out-of-sample predictions: too few to compare the new ones with"
    table = compare(oos[:, None], new[:, None], [column], config)
    return table, None


def drift_report(
    model_id: str,
    *,
    store: FeatureStore,
    registry: ModelStore,
    config: DriftConfig | None = None,
    since: str | dt.date | None = None,
) -> dict[str, Any]:
    """Drift of ``model_id``'s features, predictions and performance after its training end; ok / warn / alert.

    Raises ``DataNotFoundError`` ("no data after <date>; ingest newer bars") when nothing arrived
    after the training end (or after ``since``).

    Examples
    --------
    >>> report = drift_report(model_id, store=store, registry=registry)  # doctest: +SKIP
    >>> report["status"], report["reasons"][0]  # doctest: +SKIP
    ('alert', '3 feature(s) past their alert threshold: realized_vol_60, ...')
    """
    started = time.perf_counter()
    config = config or DriftConfig()
    record = registry.get(model_id)
    data_end = record.derived.get("data_end")
    if not data_end:
        raise InvalidInputError(
            f"model {model_id} has no recorded training end (registered before it was kept): "
            "train it again (same request) to monitor its drift"
        )
    end = pd.Timestamp(data_end)
    if end.tzinfo is not None:
        end = end.tz_convert("UTC").tz_localize(None)
    since_day = parse_date(since, "since date")
    req = request_of(record)
    ds, rows = _new_rows(store, req, record, end, since_day)
    if rows.size < config.min_rows:
        raise _no_data(end, model_id, since_day, f" but {rows.size} bar(s): drift needs {config.min_rows}")
    artifact = walkforward_artifact(registry, record)
    features = input_features(artifact, ds.frame.columns, model_id)
    train = _training_rows(store, registry, req, features, end, ds.timezone)
    new_x = ds.frame.loc[rows, features]
    used = set(record.features)
    table = compare(
        train[features].to_numpy(dtype=float),
        new_x.to_numpy(dtype=float),
        features,
        config,
        counted=[f in used for f in features],
    )
    spec = req.spec
    with threadpool_limits(limits=1, user_api="blas"):
        pred, proba = predict_values(spec, artifact["pipeline"], ds.frame.loc[:, features].iloc[rows])
    column = "probability" if spec.is_classifier else "prediction"
    new_pred = proba if spec.is_classifier and proba is not None else np.asarray(pred, dtype=float)
    predictions, pred_note = _predictions_drift(registry, record, np.asarray(new_pred, dtype=float), column, config)
    perf = _performance(record, req, ds, rows, (np.asarray(pred), proba), config)
    status, reasons = overall(table, predictions, perf)
    notes = [n for n in (uncounted_note(table), pred_note) if n]
    if since_day is not None and since_day <= end.date():
        notes.append(f"--since {since_day} reaches back to the training end: the window starts after {end}")
    if store.lockbox_start is not None:
        notes.append(
            f"the lock box from {store.lockbox_start} is left out (`walkforward models lockbox` judges it, once)"
        )
    new_ts = ds.ts.to_numpy()[rows]
    return {
        "model_id": model_id,
        "status": status,
        "reasons": reasons,
        "notes": notes,
        "training": {"rows": len(train), "start": _iso(train["ts"].iloc[0]), "end": _iso(end)},
        "window": {
            "rows": int(rows.size),
            "labelled_rows": 0 if perf is None else perf.rows,
            "start": _iso(new_ts[0]),
            "end": _iso(new_ts[-1]),
            "since": None if since_day is None else since_day.isoformat(),
        },
        "method": {**dataclasses.asdict(config), "block_length": table.block_length},
        "features": table.to_dict(),
        "predictions": None if predictions is None else {"column": column, **predictions.to_dict()},
        "performance": None if perf is None else perf.to_dict(),
        "seconds": round(time.perf_counter() - started, 3),
    }
