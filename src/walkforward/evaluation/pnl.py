"""Bar-by-bar P&L of held positions after costs, and the daily performance figures a trader reads.

Accounting (one contiguous segment of rows, e.g. one fold's test block):

- ``returns[u]`` is the traded symbol's simple return from close ``u - 1`` to close ``u``
  (:func:`bar_returns`); ``held[u]`` the position held over that bar
  (:func:`~walkforward.evaluation.positions.held_positions`). Gross P&L ``held[u] * returns[u]``,
  per unit of capital, with a constant-notional book (no compounding within a day).
- The trade into ``held[u + 1]`` is made at close ``u``: ``turnover[u] = |held[u + 1] - held[u]|``,
  the segment starts flat and is closed out at its last close (``turnover[-1] = |held[-1]|``), so
  every round trip pays both legs.
- Costs are ``(commission_bps + slippage_bps) * 1e-4`` per unit of turnover, so
  ``mean(net) = mean(gross) - bps * 1e-4 * mean(turnover)`` exactly.
- Daily P&L is the sum of a day's bar P&L (``day`` labels come from the caller, so exchange calendars
  stay its concern). Sharpe and Sortino are computed on daily P&L and annualised by
  ``sqrt(periods_per_year)`` sessions, not by the square root of bars per year, which would assume
  independent bars and ignore the overnight gap; drawdown is on the compounded daily equity curve.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from walkforward.errors import InvalidInputError

#: Sessions per year used to annualise daily figures (NYSE: ~252).
SESSIONS_PER_YEAR = 252


@dataclass(frozen=True)
class Costs:
    """Trading costs in basis points per unit of turnover (one leg of a trade, per unit of notional).

    The default, 1 bp commission and fees plus 1 bp slippage (2 bp a leg, 4 bp a round trip), is of
    the order paid on liquid US large caps and ETFs at retail-institutional size; raise it for
    small caps, wide spreads or size.
    """

    commission_bps: float = 1.0
    slippage_bps: float = 1.0

    def __post_init__(self) -> None:
        for name, value in (("commission", self.commission_bps), ("slippage", self.slippage_bps)):
            if not (math.isfinite(value) and value >= 0):
                raise InvalidInputError(f"invalid {name} {value!r} bps: use a number of basis points >= 0")

    @property
    def total_bps(self) -> float:
        return self.commission_bps + self.slippage_bps

    def to_dict(self) -> dict[str, float]:
        return {"commission_bps": self.commission_bps, "slippage_bps": self.slippage_bps}


@dataclass(frozen=True)
class BarPnL:
    """Per-bar accounting of one segment (arrays of equal length)."""

    held: np.ndarray
    returns: np.ndarray
    gross: np.ndarray
    turnover: np.ndarray
    cost: np.ndarray

    @property
    def net(self) -> np.ndarray:
        return self.gross - self.cost

    @staticmethod
    def concat(parts: list[BarPnL]) -> BarPnL:
        """Segments one after another (each already started flat and closed out)."""
        fields = ("held", "returns", "gross", "turnover", "cost")
        return BarPnL(*(np.concatenate([getattr(p, f) for p in parts]) for f in fields))


def bar_returns(price: object) -> np.ndarray:
    """Simple one-bar returns ``price[u] / price[u - 1] - 1``, NaN for the first row.

    Compute them on the whole series before slicing a fold out, so a fold's first row has its return.
    """
    p = np.asarray(price, dtype=float)
    if p.ndim != 1:
        raise InvalidInputError(f"prices must be one value per row, got an array of shape {p.shape}")
    out = np.full(p.size, np.nan)
    out[1:] = p[1:] / p[:-1] - 1.0
    return out


def simulate(held: object, returns: object, costs: Costs = Costs()) -> BarPnL:
    """Gross P&L, turnover and costs per bar for positions ``held`` over one contiguous segment.

    A NaN return (a bar with no previous price) earns nothing. See the module notes for the timing.

    Examples
    --------
    >>> pnl = simulate([0.0, 1.0, 1.0], [0.0, 0.01, -0.02], Costs(commission_bps=5, slippage_bps=5))
    >>> pnl.gross.tolist(), pnl.turnover.tolist(), pnl.cost.round(6).tolist()
    ([0.0, 0.01, -0.02], [1.0, 0.0, 1.0], [0.001, 0.0, 0.001])
    """
    h = np.asarray(held, dtype=float)
    r = np.asarray(returns, dtype=float)
    if h.ndim != 1 or h.shape != r.shape:
        raise InvalidInputError(f"{r.size} returns for {h.size} positions: pass one return per row")
    if not np.isfinite(h).all():
        raise InvalidInputError("positions must be finite numbers: map a missing forecast to 0 (flat)")
    r = np.nan_to_num(r, nan=0.0)
    gross = h * r
    turnover = np.abs(np.diff(h, append=0.0))  # trade at close u into held[u + 1]; flat after the last
    return BarPnL(held=h, returns=r, gross=gross, turnover=turnover, cost=turnover * costs.total_bps * 1e-4)


def daily(values: np.ndarray, day: object) -> np.ndarray:
    """Sum of ``values`` per day label, in order of first appearance."""
    import pandas as pd  # factorize keeps the order of first appearance (np.unique would sort)

    labels = np.asarray(day)
    if labels.shape != values.shape:
        raise InvalidInputError(f"{labels.size} day labels for {values.size} rows: pass one trading day per row")
    codes, _ = pd.factorize(labels, sort=False)
    return np.bincount(codes, weights=values, minlength=int(codes.max(initial=-1)) + 1)


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 and math.isfinite(num) else None


def max_drawdown(daily_returns: np.ndarray) -> float:
    """Largest fall from a peak of the compounded equity curve ``prod(1 + r)`` (a fraction, >= 0)."""
    if daily_returns.size == 0:
        return 0.0
    equity = np.concatenate(([1.0], np.cumprod(1.0 + daily_returns)))
    return float(np.max(1.0 - equity / np.maximum.accumulate(equity)))


def sortino(daily_returns: np.ndarray, periods_per_year: int = SESSIONS_PER_YEAR) -> float | None:
    """Annualised mean over the downside deviation ``sqrt(mean(min(r, 0)^2))`` (target 0, all days)."""
    if daily_returns.size == 0:
        return None
    downside = math.sqrt(float(np.mean(np.minimum(daily_returns, 0.0) ** 2)))
    ratio = _ratio(float(daily_returns.mean()), downside)
    return None if ratio is None else ratio * math.sqrt(periods_per_year)


def sharpe(daily_returns: np.ndarray, periods_per_year: int = SESSIONS_PER_YEAR) -> float | None:
    """Annualised Sharpe ratio ``mean / std(ddof=1) * sqrt(periods_per_year)`` (no risk-free rate)."""
    if daily_returns.size < 2:
        return None
    ratio = _ratio(float(daily_returns.mean()), float(daily_returns.std(ddof=1)))
    return None if ratio is None else ratio * math.sqrt(periods_per_year)


@dataclass(frozen=True)
class TradingMetrics:
    """What a trader reads off one P&L series; ``None`` where a figure is undefined (JSON null).

    Returns are fractions of capital. ``*_daily`` are means per trading day, ``annual_return`` is the
    mean daily net P&L times ``periods_per_year``, ``total_return`` the compounded net return.
    ``turnover`` is the mean traded notional per bar (``turnover_daily`` per day), ``exposure`` the
    mean ``|position|``, ``hit_rate`` the share of bars held (position not 0) with a positive gross
    P&L, ``cost_daily`` the mean daily cost.
    """

    n_bars: int
    n_days: int
    gross_daily: float | None
    net_daily: float | None
    cost_daily: float | None
    annual_return: float | None
    total_return: float | None
    sharpe: float | None
    sharpe_gross: float | None
    sortino: float | None
    max_drawdown: float | None
    turnover: float | None
    turnover_daily: float | None
    exposure: float | None
    hit_rate: float | None

    def to_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


def _mean(x: np.ndarray) -> float | None:
    return float(x.mean()) if x.size else None


def trading_metrics(pnl: BarPnL, day: object, *, periods_per_year: int = SESSIONS_PER_YEAR) -> TradingMetrics:
    """The :class:`TradingMetrics` of a (possibly concatenated) :class:`BarPnL` with one day label per bar."""
    if not isinstance(periods_per_year, int) or periods_per_year < 1:
        raise InvalidInputError(f"invalid sessions per year {periods_per_year!r}: use a whole number such as 252")
    net_d = daily(pnl.net, day)
    gross_d = daily(pnl.gross, day)
    cost_d = daily(pnl.cost, day)
    held = pnl.held != 0
    net_mean = _mean(net_d)
    return TradingMetrics(
        n_bars=int(pnl.gross.size),
        n_days=int(net_d.size),
        gross_daily=_mean(gross_d),
        net_daily=net_mean,
        cost_daily=_mean(cost_d),
        annual_return=None if net_mean is None else net_mean * periods_per_year,
        total_return=float(np.prod(1.0 + net_d) - 1.0) if net_d.size else None,
        sharpe=sharpe(net_d, periods_per_year),
        sharpe_gross=sharpe(gross_d, periods_per_year),
        sortino=sortino(net_d, periods_per_year),
        max_drawdown=max_drawdown(net_d) if net_d.size else None,
        turnover=_mean(pnl.turnover),
        turnover_daily=float(pnl.turnover.sum() / net_d.size) if net_d.size else None,
        exposure=_mean(np.abs(pnl.held)),
        hit_rate=float(np.mean(pnl.gross[held] > 0)) if held.any() else None,
    )
