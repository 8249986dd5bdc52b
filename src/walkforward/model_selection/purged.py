"""Purged k-fold and Combinatorial Purged CV as pure functions (López de Prado, AFML ch. 7 and 12).

The rows, in time order, are cut into ``N`` contiguous groups of nearly equal size (the first
``n % N`` one row longer, as scikit-learn's ``KFold``). A split tests ``k`` of them and trains on
the rest, minus two guards applied around *every* test row of the split:

- **purge** (both sides): a training row ``i`` whose label window ``[i, i + h]`` overlaps a test
  row's ``[s, s + h]``, i.e. ``|i - s| <= h`` for ``h = lookforward``: before a test group its label
  was built from test-period prices; after one, a test label was built from its period's prices;
- **embargo** (after): a training row not purged with a test row in ``[i - embargo, i)``: its
  features look back into the test period. Only these schemes need it, since here training rows
  follow the rows they are evaluated against (walk-forward never trains after its test block).

Purged k-fold is the case ``k = 1``. With ``k > 1`` (CPCV) there are ``C(N, k)`` splits, each group
is tested in ``C(N - 1, k - 1)`` of them, and that is the number of backtest paths: path ``p`` takes
group ``g``'s predictions from the ``p``-th split (in split order) that tests ``g``
(:func:`backtest_paths`), so every path covers every row exactly once.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

from walkforward.domain import Fold
from walkforward.errors import InvalidInputError
from walkforward.model_selection.splitters import _fold, boundary_masks


def purge_masks(is_test: np.ndarray, *, lookforward: int, embargo: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (purged, embargoed) boolean masks over the training rows around test rows ``is_test``.

    ``purged[i]``: row i is train and a test row ``s`` has ``|i - s| <= lookforward``.
    ``embargoed[i]``: row i is train, not purged, and a test row lies in ``[i - embargo, i)``.
    """
    is_test = np.asarray(is_test, dtype=bool)
    before, _ = boundary_masks(is_test, lookforward=lookforward, embargo=0)
    _, after = boundary_masks(is_test, lookforward=0, embargo=lookforward)
    _, behind = boundary_masks(is_test, lookforward=0, embargo=embargo)
    purged = before | after
    return purged, behind & ~purged


def group_bounds(n_samples: int, n_groups: int) -> np.ndarray:
    """``n_groups + 1`` boundaries of contiguous groups of nearly equal size (group g: ``[b[g], b[g+1])``)."""
    if n_groups < 2 or n_samples < n_groups:
        raise InvalidInputError(
            f"cannot cut {n_samples} rows into {n_groups} groups: use at least 2 groups and no more groups than rows"
        )
    sizes = np.full(n_groups, n_samples // n_groups)
    sizes[: n_samples % n_groups] += 1
    return np.concatenate(([0], np.cumsum(sizes)))


def split_test_groups(n_groups: int, n_test_groups: int) -> list[tuple[int, ...]]:
    """The test groups of every split, in split order (lexicographic, as ``itertools.combinations``)."""
    if not 1 <= n_test_groups < n_groups:
        raise InvalidInputError(
            f"invalid number of test groups {n_test_groups} for {n_groups} groups: use 1 .. {n_groups - 1}"
        )
    return list(itertools.combinations(range(n_groups), n_test_groups))


def n_backtest_paths(n_groups: int, n_test_groups: int) -> int:
    """``C(N - 1, k - 1) = k / N * C(N, k)``: how often each group is tested, and the number of paths."""
    return math.comb(n_groups - 1, n_test_groups - 1)


def backtest_paths(n_groups: int, n_test_groups: int) -> np.ndarray:
    """``paths[p, g]``: the split (0-based, in split order) whose predictions fill group ``g`` of path ``p``.

    Examples
    --------
    >>> backtest_paths(3, 2).tolist()  # splits (0, 1), (0, 2), (1, 2)
    [[0, 0, 1], [1, 2, 2]]
    """
    combos = split_test_groups(n_groups, n_test_groups)
    paths = np.empty((n_backtest_paths(n_groups, n_test_groups), n_groups), dtype=np.int64)
    for g in range(n_groups):
        paths[:, g] = [s for s, groups in enumerate(combos) if g in groups]
    return paths


def combinatorial_folds(
    n_samples: int,
    ts: Sequence[object] | np.ndarray | None = None,
    *,
    n_groups: int,
    n_test_groups: int,
    lookforward: int,
    embargo: int,
) -> tuple[list[Fold], list[tuple[int, ...]]]:
    """The folds of every split (purged and embargoed) and the test groups of each, in split order.

    A split left with no training row is refused: every split is needed to assemble the paths.
    """
    bounds = group_bounds(n_samples, n_groups)
    combos = split_test_groups(n_groups, n_test_groups)
    ts_arr = None if ts is None else np.asarray(ts)
    group_of = np.repeat(np.arange(n_groups), np.diff(bounds))
    folds: list[Fold] = []
    for number, groups in enumerate(combos, start=1):
        is_test = np.isin(group_of, groups)
        purged, embargoed = purge_masks(is_test, lookforward=lookforward, embargo=embargo)
        train = np.flatnonzero(~is_test & ~purged & ~embargoed)
        if train.size == 0:
            raise InvalidInputError(
                f"split {number} (test groups {list(groups)}) has no training row left after the purge "
                f"({lookforward} bars) and embargo ({embargo} bars): use more rows, fewer groups or a smaller embargo"
            )
        test = np.flatnonzero(is_test)
        folds.append(_fold(number, train, test, ts_arr, int(purged.sum()), int(embargoed.sum())))
    return folds, combos


def assemble_paths(
    split_values: Sequence[np.ndarray | Sequence[float]], *, n_samples: int, n_groups: int, n_test_groups: int
) -> np.ndarray:
    """Backtest paths from per-split test predictions: an array ``(n_paths, n_samples)``.

    ``split_values[j]`` holds split ``j``'s values for its test rows, in the order of that split's
    ``test_index`` (as ``split`` yields it, e.g. ``model.predict(X[test])``). Row ``i`` of path ``p``
    takes the value from split ``paths[p, group of i]``: every path is a full out-of-sample series.
    """
    bounds = group_bounds(n_samples, n_groups)
    combos = split_test_groups(n_groups, n_test_groups)
    if len(split_values) != len(combos):
        raise InvalidInputError(f"{len(split_values)} prediction arrays for {len(combos)} splits: pass one per split")
    paths = backtest_paths(n_groups, n_test_groups)
    out = np.full((paths.shape[0], n_samples), np.nan)
    for j, (values, groups) in enumerate(zip(split_values, combos, strict=True)):
        arr = np.asarray(values, dtype=float)
        expected = int(sum(bounds[g + 1] - bounds[g] for g in groups))
        if arr.shape != (expected,):
            raise InvalidInputError(f"split {j + 1} tests {expected} rows but {arr.size} values were passed for it")
        offset = 0
        for g in groups:  # a split's test rows are its groups' rows in order
            a, b = int(bounds[g]), int(bounds[g + 1])
            out[paths[:, g] == j, a:b] = arr[offset : offset + b - a]
            offset += b - a
    return out
