"""Hyperparameter search over walk-forward folds, without waste (see :mod:`walkforward.search.run`)."""

from __future__ import annotations

import logging

from walkforward.errors import InvalidInputError
from walkforward.features.store import FeatureStore
from walkforward.model_selection.cleanup import sweep_leftovers
from walkforward.model_selection.executors import Executor, make_executor
from walkforward.registry import ModelStore
from walkforward.request import SearchRequest, SearchStrategy
from walkforward.search.run import SearchProgress, SearchResult, SearchRun
from walkforward.search.strategies import STRATEGIES
from walkforward.selection_cache import warm

log = logging.getLogger(__name__)


def run_search(
    sreq: SearchRequest,
    *,
    store: FeatureStore,
    registry: ModelStore,
    progress: SearchProgress | None = None,
    executor: Executor | None = None,
) -> SearchResult:
    """Run a search and register its models (all, or the best); an executor is made if none is given."""
    if sreq.search == SearchStrategy.NONE:
        raise InvalidInputError("search is 'none': use grid, halving or optuna (or `train` for a single run)")
    sweep_leftovers(registry)  # what a killed run left: dead processes' pool files, orphan artifacts
    own = executor is None
    executor = executor or make_executor("local")
    try:
        run = SearchRun(sreq, store=store, registry=registry, executor=executor, progress=progress)
        existing = registry.existing_fingerprints(run.fps)
        missing = [(i, c) for i, c in enumerate(run.combos) if run.fps[i] not in existing]
        msg = f"{len(run.combos) - len(missing)}/{len(run.combos)} already exist, training {len(missing)}"
        log.info("%s (cohort %s)", msg, run.cohort_id)
        run.notes.append(msg)
        strategy = run.strategy
        if sreq.search == SearchStrategy.AUTO:
            run.notes.append(
                f"search=auto: {strategy.value} for {len(run.combos):,} combinations "
                f"(halving above {sreq.auto_threshold:,} for boosters and forests; --search grid forces exhaustive)"
            )
        STRATEGIES[strategy.value](run, missing, existing)
        if run.budget.stopped and not any(note.startswith("budget of") for note in run.notes):
            run.notes.append(f"{run.budget.describe()}: {len(run.scores):,} configurations scored; best of those saved")
    finally:
        if own:
            executor.close()
    result = run.result(existing=len(run.combos) - len(missing))
    warm(registry, run.cohort_id)  # the cohort's statistics kept on disk: its first opening is not cold
    return result


__all__ = ["STRATEGIES", "SearchRequest", "SearchResult", "run_search"]
