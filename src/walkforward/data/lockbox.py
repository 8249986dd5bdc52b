"""The lock box: a final period, from ``WALKFORWARD_LOCKBOX_START`` on, that no training, search or statistic reads.

The loader applies :func:`guard` to every load through a store that carries a lock box, unless the
caller asks for the lock box by name (prediction, and a registered model's one evaluation on it).
Clipping the load's ``end`` to the day before the lock box is enough for the targets too: a target
is the price ``lookforward`` rows ahead *within the loaded rows* (:func:`~walkforward.data.loader.make_target`),
so the last ``lookforward`` rows before the lock box have no target and are dropped, and no kept
row's target window reaches a lock-box bar. Dates are local dates of the primary symbol's exchange,
like a request's ``start`` and ``end``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING

import numpy as np

from walkforward.errors import InvalidInputError

if TYPE_CHECKING:
    from walkforward.data.loader import LoadRequest
    from walkforward.features.store import FeatureStore

#: the setting's name, as users set it (every message about the lock box names it)
SETTING = "WALKFORWARD_LOCKBOX_START"


def guard(req: LoadRequest, lockbox_start: dt.date) -> LoadRequest:
    """``req`` ending the day before ``lockbox_start``; a ``start`` or ``end`` inside the lock box is refused.

    Examples
    --------
    >>> guard(LoadRequest.build("AAPL"), dt.date(2024, 3, 1)).end  # doctest: +SKIP
    datetime.date(2024, 2, 29)
    """
    for name, value in (("start", req.start), ("end", req.end)):
        if value is not None and value >= lockbox_start:
            raise InvalidInputError(
                f"{name} date {value} is inside the lock box (from {lockbox_start}, set by {SETTING}): "
                f"training, searches and statistics read only dates before {lockbox_start}; "
                "evaluate a registered model on the lock box once with `walkforward models lockbox MODEL_ID`"
            )
    last = lockbox_start - dt.timedelta(days=1)
    return dataclasses.replace(req, end=last if req.end is None else min(req.end, last))


def in_lockbox(local_dates: np.ndarray, lockbox_start: dt.date | None) -> np.ndarray:
    """Whether each local trading day (``datetime.date`` values) is inside the lock box."""
    dates = np.asarray(local_dates, dtype=object)
    if lockbox_start is None:
        return np.zeros(dates.size, dtype=bool)
    return np.fromiter((d >= lockbox_start for d in dates), dtype=bool, count=dates.size)


def held_out_sessions(store: FeatureStore, symbol: str, lockbox_start: dt.date) -> int:
    """How many of ``symbol``'s stored trading days are in the lock box (any feature-set version)."""
    files = store.day_files(symbol, start=lockbox_start)
    return len({path.parent.name for paths in files.values() for path in paths})


def note(lockbox_start: dt.date, sessions: int) -> str:
    """The fold plan's note on the lock box (recorded with every model trained while it is set)."""
    return (
        f"lock box from {lockbox_start}: {sessions} session(s) held out ({SETTING}); no fold, search "
        "or statistic saw them, and no training row's target reaches them"
    )
