"""A model's out-of-sample predictions judged as a trader would: net of costs, per fold and overall.

The figures come from :mod:`walkforward.evaluation.trading` (positions, tranches, execution lag,
costs, daily Sharpe); this module only maps a request's trading fields onto its settings and picks
the headline figures that go beside R2 in a model's cross-validated metrics (sortable like them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from walkforward.evaluation.trading import TradingSettings
    from walkforward.request import TrainRequest

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
