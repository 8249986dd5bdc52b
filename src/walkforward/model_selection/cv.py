"""Walk-forward cross-validators that scikit-learn accepts as ``cv``.

:class:`WalkForward`, :class:`Expanding` and :class:`Holdout` are
:class:`~sklearn.model_selection.BaseCrossValidator` subclasses built on the pure functions of
:mod:`~walkforward.model_selection.splitters`. Like ``PredefinedSplit(test_fold)`` they take the
per-row split labels (``"train"``/``"test"``, the store's ``data_split``); unlike it they never
train on the complement of a test block: a training row comes from a train block, and rows whose
target window reaches a test row (purge) or whose features look back into one (embargo) are
dropped. Each keeps its typed fold records (``.folds``, ``.final_train_index``, ``.plan``), which
are what :func:`~walkforward.model_selection.make_folds` returns, so a researcher's
``cross_validate(..., cv=WalkForward(...))`` and a ``walkforward train`` run use the same folds.

Two scikit-learn behaviours to know (they hold for a :class:`FoldPlan` or ``plan.folds`` as ``cv``):

- ``cross_val_predict`` is unsupported: the test blocks do not cover every row, and scikit-learn
  refuses such a ``cv`` (``ValueError: cross_val_predict only works for partitions``).
- ``GridSearchCV(refit=True)`` (and the halving searches) refit the best candidate on *every* row
  they were given, test-labelled and purged rows included. Search with ``refit=False`` and fit the
  final model on the ``final_train_index`` rows only.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.model_selection import BaseCrossValidator

from walkforward.domain import Fold
from walkforward.errors import InvalidInputError
from walkforward.model_selection.splitters import (
    FoldPlan,
    Scheme,
    check_n_samples,
    final_training_index,
    holdout_folds,
    walk_forward_folds,
)

Labels = Sequence[str] | np.ndarray | pd.Series
Timestamps = Sequence[Any] | np.ndarray | pd.Series | pd.DatetimeIndex


def _whole(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise InvalidInputError(f"invalid {name} {value!r}: use a whole number of bars >= {minimum}")
    return int(value)


class _PlannedSplitter(BaseCrossValidator):
    """What the three splitters share: label checks, ``split``/``get_n_splits``, records, repr."""

    data_split: Labels
    ts: Timestamps | None

    def _make_plan(self) -> FoldPlan:
        raise NotImplementedError

    @property
    def plan(self) -> FoldPlan:
        """The :class:`FoldPlan` (folds, final training rows, notes), computed from the parameters."""
        return self._make_plan()

    @property
    def folds(self) -> tuple[Fold, ...]:
        """The typed fold records: train/test positions, times, purged and embargoed counts."""
        return self.plan.folds

    @property
    def final_train_index(self) -> np.ndarray:
        """Rows a final model may be fitted on: train rows minus purged and embargoed ones."""
        return self.plan.final_train_index

    def split(self, X: Any = None, y: Any = None, groups: Any = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(train_index, test_index)`` per fold, as recorded in :attr:`folds`.

        Overrides :meth:`BaseCrossValidator.split`, which would train on every non-test row
        (future rows included). ``X``/``y`` must have one row per split label; ``groups`` is ignored.
        """
        plan = self.plan
        check_n_samples(plan.n_samples, X, y)
        yield from plan.split()

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """The number of folds; ``X``/``y`` (if given) must have one row per split label."""
        plan = self.plan
        check_n_samples(plan.n_samples, X, y)
        return plan.get_n_splits()

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor parameters, as scikit-learn estimators report them."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def __repr__(self) -> str:
        parts = [f"{name}={_summary(name, value)}" for name, value in self.get_params().items()]
        return f"{type(self).__name__}({', '.join(parts)})"

    def _labels(self) -> tuple[np.ndarray, np.ndarray | None]:
        labels = np.asarray(self.data_split, dtype=object)
        if labels.ndim != 1:
            raise InvalidInputError(f"split labels must be one label per row, got an array of shape {labels.shape}")
        bad = labels[(labels != "train") & (labels != "test")]
        if bad.size:
            shown = ", ".join(sorted({repr(v) for v in bad[:1000]})[:5])
            raise InvalidInputError(
                f"{bad.size} split label(s) are neither 'train' nor 'test' ({shown}): "
                "label every row 'train' or 'test' (the store's data_split column)"
            )
        ts = None if self.ts is None else np.asarray(self.ts)
        if ts is not None and (ts.ndim != 1 or ts.size != labels.size):
            raise InvalidInputError(
                f"{ts.size} timestamps for {labels.size} split labels: pass one timestamp per row, or none"
            )
        return labels, ts


