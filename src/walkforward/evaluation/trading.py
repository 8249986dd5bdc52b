"""Trading evaluation of out-of-sample forecasts, per fold and overall, with a buy-and-hold benchmark.

The pieces live in their own modules: the position rule, lag and tranches in
:mod:`~walkforward.evaluation.positions`, the P&L accounting and the metrics in
:mod:`~walkforward.evaluation.pnl`, information coefficients and calibration in
:mod:`~walkforward.evaluation.forecasts`. This module runs them over the folds of a model's
out-of-sample predictions and returns a report that serialises to JSON (undefined figures are
``None``), ready to be stored beside a model's other metrics and sorted on (e.g. ``overall.sharpe``).

Each fold is simulated on its own (it starts flat and is closed out at its last bar); the overall
figures are those of the folds' P&L one after another; the benchmark holds the traded symbol long
(with the same lag) over the same bars.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from walkforward.errors import InvalidInputError
from walkforward.evaluation.forecasts import information_coefficient, rank_information_coefficient
from walkforward.evaluation.pnl import SESSIONS_PER_YEAR, BarPnL, Costs, TradingMetrics, simulate, trading_metrics
from walkforward.evaluation.positions import PositionRule, held_positions, positions


@dataclass(frozen=True)
class TradingSettings:
    """How forecasts were traded: recorded with the figures, so two reports compare like with like."""

    lookforward: int = 1
    lag: int = 1
    costs: Costs = field(default_factory=Costs)
    rule: PositionRule = field(default_factory=PositionRule)
    periods_per_year: int = SESSIONS_PER_YEAR

    def to_dict(self) -> dict[str, object]:
        return {
            "lookforward": self.lookforward,
            "lag": self.lag,
            **self.costs.to_dict(),
            **self.rule.to_dict(),
            "periods_per_year": self.periods_per_year,
        }


@dataclass(frozen=True)
class SegmentReport:
    """One fold (or the whole): the strategy's figures, the benchmark's, and the forecast's IC."""

    strategy: TradingMetrics
    benchmark: TradingMetrics
    ic: float | None
    rank_ic: float | None

    def to_dict(self) -> dict[str, object]:
        return {
            **self.strategy.to_dict(),
            "ic": self.ic,
            "rank_ic": self.rank_ic,
            "benchmark": self.benchmark.to_dict(),
        }


@dataclass(frozen=True)
class TradingReport:
    """Per-fold and overall trading figures. ``to_dict()`` is JSON-ready (``allow_nan=False`` holds)."""

    settings: TradingSettings
    folds: tuple[tuple[object, SegmentReport], ...]
    overall: SegmentReport

    def to_dict(self) -> dict[str, object]:
        return {
            "settings": self.settings.to_dict(),
            "overall": self.overall.to_dict(),
            "folds": [{"fold": _plain(f), **seg.to_dict()} for f, seg in self.folds],
        }


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value


def fold_runs(fold: object, n: int) -> list[tuple[object, np.ndarray]]:
    """(fold id, row positions) per fold, in order; each fold must be one contiguous run of rows."""
    if fold is None:
        return [(None, np.arange(n))]
    ids = np.asarray(fold)
    if ids.shape != (n,):
        raise InvalidInputError(f"{ids.size} fold ids for {n} rows: pass one fold id per row")
    if n == 0:
        return []
    starts = np.concatenate(([0], np.flatnonzero(ids[1:] != ids[:-1]) + 1))
    heads = ids[starts]
    if len(set(heads.tolist())) != heads.size:
        raise InvalidInputError(
            "a fold's rows are not one contiguous run: order the rows by fold, then by time within each fold"
        )
    stops = np.concatenate((starts[1:], [n]))
    return [(ids[a], np.arange(a, b)) for a, b in zip(starts, stops, strict=True)]


