"""A search's budget as it is spent: wall time since the run began, and fold fits scored.

:class:`BudgetClock` only answers "is it spent?" and "how much of this may still start?"; the
run (:meth:`walkforward.search.run.SearchRun.run_tasks`) stops starting tasks once it is spent,
and the strategies stop between rungs and trials. A fit is one configuration scored on one fold.
"""

from __future__ import annotations

import math
import time
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from walkforward.domain import SearchBudget

if TYPE_CHECKING:
    from walkforward.search.tasks import Item

#: Units (combinations sharing one fit) per task under a time budget: small tasks, so that
#: little work is abandoned when the time is up (without a budget a task holds up to 32).
TIMED_TASK_UNITS = 4


class BudgetClock:
    """Tracks a :class:`~walkforward.domain.SearchBudget` (or none) from the moment it is made."""

    def __init__(self, budget: SearchBudget | None) -> None:
        self.budget = budget
        self.started = time.monotonic()
        self.fits = 0
        self._stopped_at: tuple[float, int] | None = None  # (elapsed, fits) when the budget first stopped work

    @property
    def stopped(self) -> bool:
        """Whether the budget stopped some work (see :meth:`stop`)."""
        return self._stopped_at is not None

    def stop(self) -> None:
        """Record that the budget stopped work, and when (the first time only)."""
        if self._stopped_at is None:
            self._stopped_at = (self.elapsed(), self.fits)

    @property
    def limited(self) -> bool:
        return self.budget is not None

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def spend(self, fits: int) -> None:
        self.fits += fits

    @property
    def spent(self) -> bool:
        """Whether the budget is used up (never, without a budget)."""
        b = self.budget
        if b is None:
            return False
        if b.fits is not None:
            return self.fits >= b.fits
        return b.seconds is not None and self.elapsed() >= b.seconds

    def affordable(self, n_folds: int) -> int | None:
        """How many more configurations may start under a fits budget (None: no such limit)."""
        if self.budget is None or self.budget.fits is None:
            return None
        return max(0, math.ceil((self.budget.fits - self.fits) / max(1, n_folds)))

    def admit(self, items: Sequence[Item], known: Collection[int], n_folds: int) -> list[Item]:
        """The items that may start: all without a budget; else in a seeded random order (a stopped grid
        is then a uniform sample of it, not its first rows), none once it is spent, and under a fits
        budget only as many new ones as it can pay for (``known`` ones cost nothing)."""
        if self.budget is None:
            return list(items)
        if self.spent:
            return []
        ordered = [items[i] for i in np.random.default_rng(0).permutation(len(items))]
        affordable = self.affordable(n_folds)
        if affordable is None:
            return ordered
        keep = set([i for i, _ in ordered if i not in known][:affordable])
        return [it for it in ordered if it[0] in known or it[0] in keep]

    def stop_study(self, study: Any, trial: Any) -> None:
        """An Optuna ``optimize`` callback: stop the study once the budget is spent."""
        if self.spent:
            self.stop()
            study.stop()

    def describe(self) -> str:
        """``budget of 10m spent after 252 s and 312 fits``."""
        b = self.budget
        assert b is not None
        shown = f"{b.fits:,} fits" if b.fits is not None else b.text
        elapsed, fits = self._stopped_at or (self.elapsed(), self.fits)
        return f"budget of {shown} spent after {elapsed:.0f} s and {fits:,} fits"
