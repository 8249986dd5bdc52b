"""Nested walk-forward: the choice for fold k reads nothing of fold k or later (nor the purged tail before it)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from walkforward.ensembles.nested import FoldChoice, choose, nested, tails

METHODS = ("average", "inverse_variance", "stacking")


@st.composite
def oos_tables(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Random out-of-sample prediction tables: 2-5 folds of 6-30 rows, 2-6 members, regressors or classifiers."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n_folds = draw(st.integers(2, 5))
    sizes = [draw(st.integers(6, 30)) for _ in range(n_folds)]
    members = draw(st.integers(2, 6))
    classifier = draw(st.booleans())
    folds = np.repeat(np.arange(1, n_folds + 1), sizes)
    signal = rng.normal(size=folds.size)
    if classifier:
        y = (signal + rng.normal(size=folds.size) > 0).astype(float)
        P = 1.0 / (
            1.0 + np.exp(-(signal[:, None] * rng.uniform(0, 2, members) + rng.normal(size=(folds.size, members))))
        )
    else:
        y = signal + rng.normal(scale=0.5, size=folds.size)
        P = signal[:, None] * rng.uniform(0, 1.5, members) + rng.normal(
            scale=rng.uniform(0.1, 2, members), size=(folds.size, members)
        )
    return P, y, folds, classifier


def _same(a: FoldChoice, b: FoldChoice) -> None:
    assert (a.fold, a.members, a.weights, a.trained_on, a.basis, a.skipped) == (
        b.fold,
        b.members,
        b.weights,
        b.trained_on,
        b.basis,
        b.skipped,
    )
    assert (a.meta is None) == (b.meta is None)
    if a.meta is not None:
        np.testing.assert_array_equal(a.meta.coef_, b.meta.coef_)
        np.testing.assert_array_equal(a.meta.intercept_, b.meta.intercept_)


def _garbage(P: np.ndarray, y: np.ndarray, folds: np.ndarray, at: np.ndarray, classifier: bool, seed: int):
    rng = np.random.default_rng(seed)
    P2, y2 = P.copy(), y.copy()
    P2[at] = rng.uniform(0, 1, size=P2[at].shape) if classifier else rng.normal(scale=1e3, size=P2[at].shape)
    y2[at] = rng.integers(0, 2, size=at.sum()) if classifier else rng.normal(scale=1e3, size=at.sum())
    return P2, y2


@settings(max_examples=40, deadline=None)
@given(
    table=oos_tables(),
    method=st.sampled_from(METHODS),
    top=st.integers(1, 6),
    purge=st.integers(0, 3),
    first_fold=st.sampled_from(["equal", "skip"]),
    seed=st.integers(0, 1000),
)
def test_the_choice_for_fold_k_ignores_fold_k_and_later(table, method, top, purge, first_fold, seed) -> None:
    P, y, folds, classifier = table
    top = min(top, P.shape[1])
    base = nested(P, y, folds, method=method, top=top, classifier=classifier, first_fold=first_fold, purge=purge)
    for k in np.unique(folds)[1:]:
        # Garbage in every prediction and target of fold >= k, and in the purged tail of each earlier fold.
        at = (folds >= k) | tails(folds, purge)
        P2, y2 = _garbage(P, y, folds, at, classifier, seed)
        other = nested(P2, y2, folds, method=method, top=top, classifier=classifier, first_fold=first_fold, purge=purge)
        for fold in range(int(k)):  # every choice up to fold k (index k-1 is fold k)
            _same(base.choices[fold], other.choices[fold])
        # ... and the garbage did reach the forecast of fold k itself, so the check has teeth: unless
        # fold k's meta-model shrank every member's coefficient to zero (it then forecasts its intercept,
        # whatever the members say; hypothesis found such a table).
        choice = base.choices[int(k) - 1]
        if choice.meta is None or np.any(np.asarray(choice.meta.coef_) != 0):
            assert not np.allclose(base.forecast[folds == k], other.forecast[folds == k])


def test_a_leak_of_fold_k_would_be_caught() -> None:
    """The property test's check fails for a choice that reads fold k (here: choosing on folds <= k)."""
    rng = np.random.default_rng(0)
    folds = np.repeat([1, 2, 3], 20)
    y = rng.normal(size=60)
    P = y[:, None] + rng.normal(scale=[0.1, 1.0, 3.0], size=(60, 3))
    leaky = choose(P, y, np.where(folds == 2, 1, folds), fold=3, method="inverse_variance", top=2, classifier=False)
    P2 = P.copy()
    P2[folds >= 2] = rng.normal(scale=1e3, size=P2[folds >= 2].shape)
    leaky2 = choose(P2, y, np.where(folds == 2, 1, folds), fold=3, method="inverse_variance", top=2, classifier=False)
    assert leaky.weights != leaky2.weights
    honest = choose(P, y, folds, fold=2, method="inverse_variance", top=2, classifier=False)
    assert honest.weights == choose(P2, y, folds, fold=2, method="inverse_variance", top=2, classifier=False).weights


def test_first_fold_says_equal_or_skipped() -> None:
    rng = np.random.default_rng(1)
    folds = np.repeat([1, 2], 10)
    P, y = rng.normal(size=(20, 3)), rng.normal(size=20)
    equal = nested(P, y, folds, method="stacking", top=1, classifier=False)
    assert equal.choices[0].members == (0, 1, 2) and equal.choices[0].weights == pytest.approx((1 / 3,) * 3)
    assert "no earlier fold" in equal.choices[0].basis and equal.kept.all()
    skipped = nested(P, y, folds, method="stacking", top=1, classifier=False, first_fold="skip")
    assert skipped.choices[0].skipped and skipped.choices[0].basis.startswith("skipped")
    assert not skipped.kept[folds == 1].any() and skipped.kept[folds == 2].all()


def test_weights_favour_the_accurate_member_and_stacking_is_non_negative() -> None:
    rng = np.random.default_rng(2)
    folds = np.repeat([1, 2, 3], 200)
    y = rng.normal(size=600)
    P = np.column_stack([y + rng.normal(scale=0.2, size=600), y + rng.normal(scale=1.0, size=600), -y])
    iv = choose(P, y, folds, fold=3, method="inverse_variance", top=3, classifier=False)
    weights = dict(zip(iv.members, iv.weights, strict=True))
    assert iv.members[0] == 0 and weights[0] > 0.9 and sum(iv.weights) == pytest.approx(1.0)
    st_ = choose(P, y, folds, fold=3, method="stacking", top=3, classifier=False)
    assert (st_.meta.coef_ >= 0).all()
    assert st_.members[-1] == 2  # the anti-forecast ranks last on folds 1-2
