"""Hyperparameter grids from an algorithm's spec and a request's grid values.

A request names grid values with the reference's parameters (``alpha_grid``, ``num_leaves_grid``,
``rf_max_depth_grid`` ...); each algorithm's spec maps them to its estimator parameters and holds
the reference's default grid (:mod:`walkforward.models.catalog`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from walkforward.errors import InvalidInputError
from walkforward.models.catalog import AlgorithmSpec, grid_names
from walkforward.models.params import check_value


def _check_values(name: str, values: Any) -> list[Any]:
    import numpy as np

    if not isinstance(values, list | tuple) or not values:
        raise InvalidInputError(f"{name} must be a non-empty list of values, e.g. {name}=[0.001, 0.01]")
    for v in values:
        if v is not None and not isinstance(v, int | float | str) or isinstance(v, bool):
            raise InvalidInputError(f"{name} holds {v!r}: grid values are numbers, strings or null")
        if isinstance(v, float) and not np.isfinite(v):
            raise InvalidInputError(f"{name} holds {v!r}: grid values must be finite")
    if len(set(map(repr, values))) != len(values):
        raise InvalidInputError(f"{name} lists a value twice: list each value once")
    return list(values)


def resolve_grid(
    spec: AlgorithmSpec, grids: Mapping[str, Sequence[Any]] | None, *, use_defaults: bool = True
) -> dict[str, list[Any]]:
    """The grid to search: the spec's default grid (unless ``use_defaults=False``) overridden by ``grids``.

    Unknown grid names, names that do not apply to the algorithm and out-of-range values are refused.
    """
    grid = {k: list(v) for k, v in spec.grid.items()} if use_defaults else {}
    applies = grid_names()
    for name, values in (grids or {}).items():
        if name not in applies:
            raise InvalidInputError(f"unknown grid parameter {name!r}: use one of {', '.join(applies)}")
        if name not in spec.grid_names:
            raise InvalidInputError(f"{name} does not apply to {spec.name}: it is for {', '.join(applies[name])}")
        param = spec.grid_names[name]
        grid[param] = _check_values(name, values)
        if param in spec.ranges:
            for v in grid[param]:
                try:
                    check_value(spec.name, param, v, spec.ranges[param], where=name)
                except ValueError as exc:
                    raise InvalidInputError(str(exc)) from None
    return grid


def grid_size(grid: Mapping[str, Sequence[Any]]) -> int:
    import numpy as np

    return int(np.prod([len(v) for v in grid.values()])) if grid else 1


def combinations(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of ``grid`` in a stable order (the last parameter varies fastest)."""
    keys = sorted(grid)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*(grid[k] for k in keys))]
