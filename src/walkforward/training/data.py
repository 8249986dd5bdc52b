"""From a request to the rows, labels and folds a run (or a grid of runs) shares; no model is fitted here."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from walkforward.data import lockbox
from walkforward.data.loader import Dataset, load_dataset
from walkforward.errors import InvalidInputError
from walkforward.evaluation.metrics import direction_labels
from walkforward.features.store import FeatureStore
from walkforward.model_selection.early_stopping import INNER_FRACTION, InnerSplit, inner_split
from walkforward.model_selection.fingerprint import FINGERPRINT_VERSION, data_signature, fingerprint
from walkforward.model_selection.plan import resolve_embargo, with_note
from walkforward.model_selection.splitters import FoldPlan, make_folds
from walkforward.preflight import check_request
from walkforward.request import TRADING_FIELDS, TrainRequest

if TYPE_CHECKING:
    from collections.abc import Mapping

    from walkforward.registry import ModelStore

log = logging.getLogger(__name__)


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

    def derived(self) -> dict[str, Any]:
        """What the data step derived from the request (recorded apart from the request).

        With a lock box, its start and held-out sessions, and the last training day it left (the
        lock-box evaluation checks the model never read a lock-box day).
        """
        out: dict[str, Any] = {
            "input_features": list(self.features),
            "feature_source": self.feature_source,
            "dropped_features": list(self.dropped_features),
            "skipped_symbols": list(self.dataset.skipped_symbols),
            # the last bar the model was trained or selected on (UTC): predictions up to it are in-sample
            "data_end": pd.Timestamp(self.dataset.ts.iloc[-1]).isoformat() if len(self.dataset.ts) else None,
        }
        ds = self.dataset
        if ds.lockbox_start is not None:
            out["lockbox"] = {
                "start": ds.lockbox_start.isoformat(),
                "held_out_sessions": ds.held_out_sessions,
                "last_day": str(ds.request.end),
            }
        return out


def _resolve_features(ds: Dataset, req: TrainRequest, registry: ModelStore | None) -> tuple[list[str], str]:
    available = list(ds.feature_columns)
    if req.feature_whitelist is not None:
        missing = [f for f in req.feature_whitelist if f not in available]
        if missing:
            raise InvalidInputError(
                f"feature_whitelist names unknown feature(s) {', '.join(missing[:8])}: "
                f"see `walkforward dataset {req.symbol}` for the available ones"
            )
        return list(req.feature_whitelist), "whitelist"
    if req.parent_model_id:
        if registry is None:
            raise InvalidInputError("parent_model_id needs a model registry to read the parent's features from")
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


def prepare(req: TrainRequest, *, store: FeatureStore, registry: ModelStore | None = None) -> PreparedData:
    """Check the request, load the data, resolve the features, build labels and folds.

    Columns constant or all-NaN on the training rows are dropped (judged on training rows only).
    """
    check_request(req, store=store, registry=registry)
    ds = load_dataset(store, req.load_request())
    features, source = _resolve_features(ds, req, registry)
    scheme = req.validation.scheme
    embargo, note = resolve_embargo(ds, features, scheme=scheme, embargo=req.embargo, strict=req.strict_embargo)
    plan = make_folds(ds.split, ds.ts.to_numpy(), lookforward=req.lookforward, embargo=embargo, scheme=scheme)
    plan = with_note(plan, note)
    if ds.lockbox_start is not None:
        plan = with_note(plan, lockbox.note(ds.lockbox_start, ds.held_out_sessions))
    train_rows = np.unique(np.concatenate([plan.final_train_index, *[f.train_index for f in plan.folds]]))
    nunique = ds.frame.loc[train_rows, features].nunique(dropna=True)
    dropped = [c for c in features if nunique[c] <= 1]
    if dropped:
        log.warning("dropping %d all-NaN or constant feature(s): %s", len(dropped), ", ".join(dropped))
        features = [c for c in features if c not in dropped]
    if not features:
        raise InvalidInputError("no usable feature left (all are NaN or constant on the training rows)")
    target = ds.y.to_numpy(dtype=float)
    if req.spec.is_classifier:
        y = direction_labels(target, ds.frame[req.target_col].to_numpy(dtype=float), req.target_transform)
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


def trading_overrides(req: TrainRequest) -> dict[str, Any]:
    """The trading settings (:data:`~walkforward.request.TRADING_FIELDS`) that differ from their defaults.

    A model's stored trading metrics are computed at its request's settings, so a fingerprint (and a
    search's cohort id) must tell two settings apart; covering only the changed ones keeps every
    default-cost fingerprint as it was. ``probability_threshold`` moves classifiers only: a
    regressor's figures do not depend on it, so it is left out for regressors.
    """
    values = req.model_dump(mode="json", include=set(TRADING_FIELDS))
    defaults = {k: TrainRequest.model_fields[k].default for k in TRADING_FIELDS}
    if not req.spec.is_classifier:
        values.pop("probability_threshold")
    return {k: v for k, v in values.items() if v != defaults[k]}


def cohort_inputs(req: TrainRequest) -> dict[str, Any]:
    """The request as a search's cohort id covers it: no hyperparameters or explain, changed trading settings only.

    Siblings share their trading settings (the cohort's selection statistics trade them all alike).
    """
    out = {k: v for k, v in req.inputs().items() if k not in ("hyperparameters", "explain", *TRADING_FIELDS)}
    if trading := trading_overrides(req):
        out["trading"] = trading
    return out


def fingerprint_parts(req: TrainRequest, data: PreparedData) -> dict[str, Any]:
    """Everything a fingerprint covers but the hyperparameters (computed once for a whole search).

    Early stopping is covered only when it is on (its rounds and the inner slice's share), and the
    trading settings only where they differ from the defaults (:func:`trading_overrides`), so the
    fingerprints of models trained without them are unchanged (no ``FINGERPRINT_VERSION`` bump).
    """
    parts = {
        "fingerprint_version": FINGERPRINT_VERSION,
        "symbols": list(req.symbols),
        "algorithm": req.algorithm.value,
        "target_col": req.target_col,
        "timeframe": req.timeframe.value,
        "target_transform": req.target_transform.value,
        "lookforward": req.lookforward,
        "data_options": req.data_options,
        "start": str(req.start),
        "end": str(req.end),
        "data": data.data_hash,
        "features": list(data.features),
        "p_value_threshold": req.p_value_threshold,
        "validation": {"scheme": data.plan.scheme, "embargo": data.plan.embargo},
    }
    if req.cluster_threshold is not None:  # covered only when on: other models' fingerprints are unchanged
        parts["cluster_threshold"] = req.cluster_threshold
    if req.early_stopping_rounds is not None:
        parts["early_stopping"] = {"rounds": req.early_stopping_rounds, "inner_fraction": INNER_FRACTION}
    if trading := trading_overrides(req):  # the stored net figures are at these settings
        parts["trading"] = trading
    return parts


def inner_splits(req: TrainRequest, data: PreparedData) -> list[InnerSplit | None]:
    """Each fold's early-stopping split (``None`` for every fold while early stopping is off)."""
    rounds = req.early_stopping_rounds
    if rounds is None:
        return [None] * len(data.plan.folds)
    look = data.plan.lookforward
    return [inner_split(f.train_index, lookforward=look, rounds=rounds, fold=f.number) for f in data.plan.folds]


def model_fingerprint(
    req: TrainRequest,
    data: PreparedData,
    hyperparameters: Mapping[str, Any],
    *,
    parts: Mapping[str, Any] | None = None,
) -> str:
    """The fingerprint of a model trained from ``data`` with the effective ``hyperparameters``."""
    base = fingerprint_parts(req, data) if parts is None else parts
    return fingerprint({**base, "hyperparameters": dict(hyperparameters)})


def explanation_sample(data: PreparedData, max_rows: int = 500) -> tuple[pd.DataFrame, np.ndarray]:
    """Out-of-sample rows (the folds' test blocks, evenly thinned to ``max_rows``) to explain models on."""
    test_rows = np.concatenate([f.test_index for f in data.plan.folds])
    take = test_rows[np.linspace(0, test_rows.size - 1, min(max_rows, test_rows.size)).astype(int)]
    return data.X.iloc[take], data.y[take]
