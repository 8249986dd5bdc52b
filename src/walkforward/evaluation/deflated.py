"""Is the best of N configurations better than luck? The Deflated Sharpe Ratio on effective trials.

Bailey & López de Prado (2014), "The Deflated Sharpe Ratio: Correcting for Selection Bias,
Backtest Overfitting and Non-Normality", Journal of Portfolio Management 40(5):

- the Probabilistic Sharpe Ratio of an estimate ``SR`` (per observation, not annualised) from ``T``
  observations with skewness ``g3`` and raw kurtosis ``g4`` (3 for a normal) against a benchmark
  ``SR0`` is ``PSR = Phi((SR - SR0) sqrt(T - 1) / sqrt(1 - g3 SR + (g4 - 1) / 4 SR^2))``;
- the Sharpe ratio the best of ``N`` independent unskilled trials is expected to reach is
  ``SR0 = sqrt(V) ((1 - gamma) Phi^-1(1 - 1/N) + gamma Phi^-1(1 - 1/(N e)))`` with ``V`` the
  variance of the trials' Sharpe estimates and ``gamma`` Euler-Mascheroni's constant;
- ``DSR = PSR(SR0)``, and ``p = 1 - DSR`` is the probability that the best is no better than luck.

Two choices make it hold on a grid search, where trials are correlated and some are copies:

- ``N`` is the number of *effective* trials, from the correlation of the configurations' return
  series (:func:`effective_trials`; copies count once);
- ``V`` is, by default, the sampling variance of one unskilled trial's Sharpe estimate,
  ``1 / (T - 1)`` (the PSR variance at ``SR = 0``), not the spread of the cohort's Sharpe ratios,
  which mixes real differences between configurations into the luck term and counts their
  correlation twice once ``N`` is effective. ``variance="cross_sectional"`` uses the paper's
  estimate (the variance of the distinct configurations' Sharpe ratios) instead.

Under independent unskilled trials the test is conservative by construction (it compares the best
with the *expected* maximum, not a quantile of it): at 5% it rejects well under 5% of null cohorts.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from walkforward.errors import InvalidInputError

EULER_GAMMA = 0.5772156649015329
TrialsMethod = Literal["max_equivalent", "average_correlation"]
VarianceMethod = Literal["null", "cross_sectional"]


def _matrix(returns: object) -> np.ndarray:
    r = np.asarray(returns, dtype=float)
    if r.ndim != 2 or r.shape[0] < 3 or r.shape[1] < 1:
        raise InvalidInputError(
            f"returns must be a matrix of observations x configurations with at least 3 rows, got shape {r.shape}"
        )
    if not np.isfinite(r).all():
        raise InvalidInputError("returns must be finite: fill a configuration's missing periods with 0 (flat)")
    return r


def sharpe_ratios(returns: np.ndarray) -> np.ndarray:
    """Per-column (per-observation) Sharpe ratio ``mean / std(ddof=1)``; 0 for a constant column."""
    std = returns.std(axis=0, ddof=1)
    mean = returns.mean(axis=0)
    return np.divide(mean, std, out=np.zeros_like(mean), where=std > 0)


def correlation_matrix(returns: np.ndarray) -> np.ndarray:
    """Pearson correlations of the columns.

    Two constant columns count as identical (1), a constant and a varying one as unrelated (0).
    """
    x = returns - returns.mean(axis=0)
    norm = np.sqrt((x**2).sum(axis=0))
    flat = norm == 0
    z = np.divide(x, norm, out=np.zeros_like(x), where=~flat)
    corr = np.clip(z.T @ z, -1.0, 1.0)
    corr[np.ix_(flat, flat)] = 1.0
    np.fill_diagonal(corr, 1.0)
    return corr


@dataclass(frozen=True)
class EffectiveTrials:
    """The effective number of independent trials among correlated configurations, and how it was found.

    ``expected_max`` is ``E[max Z]`` for ``Z ~ MVN(0, C)`` over the distinct configurations
    (``max_equivalent``), or the Bailey-López de Prado approximation at ``n_effective``.
    """

    n_effective: float
    n_configurations: int
    n_distinct: int
    method: str
    expected_max: float
    mean_correlation: float

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def expected_max_normal(n: float) -> float:
    """``E[max of n independent standard normals]``, Bailey & López de Prado's approximation (0 for n <= 1)."""
    from scipy.special import ndtri  # the normal quantile as a plain ufunc (stats.norm.ppf costs ~100x more)

    if n <= 1:
        return 0.0
    return float((1 - EULER_GAMMA) * ndtri(1 - 1.0 / n) + EULER_GAMMA * ndtri(1 - 1.0 / (n * math.e)))


