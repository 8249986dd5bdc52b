"""Purged k-fold and CPCV against a brute-force oracle, their backtest paths, and scikit-learn's use of them."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, cross_val_predict, cross_val_score

from walkforward.errors import InvalidInputError
from walkforward.model_selection import CombinatorialPurgedCV, PurgedKFold
from walkforward.model_selection.purged import assemble_paths, backtest_paths, combinatorial_folds, group_bounds


def oracle(n: int, test: np.ndarray, h: int, embargo: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, purged, embargoed) masks by definition, one row at a time."""
    tests = set(test.tolist())
    train = np.zeros(n, bool)
    purged = np.zeros(n, bool)
    embargoed = np.zeros(n, bool)
    for i in range(n):
        if i in tests:
            continue
        if any(abs(i - s) <= h for s in tests):  # label windows [i, i+h] and [s, s+h] overlap
            purged[i] = True
        elif any(0 < i - s <= embargo for s in tests):  # features look back into a test row
            embargoed[i] = True
        else:
            train[i] = True
    return train, purged, embargoed


@st.composite
def cpcv_cases(draw: st.DrawFn) -> tuple[int, int, int, int, int]:
    n_groups = draw(st.integers(2, 7))
    k = draw(st.integers(1, n_groups - 1))
    n = draw(st.integers(n_groups, 160))
    return n, n_groups, k, draw(st.integers(1, 6)), draw(st.integers(0, 10))


@settings(max_examples=250, deadline=None)
@given(case=cpcv_cases())
def test_every_split_keeps_exactly_the_rows_the_oracle_allows(case: tuple[int, int, int, int, int]) -> None:
    n, n_groups, k, h, embargo = case
    try:
        folds, combos = combinatorial_folds(n, n_groups=n_groups, n_test_groups=k, lookforward=h, embargo=embargo)
    except InvalidInputError:
        assume(False)  # a split with no training row left is refused, not yielded empty
        return
    bounds = group_bounds(n, n_groups)
    assert len(folds) == math.comb(n_groups, k)
    tested = np.zeros(n, int)
    for fold, groups in zip(folds, combos, strict=True):
        want_test = np.concatenate([np.arange(bounds[g], bounds[g + 1]) for g in groups])
        assert fold.test_index.tolist() == want_test.tolist()
        train, purged, embargoed = oracle(n, fold.test_index, h, embargo)
        assert fold.train_index.tolist() == np.flatnonzero(train).tolist()
        assert (fold.purged, fold.embargoed) == (purged.sum(), embargoed.sum())
        # stated directly: no training label window overlaps a test one, no training row looks back into one
        gap = fold.train_index[:, None] - fold.test_index[None, :]
        assert (np.abs(gap) > h).all()
        assert not ((gap > 0) & (gap <= embargo)).any()
        tested[fold.test_index] += 1
    # every row is tested in C(N-1, k-1) splits: the number of backtest paths
    assert (tested == math.comb(n_groups - 1, k - 1)).all()


@settings(max_examples=150, deadline=None)
@given(n_groups=st.integers(2, 8), data=st.data())
def test_paths_reassemble_every_row_once_per_path(n_groups: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(1, n_groups - 1))
    n = data.draw(st.integers(n_groups, 120))
    paths = backtest_paths(n_groups, k)
    n_paths = math.comb(n_groups - 1, k - 1)
    assert paths.shape == (n_paths, n_groups)
    assert n_paths * n_groups == k * math.comb(n_groups, k)  # phi = k/N * C(N, k)
    # each (split, tested group) pair fills exactly one path, and a path takes a group from a split testing it
    combos = list(itertools.combinations(range(n_groups), k))
    used = {(int(paths[p, g]), g) for p in range(n_paths) for g in range(n_groups)}
    assert used == {(s, g) for s, groups in enumerate(combos) for g in groups}
    assert len(used) == n_paths * n_groups
    # values that name their row and split: every path is every row once, each from the split the map says
    bounds = group_bounds(n, n_groups)
    rows = [np.concatenate([np.arange(bounds[g], bounds[g + 1]) for g in groups]) for groups in combos]
    row_paths = assemble_paths([r.astype(float) for r in rows], n_samples=n, n_groups=n_groups, n_test_groups=k)
    assert (row_paths == np.arange(n)).all()
    split_paths = assemble_paths(
        [np.full(r.size, s, float) for s, r in enumerate(rows)], n_samples=n, n_groups=n_groups, n_test_groups=k
    )
    group_of = np.repeat(np.arange(n_groups), np.diff(bounds))
    assert (split_paths == paths[:, group_of]).all()


