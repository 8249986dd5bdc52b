"""Optuna search (TPE) over the grid's values: trials in parallel, index sampling, pruning on rounds, resume.

- **Parallel trials**: the study lives in the search process (in memory: the registry's trials table is
  the persistence). It asks a batch of ``executor.n_jobs`` trials at a time (TPE with
  ``constant_liar=True``, so the trials of one batch do not propose the same point), the batch is
  scored as tasks on the run's executor (local processes or a Dask cluster), and the scores are told.
- **Index sampling**: each grid parameter is an integer index over its sorted values
  (:func:`order_values`), so neighbours are neighbours for TPE, and every trial is a grid point whose
  fingerprint deduplicates it. A combination already scored (in this run, in the trials table, or
  registered) is told its known score, never trained again; ``n_trials`` counts *distinct*
  configurations.
- **Pruning**: for algorithms with rounds (boosters, forests), every trial is first scored with a
  fraction of its rounds on every fold (one fold never decides alone), and Optuna's
  ``SuccessiveHalvingPruner`` decides from that score who goes on; only full-fidelity scores are
  recorded and ranked. At few rounds a low learning rate predicts roughly the mean and would be
  pruned unfairly, so the pruner holds one competition per learning rate (:class:`Pruning`).
  Algorithms without rounds (linear models) are not pruned: a linear path costs milliseconds, and a
  score on fewer folds would let one market regime decide.
- **Resume**: the full-fidelity scores in the trials table (and the low-fidelity scores of trials
  that stopped short of it) are added to the study as finished trials before anything is asked: TPE
  learns from them, they count toward ``n_trials``, and only what is missing is scored.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from walkforward.search.halving import ETA, Rung, plan_rungs
from walkforward.search.index_space import Space
from walkforward.search.run import SearchRun
from walkforward.search.tasks import Item, Outcome, Shared
from walkforward.training.fit import summarize

if TYPE_CHECKING:
    import optuna

log = logging.getLogger(__name__)

#: The search stops after this many asks per wanted configuration (the sampler keeps repeating itself).
MAX_ASKS_PER_TRIAL = 20
#: After this many known combinations proposed in a row, an untried one is enqueued (TPE has converged).
MAX_REPEATS = 10


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
            _tell(trial.study, trial, value)


def _tell(study: optuna.Study, trial: optuna.Trial | int, value: float) -> None:
    """A full-fidelity score; a non-finite one fails the trial (Optuna refuses NaN)."""
    from optuna.trial import TrialState

    if math.isfinite(value) or value == -math.inf:
        study.tell(trial, value)
    else:
        study.tell(trial, state=TrialState.FAIL)


def _fraction(rung: Rung) -> str:
    inverse = 1 / rung.fraction
    return f"1/{round(inverse)}" if abs(inverse - round(inverse)) < 1e-9 else f"{rung.fraction:.3g}"


class OptunaSearch:
    """One optuna search over a :class:`SearchRun`: seed, ask in batches, score with pruning, tell."""

    def __init__(self, run: SearchRun, existing: set[str]) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.run, self.existing = run, existing
        self.space = Space(run.grid, run.combos)
        self.n_target = min(run.sreq.n_trials, len(run.combos))
        self.study = optuna.create_study(
            direction="maximize",
            sampler=optuna.samplers.TPESampler(seed=0, constant_liar=True, multivariate=True),
            pruner=optuna.pruners.NopPruner(),  # decisions are the per-learning-rate pruners' (Pruning)
        )
        self.rounds_param = run.spec.rounds_param
        if self.rounds_param is None:  # nothing to cut: every trial at full fidelity
            self.low_rungs: list[Rung] = []
        else:
            full = max(self._rounds(c) for c in run.combos)
            self.low_rungs = plan_rungs(self.n_target, full)[:-1]
        self.pruning = Pruning()
        self.told: dict[int, int | None] = {}  # combination -> the level it was pruned at (None: full fidelity)
        self.intermediate: dict[int, dict[int, float]] = {}  # combination -> step -> low-fidelity score
        self.asks = self.repeats = self.batches = self.low_fits = self.low_cached = 0
        self.seeded = self.registered = 0
        self._untried: list[int] | None = None
        self._low_shared: Shared | None = None

    # -- fidelities
    def _rounds(self, combo: Mapping[str, Any]) -> int:
        assert self.rounds_param is not None
        return int(combo.get(self.rounds_param) or 100)

    def _low_rounds(self, i: int, level: int) -> int:
        return self.low_rungs[level].rounds(self._rounds(self.run.combos[i]))

    @staticmethod
    def step(level: int) -> int:
        """The step a rung's score is reported at: the pruner's rungs are 1, ETA, ETA**2 ..."""
        return int(ETA**level)

    def _stratum(self, i: int) -> str:
        return repr(self.run.combos[i].get("learning_rate"))

    # -- resume
    def seed(self) -> None:
        """Add what the trials table knows about this grid to the study as finished trials."""
        import optuna
        from optuna.trial import TrialState

        run = self.run
        before = len(run.notes)
        run.scored_before(list(enumerate(run.combos)))  # full fidelity: joins run.scores
        del run.notes[before:]  # its "scoring N" is the grid's count; the optuna note says what happened
        for level in range(len(self.low_rungs)):
            for label, group in self._by_label([i for i in range(len(run.combos)) if i not in run.scores], level):
                found = run.trials.scores([run.fps[i] for i in group], label)
                for i in group:
                    if (trial := found.get(run.fps[i])) is not None:
                        value = math.nan if trial.score is None else trial.score
                        self.intermediate.setdefault(i, {})[self.step(level)] = value
        known = sorted(set(run.trial_known) | set(self.intermediate))
        for i in known:
            inter = self.intermediate.get(i, {})
            if i in run.trial_known:
                value = run.scores[i]
                ok = math.isfinite(value) or value == -math.inf
                state, told = (TrialState.COMPLETE if ok else TrialState.FAIL), None
            else:  # scored below full fidelity only: it was pruned (or stopped by a kill on its way up)
                state, value, ok = TrialState.PRUNED, math.nan, False
                told = len(inter) - 1
            self.study.add_trial(
                optuna.trial.create_trial(
                    state=state,
                    value=value if ok else None,
                    params=self.space.params(i),
                    distributions=self.space.distributions,
                    intermediate_values={s: v for s, v in inter.items() if math.isfinite(v)},
                )
            )
            self.told[i] = told
        self.seeded = len(known)

    def _by_label(self, indices: list[int], level: int) -> list[tuple[str, list[int]]]:
        groups: dict[str, list[int]] = {}
        for i in indices:
            groups.setdefault(f"rounds={self._low_rounds(i, level)}", []).append(i)
        return list(groups.items())

    # -- asking
    def _next_untried(self, taken: set[int]) -> int | None:
        if self._untried is None:
            self._untried = [int(i) for i in np.random.default_rng(0).permutation(len(self.run.combos))]
        while self._untried:
            i = self._untried.pop()
            if i not in self.told and i not in taken:
                return i
        return None

    def _tell_known(self, trial: optuna.Trial, i: int) -> None:
        from optuna.trial import TrialState

        level = self.told[i]
        if level is None:
            _tell(self.study, trial, self.run.scores[i])
            return
        for step, value in self.intermediate.get(i, {}).items():
            if math.isfinite(value):
                trial.report(value, step)
        self.study.tell(trial, state=TrialState.PRUNED)

    def ask_batch(self, size: int) -> tuple[list[tuple[optuna.Trial, int]], list[tuple[optuna.Trial, int]]]:
        """Up to ``size`` new combinations to score, and the trials that repeated one of them."""
        run, max_asks = self.run, MAX_ASKS_PER_TRIAL * self.n_target
        batch: list[tuple[optuna.Trial, int]] = []
        repeats: list[tuple[optuna.Trial, int]] = []
        taken: set[int] = set()
        while len(batch) < size and len(self.told) + len(batch) < self.n_target and self.asks < max_asks:
            if self.repeats >= MAX_REPEATS:  # TPE keeps proposing known points: try an untried one
                untried = self._next_untried(taken)
                if untried is not None:
                    self.study.enqueue_trial(self.space.params(untried))
                self.repeats = 0
            trial = self.study.ask(self.space.distributions)
            self.asks += 1
            i = self.space.combo_index(trial.params)
            if i in self.told:
                self._tell_known(trial, i)
                self.repeats += 1
            elif i in taken:
                repeats.append((trial, i))
                self.repeats += 1
            elif run.fps[i] in self.existing and (rec := run.registry.get_by_fingerprint(run.fps[i])) is not None:
                if rec.cv_score is None:  # registered without a score: score it like a new one
                    batch.append((trial, i))
                    taken.add(i)
                    continue
                run.scores[i] = rec.cv_score
                self.told[i] = None
                self.registered += 1
                _tell(self.study, trial, rec.cv_score)
                self.repeats = 0
            else:
                batch.append((trial, i))
                taken.add(i)
                self.repeats = 0
        return batch, repeats

    # -- scoring
    def _low_scores(self, indices: list[int], level: int) -> dict[int, float]:
        """Each combination's score with a fraction of its rounds on every fold (the trials table first)."""
        run, rp = self.run, self.rounds_param
        assert rp is not None
        out: dict[int, float] = {}
        todo: list[Item] = []
        labels: dict[int, str] = {}
        for label, group in self._by_label(indices, level):
            found = run.trials.scores([run.fps[i] for i in group], label)
            for i in group:
                labels[i] = label
                if (trial := found.get(run.fps[i])) is not None:
                    out[i] = math.nan if trial.score is None else trial.score
                    self.low_cached += 1
                else:
                    todo.append((i, {**run.combos[i], rp: self._low_rounds(i, level)}))
        pending: dict[str, dict[str, tuple[list[dict[str, Any]], float]]] = {}

        def on_outcome(o: Outcome) -> None:
            score = summarize(o.fold_metrics, run.spec.score_key)[1]
            out[o.index] = score
            pending.setdefault(labels[o.index], {})[run.fps[o.index]] = (o.fold_metrics, score)
            self.low_fits += 1

        if todo:
            if self._low_shared is None:  # cut-down configurations under the full ones' indices: nothing known
                self._low_shared = replace(run.shared(with_final=False), known={})
            run.run_tasks(todo, self._low_shared, on_outcome)
            for label, scored in pending.items():
                run.trials.record_many(label, scored)
        return out

    def score_batch(self, batch: list[tuple[optuna.Trial, int]]) -> None:
        """Score a batch: the low rungs (pruning as they go), then full fidelity for the survivors."""
        from optuna.trial import TrialState

        run = self.run
        alive = batch
        for level in range(len(self.low_rungs)):
            values = self._low_scores([i for _, i in alive], level)
            survivors = []
            step = self.step(level)
            for trial, i in alive:  # in trial order: the pruner's decisions do not depend on who finished first
                value = values[i]
                self.intermediate.setdefault(i, {})[step] = value
                if math.isfinite(value):
                    trial.report(value, step)
                if self.pruning.should_prune(trial.number, self._stratum(i), step, value):
                    self.study.tell(trial, state=TrialState.PRUNED)
                    self.told[i] = level
                    run.tick(len(self.told), self.n_target, "optuna")
                else:
                    survivors.append((trial, i))
            alive = survivors
        if not alive:
            return

        def on_outcome(o: Outcome) -> None:
            run.record(o)
            run.trained += 1

        run.run_tasks([(i, run.combos[i]) for _, i in alive], run.shared(with_final=False), on_outcome)
        for trial, i in alive:
            _tell(self.study, trial, run.scores[i])
            self.pruning.finish(trial.number, run.scores[i])
            self.told[i] = None
            run.tick(len(self.told), self.n_target, "optuna")

    def search(self) -> None:
        """Seed, then ask, score and tell batches until ``n_trials`` distinct configurations are told."""
        self.seed()
        size = max(1, self.run.executor.n_jobs)
        self.run.tick(len(self.told), self.n_target, "optuna")
        while len(self.told) < self.n_target:
            batch, repeats = self.ask_batch(min(size, self.n_target - len(self.told)))
            if batch:
                self.batches += 1
                self.score_batch(batch)
            for trial, i in repeats:
                self._tell_known(trial, i)
            if not batch and self.asks >= MAX_ASKS_PER_TRIAL * self.n_target:
                break
        self.run.notes.append(self.note())

    def note(self) -> str:
        """What happened, in one line (distinct configurations, pruned per rung, full fidelity, resumed)."""
        pruned = Counter(level for level in self.told.values() if level is not None)
        full = sum(1 for level in self.told.values() if level is None)
        how = (
            "SuccessiveHalvingPruner on rounds within each learning rate"
            if self.low_rungs
            else f"no pruning: {self.run.spec.name} has no rounds to cut"
            if self.rounds_param is None
            else "no pruning: too few rounds or trials to cut"
        )
        parts = [f"{len(self.told)} distinct configurations"]
        parts += [
            f"{pruned[level]} pruned at {_fraction(rung)} of the rounds" for level, rung in enumerate(self.low_rungs)
        ]
        parts.append(f"{full} at full fidelity ({self.run.trained} trained)")
        text = f"optuna (TPE, index sampling, {how}): " + ", ".join(parts)
        text += f"; {self.batches} batches of up to {max(1, self.run.executor.n_jobs)} trials"
        if self.low_fits or self.low_cached:
            text += f"; {self.low_fits} low-fidelity scorings ({self.low_cached} from the trials table)"
        if self.seeded:
            text += f"; {self.seeded} taken from the trials table"
        if self.registered:
            text += f"; {self.registered} registered before"
        if len(self.told) < self.n_target:
            text += f"; stopped after {self.asks} asks: the sampler kept proposing known combinations"
        return text


def optuna_search(run: SearchRun, missing: list[Item], existing: set[str]) -> None:
    """Bayesian search (TPE) over the grid's indices, in parallel batches with pruning; saves the best."""
    OptunaSearch(run, existing).search()
    ranked = run.ranked()
    run.save_best(ranked if run.sreq.save_all_grid_models else ranked[:1])
