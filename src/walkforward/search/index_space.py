"""A grid as Optuna samples it: one integer index per parameter over its sorted values.

Sampling indices rather than categories keeps neighbours neighbours for TPE (``num_leaves`` 31 sits
between 15 and 63), and every sampled point is a grid combination, whose fingerprint deduplicates
it against what was scored or registered before. Pure: no study, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def order_values(values: Sequence[Any]) -> tuple[tuple[Any, ...], bool]:
    """A parameter's grid values in index order, and whether that order means something (``ordered``).

    Numbers ascend. ``None`` at either end of the grid stays there (``max_depth=None`` is "no limit",
    listed last). Any other mix (strings, ``None`` in the middle) keeps the grid's order and is sampled
    as a category.

    Examples
    --------
    >>> order_values([0.3, 0.01, 0.1])
    ((0.01, 0.1, 0.3), True)
    >>> order_values([5, 50, 10, None])
    ((5, 10, 50, None), True)
    >>> order_values(["sqrt", "log2", 0.5])
    (('sqrt', 'log2', 0.5), False)
    """
    numbers = sorted(v for v in values if _is_number(v))
    rest = [v for v in values if not _is_number(v)]
    if not rest:
        return tuple(numbers), True
    if rest == [None] and values[0] is None:
        return (None, *numbers), True
    if rest == [None] and values[-1] is None:
        return (*numbers, None), True
    return tuple(values), False


@dataclass(frozen=True)
class Axis:
    """One grid parameter as Optuna samples it: an index into ``values``."""

    name: str
    values: tuple[Any, ...]
    ordered: bool

    def distribution(self) -> BaseDistribution:
        from optuna.distributions import CategoricalDistribution, IntDistribution

        n = len(self.values)
        return IntDistribution(0, n - 1) if self.ordered else CategoricalDistribution(list(range(n)))


class Space:
    """The grid as integer indices: trial parameters <-> positions in the run's combinations."""

    def __init__(self, grid: Mapping[str, Sequence[Any]], combos: Sequence[Mapping[str, Any]]) -> None:
        # A parameter with one value is not sampled: it is the same in every combination.
        self.axes = [Axis(name, *order_values(grid[name])) for name in sorted(grid) if len(grid[name]) > 1]
        self.distributions = {a.name: a.distribution() for a in self.axes}
        self._position = {a.name: {repr(v): k for k, v in enumerate(a.values)} for a in self.axes}
        self._combo_of = {self._key(c): i for i, c in enumerate(combos)}
        self._combos = combos

    def _key(self, combo: Mapping[str, Any]) -> tuple[int, ...]:
        return tuple(self._position[a.name][repr(combo[a.name])] for a in self.axes)

    def combo_index(self, params: Mapping[str, int]) -> int:
        """The position in the run's combinations of a trial's index parameters."""
        return self._combo_of[tuple(params[a.name] for a in self.axes)]

    def params(self, i: int) -> dict[str, int]:
        """The index parameters of combination ``i`` (to seed or enqueue a trial)."""
        return dict(zip((a.name for a in self.axes), self._key(self._combos[i]), strict=True))
