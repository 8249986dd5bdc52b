"""Folds for a loaded :class:`~walkforward.data.Dataset`, with the embargo sized from its features."""

from __future__ import annotations

from walkforward.data.loader import Dataset
from walkforward.errors import InvalidInputError
from walkforward.model_selection.splitters import FoldPlan, Scheme, make_folds


def default_embargo(ds: Dataset) -> int:
    """The longest lookback of the features in use, in bars of the data set's timeframe."""
    longest = ds.max_lookback()
    if longest is None:
        unknown = [c for c in ds.feature_columns if ds.lookbacks.get(c) is None]
        raise InvalidInputError(
            f"no recorded lookback for {', '.join(unknown[:5])}{' ...' if len(unknown) > 5 else ''}: "
            "pass an explicit embargo (--embargo BARS)"
        )
    return longest


def plan_folds(ds: Dataset, *, embargo: int | None = None, scheme: Scheme = "walk_forward") -> FoldPlan:
    """Walk-forward (or holdout) folds for ``ds``; ``embargo=None`` covers the longest lookback."""
    return make_folds(
        ds.split,
        ds.ts.to_numpy(),
        lookforward=ds.request.lookforward,
        embargo=default_embargo(ds) if embargo is None else embargo,
        scheme=scheme,
    )