class _BlockSplitter(_PlannedSplitter):
    scheme: ClassVar[Scheme]
    expanding: ClassVar[bool]

    def __init__(self, data_split: Labels, ts: Timestamps | None = None, *, lookforward: int, embargo: int) -> None:
        self.data_split = data_split
        self.ts = ts
        self.lookforward = lookforward
        self.embargo = embargo

    def _make_plan(self) -> FoldPlan:
        labels, ts = self._labels()
        lookforward = _whole("lookforward", self.lookforward, 1)
        embargo = _whole("embargo", self.embargo, 0)
        is_test = labels == "test"
        if not is_test.any():
            raise InvalidInputError(
                "the split labels have no test row: a walk-forward fold needs a train block followed by a "
                "test block; label test rows 'test' or use Holdout for a time split"
            )
        folds = walk_forward_folds(labels, ts, lookforward=lookforward, embargo=embargo, expanding=self.expanding)
        if not folds:
            raise InvalidInputError(
                "no walk-forward fold: the data needs a train block followed by a test block; "
                "ingest with a split scheme (e.g. --split-scheme 60:20) or use the holdout scheme"
            )
        candidates = int((is_test[1:] & ~is_test[:-1]).sum())  # test blocks with a train block before them
        notes: tuple[str, ...] = ()
        if len(folds) < candidates:
            notes = (
                f"{candidates - len(folds)} of {candidates} test block(s) had no training row left after the purge "
                f"({lookforward} bars) and embargo ({embargo} bars): use longer train blocks or a smaller embargo",
            )
        final = final_training_index(labels, lookforward=lookforward, embargo=embargo)
        return FoldPlan(self.scheme, lookforward, embargo, tuple(folds), final, notes, n_samples=labels.size)


class WalkForward(_BlockSplitter):
    """Each test block of ``data_split`` evaluated by a model trained on the train block just before it.

    Parameters
    ----------
    data_split : array-like of ``"train"``/``"test"``, one label per row of ``X``
        The store's ``data_split`` (``Dataset.split``). Rows are taken in this order.
    ts : array-like of timestamps, optional
        One per row; only used for the times in the fold records (``None`` there without it).
    lookforward : int
        Bars ahead the target looks: a training row whose window ``(i, i + lookforward]`` touches any
        test row is purged.
    embargo : int
        A training row within ``embargo`` rows after any test row is dropped. Every training row of
        a fold precedes its own test block, so 0 loses nothing to leakage here (a feature can only
        look back into an earlier, unscored test block); ``default_embargo(ds, features)`` (the
        longest lookback) is the strict choice.

    Attributes
    ----------
    folds : tuple of Fold
        Per fold the train/test positions, times and purged/embargoed counts.
    final_train_index : ndarray
        Rows a final model may be fitted on (every train row that survives purge and embargo).
    plan : FoldPlan
        Both, with the scheme and notes, as recorded with every model.

    Notes
    -----
    Every training row precedes its fold's test block. A test block with no training row left is
    skipped (``plan.notes`` says so); no fold at all raises :class:`InvalidInputError` when splitting.
    Parameters are checked when the folds are computed (``split``, ``get_n_splits``, ``plan``).

    ``cross_val_predict`` is unsupported: the test blocks do not partition the rows, and
    scikit-learn raises ``ValueError: cross_val_predict only works for partitions``.
    ``GridSearchCV(refit=True)`` refits the best candidate on every row of ``X``, test rows
    included: pass ``refit=False`` and fit the final model on ``X[final_train_index]``.

    Examples
    --------
    >>> cv = WalkForward(ds.split, ds.ts, lookforward=5, embargo=0)  # doctest: +SKIP
    >>> cross_validate(pipe, ds.X, ds.y, cv=cv, return_indices=True)  # doctest: +SKIP
    >>> search = GridSearchCV(pipe, grid, cv=cv, refit=False).fit(ds.X, ds.y)  # doctest: +SKIP
    >>> rows = cv.final_train_index  # doctest: +SKIP
    >>> final = clone(pipe).set_params(**search.best_params_).fit(ds.X.iloc[rows], ds.y.iloc[rows])  # doctest: +SKIP
    """

    scheme: ClassVar[Scheme] = "walk_forward"
    expanding: ClassVar[bool] = False


