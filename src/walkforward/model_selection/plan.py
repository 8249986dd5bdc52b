"""Folds for a loaded :class:`~walkforward.data.Dataset`, with the embargo sized from its features."""

from __future__ import annotations

from collections.abc import Sequence

from walkforward.data.loader import Dataset
from walkforward.errors import InvalidInputError
from walkforward.model_selection.splitters import FoldPlan, Scheme, make_folds


def default_embargo(ds: Dataset, features: Sequence[str] | None = None) -> int:
    """The longest lookback of the features in use, in bars of the data set's timeframe.

    ``features`` narrows it to the features a model will use (``None``: every feature of ``ds``), so
    a model on short-lookback features does not lose the rows a long-lookback one would. An empty
    list needs no embargo (0). A feature without a recorded lookback (or unknown to ``ds``) is
    refused, naming it, since the embargo it needs cannot be sized.

    Examples
    --------
    >>> default_embargo(ds, ["rsi_14", "sma_50"])  # doctest: +SKIP
    50
    """
    names = ds.feature_columns if features is None else tuple(features)
    lookbacks = [ds.lookbacks.get(c) for c in names]
    unknown = [c for c, v in zip(names, lookbacks, strict=True) if v is None]
    if unknown:
        raise InvalidInputError(
            f"no recorded lookback for {', '.join(unknown[:5])}{' ...' if len(unknown) > 5 else ''}: "
            "pass an explicit embargo (--embargo BARS)"
        )
    return max((int(v) for v in lookbacks if v is not None), default=0)


def plan_folds(ds: Dataset, *, embargo: int | None = None, scheme: Scheme = "walk_forward") -> FoldPlan:
    """Walk-forward (or holdout) folds for ``ds``; ``embargo=None`` covers the longest lookback."""
    return make_folds(
        ds.split,
        ds.ts.to_numpy(),
        lookforward=ds.request.lookforward,
        embargo=default_embargo(ds) if embargo is None else embargo,
        scheme=scheme,
    )
