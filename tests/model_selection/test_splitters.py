"""Invariants of the walk-forward splitters, on many generated label sequences."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from walkforward.errors import InvalidInputError
from walkforward.model_selection import (
    boundary_masks,
    final_training_index,
    holdout_folds,
    make_folds,
    walk_forward_folds,
)


@st.composite
def split_labels(draw: st.DrawFn) -> np.ndarray:
    runs = draw(st.lists(st.tuples(st.booleans(), st.integers(1, 40)), min_size=1, max_size=12))
    labels = np.concatenate([np.full(n, "test" if t else "train", dtype=object) for t, n in runs])
    return labels


def _ts(n: int) -> np.ndarray:
    return pd.date_range("2024-01-02 09:30", periods=n, freq="5min").to_numpy()


@settings(max_examples=300, deadline=None)
@given(labels=split_labels(), lookforward=st.integers(1, 15), embargo=st.integers(0, 20), expanding=st.booleans())
def test_walk_forward_folds_never_leak(labels: np.ndarray, lookforward: int, embargo: int, expanding: bool) -> None:
    is_test = labels == "test"
    test_pos = np.flatnonzero(is_test)
    folds = walk_forward_folds(labels, _ts(labels.size), lookforward=lookforward, embargo=embargo, expanding=expanding)
    seen_test: set[int] = set()
    for f in folds:
        train, test = f.train_index, f.test_index
        assert train.size and test.size
        assert not is_test[train].any(), "a training row is labelled test"
        assert is_test[test].all(), "a test row is labelled train"
        assert train.max() < test.min(), "a training row comes after a row its fold tests"
        assert not set(train) & set(test)
        assert not seen_test & set(test), "two folds test the same row"
        seen_test |= set(test)
        assert np.all(np.diff(test) == 1), "a test block is not contiguous"
        for i in train:  # the target window (i, i+lookforward] never touches any test row
            assert not ((test_pos > i) & (test_pos <= i + lookforward)).any()
            # the feature window [i-embargo, i) never reaches back into a test row
            assert not ((test_pos < i) & (test_pos >= i - embargo)).any()
        assert f.train_start <= f.train_end < f.test_start <= f.test_end


@settings(max_examples=200, deadline=None)
@given(labels=split_labels(), lookforward=st.integers(1, 15), embargo=st.integers(0, 20))
def test_boundary_masks_match_brute_force(labels: np.ndarray, lookforward: int, embargo: int) -> None:
    is_test = labels == "test"
    purged, embargoed = boundary_masks(is_test, lookforward=lookforward, embargo=embargo)
    n = labels.size
    for i in range(n):
        ahead = is_test[i + 1 : i + 1 + lookforward].any()
        behind = is_test[max(0, i - embargo) : i].any()
        assert purged[i] == (not is_test[i] and ahead)
        assert embargoed[i] == (not is_test[i] and not ahead and behind)
    final = final_training_index(labels, lookforward=lookforward, embargo=embargo)
    assert set(final) == set(np.flatnonzero(~is_test & ~purged & ~embargoed))


@settings(max_examples=100, deadline=None)
@given(n=st.integers(20, 500), lookforward=st.integers(1, 5))
def test_holdout_is_time_ordered_and_purged(n: int, lookforward: int) -> None:
    (fold,) = holdout_folds(n, _ts(n), lookforward=lookforward)
    assert fold.train_index.max() + lookforward < fold.test_index.min()
    assert fold.test_index.size == n - int(n * 0.8)
    assert fold.purged == lookforward


def test_reference_timeline_pairs_each_test_block_with_the_train_block_before_it() -> None:
    labels = np.array(["train"] * 10 + ["test"] * 5 + ["train"] * 10 + ["test"] * 5 + ["train"] * 3, dtype=object)
    folds = walk_forward_folds(labels, _ts(labels.size), lookforward=2, embargo=3)
    assert [(f.train_index.min(), f.train_index.max(), f.test_index.min(), f.test_index.max()) for f in folds] == [
        (0, 7, 10, 14),
        (18, 22, 25, 29),
    ]
    assert [(f.purged, f.embargoed) for f in folds] == [(2, 0), (2, 3)]
    expanding = walk_forward_folds(labels, _ts(labels.size), lookforward=2, embargo=3, expanding=True)
    assert set(expanding[1].train_index) == set(range(0, 8)) | set(range(18, 23))
    plan = make_folds(labels, _ts(labels.size), lookforward=2, embargo=3)
    # rows 30-32 follow the last test block within the embargo: the final model never sees them
    assert plan.final_train_index.tolist() == list(range(0, 8)) + list(range(18, 23))


def test_no_test_label_falls_back_to_80_20() -> None:
    labels = np.array(["train"] * 100, dtype=object)
    plan = make_folds(labels, _ts(100), lookforward=3, embargo=5)
    assert plan.scheme == "holdout"
    assert plan.folds[0].test_index.min() == 80
    assert plan.folds[0].train_index.max() == 76


def test_no_train_block_before_a_test_block_is_refused() -> None:
    labels = np.array(["test"] * 10 + ["train"] * 10, dtype=object)
    with pytest.raises(InvalidInputError, match="no walk-forward fold"):
        make_folds(labels, _ts(20), lookforward=1, embargo=0)
