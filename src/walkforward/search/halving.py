"""Successive halving over boosting rounds on the cached folds (the multi-fidelity strategy).

The budget is the number of boosting rounds (trees for a random forest), never rows: a rung scores
every surviving configuration with ``n_estimators`` cut to a fraction of its own, on every fold of
the walk-forward plan (so no single market regime decides), and promotes the best ``1/eta``.

Two traps of boosting are handled:

- at few rounds a low learning rate predicts roughly the mean and would be culled unfairly, so
  configurations compete only with those of the same learning rate (promotion is stratified);
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
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from walkforward.models.catalog import AlgorithmSpec
from walkforward.search.run import SearchRun
from walkforward.search.tasks import Item, Outcome

#: Successive halving keeps 1/ETA of the configurations at each rung.
ETA = 3
#: The lowest rung trains at least this many rounds (fewer say too little about a booster).
MIN_ROUNDS = 8


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
    for i in scored:
        strata[repr(_stratum(params[i]))].append(i)
    total = len(scored)
    out: list[int] = []
    for members in strata.values():
        share = max(1, round(keep * len(members) / total))
        out.extend(sorted(members, key=lambda i: -scored[i])[:share])
    return sorted(out, key=lambda i: -scored[i])


def halving_plan(
    spec: AlgorithmSpec, combos: Sequence[dict[str, Any]], max_configs: int
) -> tuple[list[Item], list[Rung]]:
    """The configurations halving starts from (sampled) and its rungs: what the search runs, and what a
    dry run (:mod:`walkforward.search.plan`) shows."""
    candidates = sample_configurations(list(enumerate(combos)), max_configs)
    if spec.rounds_param is None:  # nothing to cut: every configuration at full fidelity
        return candidates, [Rung(1.0, len(candidates))]
    full = max(int(c[1].get(spec.rounds_param) or 100) for c in candidates)
    return candidates, plan_rungs(len(candidates), full)


def rung_items(spec: AlgorithmSpec, rung: Rung, params: dict[int, dict[str, Any]], alive: Sequence[int]) -> list[Item]:
    """The configurations of one rung, their round count cut to the rung's fraction (the last: as they are)."""
    name = spec.rounds_param
    if rung.fraction >= 1.0 or name is None:
        return [(i, params[i]) for i in alive]
    return [(i, {**params[i], name: rung.rounds(int(params[i][name]))}) for i in alive]


def halving(run: SearchRun, missing: list[Item], existing: set[str]) -> None:
    """Successive halving over rounds; the finalists are scored at full fidelity and the best saved.

    Under a ``--budget`` no rung starts once it is spent; if it ran out before the full rung, the
    best configurations of the last rung scored (of different learning rates, one per worker) are
    scored at full fidelity (beyond the budget: a saved model's score is always a full one) and the
    best of them saved.
    """
    spec = run.spec
    rounds_param = spec.rounds_param
    candidates, rungs = halving_plan(spec, run.combos, run.sreq.max_configs)
    params = {i: c for i, c in candidates}
    alive = [i for i, _ in candidates]
    # Lower rungs score cut-down configurations under the full ones' indices: nothing is known for them.
    low = replace(run.shared(with_final=False), known={})
    spent = 0.0
    exhaustive = float(sum(int(c.get(rounds_param) or 100) if rounds_param else 1 for c in run.combos))
    counts: list[str] = []
    stopped: tuple[int, dict[int, float]] | None = None  # the rung the budget stopped, and what it scored
    for level, rung in enumerate(rungs):
        last = level == len(rungs) - 1
        items = rung_items(spec, rung, params, alive)
        scored: dict[int, float] = {}
        tick = _Ticker(run, len(items), f"halving rung {level + 1}/{len(rungs)}")

        def on_outcome(o: Outcome, last: bool = last, scored: dict[int, float] = scored, tick: _Ticker = tick) -> None:
            if last:
                run.record(o)
                run.trained += 1
                scored[o.index] = run.scores[o.index]
            else:
                scored[o.index] = _mean_score(o, spec.score_key)
            tick()

        complete = run.run_tasks(items, run.shared(with_final=False) if last else low, on_outcome)
        rounds = {i: int(p.get(rounds_param) or 1) if rounds_param else 1 for i, p in items}
        spent += sum(rounds[i] for i in scored)
        label = "full" if last else f"{rung.fraction:.3g} of the rounds"
        counts.append(f"{len(scored)}{'' if complete else f' of {len(items)}'} at {label}")
        if not complete or (not last and run.out_of_budget):
            stopped = (level, scored)
            break
        if not last:
            alive = promote(scored, params, rungs[level + 1].configurations)
    if rounds_param is None:
        run.notes.append(f"halving: {spec.name} has no boosting rounds to cut; every configuration at full fidelity")
    else:
        run.notes.append(
            f"halving over rounds (eta {ETA}, promotion within each learning rate, all folds at every rung): "
            f"{'; '.join(counts)}; {spent / max(exhaustive, 1.0):.1%} of the exhaustive grid's boosting rounds"
            + (
                f"; {len(candidates)} of {len(run.combos)} configurations sampled"
                if len(candidates) < len(run.combos)
                else ""
            )
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


def _mean_score(o: Outcome, key: str) -> float:
    values = [float(m[key]) for m in o.fold_metrics if m.get(key) is not None and np.isfinite(m[key])]
    return float(np.mean(values)) if values else -math.inf


class _Ticker:
    """Counts a rung's outcomes and reports progress."""

    def __init__(self, run: SearchRun, total: int, label: str) -> None:
        self.run, self.total, self.label, self.done = run, total, label, 0

    def __call__(self) -> None:
        self.done += 1
        self.run.tick(self.done, self.total, self.label)