LABELS = np.array(["train"] * 90 + ["test"] * 30, dtype=object)
TS = pd.date_range("2024-01-02", periods=LABELS.size, freq="D").to_numpy()


def _xy() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(LABELS.size, 3))
    return X, X @ [1.0, -0.5, 0.0] + rng.normal(0, 0.5, LABELS.size)


def test_purged_kfold_partitions_the_rows_so_cross_val_predict_works() -> None:
    X, y = _xy()
    cv = PurgedKFold(LABELS, TS, n_splits=4, lookforward=2, embargo=3)
    assert cv.get_n_splits() == 4 and len(cv.folds) == 4
    tests = np.concatenate([f.test_index for f in cv.folds])
    assert sorted(tests.tolist()) == list(range(LABELS.size))
    pred = cross_val_predict(Ridge(), X, y, cv=cv)
    assert pred.shape == y.shape and np.corrcoef(pred, y)[0, 1] > 0.5
    # the middle folds lose rows on both sides; the first only after, the last only before
    first, second, *_, last = cv.folds
    assert first.purged == 2 and first.embargoed == 1
    assert second.purged == 4 and second.embargoed == 1
    assert last.purged == 2 and last.embargoed == 0
    assert first.test_start == pd.Timestamp(TS[0]).to_pydatetime()
    plan = cv.plan
    assert plan.scheme == "purged_kfold" and plan.final_train_index.size == LABELS.size
    assert plan.to_dict()["folds"][1]["purged"] == 4


def test_cpcv_works_as_cv_in_cross_val_score_and_grid_search() -> None:
    X, y = _xy()
    cv = CombinatorialPurgedCV(LABELS, TS, n_groups=6, n_test_groups=2, lookforward=2, embargo=3)
    assert cv.get_n_splits(X, y) == 15 and cv.n_paths == 5
    scores = cross_val_score(Ridge(), X, y, cv=cv)
    assert scores.shape == (15,) and (scores > 0).all()
    search = GridSearchCV(Ridge(), {"alpha": [0.1, 10.0]}, cv=cv, refit=False).fit(X, y)
    assert len(search.cv_results_["split14_test_score"]) == 2
    preds = [Ridge().fit(X[tr], y[tr]).predict(X[te]) for tr, te in cv.split(X, y)]
    assert cv.assemble_paths(preds).shape == (5, LABELS.size)
    assert not np.isnan(cv.assemble_paths(preds)).any()
    assert cv.test_groups[0] == (0, 1) and cv.group_bounds.tolist() == [0, 20, 40, 60, 80, 100, 120]
    with pytest.raises(ValueError, match="partition"):
        cross_val_predict(Ridge(), X, y, cv=cv)  # overlapping test sets: assemble paths instead
    assert "n_groups=6" in repr(cv)


@pytest.mark.parametrize(
    "make",
    [
        lambda: CombinatorialPurgedCV(LABELS, n_groups=4, n_test_groups=4, lookforward=1, embargo=0),
        lambda: CombinatorialPurgedCV(LABELS[:3], n_groups=4, n_test_groups=1, lookforward=1, embargo=0),
        lambda: PurgedKFold(LABELS, n_splits=1, lookforward=1, embargo=0),
        lambda: PurgedKFold(LABELS, n_splits=3, lookforward=0, embargo=0),
        lambda: PurgedKFold(LABELS[:8], n_splits=2, lookforward=1, embargo=10),  # no training row left
        lambda: PurgedKFold(np.array(["train", "valid"] * 10), n_splits=2, lookforward=1, embargo=0),
    ],
)
def test_bad_parameters_are_refused_when_splitting(make: object) -> None:
    cv = make()  # type: ignore[operator]
    with pytest.raises(InvalidInputError):
        list(cv.split())


def test_predictions_of_the_wrong_length_are_refused() -> None:
    cv = CombinatorialPurgedCV(LABELS, n_groups=3, n_test_groups=1, lookforward=1, embargo=0)
    with pytest.raises(InvalidInputError, match="split 1 tests 40 rows"):
        cv.assemble_paths([np.zeros(39), np.zeros(40), np.zeros(40)])
    with pytest.raises(InvalidInputError, match="one per split"):
        cv.assemble_paths([np.zeros(40)])
