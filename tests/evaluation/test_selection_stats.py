"""PBO (CSCV) and the Deflated Sharpe Ratio under the null, under a planted signal, and with copied configurations."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from scipy import stats

from walkforward.errors import InvalidInputError
from walkforward.evaluation.deflated import (
    deflated_sharpe_ratio,
    effective_trials,
    expected_max_normal,
    probabilistic_sharpe_ratio,
)
from walkforward.evaluation.pbo import backtest_overfitting


def planted_cohort(seed: int, *, ic: float = 0.2, t: int = 1000) -> np.ndarray:
    """Daily net returns of a 32-configuration grid on a market with a feature of daily IC ``ic``.

    8 weakly regularised configurations trade the sign of the feature (each with its own fitting
    noise), 16 trade the sign of noise features, and 8 strongly regularised ones predict a constant
    and so hold the market long: identical columns, as a grid's shrunk-to-zero corner gives.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=t)
    a = ic / math.sqrt(1 - ic**2)
    market = 0.01 * (a * x + rng.normal(size=t)) / math.sqrt(1 + a * a)  # corr(x, market) = ic
    signal = [np.sign(x + rng.normal(0, 0.3 * (j + 1) / 8, t)) * market for j in range(8)]
    noise = [np.sign(rng.normal(size=t)) * market for _ in range(16)]
    flat = [market.copy() for _ in range(8)]
    return np.column_stack(signal + noise + flat)


def null_cohort(seed: int, *, t: int = 256, n: int = 10) -> np.ndarray:
    """Pure-noise configurations: no column has an edge."""
    return np.random.default_rng(seed).normal(0, 0.01, (t, n))


def test_null_cohorts_give_pbo_near_one_half_and_rarely_a_significant_dsr() -> None:
    pbos, rejected = [], 0
    for seed in range(100):
        r = null_cohort(seed)
        pbos.append(backtest_overfitting(r, n_blocks=8).pbo)
        p = deflated_sharpe_ratio(r).p_value
        rejected += p is not None and p < 0.05
    assert 0.4 <= np.mean(pbos) <= 0.6
    # the DSR compares with the *expected* best of N unskilled trials, so it is conservative here
    assert rejected / 100 <= 0.05


def test_a_random_walk_cohort_with_the_default_sixteen_blocks() -> None:
    r = null_cohort(7, t=512, n=20)
    pbo = backtest_overfitting(r)
    assert pbo.n_splits == math.comb(16, 8) and 0.25 <= pbo.pbo <= 0.75
    assert deflated_sharpe_ratio(r).p_value > 0.05  # type: ignore[operator]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_planted_signal_gives_low_pbo_and_a_significant_dsr(seed: int) -> None:
    r = planted_cohort(seed)
    pbo = backtest_overfitting(r)
    assert pbo.pbo < 0.2 and pbo.prob_oos_loss < 0.2
    dsr = deflated_sharpe_ratio(r)
    assert dsr.selected < 8  # one of the configurations that can see the signal
    assert dsr.p_value is not None and dsr.p_value < 0.01
    json.dumps({"pbo": pbo.to_dict(), "dsr": dsr.to_dict()}, allow_nan=False)


def test_copied_configurations_change_neither_the_effective_trials_nor_the_dsr() -> None:
    r = planted_cohort(4)
    base = deflated_sharpe_ratio(r)
    # 24 more copies of the always-long corner and one of the best, shuffled in
    copies = np.column_stack([r, np.repeat(r[:, -1:], 24, axis=1), r[:, [base.selected]]])
    copies = copies[:, np.random.default_rng(0).permutation(copies.shape[1])]
    again = deflated_sharpe_ratio(copies)
    assert again.n_effective_trials == base.n_effective_trials
    assert again.expected_max_sharpe == base.expected_max_sharpe and again.p_value == base.p_value
    assert again.n_configurations == base.n_configurations + 25
    # the average-correlation estimator has no such guard on the raw columns; on distinct ones it holds
    avg = effective_trials(r, method="average_correlation").n_effective
    assert effective_trials(copies, method="average_correlation").n_effective == pytest.approx(avg)