def _n_for_expected_max(target: float) -> float:
    """The ``n`` whose :func:`expected_max_normal` is ``target`` (1 when ``target`` is at most that of n ~ 1)."""
    from scipy.optimize import brentq

    low, high = 1.0 + 1e-9, 1e12
    if target <= max(expected_max_normal(low), 0.0):
        return 1.0
    if target >= expected_max_normal(high):
        return high
    return float(brentq(lambda n: expected_max_normal(n) - target, low, high, xtol=1e-6))


def _distinct_columns(r: np.ndarray) -> np.ndarray:
    """The columns with exact duplicates removed (a copied configuration is the same trial).

    Ordered by their bytes, so the result depends on the set of distinct columns only, not on how
    many copies there were or where they stood.
    """
    by_bytes = {np.ascontiguousarray(col).tobytes(): col for col in r.T}
    return np.column_stack([by_bytes[key] for key in sorted(by_bytes)])


def effective_trials(
    returns: object, *, method: TrialsMethod = "max_equivalent", n_draws: int = 10_000, seed: int = 0
) -> EffectiveTrials:
    """How many independent trials the configurations' return series (columns of ``returns``) amount to.

    ``max_equivalent`` (default): with ``C`` the correlation matrix of the distinct columns, the
    Sharpe estimates of unskilled trials are approximately ``MVN(0, C / T)``; ``E[max Z]`` for
    ``Z ~ MVN(0, C)`` is estimated from ``n_draws`` draws (fixed ``seed``: the answer is
    reproducible), and ``n_effective`` is the number of *independent* trials with the same expected
    maximum (the inverse of :func:`expected_max_normal`). Exact copies are dropped first, near-copies
    add almost nothing, and configurations sharing a common factor but differing otherwise still
    count for their differences (complete-linkage clustering at a correlation cut merges those
    into one trial and makes the test too liberal). A constant column (a configuration that never
    trades) is a trial whose Sharpe estimate is always 0.

    ``average_correlation``: ``rho + (1 - rho) N`` from the mean pairwise correlation ``rho`` of the
    distinct columns (simple; it ignores how the correlation is spread).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(size=(250, 1)), rng.normal(size=(250, 1))
    >>> one = effective_trials(np.hstack([a, b])).n_effective
    >>> effective_trials(np.hstack([a, a, a, b])).n_effective == one  # three copies of a are one trial
    True
    """
    r = _matrix(returns)
    n = r.shape[1]
    distinct = _distinct_columns(r)
    m = distinct.shape[1]
    corr = correlation_matrix(distinct)
    mean_corr = float(corr[~np.eye(m, dtype=bool)].mean()) if m > 1 else 1.0
    if method == "average_correlation":
        rho = min(max(mean_corr, 0.0), 1.0)
        n_eff = rho + (1.0 - rho) * m
        return EffectiveTrials(n_eff, n, m, method, expected_max_normal(n_eff), mean_corr)
    if method != "max_equivalent":
        raise InvalidInputError(
            f"unknown effective-trials method {method!r}: use max_equivalent or average_correlation"
        )
    varying = distinct.std(axis=0) > 0
    e_max = 0.0
    if varying.any():
        sub = corr[np.ix_(varying, varying)]
        values, vectors = np.linalg.eigh(sub)
        root = vectors * np.sqrt(np.clip(values, 0.0, None))
        draws = np.random.default_rng(seed).standard_normal((n_draws, sub.shape[0])) @ root.T
        if not varying.all():
            draws = np.column_stack([draws, np.zeros(n_draws)])  # a flat configuration's Sharpe is 0
        e_max = float(draws.max(axis=1).mean())
    return EffectiveTrials(_n_for_expected_max(e_max), n, m, method, e_max, mean_corr)


def expected_max_sharpe(n_trials: float, variance: float) -> float:
    """``E[max SR] = sqrt(variance) * E[max of n_trials standard normals]`` for unskilled independent trials."""
    if variance <= 0:
        return 0.0
    return math.sqrt(variance) * expected_max_normal(n_trials)


