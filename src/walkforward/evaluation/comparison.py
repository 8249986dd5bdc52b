"""Is one model's forecast better than another's on the same rows? The Diebold-Mariano test.

Diebold & Mariano (1995), "Comparing predictive accuracy", JBES 13(3): with the loss differential
``d_t = L(e_a,t) - L(e_b,t)``, ``DM = mean(d) / sqrt(S / T)`` where ``S`` is the long-run variance
of ``d``. ``S`` is estimated here with Newey & West's (1987) HAC estimator (Bartlett weights
``1 - k / (L + 1)``, ``gamma_k = sum((d_t - mean)(d_{t-k} - mean)) / T``), which stays positive,
or with the original truncated uniform kernel (lags ``h - 1``). h-step forecast errors are
autocorrelated up to lag ``h - 1``, so the lags are at least ``h - 1``.

Harvey, Leybourne & Newbold (1997), "Testing the equality of prediction mean squared errors",
IJF 13(2): the statistic is scaled by ``sqrt((T + 1 - 2h + h(h - 1) / T) / T)`` and compared with
Student's t with ``T - 1`` degrees of freedom, which corrects the test's over-rejection in small
samples.

Written with numpy and scipy because statsmodels (whose ``cov_hac`` computes the same ``S``: the
tests pin its values) is not a dependency, and the test is a dozen lines.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from walkforward.errors import InvalidInputError

Loss = Literal["squared", "absolute"]
Alternative = Literal["two-sided", "less", "greater"]
Kernel = Literal["bartlett", "uniform"]


@dataclass(frozen=True)
class DieboldMariano:
    """The HLN-corrected Diebold-Mariano statistic and its p-value.

    ``mean_difference`` is ``mean(loss_a - loss_b)``: negative when model a forecasts better.
    ``alternative="less"`` tests "a has lower expected loss than b".
    """

    statistic: float | None
    p_value: float | None
    mean_difference: float
    long_run_variance: float
    n: int
    horizon: int
    lags: int
    kernel: str
    alternative: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def newey_west_lags(n: int) -> int:
    """Newey & West's (1994) rule of thumb ``floor(4 (T / 100)^(2/9))``."""
    return int(math.floor(4.0 * (n / 100.0) ** (2.0 / 9.0)))


def long_run_variance(d: np.ndarray, lags: int, kernel: Kernel = "bartlett") -> float:
    """``gamma_0 + 2 sum_k w_k gamma_k`` with autocovariances normalised by ``T`` (not ``T - k``)."""
    x = np.asarray(d, dtype=float) - float(np.mean(d))
    t = x.size
    s = float(x @ x) / t
    for k in range(1, min(lags, t - 1) + 1):
        weight = 1.0 - k / (lags + 1.0) if kernel == "bartlett" else 1.0
        s += 2.0 * weight * float(x[k:] @ x[:-k]) / t
    return s


def losses(actual: object, forecast: object, loss: Loss = "squared") -> np.ndarray:
    """Per-row loss of a forecast: squared or absolute error."""
    y = np.asarray(actual, dtype=float)
    f = np.asarray(forecast, dtype=float)
    if y.shape != f.shape or y.ndim != 1:
        raise InvalidInputError(f"{f.size} forecasts for {y.size} actual values: pass one of each per row")
    err = y - f
    if loss == "squared":
        return err**2
    if loss == "absolute":
        return np.abs(err)
    raise InvalidInputError(f"unknown loss {loss!r}: use squared or absolute")


def diebold_mariano(
    loss_a: object,
    loss_b: object,
    *,
    horizon: int = 1,
    lags: int | None = None,
    kernel: Kernel = "bartlett",
    alternative: Alternative = "two-sided",
) -> DieboldMariano:
    """Diebold-Mariano test of equal expected loss of two forecasts of the same rows.

    Parameters
    ----------
    loss_a, loss_b : array-like
        Per-row losses (:func:`losses`), same rows in time order.
    horizon : int
        Forecast horizon ``h`` in rows (the target's lookforward).
    lags : int, optional
        HAC lags; default ``max(h - 1, newey_west_lags(T))`` for Bartlett and ``h - 1`` for uniform.
    kernel : {"bartlett", "uniform"}
        Newey-West weights (default), or the original DM truncated kernel, whose variance can be
        negative (then the statistic is ``None``).
    alternative : {"two-sided", "less", "greater"}
        ``"less"``: model a's expected loss is lower.

    Examples
    --------
    >>> dm = diebold_mariano(losses(y, pred_a), losses(y, pred_b), horizon=3)  # doctest: +SKIP
    >>> dm.p_value < 0.05 and dm.mean_difference < 0  # a is significantly better  # doctest: +SKIP
    """
    from scipy import stats

    a = np.asarray(loss_a, dtype=float)
    b = np.asarray(loss_b, dtype=float)
    if a.ndim != 1 or a.shape != b.shape:
        raise InvalidInputError(f"{a.size} and {b.size} losses: compare two models on the same rows")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise InvalidInputError("losses must be finite: drop rows where either model has no forecast")
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise InvalidInputError(f"invalid horizon {horizon!r}: use a whole number of rows >= 1")
    if kernel not in ("bartlett", "uniform"):
        raise InvalidInputError(f"unknown kernel {kernel!r}: use bartlett or uniform")
    if alternative not in ("two-sided", "less", "greater"):
        raise InvalidInputError(f"unknown alternative {alternative!r}: use two-sided, less or greater")
    d = a - b
    t = d.size
    if t < 3:
        raise InvalidInputError(f"{t} rows are too few for a Diebold-Mariano test: compare on at least 3 rows")
    h = horizon
    if lags is None:
        lags = max(h - 1, newey_west_lags(t)) if kernel == "bartlett" else h - 1
    mean = float(d.mean())
    s = long_run_variance(d, lags, kernel)
    stat = p = None
    if s > 0:
        dm = mean / math.sqrt(s / t)
        hln = math.sqrt((t + 1 - 2 * h + h * (h - 1) / t) / t)
        stat = dm * hln
        dist = stats.t(df=t - 1)
        if alternative == "two-sided":
            p = float(2.0 * dist.sf(abs(stat)))
        elif alternative == "less":
            p = float(dist.cdf(stat))
        else:
            p = float(dist.sf(stat))
    elif mean == 0.0:  # identical losses: no evidence either way
        p = 1.0
    return DieboldMariano(
        statistic=stat,
        p_value=p,
        mean_difference=mean,
        long_run_variance=s,
        n=t,
        horizon=h,
        lags=int(lags),
        kernel=kernel,
        alternative=alternative,
    )
