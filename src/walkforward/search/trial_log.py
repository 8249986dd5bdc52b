"""A search's side of the trials table: what was scored before, and what waits to be written.

:class:`TrialLog` is a mixin of :class:`walkforward.search.run.SearchRun` (it reads and fills the
run's scores): scores found in the trials table at full fidelity join the run without being scored
again; new fold metrics are queued and written a task's results at a time, each full-fidelity one
with what it was (:class:`~walkforward.registry.TrialMeta`: cohort, hyperparameters, position), so
the cohort's explore view shows every configuration a best-only search tried.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from walkforward.registry import FULL_FIDELITY, ModelStore, TrialMeta, TrialStore

if TYPE_CHECKING:
    from walkforward.search.tasks import Item
    from walkforward.training.data import PreparedData

log = logging.getLogger(__name__)


def _from_json(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """A stored fold-metrics dict as it was scored: JSON keeps NaN as ``None``."""
    return {k: math.nan if v is None else v for k, v in metrics.items()}


class TrialLog:
    """The trials-table bookkeeping of a search run (see the module docstring)."""

    # The run's state this mixin reads and fills (set by SearchRun.__init__).
    registry: ModelStore
    data: PreparedData
    cohort_id: str
    combos: list[dict[str, Any]]
    fps: list[str]
    scores: dict[int, float]
    fold_metrics: dict[int, list[dict[str, Any]]]
    notes: list[str]
    trials: TrialStore
    trial_known: set[int]
    _pending: dict[str, dict[str, tuple[list[dict[str, Any]], float]]]
    _pending_meta: dict[str, TrialMeta]
    _in_tasks: bool

    def scored_before(self, items: list[Item]) -> list[Item]:
        """Take the scores of ``items`` found in the trials table (full fidelity); return the rest.

        Found combinations join :attr:`scores` and :attr:`fold_metrics` (so tasks do not score them
        again, see ``Shared.known``) and :attr:`trial_known`.
        """
        if not items:
            return []
        found = self.trials.scores([self.fps[i] for i, _ in items], FULL_FIDELITY)
        n_folds = len(self.data.plan.folds)
        todo: list[Item] = []
        for i, combo in items:
            trial = found.get(self.fps[i])
            if trial is None or len(trial.fold_metrics) != n_folds:
                todo.append((i, combo))
                continue
            self.fold_metrics[i] = [_from_json(m) for m in trial.fold_metrics]
            self.scores[i] = trial.score if trial.score is not None else math.nan
            self.trial_known.add(i)
        if len(todo) < len(items):
            msg = f"{len(items) - len(todo)}/{len(items)} scored before (trials), scoring {len(todo)}"
            log.info(msg)
            self.notes.append(msg)
        return todo

    def queue_trial(self, fidelity: str, index: int, metrics: list[dict[str, Any]], score: float) -> None:
        """Queue a combination's fold metrics at ``fidelity`` for the trials table (see :meth:`record`)."""
        fp = self.fps[index]
        self._pending.setdefault(fidelity, {})[fp] = (metrics, score)
        if fidelity == FULL_FIDELITY:  # a lower fidelity scored a cut-down configuration: not these params
            # its place in the scores' insertion order (the trial order save() records), usually the last
            if next(reversed(self.scores), None) == index:
                position: int | None = len(self.scores) - 1
            else:
                position = list(self.scores).index(index) if index in self.scores else None
            self._pending_meta[fp] = TrialMeta(self.cohort_id, dict(self.combos[index]), position)
        if not self._in_tasks:
            self.flush_trials()

    def flush_trials(self) -> None:
        """Write the queued trials (one transaction per fidelity; trials another search wrote first are kept)."""
        pending, self._pending = self._pending, {}
        meta, self._pending_meta = self._pending_meta, {}
        for fidelity, scored in pending.items():
            self.trials.record_many(fidelity, scored, meta if fidelity == FULL_FIDELITY else None)

    def registered_scores(self, existing: set[str]) -> dict[int, float]:
        """The cross-validated scores of the combinations registered before (trials table, else the record)."""
        held = [i for i, fp in enumerate(self.fps) if fp in existing]
        found = self.trials.scores([self.fps[i] for i in held], FULL_FIDELITY)
        out = {i: t.score for i in held if (t := found.get(self.fps[i])) is not None and t.score is not None}
        for i in (i for i in held if self.fps[i] not in found):  # registered by a single run: no trial
            if (rec := self.registry.get_by_fingerprint(self.fps[i])) is not None and rec.cv_score is not None:
                out[i] = rec.cv_score
        return out
