"""Optuna search (TPE) over the grid's values: trials in parallel, index sampling, pruning on rounds, resume.

- **Parallel trials**: the study lives in the search process (in memory: the registry's trials table is
  the persistence). Trials are asked with TPE's ``constant_liar=True`` (a trial in flight counts as a
  poor score, so trials asked together do not propose the same point) and scored in rounds of tasks
  on the run's executor (local processes or a Dask cluster): a round runs every trial promoted to
  its next fidelity and fills the workers with new trials (``executor.n_jobs`` of them when nothing
  is promoted); the scores are then told in trial order.
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
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from walkforward.search.halving import ETA, Rung, plan_rungs
from walkforward.search.index_space import Space
from walkforward.search.pruning import Pruning, tell_score
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


@dataclass(frozen=True)
class Job:
    """One trial's next scoring: combination ``i`` at a low rung ``level``, or at full fidelity."""

    trial: optuna.Trial
    i: int
    level: int


def _fraction(rung: Rung) -> str:
    inverse = 1 / rung.fraction
    return f"1/{round(inverse)}" if abs(inverse - round(inverse)) < 1e-9 else f"{rung.fraction:.3g}"


class OptunaSearch:
    """One optuna search over a :class:`SearchRun`: seed, ask, score in rounds of parallel tasks with pruning, tell."""

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
        self.full_level = len(self.low_rungs)  # a job's level: a low rung, or this for full fidelity
        self.pruning = Pruning()
        self.told: dict[int, int | None] = {}  # combination -> the level it was pruned at (None: full fidelity)
        self.in_flight: dict[int, Job] = {}  # combinations asked and not yet told
        self.waiting: dict[int, list[optuna.Trial]] = {}  # trials that proposed an in-flight combination
        self.intermediate: dict[int, dict[int, float]] = {}  # combination -> step -> low-fidelity score
        self.asks = self.repeats = self.rounds = self.low_fits = self.low_cached = 0
        self.seeded = self.registered = 0
        self._untried: list[int] | None = None
        self._shared: Shared | None = None

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
    def _next_untried(self) -> int | None:
        if self._untried is None:
            self._untried = [int(i) for i in np.random.default_rng(0).permutation(len(self.run.combos))]
        while self._untried:
            i = self._untried.pop()
            if i not in self.told and i not in self.in_flight:
                return i
        return None

    def _tell_known(self, trial: optuna.Trial, i: int) -> None:
        from optuna.trial import TrialState

        level = self.told[i]
        if level is None:
            tell_score(self.study, trial, self.run.scores[i])
            return
        for step, value in self.intermediate.get(i, {}).items():
            if math.isfinite(value):
                trial.report(value, step)
        self.study.tell(trial, state=TrialState.PRUNED)

    def _told(self, i: int, level: int | None) -> None:
        """Combination ``i`` is settled (pruned at ``level``, or scored at full fidelity)."""
        self.told[i] = level
        self.in_flight.pop(i, None)
        for trial in self.waiting.pop(i, []):  # trials that proposed it while it was being scored
            self._tell_known(trial, i)
        self.run.tick(len(self.told), self.n_target, "optuna")

    def ask(self) -> Job | None:
        """A new combination to score; known ones the sampler proposes on the way are told their scores.

        ``None`` once ``n_trials`` distinct configurations are told or in flight, or after too many asks.
        """
        run, max_asks = self.run, MAX_ASKS_PER_TRIAL * self.n_target
        while len(self.told) + len(self.in_flight) < self.n_target and self.asks < max_asks:
            if self.repeats >= MAX_REPEATS:  # TPE keeps proposing known points: try an untried one
                untried = self._next_untried()
                if untried is not None:
                    self.study.enqueue_trial(self.space.params(untried))
                self.repeats = 0
            trial = self.study.ask(self.space.distributions)
            self.asks += 1
            i = self.space.combo_index(trial.params)
            if i in self.told:
                self._tell_known(trial, i)
                self.repeats += 1
                continue
            if i in self.in_flight:
                self.waiting.setdefault(i, []).append(trial)
                self.repeats += 1
                continue
            self.repeats = 0
            if run.fps[i] in self.existing and (rec := run.registry.get_by_fingerprint(run.fps[i])) is not None:
                if rec.cv_score is not None:  # registered (by a run or a save-all search): its score is known
                    run.scores[i] = rec.cv_score
                    self.registered += 1
                    tell_score(self.study, trial, rec.cv_score)
                    self._told(i, None)
                    continue
            job = Job(trial, i, 0 if self.low_rungs else self.full_level)
            self.in_flight[i] = job
            return job
        return None

    # -- scoring
    def cost(self, job: Job) -> float:
        """Rounds a job trains (1 for algorithms without rounds): what a round of tasks balances."""
        if self.rounds_param is None:
            return 1.0
        if job.level == self.full_level:
            return float(self._rounds(self.run.combos[job.i]))
        return float(self._low_rounds(job.i, job.level))

    def _score(self, jobs: list[Job]) -> dict[int, float]:
        """Score a round of jobs as tasks (low fidelities from the trials table when they are there)."""
        run, rp = self.run, self.rounds_param
        out: dict[int, float] = {}
        labels: dict[int, str] = {}
        todo: list[Item] = []
        by_label: dict[str, list[int]] = {}
        levels = {job.i: job.level for job in jobs}
        for job in jobs:
            if job.level == self.full_level:
                todo.append((job.i, run.combos[job.i]))
            else:
                labels[job.i] = f"rounds={self._low_rounds(job.i, job.level)}"
                by_label.setdefault(labels[job.i], []).append(job.i)
        for label, group in by_label.items():
            found = run.trials.scores([run.fps[i] for i in group], label)
            for i in group:
                if (trial := found.get(run.fps[i])) is not None:
                    out[i] = math.nan if trial.score is None else trial.score
                    self.low_cached += 1
                else:
                    assert rp is not None
                    todo.append((i, {**run.combos[i], rp: self._low_rounds(i, levels[i])}))
        pending: dict[str, dict[str, tuple[list[dict[str, Any]], float]]] = {}

        def on_outcome(o: Outcome) -> None:
            if o.index in labels:  # a low fidelity: kept in the trials table under its own label
                score = summarize(o.fold_metrics, run.spec.score_key)[1]
                pending.setdefault(labels[o.index], {})[run.fps[o.index]] = (o.fold_metrics, score)
                self.low_fits += 1
            else:  # full fidelity: the combination's score
                run.record(o)
                run.trained += 1
                score = run.scores[o.index]
            out[o.index] = score

        if todo:
            # Nothing is known for the tasks' items (the low fidelities are cut-down configurations under
            # the full ones' indices), so one input serves every round.
            if self._shared is None:
                self._shared = replace(run.shared(with_final=False), known={})
            run.run_tasks(todo, self._shared, on_outcome)
            for label, scored in pending.items():
                run.trials.record_many(label, scored)
        return out

    def _settle(self, job: Job, value: float) -> Job | None:
        """Report a job's score: tell it, prune it, or return its next fidelity."""
        from optuna.trial import TrialState

        trial, i = job.trial, job.i
        if job.level == self.full_level:
            tell_score(self.study, trial, value)
            self.pruning.finish(trial.number, value)
            self._told(i, None)
            return None
        step = self.step(job.level)
        self.intermediate.setdefault(i, {})[step] = value
        if math.isfinite(value):
            trial.report(value, step)
        if self.pruning.should_prune(trial.number, self._stratum(i), step, value):
            self.study.tell(trial, state=TrialState.PRUNED)
            self._told(i, job.level)
            return None
        return Job(trial, i, job.level + 1)

    def search(self) -> None:
        """Seed, then score rounds of jobs until ``n_trials`` distinct configurations are told.

        A round runs every promoted job and fills the workers with new trials: ``n_jobs`` of them when
        nothing is promoted, else until the round's rounds are about ``n_jobs`` times its longest job
        (at most ``n_jobs * ETA`` new ones), so a worker does not idle while another trains a survivor
        at full fidelity. Results are settled in trial order: the pruner's decisions do not depend on
        which worker finished first.
        """
        self.seed()
        slots = max(1, self.run.executor.n_jobs)
        self.run.tick(len(self.told), self.n_target, "optuna")
        promoted: list[Job] = []
        while True:
            jobs, promoted = promoted, []
            budget = slots * max((self.cost(j) for j in jobs), default=0.0)
            load, new = sum(self.cost(j) for j in jobs), 0
            while len(jobs) < slots or (load < budget and new < slots * ETA):
                job = self.ask()
                if job is None:
                    break
                jobs.append(job)
                load, new = load + self.cost(job), new + 1
            if not jobs:
                break
            self.rounds += 1
            values = self._score(jobs)
            for job in sorted(jobs, key=lambda j: j.trial.number):
                if job.i not in values:  # the budget cut the round short: never scored
                    continue
                if (nxt := self._settle(job, values[job.i])) is not None:
                    promoted.append(nxt)
            if self.run.out_of_budget:  # --budget: nothing new starts; the best scored so far is saved
                break
        note = self.note()
        log.info(note)
        self.run.notes.append(note)

    def note(self) -> str:
        """What happened, in one line (distinct configurations, pruned per rung, full fidelity, resumed)."""
        pruned = Counter(level for level in self.told.values() if level is not None)
        full = sum(1 for level in self.told.values() if level is None)
        how = (
            "SuccessiveHalvingPruner on rounds"
            + (" within each learning rate" if len(self.run.grid.get("learning_rate", ())) > 1 else "")
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
        workers = max(1, self.run.executor.n_jobs)
        text += f"; scored in {self.rounds} rounds of tasks on {workers} worker{'s' if workers > 1 else ''}"
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
