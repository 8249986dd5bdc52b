"""The synthetic market: determinism, bar invariants and the planted (weak) predictability."""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
import pytest

from walkforward.features.demo import DEFAULT_SYMBOLS, generate_market

DAYS = 12


@pytest.fixture(scope="module")
def market() -> dict[str, pd.DataFrame]:
    return generate_market(days=DAYS)


def oos_r2(market: dict[str, pd.DataFrame]) -> float:
    """Out-of-sample R2 of next-5-minute AAPL log return on past-5-minute QQQ log return."""
    a = np.log(market["AAPL"]["close"].to_numpy())
    q = np.log(market["QQQ"]["close"].to_numpy())
    x = q[5:-5] - q[:-10]
    y = a[10:] - a[5:-5]
    half = len(x) // 2
    slope, intercept = np.polyfit(x[:half], y[:half], 1)
    resid = y[half:] - (slope * x[half:] + intercept)
    return float(1.0 - (resid**2).sum() / ((y[half:] - y[half:].mean()) ** 2).sum())


def test_deterministic(market: dict[str, pd.DataFrame]) -> None:
    again = generate_market(days=DAYS)
    other = generate_market(days=DAYS, seed=8)
    assert list(market) == list(DEFAULT_SYMBOLS)
    for sym in DEFAULT_SYMBOLS:
        pd.testing.assert_frame_equal(market[sym], again[sym])
        assert not np.allclose(market[sym]["close"], other[sym]["close"])


def test_sessions_are_local_hours_of_the_zone_given() -> None:
    tokyo = generate_market(days=2, symbols=("AAA",), timezone="Asia/Tokyo")["AAA"]["ts"]
    assert tokyo.iloc[0] == pd.Timestamp("2024-01-02 00:30", tz="UTC")  # 09:30 JST
    across_dst = generate_market(days=2, symbols=("AAA",), start=datetime.date(2024, 3, 8))["AAA"]["ts"]
    assert [str(t.time()) for t in across_dst.iloc[[0, 390]]] == ["14:30:00", "13:30:00"]  # EST, then EDT


def test_symbols_are_independent_of_the_list() -> None:
    alone = generate_market(days=3, symbols=("MSFT", "QQQ"))
    full = generate_market(days=3)
    pd.testing.assert_frame_equal(alone["MSFT"], full["MSFT"])


def test_columns_and_calendar(market: dict[str, pd.DataFrame]) -> None:
    assert list(market["VIX"].columns) == ["ts", "close"]
    for sym in ("AAPL", "MSFT", "QQQ"):
        assert list(market[sym].columns) == [
            "ts",
            "open",
            "high",
            "low",
            "close",
            "volume",
            "vwap",
            "trade_count",
        ]
        assert (market[sym].drop(columns="ts").dtypes == "float64").all()
    for frame in market.values():
        assert str(frame["ts"].dtype) == "datetime64[ns, UTC]"  # instants, as the store keeps them
        ts = frame["ts"].dt.tz_convert("America/New_York")  # sessions are New York market hours
        assert len(frame) == DAYS * 390
        assert ts.is_monotonic_increasing and ts.is_unique
        per_day = ts.groupby(ts.dt.date).agg(["size", "min", "max"])
        assert (per_day["size"] == 390).all()
        assert (per_day["min"].dt.strftime("%H:%M") == "09:30").all()
        assert (per_day["max"].dt.strftime("%H:%M") == "15:59").all()
        assert (ts.dt.day_of_week < 5).all()
        assert per_day.index[0] == datetime.date(2024, 1, 2)


def test_ohlc_invariants(market: dict[str, pd.DataFrame]) -> None:
    for sym in ("AAPL", "MSFT", "QQQ"):
        f = market[sym]
        o, h, lo, c = (f[k].to_numpy() for k in ("open", "high", "low", "close"))
        assert (lo > 0).all()
        assert (lo <= np.minimum(o, c)).all() and (np.maximum(o, c) <= h).all()
        assert ((f["vwap"] >= f["low"]) & (f["vwap"] <= f["high"])).all()
        assert (f["volume"] > 0).all() and (f["trade_count"] >= 1).all()
        gap = np.abs(o[1:] / c[:-1] - 1.0)
        assert gap.max() < 1e-3
    start = {"AAPL": 190.0, "MSFT": 370.0, "QQQ": 400.0, "VIX": 15.0}
    for sym, level in start.items():
        assert market[sym]["close"].iloc[0] == pytest.approx(level, rel=0.1)
    assert market["VIX"]["close"].between(5, 80).all()


def test_volume_is_u_shaped(market: dict[str, pd.DataFrame]) -> None:
    f = market["AAPL"]
    minute = np.tile(np.arange(390), DAYS)
    by_minute = f["volume"].groupby(minute).mean()
    assert by_minute.iloc[:15].mean() > 1.3 * by_minute.iloc[150:240].mean()
    assert by_minute.iloc[-15:].mean() > 1.2 * by_minute.iloc[150:240].mean()


def test_factor_correlation(market: dict[str, pd.DataFrame]) -> None:
    rets = pd.DataFrame({s: np.log(market[s]["close"]).diff() for s in ("AAPL", "MSFT", "QQQ")})
    corr = rets.corr()
    assert corr.loc["AAPL", "QQQ"] > 0.5 and corr.loc["MSFT", "QQQ"] > 0.5


def test_planted_predictability_is_measurable() -> None:
    symbols = ("AAPL", "QQQ")
    assert oos_r2(generate_market(days=60, symbols=symbols)) > 0.005
    assert oos_r2(generate_market(days=60, symbols=symbols, predictability=0.0)) < 0.002
