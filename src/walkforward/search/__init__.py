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
    _warm(registry, run.cohort_id)
    return result


def _warm(registry: ModelStore, cohort_id: str) -> None:
    """Compute and keep the cohort's selection statistics and explore view now (beside the models, by
    the key of its members: see walkforward.selection_cache), so the first opening of its modal, even
    on a freshly started server, reads them. Best effort: a failure is logged, not raised (the models
    are registered; opening the cohort computes again and reports the error)."""
    from walkforward.queries import cohort_explore

    try:
        cohort_explore(registry, cohort_id, selection=True)
    except Exception as exc:  # keeping them must never fail the search that registered the models
        log.warning("cohort %s: selection statistics and explore view not kept: %s", cohort_id, exc)


__all__ = ["STRATEGIES", "SearchRequest", "SearchResult", "run_search"]
