"""Search strategies by name: each proposes combinations, has them scored by the run, and saves the best.

- ``grid``: every combination, scored on the cached folds;
- ``halving``: successive halving over boosting rounds on the cached folds (:mod:`.halving`);
- ``optuna``: Bayesian search (TPE) over the grid's values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from walkforward.search.halving import halving
from walkforward.search.run import SearchRun
from walkforward.search.tasks import Item, Outcome, evaluate_chunk

Strategy = Callable[[SearchRun, list[Item], set[str]], None]


def grid(run: SearchRun, missing: list[Item], existing: set[str]) -> None:
    """Score every missing combination; save each as it is done (save-all) or the best at the end.

    Combinations scored before (the trials table) are not scored again: best-only picks the best over
    them and the new ones (``trained`` counts what was scored), save-all still fits and saves them
    (``trained`` counts what was fitted, as before).
    """
    save_all = run.sreq.save_all_grid_models
    to_score = run.scored_before(missing)
    work = missing if save_all else to_score
    total = len(work)
    done = 0
    run.tick(0, total, "grid")

    def on_outcome(o: Outcome) -> None:
        nonlocal done
        run.record(o)
        run.trained += 1
        if save_all:
            run.save(o)
        done += 1
        run.tick(done, total, "grid")

    if work:
        run.run_tasks(work, run.shared(with_final=save_all), on_outcome)
    if run.budget.stopped:
        kept = "each saved as it was scored" if save_all else "best of those saved"
        run.notes.append(
            f"{run.budget.describe()}: {done:,} of {total:,} configurations scored; {kept}"
            if done
            else f"{run.budget.describe()} before any configuration was scored; nothing saved"
        )
    if not save_all and run.scores:
        run.save_best(run.ranked()[:1])


def optuna_tpe(run: SearchRun, missing: list[Item], existing: set[str]) -> None:
    """Bayesian search (TPE) over the grid's values; registered combinations are not re-evaluated."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
    sh = run.shared(with_final=False)
    keys = sorted(run.grid)
    index_of = {repr(sorted(c.items())): i for i, c in enumerate(run.combos)}
    fixed = {k: v for k, v in run.combos[0].items() if k not in run.grid}
    n = min(run.sreq.n_trials, len(run.combos))

    def objective(trial: optuna.Trial) -> float:
        combo: dict[str, Any] = {**fixed, **{k: trial.suggest_categorical(k, run.grid[k]) for k in keys}}
        i = index_of[repr(sorted(combo.items()))]
        if i in run.scores:
            return run.scores[i]
        if run.fps[i] in existing:
            rec = run.registry.get_by_fingerprint(run.fps[i])
            if rec is not None and rec.cv_score is not None:
                run.scores[i] = rec.cv_score
                return rec.cv_score
        (o,) = evaluate_chunk([(i, run.combos[i])], sh)
        run.budget.spend(len(sh.folds))
        run.record(o)
        run.trained += 1
        run.tick(len(run.scores), n, "optuna")
        return run.scores[i]

    study.optimize(objective, n_trials=n, callbacks=[run.budget.stop_study])
    ranked = run.ranked()
    run.save_best(ranked if run.sreq.save_all_grid_models else ranked[:1])


STRATEGIES: dict[str, Strategy] = {"grid": grid, "halving": halving, "optuna": optuna_tpe}
