"""Hansen's SPA (arch) and the combined selection statistics: null rejection rates and a planted signal."""

from __future__ import annotations

import json

import pytest
from test_selection_stats import null_cohort, planted_cohort

from walkforward.evaluation.selection import headline, selection_statistics, spa_test


@pytest.mark.slow
def test_the_spa_test_rejects_about_five_percent_of_null_cohorts() -> None:
    """500 pure-noise cohorts (20 configurations, 250 sessions): the 5% test rejects 2%-9% of them."""
    rejected = sum(
        spa_test(null_cohort(seed, t=250, n=20), block_size=6, seed=seed)["p_consistent"] < 0.05 for seed in range(500)
    )
    assert 0.02 <= rejected / 500 <= 0.09


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_planted_signal_passes_all_three(seed: int) -> None:
    """A signal of daily IC 0.2 that 8 of 32 configurations can capture: PBO < 0.2, DSR p < 0.01, SPA p < 0.05."""
    stats = selection_statistics(planted_cohort(seed))
    top = headline(stats)
    assert top["pbo"] is not None and top["pbo"] < 0.2
    assert top["dsr_p"] is not None and top["dsr_p"] < 0.01
    assert top["spa_p"] is not None and top["spa_p"] < 0.05
    assert stats["spa"]["p_upper"] >= stats["spa"]["p_consistent"] >= stats["spa"]["p_lower"]
    json.dumps(stats, allow_nan=False)


def test_a_null_cohort_is_not_significant_and_short_histories_say_why() -> None:
    stats = selection_statistics(null_cohort(3, t=256, n=12))
    assert stats["spa"]["p_consistent"] > 0.05 and stats["dsr"]["p_value"] > 0.05
    assert stats["pbo"]["n_blocks"] == 16 and not stats["notes"]
    short = selection_statistics(null_cohort(4, t=12, n=5))  # 12 sessions: CSCV with 6 blocks, said
    assert short["pbo"]["n_blocks"] == 6 and "6 blocks" in short["notes"][0]
    tiny = selection_statistics(null_cohort(5, t=6, n=5))
    assert "pbo" not in tiny and "too few for CSCV" in tiny["notes"][0] and "spa" in tiny
    one = selection_statistics(null_cohort(6, t=40, n=1))
    assert "dsr" in one and "pbo" not in one and "one configuration" in one["notes"][0]
