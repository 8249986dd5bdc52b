"""Walk-forward splitters: pure functions from split labels and timestamps to :class:`Fold` records.

Two guards are applied against *every* test row of the data set, so the folds and the final model
agree on which training rows are clean:

- **purge**: a training row whose target window (the next ``lookforward`` rows) touches a test row
  is dropped (its label was built from test-period prices);
- **embargo**: a training row within ``embargo`` rows after a test row is dropped (its rolling
  features look back into the test period).

Splitters never see a model or a database (as scikit-learn's ``TimeSeriesSplit``), and return
records instead of nested lists.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from walkforward.domain import Fold
from walkforward.errors import InvalidInputError

Scheme = Literal["walk_forward", "expanding", "holdout"]

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


def _fold(number: int, train: np.ndarray, test: np.ndarray, ts: np.ndarray, purged: int, embargoed: int) -> Fold:
    return Fold(
        number=number,
        train_index=train,
        test_index=test,
        train_start=pd.Timestamp(ts[train[0]]).to_pydatetime(),
        train_end=pd.Timestamp(ts[train[-1]]).to_pydatetime(),
        test_start=pd.Timestamp(ts[test[0]]).to_pydatetime(),
        test_end=pd.Timestamp(ts[test[-1]]).to_pydatetime(),
        purged=purged,
        embargoed=embargoed,
    )


def walk_forward_folds(
    split: Sequence[str] | np.ndarray,
    ts: Sequence[object] | np.ndarray,
    *,
    lookforward: int,
    embargo: int,
    expanding: bool = False,
) -> list[Fold]:
    """Folds from ``data_split`` labels: each test block with the train block just before it.

    With ``expanding=True`` a fold trains on every train block before its test block (an expanding
    window) instead of only the adjacent one. A test block with no train block before it is skipped,
    as is a fold left with no training row after purge and embargo.
    """
    labels = np.asarray(split, dtype=object)
    ts_arr = np.asarray(ts)
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
    n: int, ts: Sequence[object] | np.ndarray, *, lookforward: int, test_fraction: float = 0.2
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
    return [_fold(1, train, test, np.asarray(ts), int(purged.sum()), 0)]


def final_training_index(split: Sequence[str] | np.ndarray, *, lookforward: int, embargo: int) -> np.ndarray:
    """Rows the final model may train on: every train row, minus purged and embargoed ones."""
    is_test = np.asarray(split, dtype=object) == "test"
    purged, embargoed = boundary_masks(is_test, lookforward=lookforward, embargo=embargo)
    return np.flatnonzero(~is_test & ~purged & ~embargoed)


@dataclass(frozen=True)
class FoldPlan:
    """The folds of one data set and how they were made (recorded with every model)."""

    scheme: Scheme
    lookforward: int
    embargo: int
    folds: tuple[Fold, ...]
    final_train_index: np.ndarray
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "scheme": self.scheme,
            "lookforward": self.lookforward,
            "embargo": self.embargo,
            "final_train_rows": int(self.final_train_index.size),
            "folds": [f.to_dict() for f in self.folds],
            "notes": list(self.notes),
        }


def make_folds(
    split: Sequence[str] | np.ndarray,
    ts: Sequence[object] | np.ndarray,
    *,
    lookforward: int,
    embargo: int,
    scheme: Scheme = "walk_forward",
) -> FoldPlan:
    """Folds for a data set: walk-forward from ``data_split`` when it has test rows, else 80/20.

    ``scheme`` is ``walk_forward`` (each test block with the train block before it), ``expanding``
    (all earlier train blocks) or ``holdout`` (the 80/20 time split, ignoring ``data_split``).
    """
    if embargo < 0 or lookforward < 1:
        raise InvalidInputError("embargo must be >= 0 and lookforward >= 1")
    labels = np.asarray(split, dtype=object)
    if scheme == "holdout" or not (labels == "test").any():
        folds = holdout_folds(labels.size, ts, lookforward=lookforward)
        cut = folds[0].test_index[0]
        final = np.flatnonzero(np.arange(labels.size) < cut)
        final = final[np.isin(final, folds[0].train_index)]
        return FoldPlan("holdout", lookforward, 0, tuple(folds), final)
    folds = walk_forward_folds(labels, ts, lookforward=lookforward, embargo=embargo, expanding=scheme == "expanding")
    if not folds:
        raise InvalidInputError(
            "no walk-forward fold: the data needs a train block followed by a test block; "
            "ingest with a split scheme (e.g. --split-scheme 60:20) or use the holdout scheme"
        )
    final = final_training_index(labels, lookforward=lookforward, embargo=embargo)
    blocks = _blocks(labels == "test")
    candidates = sum(1 for i, (t, _, _) in enumerate(blocks) if t and i > 0)
    notes: tuple[str, ...] = ()
    if len(folds) < candidates:
        notes = (
            f"{candidates - len(folds)} of {candidates} test block(s) had no training row left after the purge "
            f"({lookforward} bars) and embargo ({embargo} bars): use longer train blocks or a smaller embargo",
        )
    return FoldPlan(scheme, lookforward, embargo, tuple(folds), final, notes)
