"""Simulate a retraining schedule for a registered model's request: refit every N sessions vs a frozen model.

Over the data up to now (the lock box excluded), after an initial window, the retrained arm is
refitted every ``every`` sessions on every row before the period it then trades (purged at the
boundary: no training label reaches the period, see :mod:`walkforward.model_selection.schedule`);
the frozen arm is fitted once on the initial window and trades every period. Both arms use the
model's request (features, pruning, the fallback rule) with its effective hyperparameters (no search
at a refit), and are traded with the request's trading rules and costs over the same rows, as one
continuous out-of-sample segment (positions carry across refits; a changed forecast costs a trade).
The comparison of their daily net returns is :func:`walkforward.evaluation.schedule.compare_daily`.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from walkforward.errors import InvalidInputError
from walkforward.evaluation.schedule import compare_daily
from walkforward.features.store import FeatureStore
from walkforward.model_selection.schedule import SchedulePlan, schedule_plan
from walkforward.preprocessing.pipeline import build_pipeline
from walkforward.registry import ModelStore
from walkforward.request import TrainRequest
from walkforward.training import oos
from walkforward.training.data import PreparedData, prepare
from walkforward.training.evaluate import daily_net_returns, trading_settings
from walkforward.training.fit import Progress, apply_fallback, predict_values
from walkforward.training.retrain import retrain_request
from walkforward.training.warm import check_warm_start, continue_fit, trees

log = logging.getLogger(__name__)

#: what the figures mean (in every report)
MEANING = (
    "both arms trade the same out-of-sample rows after the initial window with the model's trading rules and "
    "costs; the retrained arm is refitted every `every` sessions on all rows before the period it trades "
    "(purged: no training label reaches that period), the frozen arm once on the initial window; "
    "hyperparameters are the model's (not searched again)"
)


def fit_rows(req: TrainRequest, data: PreparedData, params: dict[str, Any], rows: np.ndarray) -> Pipeline:
    """The request's pipeline fitted on ``rows`` only, with the spec's fallback rule as the final fit applies it."""
    spec = req.spec
    pipe = build_pipeline(
        spec.factory(**params), linear=spec.family == "linear", p_value_threshold=req.p_value_threshold
    )
    X, y = data.X, data.y
    fitted = clone(pipe).fit(X.iloc[rows], y[rows])
    used, fallback = apply_fallback(spec, fitted[-1])
    if fallback:
        pipe = build_pipeline(used.build(), linear=used.family == "linear", p_value_threshold=req.p_value_threshold)
        fitted = clone(pipe).fit(X.iloc[rows], y[rows])
    return fitted


def _forecast(req: TrainRequest, pipe: Pipeline, data: PreparedData, rows: np.ndarray) -> np.ndarray:
    """Values (P(up) for classifiers) of ``pipe`` on ``rows``: what the trading rule turns into positions."""
    pred, proba = predict_values(req.spec, pipe, data.X.iloc[rows])
    return proba if proba is not None else pred


def default_initial(sessions: np.ndarray, parent_end: str | None, timezone: str) -> int:
    """The sessions up to the model's own last training bar (the day it was deployed), as a count."""
    import pandas as pd

    if not parent_end:
        return 0
    last = pd.Timestamp(parent_end).tz_localize("UTC").tz_convert(timezone).date()
    return int(np.sum(np.unique(sessions) <= last))


def simulate_retraining(
    model_id: str,
    *,
    store: FeatureStore,
    registry: ModelStore,
    every: int,
    initial_days: int | None = None,
    warm_start: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Trade a frozen and a retrained-every-``every``-sessions model side by side; report both and the difference.

    ``initial_days`` (sessions) defaults to the sessions up to the model's own data end. With
    ``warm_start`` a booster's refit continues the previous refit's trees on the rows added since
    (:mod:`walkforward.training.warm`) instead of refitting from scratch on every row.

    Examples
    --------
    >>> out = simulate_retraining(model_id, store=store, registry=registry, every=5, initial_days=20)  # doctest: +SKIP
    >>> out["retrained"]["net_return"] - out["frozen"]["net_return"]  # doctest: +SKIP
    """
    record = registry.get(model_id)
    req = retrain_request(record)
    if warm_start:
        check_warm_start(req.spec)
    data = prepare(req, store=store, registry=registry)
    sessions = data.dataset.local_ts.dt.date.to_numpy()
    initial = initial_days
    if initial is None:
        initial = default_initial(sessions, record.derived.get("data_end"), data.dataset.timezone)
        if not 0 < initial < np.unique(sessions).size:
            raise InvalidInputError(
                f"no session follows model {record.id}'s data end ({record.derived.get('data_end')}) to simulate "
                "on: pass initial_days (--initial-days), the sessions of the first training window"
            )
    plan = schedule_plan(sessions, initial=initial, every=every, lookforward=req.lookforward)
    params = req.spec.params(record.hyperparameters)
    total = len(plan.refits)
    retrained, fitted = [], []
    frozen_pipe: Pipeline | None = None
    frozen = np.empty(0)
    with threadpool_limits(limits=1, user_api="blas"):
        for refit in plan.refits:
            rows_fit = refit.train_index
            if frozen_pipe is None or not warm_start:
                pipe = fit_rows(req, data, params, rows_fit)
            else:  # only the rows whose labels became known since the previous refit
                rows_fit = np.setdiff1d(refit.train_index, plan.refits[refit.number - 2].train_index)
                pipe = continue_fit(req.spec, pipe, params, data.X.iloc[rows_fit], data.y[rows_fit])
            if frozen_pipe is None:  # the first refit's rows are the initial window: the frozen model
                frozen_pipe = pipe  # (its forecasts are made now, before any later fit could touch it)
                frozen = _forecast(req, frozen_pipe, data, plan.trade_index)
            fitted.append({"rows_fitted": int(rows_fit.size), "trees": trees(pipe)})
            retrained.append(_forecast(req, pipe, data, refit.trade_index))
            if progress:
                progress(f"refit {refit.number}/{total}", refit.number, total)
    rows = plan.trade_index
    frame = oos.rows_frame(data.dataset, data.y, rows, 1, np.concatenate(retrained))
    daily = daily_net_returns(req, frame, np.column_stack([frozen, np.concatenate(retrained)]))
    settings = trading_settings(req)
    report = compare_daily(daily[:, 0], daily[:, 1], periods_per_year=settings.periods_per_year)
    return {
        "model_id": record.id,
        "every": every,
        "initial_days": initial,
        "warm_start": warm_start,
        "refits": [{**r.to_dict(sessions), **f} for r, f in zip(plan.refits, fitted, strict=True)],
        "trading": settings.to_dict(),
        **report,
        "meaning": MEANING,
        "daily": {
            "session": [str(s) for s in dict.fromkeys(frame["session"].tolist())],
            "frozen": daily[:, 0].tolist(),
            "retrained": daily[:, 1].tolist(),
        },
    }


__all__ = ["MEANING", "SchedulePlan", "default_initial", "fit_rows", "simulate_retraining"]
