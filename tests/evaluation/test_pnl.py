"""Positions, lag, tranches and P&L against brute-force simulations written out in plain Python."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from walkforward.errors import InvalidInputError
from walkforward.evaluation.pnl import Costs, bar_returns, daily, max_drawdown, simulate, trading_metrics
from walkforward.evaluation.positions import (
    PositionRule,
    classifier_edge,
    forecast_edge,
    held_positions,
    positions,
)


def brute_force_tranches(
    signal: list[float], returns: list[float], *, h: int, lag: int
) -> tuple[list[float], list[float]]:
    """Each forecast as its own account: filled at close t+lag, weight s/h, held over bars t+lag+1 .. t+lag+h."""
    n = len(signal)
    held = [0.0] * n
    pnl = [0.0] * n
    for t, s in enumerate(signal):
        for u in range(t + lag + 1, t + lag + h + 1):
            if u < n:
                held[u] += s / h
                pnl[u] += s / h * returns[u]
    return held, pnl


signals = st.lists(st.sampled_from([-1.0, 0.0, 1.0, 0.5]), min_size=1, max_size=60)


@settings(max_examples=200, deadline=None)
@given(sig=signals, h=st.integers(1, 6), lag=st.integers(0, 3), seed=st.integers(0, 2**16))
def test_tranches_match_a_simulation_of_every_forecast_as_its_own_account(
    sig: list[float], h: int, lag: int, seed: int
) -> None:
    ret = np.random.default_rng(seed).normal(0, 0.01, len(sig))
    held = held_positions(sig, lookforward=h, lag=lag)
    want_held, want_pnl = brute_force_tranches(sig, ret.tolist(), h=h, lag=lag)
    np.testing.assert_allclose(held, want_held, atol=1e-12)
    pnl = simulate(held, ret, Costs(0, 0))
    np.testing.assert_allclose(pnl.gross, want_pnl, atol=1e-15)
    # each forecast is paid its h one-bar returns once, 1/h each: total P&L = sum over forecasts
    paid = sum(s / h * sum(ret[t + lag + 1 : t + lag + h + 1]) for t, s in enumerate(sig))
    assert math.isclose(pnl.gross.sum(), paid, abs_tol=1e-12)
    # the book never holds more than one unit, however many tranches overlap
    assert np.abs(held).max(initial=0) <= 1 + 1e-12


def test_overlapping_forecasts_are_not_double_counted() -> None:
    """A constant long signal with h = 3 holds one unit and earns the one-bar return, not the 3-bar one."""
    ret = np.array([np.nan, 0.01, -0.02, 0.03, 0.01, -0.01, 0.02])
    held = held_positions(np.ones(ret.size), lookforward=3, lag=0)
    assert held.tolist() == pytest.approx([0, 1 / 3, 2 / 3, 1, 1, 1, 1])
    pnl = simulate(held, ret, Costs(0, 0))
    np.testing.assert_allclose(pnl.gross[3:], ret[3:])


@pytest.mark.parametrize("lag", [0, 1, 2])
def test_a_forecast_earns_the_bars_after_its_fill(lag: int) -> None:
    """One long forecast at bar 2: with h = 1 it earns exactly the return of bar 3 + lag."""
    sig = np.zeros(8)
    sig[2] = 1.0
    ret = np.arange(1, 9) / 100.0
    pnl = simulate(held_positions(sig, lookforward=1, lag=lag), ret, Costs(0, 0))
    assert np.flatnonzero(pnl.gross).tolist() == [3 + lag]
    assert pnl.gross.sum() == pytest.approx(ret[3 + lag])


@settings(max_examples=150, deadline=None)
@given(
    held=st.lists(st.sampled_from([-1.0, -0.5, 0.0, 0.5, 1.0]), min_size=1, max_size=50),
    bps=st.floats(0, 50),
    seed=st.integers(0, 2**16),
)
def test_costs_are_bps_per_unit_of_turnover_with_every_leg_paid(held: list[float], bps: float, seed: int) -> None:
    ret = np.random.default_rng(seed).normal(0, 0.01, len(held))
    pnl = simulate(held, ret, Costs(commission_bps=bps / 2, slippage_bps=bps / 2))
    # plain loop: trade into each next position at this close, then close out after the last bar
    book = [*held, 0.0]
    trades = [abs(book[u + 1] - book[u]) for u in range(len(held))]
    np.testing.assert_allclose(pnl.turnover, trades, atol=1e-12)
    assert pnl.net.mean() == pytest.approx(pnl.gross.mean() - bps * 1e-4 * np.mean(trades), abs=1e-15)
    # a flat start: entering the first position is a trade too (held[0] is always flat in practice)
    assert pnl.turnover.sum() >= abs(held[-1])


def test_buy_and_hold_pays_one_round_trip() -> None:
    held = held_positions(np.ones(10), lookforward=1, lag=1)
    pnl = simulate(held, np.full(10, 0.001), Costs(commission_bps=1, slippage_bps=1))
    assert pnl.turnover.sum() == 2.0
    assert pnl.cost.sum() == pytest.approx(2 * 2e-4)


def _plain_daily(values: np.ndarray, days: list[str]) -> np.ndarray:
    out: dict[str, float] = {}
    for v, d in zip(values, days, strict=True):
        out[d] = out.get(d, 0.0) + float(v)
    return np.array(list(out.values()))


def test_metrics_equal_a_plain_numpy_computation_on_fixed_data() -> None:
    rng = np.random.default_rng(42)
    bars_per_day, n_days = 4, 30
    days = [f"2024-01-{d:02d}" for d in range(1, n_days + 1) for _ in range(bars_per_day)]
    ret = rng.normal(0.0002, 0.005, len(days))
    sig = np.sign(rng.normal(size=len(days)))
    held = held_positions(sig, lookforward=2, lag=1)
    pnl = simulate(held, ret, Costs(commission_bps=1.5, slippage_bps=0.5))
    m = trading_metrics(pnl, days, periods_per_year=252)

    gross = held * ret
    trades = np.abs(np.diff(np.append(held, 0.0)))
    net = gross - 2e-4 * trades
    d_net = _plain_daily(net, days)
    d_gross = _plain_daily(gross, days)
    assert m.n_days == n_days and m.n_bars == len(days)
    assert m.sharpe == pytest.approx(d_net.mean() / d_net.std(ddof=1) * math.sqrt(252))
    assert m.sharpe_gross == pytest.approx(d_gross.mean() / d_gross.std(ddof=1) * math.sqrt(252))
    downside = math.sqrt(np.mean(np.minimum(d_net, 0) ** 2))
    assert m.sortino == pytest.approx(d_net.mean() / downside * math.sqrt(252))
    equity, peak, worst = 1.0, 1.0, 0.0
    for r in d_net:
        equity *= 1 + r
        peak = max(peak, equity)
        worst = max(worst, 1 - equity / peak)
    assert m.max_drawdown == pytest.approx(worst)
    assert m.total_return == pytest.approx(equity - 1)
    assert m.annual_return == pytest.approx(d_net.mean() * 252)
    assert m.turnover == pytest.approx(trades.mean())
    assert m.turnover_daily == pytest.approx(trades.sum() / n_days)
    assert m.exposure == pytest.approx(np.abs(held).mean())
    assert m.hit_rate == pytest.approx(np.mean(gross[held != 0] > 0))
    assert m.net_daily == pytest.approx(m.gross_daily - m.cost_daily)
    # the Sharpe is of days, not of bars scaled by sqrt(bars per year)
    bar_sharpe = net.mean() / net.std(ddof=1) * math.sqrt(252 * bars_per_day)
    assert m.sharpe != pytest.approx(bar_sharpe, rel=1e-3)


def test_daily_keeps_the_order_of_days_and_sums_within_them() -> None:
    assert daily(np.array([1.0, 2.0, 3.0, 4.0]), ["b", "b", "a", "c"]).tolist() == [3.0, 3.0, 4.0]
    assert max_drawdown(np.array([0.1, -0.5, 0.2])) == pytest.approx(0.5)


def test_undefined_figures_are_none_not_nan() -> None:
    pnl = simulate(np.zeros(5), np.zeros(5))
    m = trading_metrics(pnl, ["d"] * 5)
    assert m.sharpe is None and m.sortino is None and m.hit_rate is None
    assert m.max_drawdown == 0.0 and m.exposure == 0.0


def test_bar_returns_are_close_to_close() -> None:
    r = bar_returns([100.0, 101.0, 99.99])
    assert np.isnan(r[0]) and r[1:] == pytest.approx([0.01, -0.01])


def test_position_rule() -> None:
    edge = [0.02, 0.004, -0.004, -0.03, np.nan]
    assert positions(edge).tolist() == [1, 1, -1, -1, 0]
    assert positions(edge, PositionRule(dead_band=0.005)).tolist() == [1, 0, 0, -1, 0]
    assert positions(edge, PositionRule(long_only=True)).tolist() == [1, 1, 0, 0, 0]
    assert positions(classifier_edge([0.7, 0.56, 0.5, 0.3], threshold=0.55)).tolist() == [1, 1, -1, -1]
    # price-level targets: the sign of forecast - price, in return units
    assert np.sign(forecast_edge([101, 99], [100, 100], "none")).tolist() == [1, -1]
    assert forecast_edge([np.log(101)], [100], "log") == pytest.approx([np.log(1.01)])
    assert forecast_edge([0.01], [100], "log_return").tolist() == [0.01]


@pytest.mark.parametrize(
    "call",
    [
        lambda: PositionRule(dead_band=-1),
        lambda: PositionRule(threshold=1.0),
        lambda: held_positions([1, 0], lookforward=0),
        lambda: held_positions([1, 0], lag=-1),
        lambda: simulate([1.0, 0.0], [0.01]),
        lambda: simulate([np.nan], [0.01]),
        lambda: Costs(commission_bps=-1),
        lambda: classifier_edge([1.2]),
        lambda: trading_metrics(simulate([0.0], [0.0]), ["d"], periods_per_year=0),
    ],
)
def test_bad_input_is_refused_with_our_error(call: object) -> None:
    with pytest.raises(InvalidInputError):
        call()  # type: ignore[operator]
