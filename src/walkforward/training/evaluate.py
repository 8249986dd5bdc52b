"""A model's out-of-sample predictions judged as a trader would: net of costs, per fold and overall.

The figures come from :mod:`walkforward.evaluation.trading` (positions, tranches, execution lag,
costs, daily Sharpe); this module only maps a request's trading fields onto its settings and picks
the headline figures that go beside R2 in a model's cross-validated metrics (sortable like them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from walkforward.evaluation.trading import TradingSettings
    from walkforward.registry import ModelRecord
    from walkforward.request import TrainRequest
    from walkforward.training.data import PreparedData

#: trading figures copied into ``metrics["cv"]`` (from the overall strategy report), by their key there
HEADLINE = {
    "sharpe": "sharpe",
    "sortino": "sortino",
    "net_annual_return": "annual_return",
    "max_drawdown": "max_drawdown",
    "turnover": "turnover_daily",
    "ic": "ic",
    "rank_ic": "rank_ic",
}


def trading_settings(req: TrainRequest) -> TradingSettings:
    """The request's trading fields as the evaluation's settings."""
    from walkforward.evaluation.pnl import Costs
    from walkforward.evaluation.positions import PositionRule
    from walkforward.evaluation.trading import TradingSettings

    return TradingSettings(
        lookforward=req.lookforward,
        lag=req.execution_lag,
        costs=Costs(commission_bps=req.cost_bps, slippage_bps=req.slippage_bps),
        rule=PositionRule(dead_band=req.dead_band, long_only=req.long_only, threshold=req.probability_threshold),
    )


def evaluate(req: TrainRequest, predictions: pd.DataFrame) -> dict[str, Any]:
    """The trading report (``to_dict()``) and, for classifiers, the calibration of P(up).

    ``predictions`` is a fit's out-of-sample frame (:mod:`walkforward.training.oos`), rows in fold
    then time order.
    """
    from walkforward.evaluation.forecasts import calibration
    from walkforward.evaluation.positions import classifier_edge, forecast_edge
    from walkforward.evaluation.trading import evaluate_forecasts

    settings = trading_settings(req)
    if req.spec.is_classifier:
        edge = classifier_edge(predictions["probability"].to_numpy(), settings.rule.threshold)
    else:
        edge = forecast_edge(
            predictions["prediction"].to_numpy(), predictions["price"].to_numpy(), req.target_transform
        )
    report = evaluate_forecasts(
        edge,
        predictions["realised"].to_numpy(),
        predictions["bar_return"].to_numpy(),
        day=predictions["session"].to_numpy(),
        fold=predictions["fold"].to_numpy(),
        settings=settings,
    )
    out: dict[str, Any] = {"trading": report.to_dict()}
    if req.spec.is_classifier:
        labels = predictions["y"].to_numpy()
        proba = predictions["probability"].to_numpy()
        out["calibration"] = calibration(labels, proba).to_dict()
    return out


def headline(evaluation: dict[str, Any]) -> dict[str, float | None]:
    """The figures of :data:`HEADLINE` from an :func:`evaluate` result (``None`` where undefined)."""
    overall = evaluation["trading"]["overall"]
    out: dict[str, float | None] = {}
    for key, source in HEADLINE.items():
        value = overall.get(source)
        out[key] = None if value is None or not np.isfinite(value) else float(value)
    return out


def add_to_metrics(metrics: dict[str, Any], fold_metrics: list[dict[str, Any]], evaluation: dict[str, Any]) -> None:
    """Put the trading figures into a metrics record (in place).

    Each fold's metrics get its headline figures; ``metrics["cv"]`` gets the overall ones (a Sharpe
    over every out-of-sample session, not the mean of the folds') beside the folds' spread
    (``sharpe_std``); the whole report goes under ``metrics["trading"]`` (and ``"calibration"``).
    """
    by_fold = {f["fold"]: f for f in evaluation["trading"]["folds"]}
    for m in fold_metrics:
        report = by_fold.get(m["fold"])
        if report is not None:
            m.update(headline({"trading": {"overall": report}}))
    cv = metrics.setdefault("cv", {})
    for key, value in headline(evaluation).items():
        spread = [m[key] for m in fold_metrics if m.get(key) is not None]
        cv[key] = value
        cv[f"{key}_std"] = float(np.std(spread, ddof=1)) if len(spread) > 1 else 0.0
    metrics.update(evaluation)


def daily_net_returns(req: TrainRequest, rows: pd.DataFrame, predictions: np.ndarray) -> np.ndarray:
    """Sessions x configurations daily net returns of many configurations' predictions on the same rows.

    ``rows`` is an out-of-sample frame (fold, price, bar_return, session; fold then time order) and
    ``predictions`` holds one column per configuration (values, or P(up) for classifiers). Each is
    traded exactly as :func:`evaluate` trades a single model.
    """
    from walkforward.evaluation.positions import classifier_edge, forecast_edge, positions

    settings = trading_settings(req)
    price = rows["price"].to_numpy()
    columns = []
    for j in range(predictions.shape[1]):
        values = predictions[:, j].astype(float)
        if req.spec.is_classifier:
            edge = classifier_edge(values, settings.rule.threshold)
        else:
            edge = forecast_edge(values, price, req.target_transform)
        columns.append(_daily_net(settings, rows, positions(edge, settings.rule)))
    return np.column_stack(columns) if columns else np.empty((0, 0))


def _daily_net(
    settings: TradingSettings, rows: pd.DataFrame, signal: np.ndarray, *, tranches: bool = True
) -> np.ndarray:
    """Daily net P&L of target positions ``signal`` traded fold by fold (each starts flat, ends flat)."""
    from walkforward.evaluation.pnl import daily, simulate
    from walkforward.evaluation.positions import held_positions
    from walkforward.evaluation.trading import fold_runs

    ret = rows["bar_return"].to_numpy()
    net = np.empty(len(rows))
    for _, at in fold_runs(rows["fold"].to_numpy(), len(rows)):
        look = settings.lookforward if tranches else 1
        held = held_positions(signal[at], lookforward=look, lag=settings.lag)
        net[at] = simulate(held, ret[at], settings.costs).net
    return daily(net, rows["session"].to_numpy())


def equity_curves(req: TrainRequest, rows: pd.DataFrame) -> dict[str, Any]:
    """A model's compounded daily net return, buy-and-hold's beside it, and the drawdown under it.

    ``rows`` is the model's kept out-of-sample frame; the benchmark holds the traded symbol long over
    the same bars with the same lag and costs (one round trip per fold), as the trading report does.
    """
    column = "probability" if req.spec.is_classifier else "prediction"
    strategy = daily_net_returns(req, rows, rows[[column]].to_numpy())[:, 0]
    benchmark = _daily_net(trading_settings(req), rows, np.ones(len(rows)), tranches=False)
    curve = np.cumprod(1.0 + strategy)
    sessions = list(dict.fromkeys(rows["session"].tolist()))
    return {
        "sessions": [str(d) for d in sessions],
        "net": (curve - 1.0).tolist(),
        "benchmark": (np.cumprod(1.0 + benchmark) - 1.0).tolist(),
        "drawdown": (curve / np.maximum.accumulate(np.maximum(curve, 1.0)) - 1.0).tolist(),  # from 1.0 at the start
        "settings": trading_settings(req).to_dict(),
        "in_sample": False,
    }


def selection_of(
    req: TrainRequest, rows: pd.DataFrame, predictions: np.ndarray, *, selected: int | None
) -> dict[str, Any]:
    """PBO, DSR and SPA of configurations' predictions (one column each) on out-of-sample ``rows``.

    The SPA block length covers the target's horizon in sessions (``lookforward`` / bars a session).
    """
    from walkforward.evaluation.selection import selection_statistics

    per_session = float(rows.groupby("session").size().median())
    daily = daily_net_returns(req, rows, predictions)
    return selection_statistics(daily, horizon_sessions=req.lookforward / max(per_session, 1.0), selected=selected)


def cohort_selection(
    rows: Sequence[ModelRecord],
    predictions_of: Callable[[ModelRecord], pd.DataFrame | None],
    matrix_of: Callable[[int], dict[str, np.ndarray]] | None = None,
) -> dict[str, Any]:
    """PBO, DSR and SPA over a registered cohort (best first) from kept predictions.

    ``matrix_of(rows)`` gives the search's kept matrix (every combination it scored, by fingerprint,
    registered or not), used when it holds the best model; otherwise the models' own predictions
    files. Models without kept predictions or scored on other rows are left out, and ``notes`` says so.
    """
    from walkforward.request import TrainRequest

    if not rows:
        return {"n_tried": 0, "notes": []}
    kept = [(r, f) for r in rows if (f := predictions_of(r)) is not None]
    if not kept:
        return {"n_tried": 0, "notes": [f"none of the {len(rows)} model(s) kept its predictions: no statistics"]}
    base = kept[0][1]
    req = TrainRequest.model_validate(kept[0][0].request)
    column = "probability" if req.spec.is_classifier else "prediction"
    notes = []
    matrix = matrix_of(len(base)) if matrix_of is not None else {}
    if kept[0][0].fingerprint in matrix:
        names = [kept[0][0].fingerprint, *sorted(set(matrix) - {kept[0][0].fingerprint})]
        values = np.column_stack([matrix[n] for n in names])
    else:
        same = [f for _, f in kept if len(f) == len(base) and (f["ts"].to_numpy() == base["ts"].to_numpy()).all()]
        if len(same) < len(rows):
            notes.append(f"{len(rows) - len(same)} of {len(rows)} model(s) without kept predictions on the same rows")
        values = np.column_stack([f[column].to_numpy() for f in same])
    stats = selection_of(req, base, values, selected=0)
    stats["notes"] = notes + stats["notes"]
    if kept[0][0].cv_score is not None:
        stats["best_score"] = kept[0][0].cv_score
    return stats


def evaluated(
    req: TrainRequest, data: PreparedData, per_fold: Sequence[np.ndarray] | None, metrics: dict[str, Any]
) -> pd.DataFrame | None:
    """A search combination's predictions frame, its trading figures added to ``metrics`` (in place).

    ``per_fold`` holds each fold's raw predictions (P(up) for classifiers); ``None`` (none kept) adds nothing.
    """
    from walkforward.training.oos import predictions_frame

    if per_fold is None:
        return None
    frame = predictions_frame(data, per_fold, classifier=req.spec.is_classifier)
    add_to_metrics(metrics, metrics["folds"], evaluate(req, frame))
    return frame
