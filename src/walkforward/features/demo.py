"""A deterministic synthetic market of 1-minute bars for demos and tests.

The market has a common factor (QQQ is mostly the factor, stocks load on it with idiosyncratic
noise), day-level Markov volatility regimes scaling every minute volatility (with an intraday U
shape), a VIX-like close-only index that mean-reverts towards a level set by the regime, and a weak
but real lead-lag effect: a stock's next 1-minute return contains ``1.5 * predictability`` times
the factor's return over the previous 5 minutes. With ``predictability=0`` no return is predictable.
Sessions are 09:30-16:00 local time in an exchange zone (New York by default); ``ts`` holds their
UTC instants, as the store does.
"""

from __future__ import annotations

import datetime
import logging
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from walkforward.domain import DEFAULT_TIMEZONE, validate_timezone
from walkforward.features import DEFAULT_SYMBOLS

logger = logging.getLogger(__name__)

BARS_PER_DAY = 390
_OPEN_MINUTE = 9 * 60 + 30
_LEAD_LAG_BARS = 5
_LEAD_LAG_SCALE = 1.5  # so that the default predictability gives an out-of-sample R2 of ~2%

#: Day-level regimes: calm, normal, volatile. Volatility multipliers and VIX target levels.
_REGIME_VOL = np.array([0.7, 1.0, 1.9])
_REGIME_VIX = np.array([14.0, 19.0, 31.0])
_REGIME_TRANSITIONS = np.array(
    [
        [0.90, 0.08, 0.02],
        [0.08, 0.86, 0.06],
        [0.04, 0.16, 0.80],
    ]
)
#: Factor volatility per minute in a normal regime (about 1% a day).
_FACTOR_SIGMA = 0.01 / np.sqrt(BARS_PER_DAY)


@dataclass(frozen=True)
class _Spec:
    """How one symbol is generated."""

    price: float
    beta: float
    idio: float  # idiosyncratic volatility relative to the factor's
    lead_lag: bool  # whether the planted lead-lag component applies
    volume: float  # mean shares per minute in a normal regime
    trade_size: float  # mean shares per trade


_SPECS: dict[str, _Spec] = {
    "AAPL": _Spec(190.0, 1.1, 1.0, True, 120_000.0, 110.0),
    "MSFT": _Spec(370.0, 0.9, 0.8, True, 60_000.0, 80.0),
    "QQQ": _Spec(400.0, 1.0, 0.15, False, 100_000.0, 150.0),
}
_DEFAULT_SPEC = _Spec(100.0, 1.0, 1.0, True, 50_000.0, 100.0)


def _is_index(symbol: str) -> bool:
    return symbol.upper() == "VIX"


def _symbol_rng(seed: int, symbol: str) -> np.random.Generator:
    """A generator per (seed, symbol) so adding a symbol does not change the others' data."""
    return np.random.default_rng([seed, zlib.crc32(symbol.upper().encode())])


def _trading_days(start: datetime.date, days: int) -> np.ndarray:
    """The first ``days`` weekdays on or after ``start`` as ``datetime64[D]``."""
    first = np.datetime64(start, "D")
    return np.busday_offset(first, np.arange(days), roll="forward")


def _regimes(rng: np.random.Generator, days: int) -> np.ndarray:
    """A day-level Markov chain over the three regimes, starting calm."""
    states = np.zeros(days, dtype=np.int64)
    cum = np.cumsum(_REGIME_TRANSITIONS, axis=1)
    u = rng.random(days)
    for d in range(1, days):
        states[d] = min(int(np.searchsorted(cum[states[d - 1]], u[d])), len(_REGIME_VOL) - 1)
    return states


def _intraday_shape() -> np.ndarray:
    """U-shaped multiplier over the 390 minutes of a session (high at open and close, mean ~1)."""
    x = np.arange(BARS_PER_DAY, dtype=np.float64)
    u = 1.0 + 1.2 * np.exp(-x / 25.0) + 0.8 * np.exp(-(BARS_PER_DAY - 1 - x) / 25.0)
    return u / u.mean()


