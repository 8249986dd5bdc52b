"""A retraining schedule as pure index arithmetic: which rows each refit trains on and which rows it trades.

After an initial window of ``initial`` sessions, the model is refitted every ``every`` sessions on
every row before the period it trades (an expanding window), purged at the boundary as the core's
folds are (:func:`~walkforward.model_selection.splitters.boundary_masks`): a row whose label window
(the next ``lookforward`` rows) reaches the traded period is not trained on. The first refit's rows
are also the frozen model's: fitted once, it trades every period. No model or data is seen here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from walkforward.errors import InvalidInputError
from walkforward.model_selection.splitters import boundary_masks


@dataclass(frozen=True)
class Refit:
    """One refit: the rows it is fitted on and the contiguous rows it then trades."""

    number: int
    train_index: np.ndarray
    trade_index: np.ndarray
    purged: int

    def to_dict(self, sessions: np.ndarray | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "refit": self.number,
            "train_rows": int(self.train_index.size),
            "trade_rows": int(self.trade_index.size),
            "purged": self.purged,
        }
        if sessions is not None:
            out["trade_start"] = str(sessions[self.trade_index[0]])
            out["trade_end"] = str(sessions[self.trade_index[-1]])
            out["last_train_session"] = str(sessions[self.train_index[-1]])
        return out


@dataclass(frozen=True)
class SchedulePlan:
    """The refits of a schedule; the frozen model is fitted on the first refit's rows and trades them all."""

    every: int
    lookforward: int
    initial: int
    refits: tuple[Refit, ...]

    @property
    def frozen_train_index(self) -> np.ndarray:
        return self.refits[0].train_index

    @property
    def trade_index(self) -> np.ndarray:
        """Every traded row, in time order (the periods are contiguous and follow one another)."""
        return np.concatenate([r.trade_index for r in self.refits])


def schedule_plan(sessions: np.ndarray, *, initial: int, every: int, lookforward: int) -> SchedulePlan:
    """Refits every ``every`` sessions after the first ``initial`` sessions of ``sessions`` (one label per row).

    Examples
    --------
    >>> days = np.repeat(np.arange(10), 3)
    >>> plan = schedule_plan(days, initial=4, every=2, lookforward=2)
    >>> [(r.train_index[-1], r.trade_index[0]) for r in plan.refits]
    [(9, 12), (15, 18), (21, 24)]
    """
    for name, value, low in (("initial", initial, 1), ("every", every, 1), ("lookforward", lookforward, 1)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
            raise InvalidInputError(f"invalid {name}={value!r}: use a whole number >= {low}")
    labels = np.asarray(sessions)
    if labels.ndim != 1 or labels.size == 0:
        raise InvalidInputError("no rows to schedule: pass one session label per row")
    starts = np.concatenate(([0], np.flatnonzero(labels[1:] != labels[:-1]) + 1))
    if len(set(labels[starts].tolist())) != starts.size:
        raise InvalidInputError("the rows are not in time order: each session's rows must be one contiguous run")
    n_sessions = starts.size
    if n_sessions <= initial:
        raise InvalidInputError(
            f"the data holds {n_sessions} session(s), none after an initial window of {initial}: "
            "pass a shorter initial window or ingest more days"
        )
    n = labels.size
    refits = []
    for k, s in enumerate(range(initial, n_sessions, every)):
        a = int(starts[s])
        b = int(starts[s + every]) if s + every < n_sessions else n
        is_trade = np.zeros(n, dtype=bool)
        is_trade[a:] = True  # everything from the period on is unseen at the refit
        purged, _ = boundary_masks(is_trade, lookforward=lookforward, embargo=0)
        train = np.flatnonzero(~is_trade & ~purged)
        if train.size == 0:
            raise InvalidInputError(
                f"refit {k + 1} has no training row left after purging {lookforward} bar(s): "
                "pass a longer initial window"
            )
        refits.append(Refit(k + 1, train, np.arange(a, b), int(purged.sum())))
    return SchedulePlan(every=every, lookforward=lookforward, initial=initial, refits=tuple(refits))


__all__ = ["Refit", "SchedulePlan", "schedule_plan"]