def test_effective_trials_between_one_and_the_distinct_count() -> None:
    rng = np.random.default_rng(3)
    independent = rng.normal(size=(500, 12))
    n_eff = effective_trials(independent).n_effective
    assert 10 <= n_eff <= 13  # the approximation of E[max] is within a few percent at N = 12
    common = rng.normal(size=(500, 1))
    near_copies = common + 0.01 * rng.normal(size=(500, 12))  # correlation ~0.9999
    assert effective_trials(near_copies).n_effective < 1.5
    factor = 0.8 * common + 0.6 * rng.normal(size=(500, 12))  # correlation 0.64, but 12 different bets
    assert 3 < effective_trials(factor).n_effective < n_eff
    flat = np.column_stack([np.zeros(500), np.zeros(500)])
    assert effective_trials(flat).n_effective == 1.0


def test_psr_and_expected_max_equal_their_formulas() -> None:
    sr, sr0, t, g3, g4 = 0.12, 0.05, 400, -0.4, 5.0
    want = stats.norm.cdf((sr - sr0) * math.sqrt(t - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2))
    assert probabilistic_sharpe_ratio(sr, sr0, t, g3, g4) == pytest.approx(want)
    rng = np.random.default_rng(0)
    for n in (10, 100, 1000):
        simulated = rng.standard_normal((4000, n)).max(axis=1).mean()
        assert expected_max_normal(n) == pytest.approx(simulated, rel=0.05)
    r = planted_cohort(5)
    dsr = deflated_sharpe_ratio(r)
    x = r[:, dsr.selected]
    assert dsr.sharpe == pytest.approx(x.mean() / x.std(ddof=1))
    assert dsr.skew == pytest.approx(stats.skew(x)) and dsr.kurtosis == pytest.approx(stats.kurtosis(x, fisher=False))
    assert dsr.expected_max_sharpe == pytest.approx(
        math.sqrt(1 / (r.shape[0] - 1)) * expected_max_normal(dsr.n_effective_trials)
    )
    assert dsr.p_value == pytest.approx(
        1 - probabilistic_sharpe_ratio(dsr.sharpe, dsr.expected_max_sharpe, 1000, dsr.skew, dsr.kurtosis)
    )  # type: ignore[operator]
    cross = deflated_sharpe_ratio(r, variance="cross_sectional")
    distinct_srs = [c.mean() / c.std(ddof=1) for c in np.unique(r, axis=1).T]
    assert cross.sharpe_variance == pytest.approx(np.var(distinct_srs, ddof=1))


def test_pbo_equals_a_brute_force_cscv() -> None:
    """Every half of 6 blocks as in-sample, the IS winner's OOS rank by a plain loop."""
    r = np.random.default_rng(9).normal(0.0005, 0.01, (60, 5))
    r[:, 2] += 0.002 * np.sin(np.arange(60))
    blocks = np.array_split(np.arange(60), 6)
    logits = []
    for ins in itertools.combinations(range(6), 3):
        is_rows = np.concatenate([blocks[b] for b in ins])
        oos_rows = np.concatenate([blocks[b] for b in range(6) if b not in ins])
        is_sr = [r[is_rows, j].mean() / r[is_rows, j].std(ddof=1) for j in range(5)]
        oos_sr = [r[oos_rows, j].mean() / r[oos_rows, j].std(ddof=1) for j in range(5)]
        best = int(np.argmax(is_sr))
        rank = stats.rankdata(oos_sr)[best]
        w = rank / 6
        logits.append(math.log(w / (1 - w)))
    res = backtest_overfitting(r, n_blocks=6)
    assert res.pbo == pytest.approx(np.mean(np.array(logits) <= 0))
    assert res.logit_mean == pytest.approx(np.mean(logits))
    assert res.n_splits == 20


@pytest.mark.parametrize(
    "call",
    [
        lambda: backtest_overfitting(np.zeros((100, 3)), n_blocks=7),
        lambda: backtest_overfitting(np.zeros((10, 3)), n_blocks=16),
        lambda: backtest_overfitting(np.zeros((100, 1))),
        lambda: backtest_overfitting(np.full((100, 3), np.nan)),
        lambda: deflated_sharpe_ratio(np.zeros((2, 3))),
        lambda: deflated_sharpe_ratio(np.zeros((50, 3)), selected=3),
        lambda: deflated_sharpe_ratio(np.zeros((50, 3)), variance="spread"),  # type: ignore[arg-type]
        lambda: effective_trials(np.zeros((50, 3)), method="eigen"),  # type: ignore[arg-type]
    ],
)
def test_bad_input_is_refused(call: object) -> None:
    with pytest.raises(InvalidInputError):
        call()  # type: ignore[operator]
