"""Metrics (per fold and aggregated), trading evaluation, selection statistics and feature importance."""

from walkforward.evaluation.comparison import DieboldMariano, diebold_mariano, losses
from walkforward.evaluation.deflated import DeflatedSharpe, deflated_sharpe_ratio, effective_trials
from walkforward.evaluation.forecasts import calibration, information_coefficient, rank_information_coefficient
from walkforward.evaluation.metrics import aggregate, classification_metrics, direction_labels, regression_metrics
from walkforward.evaluation.pbo import BacktestOverfitting, backtest_overfitting
from walkforward.evaluation.pnl import Costs, TradingMetrics, bar_returns
from walkforward.evaluation.positions import PositionRule, classifier_edge, forecast_edge, positions
from walkforward.evaluation.trading import TradingReport, TradingSettings, evaluate_forecasts, trading_report

__all__ = [
    "BacktestOverfitting",
    "Costs",
    "DeflatedSharpe",
    "DieboldMariano",
    "PositionRule",
    "TradingMetrics",
    "TradingReport",
    "TradingSettings",
    "aggregate",
    "backtest_overfitting",
    "bar_returns",
    "calibration",
    "classification_metrics",
    "classifier_edge",
    "deflated_sharpe_ratio",
    "diebold_mariano",
    "direction_labels",
    "effective_trials",
    "evaluate_forecasts",
    "forecast_edge",
    "information_coefficient",
    "losses",
    "positions",
    "rank_information_coefficient",
    "regression_metrics",
    "trading_report",
]