def probabilistic_sharpe_ratio(
    sharpe: float, benchmark: float, n_observations: int, skew: float = 0.0, kurtosis: float = 3.0
) -> float | None:
    """``P(true SR > benchmark)`` for an estimate ``sharpe`` (per observation); raw ``kurtosis`` (normal: 3).

    ``None`` when the variance term ``1 - skew SR + (kurtosis - 1)/4 SR^2`` is not positive.
    """
    from scipy import stats

    if n_observations < 2:
        raise InvalidInputError(f"{n_observations} observations are too few for a Sharpe ratio test")
    denom = 1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2
    if denom <= 0:
        return None
    return float(stats.norm.cdf((sharpe - benchmark) * math.sqrt(n_observations - 1) / math.sqrt(denom)))


@dataclass(frozen=True)
class DeflatedSharpe:
    """The DSR of the selected configuration, with what went into it (per-observation Sharpe ratios)."""

    selected: int
    sharpe: float
    expected_max_sharpe: float
    sharpe_variance: float
    n_effective_trials: float
    n_configurations: int
    n_observations: int
    skew: float
    kurtosis: float
    dsr: float | None
    p_value: float | None
    trials_method: str
    variance_method: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def deflated_sharpe_ratio(
    returns: object,
    *,
    selected: int | None = None,
    n_observations: int | None = None,
    method: TrialsMethod = "max_equivalent",
    variance: VarianceMethod = "null",
) -> DeflatedSharpe:
    """The Deflated Sharpe Ratio of the best (or ``selected``) column of a T x N return matrix.

    Parameters
    ----------
    returns : array-like (T, N)
        Out-of-sample net returns per period (daily, or per bar) of every configuration tried, on
        the same periods.
    selected : int, optional
        The column chosen; default the one with the highest Sharpe ratio.
    n_observations : int, optional
        ``T`` in the PSR: the number of non-overlapping observations (default: the rows).
    method : {"max_equivalent", "average_correlation"}
        The effective-trials estimator (:func:`effective_trials`).
    variance : {"null", "cross_sectional"}
        ``V``: one unskilled trial's sampling variance ``1 / (T - 1)`` (default), or the variance of
        the distinct configurations' Sharpe ratios (the paper's estimate).

    Examples
    --------
    >>> dsr = deflated_sharpe_ratio(daily_net_returns)  # doctest: +SKIP
    >>> dsr.p_value < 0.05  # the best beats the best of as many unskilled trials  # doctest: +SKIP
    """
    r = _matrix(returns)
    t, n = r.shape
    srs = sharpe_ratios(r)
    best = int(np.argmax(srs)) if selected is None else int(selected)
    if not 0 <= best < n:
        raise InvalidInputError(f"selected configuration {selected} is not a column of the {n} configurations")
    obs = t if n_observations is None else int(n_observations)
    if obs < 2:
        raise InvalidInputError(f"{obs} observations are too few for a Sharpe ratio test")
    trials = effective_trials(r, method=method)
    if variance == "null":
        v = 1.0 / (obs - 1)
    elif variance == "cross_sectional":
        distinct = _distinct_columns(r)
        v = float(sharpe_ratios(distinct).var(ddof=1)) if distinct.shape[1] > 1 else 0.0
    else:
        raise InvalidInputError(f"unknown variance {variance!r}: use null or cross_sectional")
    sr0 = expected_max_sharpe(trials.n_effective, v)
    skew, kurt = _moments(r[:, best])
    dsr = probabilistic_sharpe_ratio(float(srs[best]), sr0, obs, skew, kurt)
    return DeflatedSharpe(
        selected=best,
        sharpe=float(srs[best]),
        expected_max_sharpe=sr0,
        sharpe_variance=v,
        n_effective_trials=trials.n_effective,
        n_configurations=n,
        n_observations=obs,
        skew=skew,
        kurtosis=kurt,
        dsr=dsr,
        p_value=None if dsr is None else 1.0 - dsr,
        trials_method=method,
        variance_method=variance,
    )


def _moments(x: np.ndarray) -> tuple[float, float]:
    """Skewness and raw (non-excess) kurtosis, the biased moment estimators of the paper (0 and 3 if constant).

    The numbers of ``scipy.stats.skew`` and ``kurtosis(fisher=False)``, without their per-call overhead.
    """
    z = x - x.mean()
    m2 = float(np.mean(z**2))
    if m2 == 0:
        return 0.0, 3.0
    return float(np.mean(z**3)) / m2**1.5, float(np.mean(z**4)) / m2**2