def trading_report(
    signal: object,
    returns: object,
    *,
    day: object,
    fold: object = None,
    forecast: object = None,
    realised: object = None,
    settings: TradingSettings = TradingSettings(),
) -> TradingReport:
    """Trade target positions ``signal`` (decided at each row's close) against the bars' ``returns``.

    Parameters
    ----------
    signal : array-like of float
        Target position per row, e.g. from :func:`~walkforward.evaluation.positions.positions`.
    returns : array-like of float
        Simple return of the traded symbol from the previous row's close to this row's
        (:func:`~walkforward.evaluation.pnl.bar_returns` on the whole series, then sliced).
    day : array-like
        Trading day of each row (any hashable label, e.g. the session date), for daily P&L.
    fold : array-like, optional
        Fold id per row; each fold's rows one contiguous run in time order. ``None``: one segment.
    forecast, realised : array-like, optional
        Forecast and realised target in return units, for the information coefficients.
    settings : TradingSettings
        Lookforward (tranches), execution lag, costs and annualisation.
    """
    sig = np.asarray(signal, dtype=float)
    ret = np.asarray(returns, dtype=float)
    days = np.asarray(day)
    n = sig.size
    if sig.ndim != 1 or ret.shape != sig.shape or days.shape != sig.shape:
        raise InvalidInputError(
            f"signal ({sig.size}), returns ({ret.size}) and day labels ({days.size}) must have one value per row"
        )
    f_arr = None if forecast is None else np.asarray(forecast, dtype=float)
    r_arr = None if realised is None else np.asarray(realised, dtype=float)
    if (f_arr is None) != (r_arr is None) or (f_arr is not None and f_arr.shape != sig.shape):
        raise InvalidInputError("pass both forecast and realised, one value per row, or neither")

    runs = fold_runs(fold, n)
    strat: list[BarPnL] = []
    bench: list[BarPnL] = []
    reports: list[tuple[object, SegmentReport]] = []
    for fold_id, rows in runs:
        seg_strat, seg_bench = _segment(sig[rows], ret[rows], settings)
        strat.append(seg_strat)
        bench.append(seg_bench)
        reports.append((fold_id, _report(seg_strat, seg_bench, days[rows], f_arr, r_arr, rows, settings)))
    if not runs:
        raise InvalidInputError("no rows to evaluate: pass at least one forecast")
    every = np.concatenate([rows for _, rows in runs])
    overall = _report(BarPnL.concat(strat), BarPnL.concat(bench), days[every], f_arr, r_arr, every, settings)
    return TradingReport(settings=settings, folds=tuple(reports) if fold is not None else (), overall=overall)


def _segment(signal: np.ndarray, returns: np.ndarray, settings: TradingSettings) -> tuple[BarPnL, BarPnL]:
    held = held_positions(signal, lookforward=settings.lookforward, lag=settings.lag)
    always_long = held_positions(np.ones_like(signal), lookforward=1, lag=settings.lag)
    return simulate(held, returns, settings.costs), simulate(always_long, returns, settings.costs)


def _report(
    strat: BarPnL,
    bench: BarPnL,
    days: np.ndarray,
    forecast: np.ndarray | None,
    realised: np.ndarray | None,
    rows: np.ndarray,
    settings: TradingSettings,
) -> SegmentReport:
    ic = rank_ic = None
    if forecast is not None and realised is not None:
        ic = information_coefficient(forecast[rows], realised[rows])
        rank_ic = rank_information_coefficient(forecast[rows], realised[rows])
    return SegmentReport(
        strategy=trading_metrics(strat, days, periods_per_year=settings.periods_per_year),
        benchmark=trading_metrics(bench, days, periods_per_year=settings.periods_per_year),
        ic=ic,
        rank_ic=rank_ic,
    )


def evaluate_forecasts(
    edge: object,
    realised_edge: object,
    returns: object,
    *,
    day: object,
    fold: object = None,
    settings: TradingSettings = TradingSettings(),
) -> TradingReport:
    """Positions from ``edge`` under ``settings.rule``, then :func:`trading_report` with the ICs.

    ``edge`` and ``realised_edge`` are the forecast and the realised target in return units
    (:func:`~walkforward.evaluation.positions.forecast_edge`, or ``classifier_edge`` for a
    classifier's probability, whose realised counterpart can be the realised return).

    Examples
    --------
    >>> report = evaluate_forecasts(pred, y, bar_returns(close), day=ts.date, fold=fold_ids)  # doctest: +SKIP
    >>> report.to_dict()["overall"]["sharpe"]  # doctest: +SKIP
    """
    sig = positions(edge, settings.rule)
    return trading_report(sig, returns, day=day, fold=fold, forecast=edge, realised=realised_edge, settings=settings)
