"""The trading report per fold and overall, information coefficients and calibration, on fixed data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from walkforward.errors import InvalidInputError
from walkforward.evaluation.forecasts import calibration, information_coefficient, rank_information_coefficient
from walkforward.evaluation.pnl import Costs, simulate, trading_metrics
from walkforward.evaluation.positions import PositionRule, held_positions
from walkforward.evaluation.trading import TradingSettings, evaluate_forecasts, trading_report


def _data(n_days: int = 12, bars: int = 5, seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Returns with a planted next-bar signal, the forecast, day labels and three folds."""
    rng = np.random.default_rng(seed)
    n = n_days * bars
    forecast = rng.normal(0, 0.002, n)
    ret = np.empty(n)
    ret[0] = np.nan
    ret[1:] = 0.5 * forecast[:-1] + rng.normal(0, 0.003, n - 1)  # bar u's return follows the forecast at u - 1
    days = np.repeat(pd.date_range("2024-03-01", periods=n_days, freq="B").date, bars)
    fold = np.repeat([1, 2, 3], n // 3)
    return forecast, ret, days, fold


def test_each_fold_is_its_own_flat_to_flat_segment_and_overall_is_them_in_sequence() -> None:
    forecast, ret, days, fold = _data()
    settings = TradingSettings(lookforward=2, lag=1, costs=Costs(1, 1))
    report = evaluate_forecasts(forecast, np.roll(ret, -1), ret, day=days, fold=fold, settings=settings)
    sig = np.sign(forecast)
    parts = []
    for (fid, seg), f in zip(report.folds, (1, 2, 3), strict=True):
        rows = fold == f
        held = held_positions(sig[rows], lookforward=2, lag=1)
        assert held[:2].tolist() == [0.0, 0.0]  # the fold starts flat: nothing carried from the previous fold
        pnl = simulate(held, ret[rows], Costs(1, 1))
        parts.append(pnl)
        assert fid == f
        assert seg.strategy == trading_metrics(pnl, days[rows])
        always_long = simulate(held_positions(np.ones(rows.sum()), lag=1), ret[rows], Costs(1, 1))
        assert seg.benchmark == trading_metrics(always_long, days[rows])
    net = np.concatenate([p.net for p in parts])
    d = pd.Series(net).groupby(days).sum().to_numpy()
    assert report.overall.strategy.sharpe == pytest.approx(d.mean() / d.std(ddof=1) * np.sqrt(252))
    assert report.overall.strategy.n_bars == forecast.size


def test_the_report_is_json_without_nan_and_sortable_keys() -> None:
    forecast, ret, days, fold = _data()
    out = evaluate_forecasts(forecast, np.roll(ret, -1), ret, day=days, fold=fold).to_dict()
    text = json.dumps(out, allow_nan=False)
    back = json.loads(text)
    assert {"sharpe", "sortino", "max_drawdown", "turnover", "exposure", "hit_rate", "ic", "rank_ic"} <= set(
        back["overall"]
    )
    assert set(back["overall"]["benchmark"]) >= {"sharpe", "total_return"}
    assert [f["fold"] for f in back["folds"]] == [1, 2, 3]
    assert back["settings"] == {
        "lookforward": 1,
        "lag": 1,
        "commission_bps": 1.0,
        "slippage_bps": 1.0,
        "dead_band": 0.0,
        "long_only": False,
        "threshold": 0.5,
        "periods_per_year": 252,
    }


def test_a_planted_signal_makes_money_before_costs_and_the_lag_costs_it() -> None:
    forecast, ret, days, _ = _data(n_days=40)
    on_time = trading_report(np.sign(forecast), ret, day=days, settings=TradingSettings(lag=0))
    late = trading_report(np.sign(forecast), ret, day=days, settings=TradingSettings(lag=1))
    assert on_time.overall.strategy.sharpe_gross is not None and on_time.overall.strategy.sharpe_gross > 2
    # the signal lives one bar: traded a bar late it is gone
    assert late.overall.strategy.sharpe_gross is not None and abs(late.overall.strategy.sharpe_gross) < 2
    expensive = trading_report(
        np.sign(forecast), ret, day=days, settings=TradingSettings(lag=0, costs=Costs(commission_bps=20))
    )
    assert expensive.overall.strategy.net_daily < on_time.overall.strategy.net_daily  # type: ignore[operator]


def test_long_only_and_dead_band_reduce_exposure() -> None:
    forecast, ret, days, _ = _data()
    base = evaluate_forecasts(forecast, forecast, ret, day=days).overall.strategy
    banded = evaluate_forecasts(
        forecast, forecast, ret, day=days, settings=TradingSettings(rule=PositionRule(dead_band=0.002, long_only=True))
    ).overall.strategy
    assert banded.exposure is not None and base.exposure is not None and banded.exposure < base.exposure


def test_folds_must_be_contiguous_runs() -> None:
    forecast, ret, days, _ = _data()
    with pytest.raises(InvalidInputError, match="contiguous"):
        trading_report(np.sign(forecast), ret, day=days, fold=np.tile([1, 2], forecast.size // 2))
    with pytest.raises(InvalidInputError, match="one value per row"):
        trading_report(np.sign(forecast), ret[:-1], day=days)


def test_information_coefficients_equal_numpy_and_scipy() -> None:
    rng = np.random.default_rng(0)
    f = rng.normal(size=200)
    y = 0.3 * f + rng.standard_t(3, size=200)
    y[5] = np.nan  # rows where either is missing are left out
    keep = np.isfinite(y)
    assert information_coefficient(f, y) == pytest.approx(np.corrcoef(f[keep], y[keep])[0, 1])
    ranks = np.corrcoef(stats.rankdata(f[keep]), stats.rankdata(y[keep]))[0, 1]
    assert rank_information_coefficient(f, y) == pytest.approx(ranks)
    assert information_coefficient(np.ones(10), np.arange(10.0)) is None  # a constant forecast has no IC


def test_calibration_equals_a_plain_computation() -> None:
    rng = np.random.default_rng(1)
    p = rng.uniform(size=500)
    y = (rng.uniform(size=500) < p**1.5).astype(int)  # over-confident upward
    c = calibration(y, p, n_bins=5)
    assert c.brier == pytest.approx(np.mean((p - y) ** 2))
    assert c.brier_skill == pytest.approx(1 - c.brier / (y.mean() * (1 - y.mean())))
    edges = np.linspace(0, 1, 6)
    for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        rows = ((p > lo) | (lo == 0)) & (p <= hi)  # right edges inclusive, as calibration_curve bins
        assert c.count[i] == rows.sum()
        assert c.prob_pred[i] == pytest.approx(p[rows].mean())
        assert c.prob_true[i] == pytest.approx(y[rows].mean())
    assert sum(c.count) == 500
    assert all(t <= q + 0.05 for t, q in zip(c.prob_true, c.prob_pred, strict=True))  # p^1.5 <= p
    json.dumps(c.to_dict(), allow_nan=False)
    with pytest.raises(InvalidInputError):
        calibration([0, 2], [0.1, 0.2])
