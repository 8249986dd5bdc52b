"""Walk-forward splitters: pure functions from split labels and timestamps to :class:`Fold` records.

Two guards are applied against *every* test row of the data set, so the folds and the final model
agree on which training rows are clean:

- **purge**: a training row whose target window (the next ``lookforward`` rows) touches a test row
  is dropped (its label was built from test-period prices);
- **embargo**: a training row within ``embargo`` rows after a test row is dropped (its rolling
  features look back into the test period).

Splitters never see a model or a database (as scikit-learn's ``TimeSeriesSplit``), and return
records instead of nested lists. The scikit-learn cross-validators built on these functions
(:class:`~walkforward.model_selection.cv.WalkForward`, ``Expanding``, ``Holdout``) are in ``cv.py``;
:func:`make_folds` goes through them, and a :class:`FoldPlan` is itself a valid ``cv``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from walkforward.domain import Fold
from walkforward.errors import InvalidInputError

Scheme = Literal["walk_forward", "expanding", "holdout", "purged_kfold", "cpcv"]

log = logging.getLogger(__name__)


def boundary_masks(is_test: np.ndarray, *, lookforward: int, embargo: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (purged, embargoed) boolean masks over training rows.

    ``purged[i]``: row i is train and a test row lies in ``(i, i + lookforward]``.
    ``embargoed[i]``: row i is train, not purged, and a test row lies in ``[i - embargo, i)``.
    """
    is_test = np.asarray(is_test, dtype=bool)
    n = is_test.size
    pos = np.arange(n)
    test_pos = np.flatnonzero(is_test)
    if test_pos.size == 0:
        empty = np.zeros(n, dtype=bool)
        return empty, empty.copy()
    # next test row strictly after i, previous test row strictly before i
    nxt_i = np.searchsorted(test_pos, pos, side="right")
    nxt = np.where(nxt_i < test_pos.size, test_pos[np.minimum(nxt_i, test_pos.size - 1)], n + lookforward + 1)
    prv_i = np.searchsorted(test_pos, pos, side="left") - 1
    prv = np.where(prv_i >= 0, test_pos[np.maximum(prv_i, 0)], -embargo - 1)
    train = ~is_test
    purged = train & (nxt - pos <= lookforward)
    embargoed = train & ~purged & (pos - prv <= embargo)
    return purged, embargoed


def _blocks(is_test: np.ndarray) -> list[tuple[bool, int, int]]:
    """Contiguous runs as (is_test, start, stop) with stop exclusive."""
    change = np.flatnonzero(np.diff(is_test.astype(np.int8))) + 1
    starts = np.concatenate(([0], change))
    stops = np.concatenate((change, [is_test.size]))
    return [(bool(is_test[s]), int(s), int(e)) for s, e in zip(starts, stops, strict=True)]


def _fold(number: int, train: np.ndarray, test: np.ndarray, ts: np.ndarray | None, purged: int, embargoed: int) -> Fold:
    def at(i: int) -> dt.datetime | None:
        return None if ts is None else pd.Timestamp(ts[i]).to_pydatetime()

    return Fold(
        number=number,
        train_index=train,
        test_index=test,
        train_start=at(train[0]),
        train_end=at(train[-1]),
        test_start=at(test[0]),
        test_end=at(test[-1]),
        purged=purged,
        embargoed=embargoed,
    )


def walk_forward_folds(
    split: Sequence[str] | np.ndarray,
    ts: Sequence[object] | np.ndarray | None,
    *,
    lookforward: int,
    embargo: int,
    expanding: bool = False,
) -> list[Fold]:
    """Folds from ``data_split`` labels: each test block with the train block just before it.

    With ``expanding=True`` a fold trains on every train block before its test block (an expanding
    window) instead of only the adjacent one. A test block with no train block before it is skipped,
    as is a fold left with no training row after purge and embargo. Without ``ts`` the records carry
    no times.
    """
    labels = np.asarray(split, dtype=object)
    ts_arr = None if ts is None else np.asarray(ts)
    is_test = labels == "test"
    purged, embargoed = boundary_masks(is_test, lookforward=lookforward, embargo=embargo)
    keep = ~(purged | embargoed)
    folds: list[Fold] = []
    train_blocks: list[tuple[int, int]] = []
    for test_block, start, stop in _blocks(is_test):
        if not test_block:
            train_blocks.append((start, stop))
            continue
        if not train_blocks:
            continue
        used = train_blocks if expanding else train_blocks[-1:]
        rows = np.concatenate([np.arange(a, b) for a, b in used])
        train = rows[keep[rows]]
        if train.size == 0:
            log.warning(
                "test block starting at row %d has no training row left after purge (%d) and embargo (%d bars)",
                start,
                lookforward,
                embargo,
            )
            continue
        test = np.arange(start, stop)
        folds.append(_fold(len(folds) + 1, train, test, ts_arr, int(purged[rows].sum()), int(embargoed[rows].sum())))
    return folds


