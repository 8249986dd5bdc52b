"""Probability of Backtest Overfitting by Combinatorially Symmetric Cross-Validation (CSCV).

Bailey, Borwein, López de Prado & Zhu (2017), "The Probability of Backtest Overfitting", Journal
of Computational Finance 20(4). The T x N matrix of per-period returns of all N configurations tried
is cut into ``S`` contiguous blocks; for each of the ``C(S, S/2)`` ways to pick half of them as
in-sample (IS), the rest out-of-sample (OOS):

1. the configuration ``n*`` with the best IS performance (Sharpe ratio) is selected;
2. its OOS relative rank ``w = rank / (N + 1)`` (rank 1 the worst, ``N`` the best) gives the logit
   ``lambda = ln(w / (1 - w))``.

PBO is the share of splits with ``lambda <= 0``: how often the IS winner does no better than the
median configuration OOS. About 0.5 when no configuration is better than another (selection is
luck), near 0 when the IS winner keeps its edge. The same splits give the probability that the
selected configuration loses OOS and the slope of OOS against IS performance (degradation).

Vectorised with numpy: each block's sums and sums of squares are computed once, and every split's
IS and OOS Sharpe ratios come from one matrix product (12,870 splits of 16 blocks take milliseconds).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np

from walkforward.errors import InvalidInputError


@dataclass(frozen=True)
class BacktestOverfitting:
    """PBO and its companions over ``n_splits = C(n_blocks, n_blocks / 2)`` IS/OOS splits.

    ``logit_mean`` is the mean of ``lambda`` (> 0: IS winners tend to stay above the median OOS);
    ``prob_oos_loss`` the share of splits where the IS winner's OOS Sharpe ratio is negative;
    ``degradation_slope``/``degradation_intercept`` fit the winner's OOS on its IS Sharpe ratio
    (per observation) by least squares: a slope well below 1 is the mark of overfitting.
    """

    pbo: float
    logit_mean: float
    logit_median: float
    prob_oos_loss: float
    degradation_slope: float | None
    degradation_intercept: float | None
    n_splits: int
    n_blocks: int
    n_configurations: int
    n_observations: int

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@lru_cache(maxsize=4)
def _in_sample_masks(n_blocks: int) -> np.ndarray:
    """One row per CSCV split: 1.0 for its in-sample blocks (cached: a search scores many cohorts)."""
    combos = list(itertools.combinations(range(n_blocks), n_blocks // 2))
    mask = np.zeros((len(combos), n_blocks))
    for i, c in enumerate(combos):
        mask[i, list(c)] = 1.0
    mask.setflags(write=False)
    return mask


def _sharpe(total: np.ndarray, total_sq: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Sharpe ratios from sums, sums of squares and counts (0 where the variance is 0)."""
    mean = total / count
    var = np.maximum(total_sq - count * mean**2, 0.0) / (count - 1)
    # a variance that is rounding noise (a constant series, through the sum of squares) counts as 0
    usable = var > 1e-12 * mean**2
    return np.divide(mean, np.sqrt(var), out=np.zeros_like(mean), where=usable & (var > 0))


def backtest_overfitting(returns: object, *, n_blocks: int = 16) -> BacktestOverfitting:
    """PBO by CSCV of a T x N matrix of per-period returns (rows: periods in time order; columns: configurations).

    Parameters
    ----------
    returns : array-like (T, N)
        Out-of-sample net returns per period (daily, or per bar) of every configuration tried.
    n_blocks : int
        ``S``, an even number of contiguous blocks (16 by default: 12,870 splits). Each block needs
        at least 2 rows.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> 0.3 < backtest_overfitting(rng.normal(size=(320, 20)), n_blocks=8).pbo < 0.7  # pure noise
    True
    """
    r = np.asarray(returns, dtype=float)
    if r.ndim != 2 or r.shape[1] < 2:
        raise InvalidInputError(f"returns must be a matrix of periods x configurations (>= 2), got shape {r.shape}")
    if not np.isfinite(r).all():
        raise InvalidInputError("returns must be finite: fill a configuration's missing periods with 0 (flat)")
    if isinstance(n_blocks, bool) or not isinstance(n_blocks, int) or n_blocks < 2 or n_blocks % 2:
        raise InvalidInputError(f"invalid number of blocks {n_blocks!r}: use an even whole number >= 2, e.g. 16")
    t, n = r.shape
    if t < 2 * n_blocks:
        raise InvalidInputError(
            f"{t} periods are too few for {n_blocks} blocks: use at least {2 * n_blocks} periods or fewer blocks"
        )
    bounds = np.linspace(0, t, n_blocks + 1).round().astype(int)
    block_sum = np.add.reduceat(r, bounds[:-1], axis=0)  # (S, N)
    block_sq = np.add.reduceat(r**2, bounds[:-1], axis=0)
    block_n = np.diff(bounds).astype(float)

    is_mask = _in_sample_masks(n_blocks)
    # one product gives every split's IS sums, sums of squares and counts; OOS is the total minus IS
    blocks = np.column_stack([block_sum, block_sq, block_n])  # (S, 2N + 1)
    in_sample = is_mask @ blocks
    out_sample = blocks.sum(axis=0) - in_sample
    sr_is = _sharpe(in_sample[:, :n], in_sample[:, n : 2 * n], in_sample[:, 2 * n :])
    sr_oos = _sharpe(out_sample[:, :n], out_sample[:, n : 2 * n], out_sample[:, 2 * n :])

    rows = np.arange(is_mask.shape[0])
    best = np.argmax(sr_is, axis=1)
    chosen = sr_oos[rows, best][:, None]
    # rank 1..N of the IS winner among the OOS Sharpe ratios, ties sharing the average rank
    below = (sr_oos < chosen).sum(axis=1)
    ties = (sr_oos == chosen).sum(axis=1)
    rank = below + (ties + 1) / 2.0
    w = rank / (n + 1.0)
    logits = np.log(w / (1.0 - w))

    x, y = sr_is[rows, best], chosen[:, 0]
    slope = intercept = None
    if np.ptp(x) > 0:
        slope_f, intercept_f = np.polyfit(x, y, 1)
        slope, intercept = float(slope_f), float(intercept_f)
    return BacktestOverfitting(
        pbo=float(np.mean(logits <= 0)),
        logit_mean=float(logits.mean()),
        logit_median=float(np.median(logits)),
        prob_oos_loss=float(np.mean(y < 0)),
        degradation_slope=slope,
        degradation_intercept=intercept,
        n_splits=int(is_mask.shape[0]),
        n_blocks=n_blocks,
        n_configurations=n,
        n_observations=t,
    )


def n_cscv_splits(n_blocks: int) -> int:
    """``C(S, S/2)``: the IS/OOS splits CSCV evaluates."""
    return math.comb(n_blocks, n_blocks // 2)
