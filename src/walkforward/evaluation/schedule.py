"""What retraining is worth: a frozen model's and a retrained one's daily net returns on the same sessions.

Each arm gets its compounded net return, mean daily and annualised net return, Sharpe ratio and
maximum drawdown (:mod:`~walkforward.evaluation.pnl`). The difference ``retrained - frozen`` is
judged day by day (paired: the same sessions, the same costs) with the Diebold-Mariano test on the
daily net returns as negative losses, whose Newey-West variance allows for the autocorrelation of
daily P&L, and a 95% confidence interval for the mean daily difference from the same variance
(Student's t with ``n - 1`` degrees of freedom).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from walkforward.errors import InvalidInputError
from walkforward.evaluation.comparison import diebold_mariano, long_run_variance, newey_west_lags
from walkforward.evaluation.pnl import SESSIONS_PER_YEAR, max_drawdown, sharpe


def arm_summary(daily: np.ndarray, periods_per_year: int = SESSIONS_PER_YEAR) -> dict[str, float | int | None]:
    """Net figures of one arm's daily net returns (fractions of capital)."""
    r = np.asarray(daily, dtype=float)
    if r.size == 0:
        raise InvalidInputError("no traded session: the schedule traded nothing")
    return {
        "sessions": int(r.size),
        "net_return": float(np.prod(1.0 + r) - 1.0),
        "net_daily": float(r.mean()),
        "net_annual_return": float(r.mean() * periods_per_year),
        "sharpe": sharpe(r, periods_per_year),
        "max_drawdown": max_drawdown(r),
    }


def compare_daily(
    frozen: np.ndarray, retrained: np.ndarray, *, periods_per_year: int = SESSIONS_PER_YEAR
) -> dict[str, Any]:
    """Frozen vs retrained: each arm's figures and the paired test of their mean daily difference.

    Examples
    --------
    >>> out = compare_daily(np.array([0.0, 0.01, -0.01, 0.0]), np.array([0.01, 0.01, 0.0, 0.01]))
    >>> out["difference"]["mean_daily"] > 0
    True
    """
    from scipy import stats

    a = np.asarray(frozen, dtype=float)
    b = np.asarray(retrained, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise InvalidInputError(f"{a.size} and {b.size} daily returns: compare the two arms on the same sessions")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise InvalidInputError("daily net returns must be finite")
    d = b - a
    n = d.size
    diff: dict[str, Any] = {"mean_daily": float(d.mean()) if n else None, "sessions": int(n)}
    if n >= 3:
        lags = newey_west_lags(n)
        se = math.sqrt(max(long_run_variance(d, lags), 0.0) / n)
        half = float(stats.t(df=n - 1).ppf(0.975)) * se
        # losses are negative returns: "less" would mean the retrained arm earns more
        dm = diebold_mariano(-b, -a, horizon=1, lags=lags)
        diff.update(
            ci95=[float(d.mean()) - half, float(d.mean()) + half],
            statistic=dm.statistic,
            p_value=dm.p_value,
            lags=lags,
            test="Diebold-Mariano (HLN, Newey-West) on daily net returns, two-sided",
        )
    else:
        diff.update(ci95=None, statistic=None, p_value=None, test=f"{n} session(s): too few for a test (3 needed)")
    return {
        "frozen": arm_summary(a, periods_per_year),
        "retrained": arm_summary(b, periods_per_year),
        "difference": diff,
    }


__all__ = ["arm_summary", "compare_daily"]