def holdout_folds(
    n: int, ts: Sequence[object] | np.ndarray | None, *, lookforward: int, test_fraction: float = 0.2
) -> list[Fold]:
    """The reference's time split: first ``1 - test_fraction`` of rows train, the rest test, purged."""
    if not 0.0 < test_fraction < 1.0:
        raise InvalidInputError(f"invalid test fraction {test_fraction}: use a number between 0 and 1")
    cut = int(n * (1.0 - test_fraction))
    is_test = np.arange(n) >= cut
    purged, _ = boundary_masks(is_test, lookforward=lookforward, embargo=0)
    train = np.flatnonzero(~is_test & ~purged)
    test = np.arange(cut, n)
    if train.size == 0 or test.size == 0:
        raise InvalidInputError(f"{n} rows are too few for a train/test split with lookforward {lookforward}")
    return [_fold(1, train, test, None if ts is None else np.asarray(ts), int(purged.sum()), 0)]


def final_training_index(split: Sequence[str] | np.ndarray, *, lookforward: int, embargo: int) -> np.ndarray:
    """Rows the final model may train on: every train row, minus purged and embargoed ones."""
    is_test = np.asarray(split, dtype=object) == "test"
    purged, embargoed = boundary_masks(is_test, lookforward=lookforward, embargo=embargo)
    return np.flatnonzero(~is_test & ~purged & ~embargoed)


@dataclass(frozen=True)
class FoldPlan:
    """The folds of one data set and how they were made (recorded with every model).

    A plan is a scikit-learn ``cv``: ``split`` yields each fold's ``(train_index, test_index)`` and
    ``get_n_splits`` counts them, so ``cross_validate(pipe, X, y, cv=plan)`` evaluates on exactly
    these folds. ``cross_val_predict`` refuses it (the test blocks do not cover every row), and
    ``GridSearchCV(refit=True)`` refits on every row it is given: refit on ``final_train_index``.
    """

    scheme: Scheme
    lookforward: int
    embargo: int
    folds: tuple[Fold, ...]
    final_train_index: np.ndarray
    notes: tuple[str, ...] = ()
    #: rows of the data set the plan was made for (``None``: unknown, ``split`` then checks nothing)
    n_samples: int | None = None

    def split(self, X: Any = None, y: Any = None, groups: Any = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(train_index, test_index)`` per fold; refuse an ``X`` of another length."""
        check_n_samples(self.n_samples, X, y)
        for fold in self.folds:
            yield fold.train_index.copy(), fold.test_index.copy()

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """The number of folds (``X``, ``y`` and ``groups`` are ignored)."""
        return len(self.folds)

    def to_dict(self) -> dict[str, object]:
        return {
            "scheme": self.scheme,
            "lookforward": self.lookforward,
            "embargo": self.embargo,
            "final_train_rows": int(self.final_train_index.size),
            "folds": [f.to_dict() for f in self.folds],
            "notes": list(self.notes),
        }


def check_n_samples(n_samples: int | None, X: Any, y: Any = None) -> None:
    """Refuse an ``X`` (or ``y``) whose row count differs from the labels the folds were made from."""
    if n_samples is None:
        return
    for name, data in (("X", X), ("y", y)):
        if data is not None and len(data) != n_samples:
            raise InvalidInputError(
                f"{name} has {len(data)} rows but the folds were made from {n_samples} split labels: "
                f"pass the {name} the labels were read from (same rows, same order)"
            )


def make_folds(
    split: Sequence[str] | np.ndarray,
    ts: Sequence[object] | np.ndarray | None,
    *,
    lookforward: int,
    embargo: int,
    scheme: Scheme = "walk_forward",
) -> FoldPlan:
    """Folds for a data set: walk-forward from ``data_split`` when it has test rows, else 80/20.

    ``scheme`` is ``walk_forward`` (each test block with the train block before it), ``expanding``
    (all earlier train blocks) or ``holdout`` (the 80/20 time split, ignoring ``data_split``). The
    plan is built by the matching cross-validator (:class:`~walkforward.model_selection.cv.WalkForward`,
    ``Expanding``, ``Holdout``), so the project and a researcher's ``cv=`` use the same folds.

    Examples
    --------
    >>> plan = make_folds(ds.split, ds.ts, lookforward=5, embargo=30)  # doctest: +SKIP
    >>> cross_validate(pipe, ds.X, ds.y, cv=plan)  # doctest: +SKIP
    """
    # cv.py builds on the functions above, so it is imported here rather than at the top (no cycle)
    from walkforward.model_selection.cv import BLOCK_SPLITTERS, Holdout

    if embargo < 0 or lookforward < 1:
        raise InvalidInputError("embargo must be >= 0 and lookforward >= 1")
    labels = np.asarray(split, dtype=object)
    if scheme == "holdout" or not (labels == "test").any():
        return Holdout(labels, ts, lookforward=lookforward).plan
    if scheme not in BLOCK_SPLITTERS:
        raise InvalidInputError(f"unknown validation scheme {scheme!r}: use walk_forward, expanding or holdout")
    return BLOCK_SPLITTERS[scheme](labels, ts, lookforward=lookforward, embargo=embargo).plan
