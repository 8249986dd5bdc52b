"""Successive halving over boosting rounds on the cached folds (the multi-fidelity strategy).

The budget is the number of boosting rounds (trees for a random forest), never rows: a rung scores
every surviving configuration with ``n_estimators`` cut to a fraction of its own, on every fold of
the walk-forward plan (so no single market regime decides), and promotes the best ``1/eta``.

Two traps of boosting are handled:

- at few rounds a low learning rate predicts roughly the mean and would be culled unfairly, so
  configurations compete only with those of the same learning rate (promotion is stratified), and a
  lower rung gives a low rate more rounds and a high rate fewer, in proportion to
  ``(max rate / rate) ** RATE_EXPONENT`` with the same mean (:func:`rate_weights`): within its
  stratum a slow learner is judged after it has learned something. Tuned on the bench market's
  256-combination reference (``bench/halving_sim.py``): without the scaling, eta 3 from 4 rounds
  kept the best configuration's stratum-mates by noise (its pick ranked 28 of 256);
- a huge grid (the reference's 19,208 LightGBM combinations) is sampled, stratified by learning rate,
  down to ``max_configs`` for the first rung.

The last rung is the full fidelity: its scores are the same out-of-sample fold metrics an exhaustive
grid computes, recorded and compared as such; the lower rungs only decide who gets there.
Written by hand because no maintained library runs successive halving over an estimator parameter
on precomputed folds without refitting the preprocessing or subsampling rows (scikit-learn's
HalvingGridSearchCV resamples rows, Optuna's pruners need one trial per process).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from walkforward.models.catalog import AlgorithmSpec
from walkforward.search.run import SearchRun
from walkforward.search.tasks import Item, Outcome
from walkforward.training.fit import summarize

#: Successive halving keeps 1/ETA of the configurations at each rung.
ETA = 3
#: The lowest rung trains at least this many rounds (fewer say too little about a booster).
MIN_ROUNDS = 4
#: Lower rungs scale a configuration's rounds by ``(max rate / its rate) ** RATE_EXPONENT`` (mean 1).
RATE_EXPONENT = 0.5


@dataclass(frozen=True)
class Rung:
    """One fidelity: the fraction of each configuration's rounds, and how many configurations run it."""

    fraction: float
    configurations: int

    def rounds(self, full: int) -> int:
        return max(1, min(full, math.ceil(full * self.fraction)))


def plan_rungs(n_configs: int, full_rounds: int, *, eta: int = ETA, min_rounds: int = MIN_ROUNDS) -> list[Rung]:
    """The rungs for ``n_configs`` configurations whose largest round count is ``full_rounds``."""
    if n_configs <= 1 or full_rounds <= min_rounds:
        return [Rung(1.0, n_configs)]
    by_rounds = int(math.floor(math.log(full_rounds / min_rounds, eta)))
    by_configs = int(math.floor(math.log(n_configs, eta)))
    steps = max(0, min(by_rounds, by_configs))
    rungs, n = [], n_configs
    for s in range(steps, -1, -1):
        rungs.append(Rung(float(eta) ** -s, n))
        n = max(1, math.ceil(n / eta))
    return rungs


def _stratum(params: dict[str, Any]) -> Any:
    return params.get("learning_rate")


