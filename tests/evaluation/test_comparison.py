"""Diebold-Mariano with HAC variance and the HLN correction, against plain computations and statsmodels' values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from walkforward.errors import InvalidInputError
from walkforward.evaluation.comparison import diebold_mariano, long_run_variance, losses, newey_west_lags

T = np.arange(200)
#: a deterministic, autocorrelated loss differential (no RNG, so the pinned values cannot drift)
D = 0.5 * np.sin(0.3 * T) + 0.2 * np.cos(1.7 * T + 0.4) + 0.05 * (((T * 7919) % 13) - 6) / 6 + 0.03

# statsmodels 0.15.0: cov_hac(OLS(D, ones).fit(), nlags=L, use_correction=False)[0, 0] (the variance of
# the mean, S / T), computed once in a throwaway environment: statsmodels is not a dependency.
STATSMODELS_BARTLETT = {
    0: 0.0007240817205357702,
    2: 0.001775964279597714,
    4: 0.002614916171146056,
    7: 0.0030481427788015916,
}
STATSMODELS_UNIFORM = {2: 0.0027178860655615307, 4: 0.00418512166764843, 7: 0.003353535796972035}


@pytest.mark.parametrize("lags", sorted(STATSMODELS_BARTLETT))
def test_newey_west_variance_equals_statsmodels_cov_hac(lags: int) -> None:
    assert long_run_variance(D, lags) / D.size == pytest.approx(STATSMODELS_BARTLETT[lags], rel=1e-12)


@pytest.mark.parametrize("lags", sorted(STATSMODELS_UNIFORM))
def test_uniform_kernel_variance_equals_statsmodels_cov_hac(lags: int) -> None:
    assert long_run_variance(D, lags, "uniform") / D.size == pytest.approx(STATSMODELS_UNIFORM[lags], rel=1e-12)


@settings(max_examples=100, deadline=None)
@given(d=st.lists(st.floats(-5, 5), min_size=3, max_size=40), lags=st.integers(0, 6))
def test_long_run_variance_equals_a_double_loop(d: list[float], lags: int) -> None:
    x = np.asarray(d)
    n, m = x.size, x.mean()
    s = 0.0
    for k in range(-lags, lags + 1):
        if abs(k) >= n:
            continue
        w = 1 - abs(k) / (lags + 1)
        s += w * sum((x[t] - m) * (x[t - abs(k)] - m) for t in range(abs(k), n)) / n
    assert long_run_variance(x, lags) == pytest.approx(s, abs=1e-9)


@pytest.mark.parametrize("h", [1, 3])
def test_statistic_and_p_value_equal_the_formula(h: int) -> None:
    rng = np.random.default_rng(5)
    y = rng.normal(size=150)
    a = y + rng.normal(0, 0.8, 150)
    b = y + rng.normal(0, 1.0, 150)
    la, lb = losses(y, a), losses(y, b)
    res = diebold_mariano(la, lb, horizon=h)
    d = la - lb
    n = d.size
    lags = max(h - 1, math.floor(4 * (n / 100) ** (2 / 9)))
    dm = d.mean() / math.sqrt(long_run_variance(d, lags) / n)
    hln = dm * math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    assert res.lags == lags and res.statistic == pytest.approx(hln)
    assert res.p_value == pytest.approx(2 * stats.t.sf(abs(hln), n - 1))
    less = diebold_mariano(la, lb, horizon=h, alternative="less")
    assert less.p_value == pytest.approx(stats.t.cdf(hln, n - 1))
    assert res.mean_difference < 0 and less.p_value < 0.05  # a's errors are smaller


def test_identical_forecasts_are_not_different() -> None:
    la = losses(np.arange(10.0), np.arange(10.0) + 1)
    res = diebold_mariano(la, la)
    assert res.p_value == 1.0 and res.statistic is None


def test_equal_forecasters_are_rejected_at_about_the_nominal_rate() -> None:
    """Two equally good forecasters with MA(2) errors (h = 3): the 5% test rejects 2-9% of 400 samples."""
    rng = np.random.default_rng(2024)
    rejected = 0
    for _ in range(400):
        e = rng.normal(size=(102, 2))
        err = e[2:] + 0.6 * e[1:-1] + 0.3 * e[:-2]  # overlapping 3-step errors
        res = diebold_mariano(err[:, 0] ** 2, err[:, 1] ** 2, horizon=3)
        rejected += res.p_value is not None and res.p_value < 0.05
    assert 0.02 <= rejected / 400 <= 0.09


def test_rule_of_thumb_lags() -> None:
    assert newey_west_lags(100) == 4 and newey_west_lags(1000) == 6


@pytest.mark.parametrize(
    "kwargs",
    [{"horizon": 0}, {"kernel": "parzen"}, {"alternative": "bigger"}],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError):
        diebold_mariano(np.ones(10), np.zeros(10), **kwargs)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        diebold_mariano(np.ones(10), np.zeros(9))