def generate_market(
    *,
    days: int = 150,
    symbols: Sequence[str] = DEFAULT_SYMBOLS,
    seed: int = 7,
    start: datetime.date = datetime.date(2024, 1, 2),
    predictability: float = 0.05,
    timezone: str = DEFAULT_TIMEZONE,
) -> dict[str, pd.DataFrame]:
    """Generate 1-minute bars (09:30-15:59 local time in ``timezone``, weekdays from ``start``) for ``symbols``.

    Stocks and ETFs get ``ts, open, high, low, close, volume, vwap, trade_count``; an index named
    VIX gets only ``ts, close``. The stock lead-lag component makes the next 5-minute return of
    AAPL linearly predictable from the past 5-minute QQQ return: measured out of sample (fit on the
    first half of the days, score on the second half, overlapping windows, seed 7, 150 days) the
    R2 is 2.0% at the default ``predictability=0.05`` (1.1-2.3% over seeds 0-9) and -0.07% at 0
    (within +-0.3% over seeds 0-9, 60 or 150 days).

    Parameters
    ----------
    days : int
        Number of trading days.
    symbols : Sequence[str]
        Symbols to generate; unknown names get a generic stock (price ~100, beta 1).
    seed : int
        Seed; the same seed gives identical frames.
    start : datetime.date
        First trading day (rolled forward to a weekday).
    predictability : float
        Strength of the planted lead-lag: a stock's next 1-minute return gets
        ``1.5 * predictability`` times the factor's past 5-minute return (QQQ is not affected).
    timezone : str
        The exchange zone of the sessions; ``ts`` holds their UTC instants (``datetime64[ns, UTC]``).
    """
    if days < 1:
        raise ValueError(f"days must be >= 1, got {days}")
    n = days * BARS_PER_DAY
    market = np.random.default_rng([seed, 0])
    day_index = _trading_days(start, days)
    minute = np.arange(BARS_PER_DAY, dtype="timedelta64[m]") + np.timedelta64(_OPEN_MINUTE, "m")
    local = (day_index.astype("datetime64[ns]")[:, None] + minute.astype("timedelta64[ns]")[None, :]).ravel()
    zone = validate_timezone(timezone)
    ts = pd.DatetimeIndex(local).tz_localize(zone, ambiguous="raise", nonexistent="raise").tz_convert("UTC")

    regime = np.repeat(_regimes(market, days), BARS_PER_DAY)
    shape = np.tile(_intraday_shape(), days)
    vol_mult = _REGIME_VOL[regime]
    sigma = _FACTOR_SIGMA * vol_mult * shape  # factor volatility of each minute
    factor = sigma * market.standard_normal(n)
    # Factor return over the previous 5 minutes (t-5 .. t-1): the planted lead-lag signal.
    csum = np.concatenate([[0.0], np.cumsum(factor)])
    idx = np.arange(n)
    past = csum[idx] - csum[np.maximum(idx - _LEAD_LAG_BARS, 0)]

    out: dict[str, pd.DataFrame] = {}
    for symbol in symbols:
        rng = _symbol_rng(seed, symbol)
        if _is_index(symbol):
            out[symbol] = _index_frame(rng, ts, regime, factor)
            continue
        spec = _SPECS.get(symbol.upper(), _DEFAULT_SPEC)
        ret = spec.beta * factor + spec.idio * sigma * rng.standard_normal(n)
        if spec.lead_lag and predictability != 0.0:
            ret = ret + _LEAD_LAG_SCALE * predictability * past
        out[symbol] = _stock_frame(rng, ts, spec, ret, sigma, vol_mult, shape)
    logger.debug("generated %d days x %d symbols of synthetic bars (seed %d)", days, len(out), seed)
    return out


def _stock_frame(
    rng: np.random.Generator,
    ts: pd.DatetimeIndex,
    spec: _Spec,
    ret: np.ndarray,
    sigma: np.ndarray,
    vol_mult: np.ndarray,
    shape: np.ndarray,
) -> pd.DataFrame:
    """Build consistent OHLC, VWAP, volume and trade counts around a log-return path."""
    n = len(ret)
    close = spec.price * np.exp(np.cumsum(ret))
    prev_close = np.concatenate([[spec.price], close[:-1]])
    open_ = prev_close * np.exp(0.05 * sigma * rng.standard_normal(n))  # a tiny gap
    wick = np.abs(rng.standard_normal((2, n))) * 0.5 * sigma
    high = np.maximum(open_, close) * np.exp(wick[0])
    low = np.minimum(open_, close) * np.exp(-wick[1])
    # VWAP: a convex combination of points inside [low, high], clipped against rounding.
    inside = low + rng.random(n) * (high - low)
    vwap = np.clip(0.5 * (open_ + close) / 2.0 + 0.5 * inside, low, high)
    # Volume: higher in volatile regimes, at the open and close, and on large moves.
    move = np.abs(ret) / np.maximum(sigma, 1e-12)
    volume = spec.volume * vol_mult * shape * (0.7 + 0.3 * move) * rng.lognormal(0.0, 0.3, n)
    volume = np.maximum(np.round(volume), 1.0)
    trades = volume / (spec.trade_size * rng.lognormal(0.0, 0.2, n))
    trade_count = np.clip(np.round(trades), 1.0, volume)
    return pd.DataFrame(
        {
            "ts": ts,
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": volume,
            "vwap": vwap,
            "trade_count": trade_count,
        }
    )


def _index_frame(
    rng: np.random.Generator, ts: pd.DatetimeIndex, regime: np.ndarray, factor: np.ndarray
) -> pd.DataFrame:
    """A VIX-like close: mean-reverting towards the regime level, rising when the market falls."""
    n = len(regime)
    kappa = 0.01  # per-minute mean reversion (half-life ~70 minutes)
    target = _REGIME_VIX[regime]
    shocks = kappa * target + 0.08 * rng.standard_normal(n) - 300.0 * factor
    # v[t] = (1 - kappa) v[t-1] + shocks[t], started at the first day's level.
    zi = np.array([(1.0 - kappa) * (target[0] + 1.0)])
    level, _ = lfilter([1.0], [1.0, -(1.0 - kappa)], shocks, zi=zi)
    close = np.maximum(np.asarray(level, dtype=np.float64), 9.0)
    return pd.DataFrame({"ts": ts, "close": close})