def sample_configurations(items: Sequence[Item], max_configs: int, *, seed: int = 0) -> list[Item]:
    """At most ``max_configs`` items, drawn evenly across learning-rate strata (deterministic)."""
    if len(items) <= max_configs:
        return list(items)
    strata: dict[Any, list[Item]] = defaultdict(list)
    for item in items:
        strata[repr(_stratum(item[1]))].append(item)
    rng = np.random.default_rng(seed)
    per = max(1, max_configs // len(strata))
    out: list[Item] = []
    for key in sorted(strata):
        group = strata[key]
        take = rng.choice(len(group), size=min(per, len(group)), replace=False)
        out.extend(group[i] for i in sorted(take))
    return sorted(out, key=lambda it: it[0])


def promote(scored: dict[int, float], params: dict[int, dict[str, Any]], keep: int) -> list[int]:
    """The best of each learning-rate stratum, ``keep`` in all, shared out in proportion to stratum size."""
    strata: dict[str, list[int]] = defaultdict(list)
    for i in sorted(scored):  # ties go to the lower index, whatever order the outcomes came in
        strata[repr(_stratum(params[i]))].append(i)
    total = len(scored)
    out: list[int] = []
    for members in strata.values():
        share = max(1, round(keep * len(members) / total))
        out.extend(sorted(members, key=lambda i: (-scored[i], i))[:share])
    return sorted(out, key=lambda i: (-scored[i], i))


def fidelity(rounds: int) -> str:
    """The trials-table fidelity of a lower rung (every fold, ``rounds`` rounds); the fingerprint fixes the rest."""
    return f"rounds={rounds}"


def _rung_score(run: SearchRun, metrics: list[dict[str, Any]]) -> float:
    score = summarize(metrics, run.spec.score_key)[1]
    return score if math.isfinite(score) else -math.inf


def _scored_before(run: SearchRun, items: list[Item]) -> tuple[dict[int, float], list[Item]]:
    """Lower-rung scores of ``items`` found in the trials table (a killed run's), and the items still to score."""
    rounds_param = run.spec.rounds_param or ""
    by_fidelity: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        by_fidelity[fidelity(int(item[1][rounds_param]))].append(item)
    n_folds = len(run.data.plan.folds)
    found: dict[int, float] = {}
    for fid, group in by_fidelity.items():
        trials = run.trials.scores([run.fps[i] for i, _ in group], fid)
        for i, _ in group:
            trial = trials.get(run.fps[i])
            if trial is not None and len(trial.fold_metrics) == n_folds:
                found[i] = trial.score if trial.score is not None else -math.inf
    return found, [it for it in items if it[0] not in found]


@dataclass(frozen=True)
class Schedule:
    """What a halving search will run: its units (configurations that share one fit), rungs and full budget.

    When the grid varies the rounds parameter itself (a random forest's ``n_estimators``), the
    configurations that differ only in it are one unit: one model trained to the unit's largest count
    scores every smaller count, so the lower rungs score a unit by its largest member (cut to the
    rung's fraction) and the full rung scores every member from one fit.
    """

    units: dict[int, list[int]]  # representative (the member with the most rounds) -> members, by index
    rungs: list[Rung]
    full: int  # the largest round count among the units (0 without a rounds parameter)
    sampled: bool  # fewer units than the grid has
    weights: dict[str, float] = field(default_factory=dict)  # lower-rung round factor by repr(learning rate)

    @property
    def configurations(self) -> int:
        return sum(len(m) for m in self.units.values())


def schedule(
    combos: Sequence[dict[str, Any]], rounds_param: str | None, max_configs: int, *, eta: int = ETA
) -> Schedule:
    """The units, sampled (stratified by learning rate) down to about ``max_configs`` configurations, and the rungs."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, combo in enumerate(combos):
        groups[repr(sorted((k, repr(v)) for k, v in combo.items() if k != rounds_param))].append(i)

    def size(i: int) -> int:
        return int(combos[i].get(rounds_param) or 100) if rounds_param else 0

    reps = {max(members, key=lambda i: (size(i), -i)): members for members in groups.values()}
    # ``max_configs`` counts configurations: a unit of k round counts is k of them.
    n_units = max(1, max_configs * len(reps) // max(len(combos), 1))
    chosen = sample_configurations([(r, combos[r]) for r in sorted(reps)], n_units)
    units = {r: reps[r] for r, _ in chosen}
    if rounds_param is None:
        return Schedule(units, [Rung(1.0, len(units))], 0, len(units) < len(reps))
    full = max(size(r) for r in units)
    weights = rate_weights([combos[r] for r in units])
    return Schedule(units, plan_rungs(len(units), full, eta=eta), full, len(units) < len(reps), weights)


def rate_weights(configurations: Sequence[dict[str, Any]], exponent: float = RATE_EXPONENT) -> dict[str, float]:
    """Each learning rate's factor on a lower rung's rounds: ``(max / rate) ** exponent``, scaled to mean 1.

    Empty when the configurations have no (or one, or a non-numeric) learning rate: rounds as they are.
    """
    rates = {repr(c["learning_rate"]): c["learning_rate"] for c in configurations if "learning_rate" in c}
    if len(rates) < 2 or not all(isinstance(v, int | float) and v > 0 for v in rates.values()):
        return {}
    top = max(float(v) for v in rates.values())
    raw = {k: (top / float(v)) ** exponent for k, v in rates.items()}
    mean = sum(raw.values()) / len(raw)
    return {k: w / mean for k, w in raw.items()}


def halving_plan(spec: AlgorithmSpec, combos: Sequence[dict[str, Any]], max_configs: int) -> Schedule:
    """What halving runs over ``combos``: what the search runs, and what a dry run
    (:mod:`walkforward.search.plan`) shows."""
    return schedule(combos, spec.rounds_param, max_configs)


def rung_items(
    spec: AlgorithmSpec, rung: Rung, params: dict[int, dict[str, Any]], alive: Sequence[int], units: Schedule
) -> list[Item]:
    """One rung's configurations: each unit's largest member cut to the rung's fraction of its rounds,
    or (the full rung) every member of each unit as it is."""
    name = spec.rounds_param
    if rung.fraction >= 1.0 or name is None:
        return [(m, params[m]) for r in alive for m in units.units[r]]
    out = []
    for r in alive:
        own = int(params[r][name] or 100)
        weight = units.weights.get(repr(params[r].get("learning_rate")), 1.0)
        out.append((r, {**params[r], name: max(1, min(own, math.ceil(own * rung.fraction * weight)))}))
    return out


def halving(run: SearchRun, missing: list[Item], existing: set[str]) -> None:
    """Successive halving over rounds; the finalists are scored at full fidelity and the best saved.

    Every rung's scores go to the trials table as they come (lower rungs under ``rounds=N``), so a
    killed halving search, run again, scores only what it had not scored yet.

    Under a ``--budget`` no rung starts once it is spent; if it ran out before the full rung, the
    best configurations of the last rung scored (of different learning rates, one per worker) are
    scored at full fidelity (beyond the budget: a saved model's score is always a full one) and the
    best of them saved.
    """
    spec = run.spec
    rounds_param = spec.rounds_param
    plan = halving_plan(spec, run.combos, run.sreq.max_configs)
    rungs = plan.rungs
    params = dict(enumerate(run.combos))
    alive = sorted(plan.units)
    # Lower rungs score cut-down configurations under the full ones' indices: nothing is known for them.
    low = replace(run.shared(with_final=False), known={})
    spent = 0.0

    def rounds(i: int) -> int:
        return int(params[i].get(rounds_param) or 100) if rounds_param else 1

    # The exhaustive grid trains each unit once, to its largest count (see search.tasks.chunks).
    every = schedule(run.combos, rounds_param, len(run.combos))
    exhaustive = float(sum(rounds(r) for r in every.units))
    counts: list[str] = []
    resumed = 0
    stopped: tuple[int, dict[int, float]] | None = None  # the rung the budget stopped, and what it scored
    for level, rung in enumerate(rungs):
        last = level == len(rungs) - 1
        items = rung_items(spec, rung, params, alive, plan)
        if last:
            todo = run.scored_before(items)
            scored = {i: run.scores[i] for i, _ in items if i in run.trial_known}
        else:
            scored, todo = _scored_before(run, items)
        resumed += len(items) - len(todo)
        tick = _Ticker(run, len(items), f"halving rung {level + 1}/{len(rungs)}", done=len(items) - len(todo))

        def on_outcome(o: Outcome, last: bool = last, scored: dict[int, float] = scored, tick: _Ticker = tick) -> None:
            if last:
                run.record(o)
                run.trained += 1
                scored[o.index] = run.scores[o.index]
            else:
                scored[o.index] = _rung_score(run, o.fold_metrics)
                run.queue_trial(fidelity(int(o.params[rounds_param or ""])), o.index, o.fold_metrics, scored[o.index])
            tick()

        complete = run.run_tasks(todo, run.shared(with_final=False) if last else low, on_outcome) if todo else True
        # Rounds trained: a full-rung unit once, to its largest count (one fit scores its members).
        trained = set(scored) if not last else {r for r in alive if any(m in scored for m in plan.units[r])}
        cut = dict(items)
        spent += sum(rounds(i) if last else int(cut[i][rounds_param or ""]) for i in trained)
        label = "full" if last else f"{rung.fraction:.3g} of the rounds"
        shown = len(trained) if last else len(scored)
        counts.append(
            f"{shown}{'' if complete else f' of {len(alive)}'} at {label}"
            + (f" ({len(items)} configurations)" if last and len(items) > len(alive) else "")
        )
        if not complete or (not last and run.out_of_budget):
            stopped = (level, scored)
            break
        if not last:
            alive = promote(scored, params, rungs[level + 1].configurations)
    if rounds_param is None:
        run.notes.append(f"halving: {spec.name} has no boosting rounds to cut; every configuration at full fidelity")
    else:
        run.notes.append(
            f"halving over rounds (eta {ETA}, promotion within each learning rate"
            + (", lower rungs' rounds scaled by rate" if plan.weights else "")
            + ", all folds at every rung): "
            f"{'; '.join(counts)}; {spent / max(exhaustive, 1.0):.1%} of the exhaustive grid's boosting rounds"
            + (f"; {plan.configurations} of {len(run.combos)} configurations sampled" if plan.sampled else "")
            + (f"; {resumed} rung scores taken from the trials table" if resumed else "")
        )
    if stopped is not None:
        _finish_early(run, rungs, *stopped, params)
    ranked = run.ranked()
    run.save_best(ranked if run.sreq.save_all_grid_models else ranked[:1])


def _finish_early(
    run: SearchRun, rungs: list[Rung], level: int, scored: dict[int, float], params: dict[int, dict[str, Any]]
) -> None:
    """The budget stopped rung ``level``: score its best of each learning rate at full fidelity; say so."""
    where = f"during rung {level + 1}/{len(rungs)}"
    if level == len(rungs) - 1 or not scored:
        run.notes.append(
            f"{run.budget.describe()} {where}; "
            + ("nothing was scored, nothing saved" if not run.scores else "the best of the full rung's scores saved")
            + ": the pick is from an incomplete search"
        )
        return
    # The best of each learning rate (few rounds favour fast rates), best first, as many as there are
    # workers: one more fit per worker beyond the budget, which a saved model's full score needs.
    finalists = promote(scored, params, 1)[: max(1, run.executor.n_jobs)]
    tick = _Ticker(run, len(finalists), "budget spent: finalists at full fidelity")

    def on_outcome(o: Outcome) -> None:
        run.record(o)
        run.trained += 1
        tick()

    folds = len(run.data.plan.folds)
    run.run_tasks([(i, params[i]) for i in finalists], run.shared(with_final=False), on_outcome, budgeted=False)
    run.notes.append(
        f"{run.budget.describe()} {where}; its best {len(finalists)} (of different learning rates) scored at full "
        f"fidelity ({len(finalists) * folds} more fits) and the best saved: the pick is from an incomplete search"
    )


class _Ticker:
    """Counts a rung's outcomes and reports progress."""

    def __init__(self, run: SearchRun, total: int, label: str, done: int = 0) -> None:
        self.run, self.total, self.label, self.done = run, total, label, done
        run.tick(done, total, label)

    def __call__(self) -> None:
        self.done += 1
        self.run.tick(self.done, self.total, self.label)
