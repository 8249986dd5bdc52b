"""Our SPA test against ``arch``'s and against the resampled arrays built out in full.

``arch.bootstrap.SPA`` (8.0) compares raw mean differences; ours studentizes (Hansen 2005) as a
percentile-t bootstrap. Unstudentized, on ``arch``'s own bootstrap indices, every p-value must equal
``arch``'s; studentized, they must equal a direct computation over the resampled data.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from walkforward.evaluation.spa import (
    draw_indices,
    long_run_variance,
    spa_pvalues,
    spa_test,
    stationary_indices,
)


def _differences(seed: int, n: int = 120, k: int = 6, edge: float = 0.15) -> np.ndarray:
    """Autocorrelated daily differences of ``k`` configurations with different volatilities; column 0 has an edge."""
    rng = np.random.default_rng(seed)
    shocks = rng.standard_normal((n + 1, k))
    d = shocks[1:] + 0.4 * shocks[:-1]
    d *= rng.uniform(0.2, 3.0, size=k)
    d[:, 0] += edge * d[:, 0].std()
    return d


def _arch_indices(d: np.ndarray, block_size: int, reps: int, seed: int) -> np.ndarray:
    """The indices ``arch.bootstrap.SPA(..., seed=seed)`` draws for ``d`` (its bootstrap, same seed)."""
    from arch.bootstrap import StationaryBootstrap

    bs = StationaryBootstrap(block_size, d, seed=seed)
    return np.stack([np.array(bs.index) for _ in bs.bootstrap(reps)])


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 60), reps=st.integers(1, 8), block=st.floats(1.0, 30.0), seed=st.integers(0, 2**32 - 1))
def test_the_indices_are_arch_s_stationary_sampler_row_by_row(n: int, reps: int, block: float, seed: int) -> None:
    from arch.bootstrap._samplers_python import stationary_bootstrap_sample_python

    rng = np.random.default_rng(seed)
    starts, uniforms = rng.integers(n, size=(reps, n)), rng.random((reps, n))
    ours = stationary_indices(starts, uniforms.copy(), block)
    rows = [stationary_bootstrap_sample_python(starts[i].copy(), uniforms[i], 1.0 / block) for i in range(reps)]
    theirs = np.stack(rows)
    assert np.array_equal(ours, theirs)


@pytest.mark.parametrize("block_size", [1, 3, 10])
def test_the_long_run_variance_is_arch_s_and_the_bootstrap_mean_s(block_size: int) -> None:
    from arch.bootstrap import SPA

    d = _differences(1, n=90, k=5)
    ours = long_run_variance(d, block_size)
    spa = SPA(np.zeros(len(d)), -d, block_size=block_size)
    spa._compute_variance()  # the estimator arch uses for its consistent threshold (a loop over lags)
    np.testing.assert_allclose(ours, spa._loss_diff_var, rtol=1e-10)
    # and what it estimates: n times the variance of the stationary bootstrap's mean
    means = d[draw_indices(len(d), block_size=block_size, reps=20_000, seed=2)].mean(axis=1)
    np.testing.assert_allclose(len(d) * means.var(axis=0), ours, rtol=0.05)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("block_size", [2, 7])
def test_unstudentized_p_values_equal_arch_s_spa_on_its_own_indices(seed: int, block_size: int) -> None:
    from arch.bootstrap import SPA

    d = _differences(seed, edge=0.1 + 0.05 * seed)
    reps = 500
    ours = spa_pvalues(d, _arch_indices(d, block_size, reps, seed), block_size, studentize=False)
    spa = SPA(np.zeros(len(d)), -d, block_size=block_size, reps=reps, bootstrap="stationary", seed=seed)
    spa.compute()
    assert (ours.p_lower, ours.p_consistent, ours.p_upper) == tuple(spa.pvalues[["lower", "consistent", "upper"]])
    assert ours.n_tested == 6 and ours.statistic > 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_studentized_p_values_equal_the_resampled_arrays_built_out(seed: int) -> None:
    """The counts-matrix shortcut against every resample materialised: percentile-t, three re-centrings."""
    d = _differences(seed, n=50, k=4, edge=0.2)
    block, reps = 4, 300
    indices = draw_indices(len(d), block_size=block, reps=reps, seed=seed)
    n, mean = len(d), d.mean(axis=0)
    threshold = -np.sqrt(long_run_variance(d, block) * 2 * np.log(np.log(n)) / n)
    resampled = d[indices]  # reps x n x k
    t_star = np.sqrt(n) / resampled.std(axis=1)
    expected = []
    for centre in (np.maximum(mean, 0), np.where(mean >= threshold, mean, 0), mean):
        simulated = np.maximum((t_star * (resampled.mean(axis=1) - centre)).max(axis=1), 0)
        expected.append((simulated > max((np.sqrt(n) * mean / d.std(axis=0)).max(), 0)).mean())
    ours = spa_pvalues(d, indices, block)
    np.testing.assert_allclose([ours.p_lower, ours.p_consistent, ours.p_upper], expected, atol=1 / reps)
    assert ours.p_lower < ours.p_upper  # the re-centrings differ here, so the comparison has teeth


def test_studentizing_finds_a_steady_edge_that_arch_s_raw_means_miss() -> None:
    """A configuration with a small, steady edge among volatile noise: Hansen's statistic sees it."""
    from arch.bootstrap import SPA

    rng = np.random.default_rng(11)
    d = rng.standard_normal((250, 20)) * 4.0
    d[:, 0] = 0.05 + 0.2 * rng.standard_normal(250)  # Sharpe 0.25 a day, four percent of the others' volatility
    ours = spa_test(d, block_size=5, seed=1)
    raw = SPA(np.zeros(250), -d, block_size=5, reps=1000, seed=1)
    raw.compute()
    assert ours.p_consistent < 0.01
    assert raw.pvalues["consistent"] > 0.2


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000), block=st.integers(1, 12), powers=st.lists(st.integers(-6, 6), min_size=6, max_size=6)
)
def test_p_values_are_ordered_and_each_column_s_scale_does_not_matter(seed: int, block: int, powers: list[int]) -> None:
    d = _differences(seed, n=60, edge=0.3 * (seed % 3))
    result = spa_test(d, block_size=block, reps=200, seed=seed)
    assert 0.0 <= result.p_lower <= result.p_consistent <= result.p_upper <= 1.0
    rescaled = spa_test(d * np.exp2(powers), block_size=block, reps=200, seed=seed)  # powers of two: exact
    assert rescaled == result


def test_configurations_that_never_trade_are_left_out_and_said() -> None:
    d = _differences(4, n=80, k=4)
    with_flat = np.column_stack([d, np.zeros((80, 3))])
    padded = spa_test(with_flat, block_size=3, reps=300, seed=5)
    assert padded.n_constant == 3
    assert padded.p_consistent == spa_test(d, block_size=3, reps=300, seed=5).p_consistent
    nothing = spa_test(np.zeros((80, 5)), block_size=3, reps=300, seed=5)
    assert (nothing.n_tested, nothing.n_constant, nothing.p_consistent) == (0, 5, 1.0)


def test_large_searches_are_bootstrapped_in_column_chunks_with_the_same_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    import walkforward.evaluation.spa as spa

    d = _differences(6, n=70, k=37)
    whole = spa.spa_test(d, block_size=4, reps=300, seed=8)
    monkeypatch.setattr(spa, "COLUMN_CHUNK", 5)
    assert spa.spa_test(d, block_size=4, reps=300, seed=8) == whole
