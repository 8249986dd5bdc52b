"""Search strategies by name: each proposes combinations, has them scored by the run, and saves the best.

- ``grid``: every combination, scored on the cached folds;
- ``halving``: successive halving over boosting rounds on the cached folds (:mod:`.halving`);
- ``optuna``: Bayesian search (TPE) over the grid's values, in parallel batches, pruned on rounds (:mod:`.optuna`).
"""

from __future__ import annotations

from collections.abc import Callable

from walkforward.search.halving import halving
from walkforward.search.optuna import optuna_search
from walkforward.search.run import SearchRun
from walkforward.search.tasks import Item, Outcome

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
        top = run.ranked()[0]
        held = run.registered_scores(existing)
        if held and max(held.values()) >= run.scores[top]:  # the best is registered: do not add the runner-up
            run.notes.append("the best combination is already registered: nothing new to save")
        else:
            run.save_best([top])


STRATEGIES: dict[str, Strategy] = {"grid": grid, "halving": halving, "optuna": optuna_search}
