"""Purged k-fold and Combinatorial Purged CV as scikit-learn cross-validators.

Built on the pure functions of :mod:`~walkforward.model_selection.purged` and shaped like
:class:`~walkforward.model_selection.cv.Holdout`: ``data_split`` fixes the number of rows (its
labels are checked, not used, since these schemes cut the rows into their own groups), ``ts`` gives
the fold records their times, and each keeps its typed fold records (``.folds``, ``.plan``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from walkforward.model_selection.cv import Labels, Timestamps, _PlannedSplitter, _whole
from walkforward.model_selection.purged import (
    assemble_paths,
    backtest_paths,
    combinatorial_folds,
    group_bounds,
    n_backtest_paths,
    split_test_groups,
)
from walkforward.model_selection.splitters import FoldPlan, Scheme


class _GroupSplitter(_PlannedSplitter):
    """Shared by both: groups, purge and embargo around every test group, the plan."""

    scheme: ClassVar[Scheme]
    lookforward: int
    embargo: int

    def _counts(self) -> tuple[int, int]:
        """(N groups, k test groups)."""
        raise NotImplementedError

    def _make_plan(self) -> FoldPlan:
        labels, ts = self._labels()
        n_groups, n_test = self._counts()
        lookforward = _whole("lookforward", self.lookforward, 1)
        embargo = _whole("embargo", self.embargo, 0)
        folds, _ = combinatorial_folds(
            labels.size, ts, n_groups=n_groups, n_test_groups=n_test, lookforward=lookforward, embargo=embargo
        )
        note = (
            f"{n_groups} contiguous groups, {n_test} tested per split: {len(folds)} splits, "
            f"{n_backtest_paths(n_groups, n_test)} backtest path(s); training rows within {lookforward} bars of a "
            f"test row (either side) purged, and within {embargo} bars after one embargoed"
        )
        # every row may train the final model: these schemes hold no rows out of it
        final = np.arange(labels.size)
        return FoldPlan(self.scheme, lookforward, embargo, tuple(folds), final, (note,), n_samples=labels.size)

    @property
    def test_groups(self) -> tuple[tuple[int, ...], ...]:
        """The groups each split tests, in split order."""
        return tuple(split_test_groups(*self._counts()))

    @property
    def group_bounds(self) -> np.ndarray:
        """Row boundaries of the groups: group ``g`` is rows ``[b[g], b[g + 1])``."""
        labels, _ = self._labels()
        return group_bounds(labels.size, self._counts()[0])


class PurgedKFold(_GroupSplitter):
    """K contiguous folds, each tested once by a model trained on the others, purged and embargoed.

    Parameters
    ----------
    data_split : array-like, one label per row of ``X``
        Fixes the number of rows (the labels are checked but not used).
    ts : array-like of timestamps, optional
        One per row; only used for the times in the fold records.
    n_splits : int
        Number of contiguous folds (at least 2).
    lookforward : int
        Bars ahead the target looks: training rows within ``lookforward`` bars of a test row, on
        either side, are purged (their label windows overlap a test label's).
    embargo : int
        Bars of feature lookback: training rows within ``embargo`` bars after a test row are dropped.

    Notes
    -----
    The test folds partition the rows, so ``cross_val_predict`` works. Training rows follow the test
    fold in all but the last split: that is what the embargo is for. ``final_train_index`` is every
    row. A split left with no training row raises :class:`~walkforward.errors.InvalidInputError`.

    Examples
    --------
    >>> cv = PurgedKFold(ds.split, ds.ts, n_splits=5, lookforward=5, embargo=default_embargo(ds))  # doctest: +SKIP
    >>> cross_val_score(pipe, ds.X, ds.y, cv=cv)  # doctest: +SKIP
    """

    scheme: ClassVar[Scheme] = "purged_kfold"

    def __init__(
        self, data_split: Labels, ts: Timestamps | None = None, *, n_splits: int = 5, lookforward: int, embargo: int
    ) -> None:
        self.data_split = data_split
        self.ts = ts
        self.n_splits = n_splits
        self.lookforward = lookforward
        self.embargo = embargo

    def _counts(self) -> tuple[int, int]:
        return _whole("number of splits", self.n_splits, 2), 1


class CombinatorialPurgedCV(_GroupSplitter):
    """Combinatorial Purged CV: every choice of ``k`` of ``N`` contiguous groups is a test set.

    ``C(N, k)`` splits, each trained on the other groups minus purge and embargo around every test
    group; each group is tested ``C(N - 1, k - 1)`` times, which is the number of backtest paths
    (:attr:`paths`, :meth:`assemble_paths`): a distribution of out-of-sample histories instead of
    walk-forward's single one (López de Prado, *Advances in Financial Machine Learning*, ch. 12).

    Parameters
    ----------
    data_split, ts, lookforward, embargo
        As for :class:`PurgedKFold`.
    n_groups : int
        ``N``, the number of contiguous groups (at least 2).
    n_test_groups : int
        ``k``, the groups tested per split (``1 .. N - 1``; ``k = 1`` is purged k-fold).

    Notes
    -----
    The test sets overlap (each row is tested ``C(N - 1, k - 1)`` times), so ``cross_val_score`` and
    ``GridSearchCV`` work but ``cross_val_predict`` does not (not a partition): collect each
    split's test predictions and call :meth:`assemble_paths`.

    Examples
    --------
    >>> cv = CombinatorialPurgedCV(ds.split, n_groups=6, n_test_groups=2, lookforward=5, embargo=30)  # doctest: +SKIP
    >>> preds = [clone(pipe).fit(X[tr], y[tr]).predict(X[te]) for tr, te in cv.split(X)]  # doctest: +SKIP
    >>> cv.assemble_paths(preds).shape  # (5 paths, n rows)  # doctest: +SKIP
    """

    scheme: ClassVar[Scheme] = "cpcv"

    def __init__(
        self,
        data_split: Labels,
        ts: Timestamps | None = None,
        *,
        n_groups: int = 6,
        n_test_groups: int = 2,
        lookforward: int,
        embargo: int,
    ) -> None:
        self.data_split = data_split
        self.ts = ts
        self.n_groups = n_groups
        self.n_test_groups = n_test_groups
        self.lookforward = lookforward
        self.embargo = embargo

    def _counts(self) -> tuple[int, int]:
        return _whole("number of groups", self.n_groups, 2), _whole("number of test groups", self.n_test_groups, 1)

    @property
    def n_paths(self) -> int:
        """``C(N - 1, k - 1)``: the number of backtest paths."""
        return n_backtest_paths(*self._counts())

    @property
    def paths(self) -> np.ndarray:
        """``paths[p, g]``: the split (0-based, in ``split`` order) whose predictions fill group ``g`` of path ``p``."""
        return backtest_paths(*self._counts())

    def assemble_paths(self, split_values: Sequence[np.ndarray | Sequence[float]]) -> np.ndarray:
        """An ``(n_paths, n_rows)`` array of full out-of-sample series from each split's test predictions.

        ``split_values[j]`` is split ``j``'s values on its ``test_index`` rows, in that order.
        """
        labels, _ = self._labels()
        n_groups, n_test = self._counts()
        return assemble_paths(split_values, n_samples=labels.size, n_groups=n_groups, n_test_groups=n_test)
