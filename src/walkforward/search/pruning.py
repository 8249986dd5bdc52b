"""Pruning decisions for the optuna search: Optuna's successive halving, one competition per learning rate."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from walkforward.search.halving import ETA

if TYPE_CHECKING:
    import optuna


class Pruning:
    """Optuna's ``SuccessiveHalvingPruner`` deciding per learning rate (the trap of few rounds).

    Each learning rate has a small study of its own that only takes intermediate scores (its trials
    carry no parameters) so its pruner compares a trial with those of the same rate; the TPE study is
    told the outcome. Written this way because Optuna's pruners compare a trial with every trial of
    its study, and halving at few rounds would cull the low rates first.
    """

    def __init__(self, eta: int = ETA) -> None:
        self.eta = eta
        self._studies: dict[str, optuna.Study] = {}
        self._trials: dict[int, optuna.Trial] = {}

    def should_prune(self, number: int, stratum: str, step: int, value: float) -> bool:
        """Report trial ``number``'s score at ``step`` to its learning rate's pruner; ``True`` if it stops."""
        import optuna

        trial = self._trials.get(number)
        if trial is None:
            if stratum not in self._studies:
                self._studies[stratum] = optuna.create_study(
                    direction="maximize",
                    sampler=optuna.samplers.RandomSampler(seed=0),
                    pruner=optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=self.eta),
                )
            trial = self._trials[number] = self._studies[stratum].ask()
        trial.report(value, step)
        prune = trial.should_prune()
        if prune:
            trial.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            del self._trials[number]
        return prune

    def finish(self, number: int, value: float) -> None:
        """Trial ``number`` reached full fidelity."""
        trial = self._trials.pop(number, None)
        if trial is not None:
            tell_score(trial.study, trial, value)


def tell_score(study: optuna.Study, trial: optuna.Trial | int, value: float) -> None:
    """A full-fidelity score; a non-finite one fails the trial (Optuna refuses NaN)."""
    from optuna.trial import TrialState

    if math.isfinite(value) or value == -math.inf:
        study.tell(trial, value)
    else:
        study.tell(trial, state=TrialState.FAIL)
