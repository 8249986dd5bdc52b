"""Folds for a loaded :class:`~walkforward.data.Dataset`, with the embargo its scheme needs sized from its features."""

from __future__ import annotations

import dataclasses
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


#: Schemes where every training row of a fold precedes the fold's test block: a feature of a training
#: row can look back into an *earlier* test block, which that fold does not score, but never into
#: its own. An embargo buys no protection there (purged k-fold and CPCV, where training rows follow
#: the evaluated test rows, need one).
NO_EMBARGO_SCHEMES: frozenset[str] = frozenset({"walk_forward", "expanding", "holdout"})


def resolve_embargo(
    ds: Dataset,
    features: Sequence[str] | None = None,
    *,
    scheme: Scheme,
    embargo: int | None = None,
    strict: bool = False,
) -> tuple[int, str | None]:
    """The embargo a plan uses and a note saying why, when it is not the one asked for.

    An explicit ``embargo`` is used as given. Otherwise: none for walk-forward, expanding and holdout
    (the purge of ``lookforward`` bars before each test block still applies), the longest lookback of
    ``features`` for other schemes or with ``strict=True`` (the behaviour before 2026-11-28).
    """
    if embargo is not None:
        return embargo, None
    if strict or scheme not in NO_EMBARGO_SCHEMES:
        return default_embargo(ds, features), None
    note = (
        f"no embargo: in {scheme.replace('_', '-')} every training row of a fold precedes its test block, "
        "so no feature of a training row looks back into the rows it is scored on (the purge before each "
        "test block still applies); strict_embargo drops the longest lookback after every test block"
    )
    return 0, note


def plan_folds(
    ds: Dataset, *, embargo: int | None = None, scheme: Scheme = "walk_forward", strict_embargo: bool = False
) -> FoldPlan:
    """Folds for ``ds``; ``embargo=None`` means the scheme's default (see :func:`resolve_embargo`)."""
    size, note = resolve_embargo(ds, scheme=scheme, embargo=embargo, strict=strict_embargo)
    plan = make_folds(ds.split, ds.ts.to_numpy(), lookforward=ds.request.lookforward, embargo=size, scheme=scheme)
    return with_note(plan, note)


def with_note(plan: FoldPlan, note: str | None) -> FoldPlan:
    """``plan`` with ``note`` added to its notes (recorded with every model, shown with the folds)."""
    return plan if note is None else dataclasses.replace(plan, notes=(note, *plan.notes))
