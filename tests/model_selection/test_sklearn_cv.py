"""The walk-forward cross-validators inside scikit-learn: the folds it uses are ours, and never leak."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.experimental import enable_halving_search_cv  # noqa: F401 - registers HalvingGridSearchCV
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, HalvingGridSearchCV, cross_val_predict, cross_validate

from walkforward.data.loader import LoadRequest, load_dataset
from walkforward.domain import Fold
from walkforward.errors import InvalidInputError
from walkforward.features.store import FeatureStore
from walkforward.model_selection import (
    Expanding,
    FoldPlan,
    Holdout,
    WalkForward,
    default_embargo,
    make_folds,
    plan_folds,
    walk_forward_folds,
)

LOOKFORWARD, EMBARGO = 3, 4
# three train/test cycles; the last train block follows the last test block
LABELS = np.array(
    ["train"] * 30 + ["test"] * 10 + ["train"] * 25 + ["test"] * 10 + ["train"] * 20 + ["test"] * 8 + ["train"] * 6,
    dtype=object,
)
TS = pd.date_range("2024-01-02", periods=LABELS.size, freq="D").to_numpy()


def _X(n: int = LABELS.size) -> np.ndarray:
    """Column 0 is the row id, so an estimator can record which rows it saw."""
    rng = np.random.default_rng(0)
    return np.column_stack([np.arange(n, dtype=float), rng.normal(size=n)])


def _y(n: int = LABELS.size) -> np.ndarray:
    return np.random.default_rng(1).normal(size=n)


class RowRecorder(RegressorMixin, BaseEstimator):
    """Fits nothing; records the rows of each (fit, score) pair a search runs (n_jobs=1 only)."""

    log: ClassVar[list[tuple[np.ndarray, np.ndarray]]] = []

    def __init__(self, alpha: float = 1.0, n_rounds: int = 1) -> None:
        self.alpha = alpha
        self.n_rounds = n_rounds

    def fit(self, X: np.ndarray, y: np.ndarray) -> RowRecorder:
        self.rows_ = np.sort(np.asarray(X)[:, 0].astype(int))
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.zeros(len(X))

    def score(self, X: np.ndarray, y: np.ndarray, sample_weight: Any = None) -> float:
        RowRecorder.log.append((self.rows_, np.sort(np.asarray(X)[:, 0].astype(int))))
        return -abs(self.alpha - 1.0)


def _pairs(folds: Any) -> set[tuple[tuple[int, ...], tuple[int, ...]]]:
    return {(tuple(int(i) for i in tr), tuple(int(i) for i in te)) for tr, te in folds}


def _assert_no_leak(train: np.ndarray, test: np.ndarray, is_test: np.ndarray, *, ordered: bool) -> None:
    test_pos = np.flatnonzero(is_test)
    assert not is_test[train].any(), "a training row is labelled test"
    assert not np.isin(train, test).any(), "a training row lies in its test block"
    # purge: the target window (i, i + lookforward] of a training row touches no test row
    reach = np.searchsorted(test_pos, train, side="right")
    nxt = np.where(reach < test_pos.size, test_pos[np.minimum(reach, test_pos.size - 1)], np.iinfo(np.int64).max)
    assert (nxt - train > LOOKFORWARD).all(), "a training row's target window touches a test row"
    if ordered:
        assert train.max() < test.min(), "a training row follows its fold's test block"


def _walk_forward() -> WalkForward:
    return WalkForward(LABELS, TS, lookforward=LOOKFORWARD, embargo=EMBARGO)


def _expanding() -> Expanding:
    return Expanding(LABELS, TS, lookforward=LOOKFORWARD, embargo=EMBARGO)


def _plan() -> FoldPlan:
    return make_folds(LABELS, TS, lookforward=LOOKFORWARD, embargo=EMBARGO)


def _plan_folds() -> tuple[Fold, ...]:
    return _plan().folds


CVS: dict[str, tuple[Callable[[], Any], bool]] = {
    # name -> (cv factory, expanding)
    "WalkForward": (_walk_forward, False),
    "Expanding": (_expanding, True),
    "plan": (_plan, False),
    "plan.folds": (_plan_folds, False),
}


def _expected(expanding: bool) -> list[Fold]:
    return walk_forward_folds(LABELS, TS, lookforward=LOOKFORWARD, embargo=EMBARGO, expanding=expanding)


def test_walk_forward_records_on_the_reference_timeline() -> None:
    cv = _walk_forward()
    assert [(f.train_index.min(), f.train_index.max(), f.test_index.min(), f.test_index.max()) for f in cv.folds] == [
        (0, 26, 30, 39),
        (44, 61, 65, 74),
        (79, 91, 95, 102),
    ]
    assert [(f.purged, f.embargoed) for f in cv.folds] == [(3, 0), (3, 4), (3, 4)]
    assert cv.get_n_splits() == 3 and cv.plan.scheme == "walk_forward"
    assert _expanding().folds[2].train_index.tolist() == [*range(27), *range(44, 62), *range(79, 92)]
    # rows 103-106 follow the last test block within the embargo: no final model trains on them
    assert cv.final_train_index.tolist() == [*range(27), *range(44, 62), *range(79, 92), 107, 108]


@pytest.mark.parametrize("name", list(CVS))
def test_cross_validate_uses_the_project_folds(name: str) -> None:
    factory, expanding = CVS[name]
    out = cross_validate(Ridge(), _X(), _y(), cv=factory(), return_indices=True)
    used = list(zip(out["indices"]["train"], out["indices"]["test"], strict=True))
    expected = _expected(expanding)
    assert len(used) == len(expected) == 3
    for (train, test), fold in zip(used, expected, strict=True):
        assert np.array_equal(train, fold.train_index) and np.array_equal(test, fold.test_index)
        _assert_no_leak(train, test, LABELS == "test", ordered=True)


@pytest.mark.parametrize("name", list(CVS))
def test_grid_search_fits_on_the_fold_rows_and_refit_uses_every_row(name: str) -> None:
    factory, expanding = CVS[name]
    RowRecorder.log.clear()
    search = GridSearchCV(RowRecorder(), {"alpha": [0.5, 1.0, 2.0]}, cv=factory(), n_jobs=1, refit=True)
    search.fit(_X(), _y())
    assert len(RowRecorder.log) == 3 * 3
    assert _pairs(RowRecorder.log) == _pairs(_expected(expanding))
    for train, test in RowRecorder.log:
        _assert_no_leak(train, test, LABELS == "test", ordered=True)
    # the documented caveat: refit=True trains the best candidate on every row given, test rows included
    assert search.best_estimator_.rows_.tolist() == list(range(LABELS.size))


@pytest.mark.parametrize("name", list(CVS))
def test_halving_search_on_an_estimator_resource_uses_the_folds_unchanged(name: str) -> None:
    factory, expanding = CVS[name]
    RowRecorder.log.clear()
    search = HalvingGridSearchCV(
        RowRecorder(),
        {"alpha": [0.25, 0.5, 1.0, 2.0]},
        cv=factory(),
        resource="n_rounds",
        min_resources=1,
        max_resources=4,
        factor=2,
        refit=False,
        return_train_score=False,  # the recorder logs every score call: test blocks only
        n_jobs=1,
    )
    search.fit(_X(), _y())
    assert search.n_iterations_ >= 2 and len(RowRecorder.log) == 3 * sum(search.n_candidates_)
    assert _pairs(RowRecorder.log) == _pairs(_expected(expanding))


@pytest.mark.parametrize("name", list(CVS))
def test_halving_search_on_n_samples_subsamples_inside_each_fold(name: str) -> None:
    factory, expanding = CVS[name]
    RowRecorder.log.clear()
    search = HalvingGridSearchCV(
        RowRecorder(),
        {"alpha": [0.25, 0.5, 1.0, 2.0]},
        cv=factory(),
        factor=2,
        refit=False,
        return_train_score=False,
        n_jobs=1,
        random_state=0,
    )
    search.fit(_X(), _y())
    assert len(RowRecorder.log) == 3 * sum(search.n_candidates_)
    folds = _expected(expanding)
    for train, test in RowRecorder.log:
        # scikit-learn draws a subset of the fold's train and test rows: still inside one of our folds
        (fold,) = [f for f in folds if np.isin(test, f.test_index).all()]
        assert np.isin(train, fold.train_index).all()
        _assert_no_leak(train, test, LABELS == "test", ordered=True)


@st.composite
def split_labels(draw: st.DrawFn) -> np.ndarray:
    runs = draw(st.lists(st.tuples(st.booleans(), st.integers(1, 40)), min_size=1, max_size=12))
    return np.concatenate([np.full(n, "test" if t else "train", dtype=object) for t, n in runs])


@settings(max_examples=300, deadline=None)
@given(labels=split_labels(), lookforward=st.integers(1, 15), embargo=st.integers(0, 20), expanding=st.booleans())
def test_split_never_leaks_on_random_layouts(
    labels: np.ndarray, lookforward: int, embargo: int, expanding: bool
) -> None:
    cls = Expanding if expanding else WalkForward
    cv = cls(labels, lookforward=lookforward, embargo=embargo)
    is_test = labels == "test"
    expected = walk_forward_folds(labels, None, lookforward=lookforward, embargo=embargo, expanding=expanding)
    if not expected:
        with pytest.raises(InvalidInputError, match="no test row|no walk-forward fold"):
            cv.get_n_splits()
        return
    X = np.zeros((labels.size, 1))
    used = list(cv.split(X))
    assert len(used) == cv.get_n_splits(X) == len(expected)
    test_pos = np.flatnonzero(is_test)
    for (train, test), fold in zip(used, expected, strict=True):
        assert np.array_equal(train, fold.train_index) and np.array_equal(test, fold.test_index)
        assert not is_test[train].any() and is_test[test].all()
        assert train.max() < test.min(), "a training row follows its fold's test block"
        for i in train:
            assert not ((test_pos > i) & (test_pos <= i + lookforward)).any(), "target window touches a test row"
            assert not ((test_pos < i) & (test_pos >= i - embargo)).any(), "feature window reaches a test row"


@pytest.mark.parametrize("name", list(CVS))
def test_cross_val_predict_is_refused(name: str) -> None:
    # scikit-learn requires the test sets to partition every row; walk-forward test blocks do not
    with pytest.raises(ValueError, match="cross_val_predict only works for partitions"):
        cross_val_predict(Ridge(), _X(), _y(), cv=CVS[name][0]())


@pytest.mark.parametrize("name", ["WalkForward", "Expanding", "plan"])
def test_an_x_of_another_length_is_refused(name: str) -> None:
    cv = CVS[name][0]()
    msg = f"X has {LABELS.size - 1} rows but the folds were made from {LABELS.size} split labels"
    with pytest.raises(InvalidInputError, match=msg):
        list(cv.split(_X(LABELS.size - 1)))
    with pytest.raises(InvalidInputError, match=msg):
        cross_validate(Ridge(), _X(LABELS.size - 1), _y(LABELS.size - 1), cv=cv)
    with pytest.raises(InvalidInputError, match=f"y has {LABELS.size + 1} rows"):
        list(cv.split(_X(), _y(LABELS.size + 1)))


def test_parameters_are_stored_as_given_and_checked_when_splitting() -> None:
    cv = WalkForward(LABELS, lookforward=0, embargo=-1)  # estimator style: no check in __init__
    assert cv.get_params() == {"data_split": LABELS, "ts": None, "lookforward": 0, "embargo": -1}
    with pytest.raises(InvalidInputError, match="invalid lookforward 0"):
        cv.get_n_splits()
    with pytest.raises(InvalidInputError, match="neither 'train' nor 'test' \\('Test'\\)"):
        list(WalkForward(["train", "Test"], lookforward=1, embargo=0).split())
    with pytest.raises(InvalidInputError, match="3 timestamps for 2 split labels"):
        _ = WalkForward(["train", "test"], TS[:3], lookforward=1, embargo=0).plan
    with pytest.raises(InvalidInputError, match="no test row"):
        _ = WalkForward(["train"] * 5, lookforward=1, embargo=0).plan
    with pytest.raises(InvalidInputError, match="invalid test fraction 1.5"):
        _ = Holdout(LABELS, lookforward=1, test_fraction=1.5).folds
    assert repr(_walk_forward()) == (
        "WalkForward(data_split=<109 labels: 81 train, 28 test>, "
        "ts=<109 timestamps: 2024-01-02 00:00:00 .. 2024-04-19 00:00:00>, lookforward=3, embargo=4)"
    )
    assert repr(Holdout(LABELS, lookforward=2)) == (
        "Holdout(data_split=<109 labels: 81 train, 28 test>, ts=None, lookforward=2, test_fraction=0.2)"
    )


def test_holdout_matches_the_project_plan_and_records_no_times_without_ts() -> None:
    cv = Holdout(LABELS, lookforward=2)
    plan = make_folds(LABELS, TS, lookforward=2, embargo=5, scheme="holdout")
    ((train, test),) = list(cv.split(_X()))
    assert np.array_equal(train, plan.folds[0].train_index) and np.array_equal(test, plan.folds[0].test_index)
    assert test.tolist() == list(range(87, 109)) and train.max() == 84
    assert np.array_equal(cv.final_train_index, plan.final_train_index) and plan.embargo == 0
    assert cv.folds[0].to_dict()["test_start"] is None
    assert plan.folds[0].test_start == pd.Timestamp(TS[87]).to_pydatetime()


def test_a_fold_is_a_frozen_record_that_unpacks_as_a_pair() -> None:
    fold = _walk_forward().folds[0]
    assert dataclasses.is_dataclass(Fold) and Fold.__dataclass_params__.frozen  # type: ignore[attr-defined]
    with pytest.raises(dataclasses.FrozenInstanceError):
        fold.purged = 0  # type: ignore[misc]
    train, test = fold
    assert train is fold.train_index and test is fold.test_index


def test_default_embargo_for_the_selected_features(demo_store: FeatureStore) -> None:
    ds = load_dataset(demo_store, LoadRequest.build("AAPL", timeframe="5m"))
    by_lookback = sorted(ds.feature_columns, key=lambda c: ds.lookbacks[c] or 0)
    short = by_lookback[:3]
    assert default_embargo(ds, short) == max(ds.lookbacks[c] or 0 for c in short) < default_embargo(ds)
    assert default_embargo(ds, None) == default_embargo(ds) == ds.max_lookback()
    assert default_embargo(ds, []) == 0
    unknown = dataclasses.replace(ds, lookbacks={**ds.lookbacks, short[0]: None})
    named = rf"no recorded lookback for {short[0]}, not_a_feature: .*--embargo BARS"
    with pytest.raises(InvalidInputError, match=named):
        default_embargo(unknown, [short[0], short[1], "not_a_feature"])
    assert default_embargo(unknown, short[1:]) == max(ds.lookbacks[c] or 0 for c in short[1:])
    # the project's plan is the cross-validator's plan
    cv = WalkForward(ds.split, ds.ts, lookforward=ds.request.lookforward, embargo=default_embargo(ds))
    plan = plan_folds(ds, strict_embargo=True)
    assert _pairs(cv.split(ds.X, ds.y)) == _pairs(plan.folds) and len(plan.folds) > 0
    assert np.array_equal(cv.final_train_index, plan.final_train_index)
