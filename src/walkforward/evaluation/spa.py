"""Hansen's (2005) test for superior predictive ability, studentized, on the stationary bootstrap.

Does any of N configurations beat a benchmark by more than luck allows? With ``d[t, k]`` the
benchmark's loss minus configuration k's loss at time t (here: configuration k's daily net return
against staying flat), the statistic is ``T = max(max_k sqrt(n) mean(d_k) / s_k, 0)``, ``s_k`` the
standard deviation of ``d_k``. Its null distribution comes from Politis & Romano's stationary
bootstrap (1994) of the re-centred differences, each resample divided by its *own* standard
deviations (a percentile-t bootstrap), under three re-centrings: *lower* (only configurations doing
better than the benchmark), *consistent* (drops those doing far worse, threshold
``sqrt(2 log log n)`` long-run standard errors: Hansen's recommended p-value) and *upper* (all:
White's 2000 Reality Check, studentized). ``p_lower <= p_consistent <= p_upper`` always.

Hansen divides by the long-run standard deviation and keeps it fixed in the bootstrap; on
pure-noise cohorts of 20 x 250 that rejects 8.9% at 5%, the percentile-t 6.2%, raw means 5.9%
(``bench/bench_spa_size.py``): the fixed denominator's noise is not in the bootstrap.

Written here rather than called from ``arch.bootstrap.SPA``, for two measured reasons:

- importing ``arch.bootstrap`` runs ``arch/__init__``, which imports ``arch.univariate``
  (statsmodels and matplotlib pieces): 1.17 s of every search command's start (issue 9's
  3-second elastic-net command), against about 0.1 s for the test itself;
- ``arch`` 8.0's ``SPA`` keeps a ``studentize`` flag but ``compute`` compares raw mean differences,
  so a configuration that rarely trades (small variance) is drowned by a volatile one.

``tests/evaluation/test_spa.py`` holds it to ``arch``: the same uniform draws give the same
indices, the long-run variances are ``arch``'s, and on ``arch``'s own indices the unstudentized
p-values equal ``arch.bootstrap.SPA``'s; the studentized ones equal a direct computation over
every resample built out in full.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

#: columns of ``d`` bootstrapped at once (bounds the reps x columns block in memory: 1000 x 2048 floats)
COLUMN_CHUNK = 2048


@dataclass(frozen=True)
class SpaResult:
    """The three p-values, the statistic, and what they were computed from."""

    p_lower: float
    p_consistent: float
    p_upper: float
    statistic: float
    block_size: int
    reps: int
    n_tested: int
    n_constant: int
    studentized: bool = True

    def to_dict(self) -> dict[str, float | int | bool]:
        return asdict(self)


def stationary_indices(starts: np.ndarray, uniforms: np.ndarray, block_size: float) -> np.ndarray:
    """Stationary-bootstrap indices (reps x n) from uniform draws: a new block at position 0 and
    wherever ``uniforms <= 1 / block_size``, starting at ``starts``; elsewhere the next index,
    wrapping at n (Politis & Romano 1994; ``arch``'s ``stationary_bootstrap_sample`` row by row)."""
    reps, n = starts.shape
    new = uniforms <= 1.0 / block_size
    new[:, 0] = True
    position = np.arange(n)
    block_start = np.maximum.accumulate(np.where(new, position, 0), axis=1)
    first = np.take_along_axis(starts, block_start, axis=1)
    return (first + position - block_start) % n


def draw_indices(n: int, *, block_size: float, reps: int, seed: int) -> np.ndarray:
    """``reps`` stationary-bootstrap resamplings of ``n`` observations with mean block ``block_size``."""
    rng = np.random.default_rng(seed)
    starts = rng.integers(n, size=(reps, n))
    return stationary_indices(starts, rng.random((reps, n)), block_size)


def long_run_variance(d: np.ndarray, block_size: float) -> np.ndarray:
    """Each column's variance of the stationary bootstrap's mean, times n (Politis & Romano 1994, eq. 9):
    ``g0 + 2 sum_i k_i g_i``, ``k_i = (1 - i/n) q^i + (i/n) q^(n-i)``, ``q = 1 - 1/block_size``.

    The autocovariances of every lag come from one FFT per column rather than a loop over lags:
    a search's matrix has hundreds of sessions and up to thousands of configurations.
    """
    n = d.shape[0]
    x = d - d.mean(axis=0)
    spectrum = np.fft.rfft(x, n=2 * n, axis=0)
    gamma = np.fft.irfft(spectrum * spectrum.conj(), n=2 * n, axis=0)[:n] / n
    lag = np.arange(1, n)
    q = 1.0 - 1.0 / block_size
    kappa = (1.0 - lag / n) * q**lag + (lag / n) * q ** (n - lag)
    return np.asarray(gamma[0] + 2.0 * (kappa[:, None] * gamma[1:]).sum(axis=0))


def spa_pvalues(d: np.ndarray, indices: np.ndarray, block_size: float, *, studentize: bool = True) -> SpaResult:
    """The SPA test of the n x k differences ``d`` (positive: configuration better than the
    benchmark) on the given bootstrap ``indices`` (reps x n).

    Studentized, each mean is divided by its column's standard deviation, in the sample and, in
    each resample, by that resample's own (a percentile-t bootstrap), so the bootstrap carries the
    noise of the denominator too; without it (``studentize=False``: ``arch``'s statistic), by 1.
    Columns with no variance (a configuration that never trades: all zero) carry no evidence
    either way and are left out (``n_constant``); with none left, every p-value is 1.
    """
    d = np.asarray(d, dtype=float)
    n = d.shape[0]
    reps = indices.shape[0]
    long_run = long_run_variance(d, block_size)
    scale = np.abs(d).max(axis=0)
    varies = long_run > (1e-12 * scale) ** 2
    d, long_run = d[:, varies], long_run[varies]
    tested, constant = d.shape[1], int((~varies).sum())
    if tested == 0:
        return SpaResult(1.0, 1.0, 1.0, 0.0, int(block_size), reps, 0, constant, studentize)
    mean = d.mean(axis=0)
    sd = d.std(axis=0) if studentize else np.ones(tested)
    statistic = max(float((math.sqrt(n) * mean / sd).max()), 0.0)
    # Hansen's re-centrings, lower/consistent/upper: g_l = max(m, 0) >= g_c >= g_u = m, so p_l <= p_c <= p_u;
    # g_c keeps the means within sqrt(2 log log n) long-run standard errors below zero
    threshold = -np.sqrt(long_run * 2.0 * math.log(math.log(n)) / n) if n > math.e else np.full(tested, -np.inf)
    centres = np.stack([np.maximum(mean, 0.0), np.where(mean >= threshold, mean, 0.0), mean])
    # each resample's moments as counts @ d: the reps x n x k resampled array is never built
    counts = np.zeros((reps, n))
    np.add.at(counts, (np.arange(reps)[:, None], indices), 1.0)
    simulated = np.zeros((3, reps))  # starting at 0: T* = max(max_k z*_k, 0), as T is
    centred = d - mean  # the resamples' second moments about the sample mean: no cancellation
    for lo in range(0, tested, COLUMN_CHUNK):
        cols = slice(lo, lo + COLUMN_CHUNK)
        shift = counts @ centred[:, cols] / n
        boot_mean = mean[cols] + shift
        if studentize:
            boot_sd = np.sqrt(np.maximum(counts @ centred[:, cols] ** 2 / n - shift**2, 0.0))
            boot_sd[boot_sd == 0] = np.inf  # a resample of one repeated value says nothing
        else:
            boot_sd = sd[cols]
        for j in range(3):
            z = math.sqrt(n) * (boot_mean - centres[j, cols]) / boot_sd
            np.maximum(simulated[j], z.max(axis=1), out=simulated[j])
    p = (simulated > statistic).mean(axis=1)
    return SpaResult(
        float(p[0]), float(p[1]), float(p[2]), statistic, int(block_size), reps, tested, constant, studentize
    )


def spa_test(d: np.ndarray, *, block_size: int, reps: int = 1000, seed: int = 0, studentize: bool = True) -> SpaResult:
    """Hansen's SPA test of the n x k differences ``d`` with ``reps`` stationary-bootstrap draws."""
    indices = draw_indices(np.asarray(d).shape[0], block_size=block_size, reps=reps, seed=seed)
    return spa_pvalues(d, indices, block_size, studentize=studentize)


__all__ = ["SpaResult", "draw_indices", "long_run_variance", "spa_pvalues", "spa_test", "stationary_indices"]
