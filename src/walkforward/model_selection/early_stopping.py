"""Early stopping for boosters without leakage: the inner slice, its invariants, and the final round count.

Early stopping is off by default (``early_stopping_rounds=None``). When it is on, each fold's booster
watches its score on an **inner slice**: the last :data:`INNER_FRACTION` of the fold's training rows
(in time order). The slice is cut from the training rows like a test block from the data set: the
inner-train rows whose target window ``(i, i + lookforward]`` reaches a slice row are purged (the
same :func:`~walkforward.model_selection.splitters.boundary_masks` as every train/test boundary).
No embargo is needed: every inner-train row precedes the slice, so none looks back into it. The
fold's test block is never seen before it is scored.

The preprocessing (impute, prune, scale) stays fitted on *all* of the fold's training rows, slice
included: it only ever sees training rows, and the slice only decides when to stop.

``n_estimators`` becomes an upper bound: a configuration with ``n_estimators=k`` is scored at the
best round among its first ``k`` (what a fit with ``n_estimators=k`` and the same early stopping
stops at: ``min(k, best)`` whenever the best round of the longer fit is within ``k``). The final fit
uses no slice and :func:`final_rounds` (the median of the folds' stopped round counts).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from walkforward.errors import InvalidInputError
from walkforward.model_selection.splitters import boundary_masks

#: The share of a fold's training rows (the most recent) that early stopping watches.
INNER_FRACTION = 0.1
#: The fold metric holding the boosting rounds a fold's booster was scored at.
STOPPED_KEY = "best_iteration"


@dataclass(frozen=True)
class InnerSplit:
    """One fold's early-stopping split, as positions into that fold's training rows.

    ``train`` are the rows the booster fits on, ``valid`` the inner slice it is scored on after each
    round, ``purged`` the training rows dropped at the inner boundary, ``rounds`` the patience (stop
    when the slice's loss has not improved for that many rounds).
    """

    train: np.ndarray
    valid: np.ndarray
    purged: int
    rounds: int


def inner_split(
    train_index: np.ndarray, *, lookforward: int, rounds: int, fraction: float = INNER_FRACTION, fold: int = 0
) -> InnerSplit:
    """The inner slice (the last ``fraction`` of ``train_index``, at least one row) and the purged inner-train rows.

    ``train_index`` are the fold's training rows as positions in the data set, ascending (as a
    :class:`~walkforward.domain.Fold` holds them); purging is judged on those positions, so rows a
    gap apart (an expanding window's earlier blocks) are purged only if their target window reaches
    the slice.

    Examples
    --------
    >>> s = inner_split(np.arange(100), lookforward=3, rounds=20)
    >>> s.valid[[0, -1]].tolist(), s.train[-1].item(), s.purged
    ([90, 99], 86, 3)
    """
    rows = np.asarray(train_index)
    if rows.ndim != 1 or np.any(np.diff(rows) <= 0):
        raise InvalidInputError("a fold's training rows must be positions in ascending order")
    n_valid = max(1, math.ceil(rows.size * fraction))
    head, tail = rows[:-n_valid], rows[-n_valid:]
    in_slice = np.zeros(int(rows[-1]) + 1 if rows.size else 0, dtype=bool)
    in_slice[tail] = True
    # The slice plays the test block: no embargo, since no inner-train row follows it.
    purged, _ = boundary_masks(in_slice, lookforward=lookforward, embargo=0)
    keep = ~purged[head]
    if not keep.any():
        raise InvalidInputError(
            f"fold {fold} has {rows.size} training rows: too few for an early-stopping slice of the last "
            f"{fraction:.0%} with a {lookforward}-bar purge; use longer train blocks or drop early_stopping_rounds"
        )
    return InnerSplit(
        train=np.flatnonzero(keep),
        valid=np.arange(rows.size - n_valid, rows.size),
        purged=int((~keep).sum()),
        rounds=int(rounds),
    )


def inner_split_violations(
    train_index: np.ndarray, test_index: np.ndarray, fit_rows: np.ndarray, valid_rows: np.ndarray, *, lookforward: int
) -> list[str]:
    """What is wrong with an early-stopping split, in data-set positions (empty: nothing).

    The invariants: the slice is made of the fold's training rows and lies entirely before the test
    block; the booster fits on training rows outside the slice, all before it; and no row it fits on
    has a target window ``(i, i + lookforward]`` that reaches a slice row.
    """
    train, test = np.asarray(train_index), np.asarray(test_index)
    fit, valid = np.asarray(fit_rows), np.asarray(valid_rows)
    out = []
    if valid.size == 0 or fit.size == 0:
        out.append("the inner slice or the rows fitted on are empty")
        return out
    if not np.isin(valid, train).all():
        out.append("the inner slice holds rows that are not the fold's training rows")
    if not np.isin(fit, train).all():
        out.append("the booster fits on rows that are not the fold's training rows")
    if test.size and valid.max() >= test.min():
        out.append("the inner slice reaches the test block")
    if np.intersect1d(fit, valid).size:
        out.append("the booster fits on rows of the inner slice")
    if fit.max() >= valid.min():
        out.append("the booster fits on rows after the start of the inner slice")
    reach = np.searchsorted(valid, fit, side="right")  # the first slice row after each fitted row
    nearest = np.where(reach < valid.size, valid[np.minimum(reach, valid.size - 1)], np.iinfo(np.int64).max)
    if np.any(nearest - fit <= lookforward):
        out.append(f"a fitted row's target window ({lookforward} bars) reaches into the inner slice")
    return out


def final_rounds(stopped: Sequence[int]) -> int:
    """The final fit's round count: the median of the folds' stopped counts, rounded half up.

    Examples
    --------
    >>> final_rounds([87, 112, 95]), final_rounds([10, 13])
    (95, 12)
    """
    if not stopped:
        raise InvalidInputError("no fold recorded a stopped round count: the final fit has no round count to use")
    return max(1, int(math.floor(float(np.median(np.asarray(stopped, dtype=float))) + 0.5)))


def stopped_rounds(fold_metrics: Sequence[Mapping[str, Any]]) -> list[int]:
    """The folds' stopped round counts (:data:`STOPPED_KEY`), in fold order."""
    return [int(m[STOPPED_KEY]) for m in fold_metrics if m.get(STOPPED_KEY) is not None]


def stopping_summary(rounds: int | None, fold_metrics: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """What early stopping decided, for the model's record (``None`` when it was off)."""
    if rounds is None:
        return None
    per_fold = stopped_rounds(fold_metrics)
    final = final_rounds(per_fold)
    return {
        "rounds": rounds,
        "inner_fraction": INNER_FRACTION,
        "fold_rounds": per_fold,
        "final_rounds": final,
        "summary": f"early stopping: folds stopped at {', '.join(map(str, per_fold))} rounds; final fit {final} rounds",
    }