class Expanding(_BlockSplitter):
    """Each test block evaluated by a model trained on *every* train block before it.

    The same parameters, attributes, guards and caveats as :class:`WalkForward` (an expanding
    instead of a sliding window): ``cross_val_predict`` is unsupported (the test blocks do not
    partition the rows), and ``GridSearchCV(refit=True)`` refits on every row it is given, so
    search with ``refit=False`` and fit the final model on ``final_train_index`` rows only.

    Examples
    --------
    >>> cv = Expanding(ds.split, ds.ts, lookforward=5, embargo=30)  # doctest: +SKIP
    >>> cross_validate(pipe, ds.X, ds.y, cv=cv)  # doctest: +SKIP
    """

    scheme: ClassVar[Scheme] = "expanding"
    expanding: ClassVar[bool] = True


class Holdout(_PlannedSplitter):
    """One time split: the first ``1 - test_fraction`` of the rows train, the rest test, purged.

    ``data_split`` fixes the number of rows (its labels are checked but not used: a holdout ignores
    the store's walk-forward blocks). Training rows within ``lookforward`` of the cut are purged; no
    embargo is needed since no training row follows the test rows. ``final_train_index`` is the
    fold's training rows.

    ``cross_val_predict`` is unsupported (the test rows are not every row), and
    ``GridSearchCV(refit=True)`` refits on every row it is given, test rows included: search with
    ``refit=False`` and fit the final model on ``final_train_index`` rows only.

    Examples
    --------
    >>> cv = Holdout(ds.split, ds.ts, lookforward=5)  # doctest: +SKIP
    >>> cross_validate(pipe, ds.X, ds.y, cv=cv)  # doctest: +SKIP
    """

    def __init__(
        self, data_split: Labels, ts: Timestamps | None = None, *, lookforward: int, test_fraction: float = 0.2
    ) -> None:
        self.data_split = data_split
        self.ts = ts
        self.lookforward = lookforward
        self.test_fraction = test_fraction

    def _make_plan(self) -> FoldPlan:
        labels, ts = self._labels()
        lookforward = _whole("lookforward", self.lookforward, 1)
        folds = holdout_folds(labels.size, ts, lookforward=lookforward, test_fraction=self.test_fraction)
        final = folds[0].train_index.copy()
        return FoldPlan("holdout", lookforward, 0, tuple(folds), final, n_samples=labels.size)


#: scheme name -> splitter over ``data_split`` blocks (``make_folds`` dispatches through it)
BLOCK_SPLITTERS: dict[str, type[_BlockSplitter]] = {"walk_forward": WalkForward, "expanding": Expanding}


def _summary(name: str, value: object) -> str:
    """A one-line view of a parameter: arrays are summarised, scalars shown as they are."""
    if value is None or np.isscalar(value):
        return repr(value)
    arr = np.asarray(value, dtype=object if name == "data_split" else None)
    if arr.ndim != 1:
        return f"<array of shape {arr.shape}>"
    if name == "data_split":
        n_test = int((arr == "test").sum())
        return f"<{arr.size} labels: {arr.size - n_test} train, {n_test} test>"
    if arr.size == 0:
        return "<0 timestamps>"
    first, last = (
        str(pd.Timestamp(v)) if np.issubdtype(arr.dtype, np.datetime64) else str(v) for v in (arr[0], arr[-1])
    )
    return f"<{arr.size} timestamps: {first} .. {last}>"
