"""fANOVA importance of hyperparameters over a cohort's trials: planted dependence, irrelevance, refusals."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from walkforward.evaluation.param_importance import MAX_TRIALS, MIN_TRIALS, Axis, axis_of, param_importance

ALPHAS = [1e-4, 1e-3, 1e-2, 1e-1]
RATIOS = [0.1, 0.5, 0.9]
KINDS = ["gbdt", "dart", None]


def _grid() -> tuple[list[Axis], list[dict[str, object]]]:
    trials = [{"alpha": a, "l1_ratio": r, "boosting": k} for a, r, k in itertools.product(ALPHAS, RATIOS, KINDS)]
    axes = [axis_of(name, [t[name] for t in trials]) for name in ("alpha", "l1_ratio", "boosting")]
    return axes, trials


def test_axes_are_log_for_grids_spanning_decades_and_ordered_categories_otherwise() -> None:
    assert axis_of("alpha", [0.01, 0.0001, 0.001, 0.01]) == Axis("alpha", "log", (0.0001, 0.001, 0.01))
    assert axis_of("l1_ratio", [0.9, 0.5]) == Axis("l1_ratio", "linear", (0.5, 0.9))
    assert axis_of("shift", [-1.0, 100.0]).kind == "linear"  # not all positive: no log axis
    assert axis_of("boosting", ["gbdt", None, "dart"]) == Axis("boosting", "categorical", ("dart", "gbdt", None))
    assert axis_of("flag", [True, False]).kind == "categorical"
    assert axis_of("depth", [3, "auto"]).values == (3, "auto")  # numbers first, then labels


def test_a_planted_dependence_ranks_first_and_an_irrelevant_parameter_last() -> None:
    axes, trials = _grid()
    rng = np.random.default_rng(7)
    # The score peaks at alpha = 1e-3, depends a little on l1_ratio and not at all on the booster.
    scores = [
        -((math.log10(float(t["alpha"])) + 3) ** 2) + 0.05 * float(t["l1_ratio"]) + rng.normal(0, 1e-3) for t in trials
    ]
    found = param_importance(axes, trials, scores)
    names = [n for n, _ in found.ranked]
    assert found.note is None and names == ["alpha", "l1_ratio", "boosting"]
    shares = dict(found.ranked)
    assert shares["alpha"] > 0.9 and shares["boosting"] < 0.02
    assert math.isclose(sum(shares.values()), 1.0, rel_tol=1e-6)
    assert "fANOVA" in found.method


def test_the_result_is_reproducible() -> None:
    axes, trials = _grid()
    scores = [float(t["l1_ratio"]) * (2.0 if t["boosting"] == "dart" else 1.0) for t in trials]
    assert param_importance(axes, trials, scores) == param_importance(axes, trials, scores)
    assert param_importance(axes, trials, scores).ranked[-1][0] == "alpha"


@pytest.mark.parametrize("n", range(MIN_TRIALS))
def test_too_few_siblings_say_so_instead_of_numbers(n: int) -> None:
    axes = [Axis("alpha", "log", (1e-4, 1e-2))]
    trials = [{"alpha": 1e-4 if i % 2 else 1e-2} for i in range(n)]
    found = param_importance(axes, trials, [float(i) for i in range(n)])
    assert found.ranked == [] and found.note is not None and found.note.startswith("not enough variation")
    assert f"{n} scored sibling" in found.note


def test_unscored_siblings_do_not_count() -> None:
    axes, trials = _grid()
    scores: list[float | None] = [None] * len(trials)
    scores[:3] = [0.1, 0.2, 0.3]
    found = param_importance(axes, trials, scores)
    assert found.ranked == [] and "3 scored sibling" in (found.note or "")


@settings(max_examples=20, deadline=None)
@given(st.floats(-1.0, 1.0, allow_nan=False), st.floats(0.0, 1e-12))
def test_a_constant_score_says_so(level: float, wobble: float) -> None:
    axes, trials = _grid()
    scores = [level + (wobble if i % 2 else 0.0) for i in range(len(trials))]
    found = param_importance(axes, trials, scores)
    assert found.ranked == [] and "not enough variation" in (found.note or "")


def test_no_varied_parameter_says_so() -> None:
    found = param_importance([], [{}] * 5, [0.1, 0.2, 0.3, 0.4, 0.5])
    assert found.ranked == [] and "no hyperparameter differs" in (found.note or "")


def test_a_large_cohort_is_sampled_and_says_so() -> None:
    alphas = [10 ** (-5 + 4 * i / 79) for i in range(80)]
    trials = [{"alpha": a, "l1_ratio": r} for a, r in itertools.product(alphas, RATIOS)]
    axes = [axis_of(n, [t[n] for t in trials]) for n in ("alpha", "l1_ratio")]
    scores = [-((math.log10(float(t["alpha"])) + 3) ** 2) for t in trials]
    found = param_importance(axes, trials, scores)
    assert len(trials) > MAX_TRIALS and found.ranked[0][0] == "alpha"
    assert found.sampled == f"over a random {MAX_TRIALS} of the {len(trials)} scored siblings (seed 0)"
