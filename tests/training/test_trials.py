"""Searches resume from the trials table: a killed or pruned best-only search scores only what is missing."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from walkforward.features.store import FeatureStore
from walkforward.model_selection.executors import LocalExecutor
from walkforward.registry import FULL_FIDELITY, ModelRecord, ModelStore, TrialStore
from walkforward.search import SearchRequest, SearchResult, run_search
from walkforward.search.run import SearchRun

BASE = dict(symbol="AAPL,QQQ,VIX", timeframe="5m", target_transform="log_return", embargo=12)
EN_GRID = {"alpha_grid": [0.0001, 0.001, 0.01], "l1_ratio_grid": [0.1, 0.5, 0.9]}


def _en(**kw) -> SearchRequest:
    return SearchRequest(
        **{"algorithm": "elasticnet_regression", "search": "grid", "explain": False, "grids": EN_GRID, **BASE, **kw}
    )


def _run(sreq: SearchRequest, store: FeatureStore, registry: ModelStore, **kw) -> SearchResult:
    return run_search(sreq, store=store, registry=registry, executor=LocalExecutor(n_jobs=1), **kw)


def _fingerprints(sreq: SearchRequest, store: FeatureStore, registry: ModelStore) -> list[str]:
    return SearchRun(sreq, store=store, registry=registry, executor=LocalExecutor(n_jobs=1)).fps


def _same_model(a: ModelRecord | None, b: ModelRecord | None) -> None:
    assert a is not None and b is not None
    assert (a.fingerprint, a.hyperparameters, a.cv_score, a.metrics) == (
        b.fingerprint,
        b.hyperparameters,
        b.cv_score,
        b.metrics,
    )


@pytest.fixture(scope="module")
def reference(planted_store: FeatureStore, tmp_path_factory: pytest.TempPathFactory) -> ModelRecord:
    """The best of an uninterrupted best-only search on a registry of its own."""
    root = tmp_path_factory.mktemp("reference")
    with ModelStore.open(f"sqlite:///{root / 'registry.db'}", root / "models") as registry:
        result = _run(_en(), planted_store, registry)
    assert result.best is not None
    return result.best


def test_a_best_only_search_rerun_after_its_model_is_deleted_scores_nothing(
    planted_store: FeatureStore, registry: ModelStore, reference: ModelRecord
) -> None:
    sreq = _en()
    first = _run(sreq, planted_store, registry)
    assert (first.trained, len(first.saved)) == (9, 1)
    fps = _fingerprints(sreq, planted_store, registry)
    assert len(TrialStore(registry.database).scores(fps, FULL_FIDELITY)) == 9  # every scored one, not only the best
    _same_model(first.best, reference)

    assert first.best is not None
    registry.delete(first.best.id)
    again = _run(sreq, planted_store, registry)
    assert again.notes[:2] == ["0/9 already exist, training 9", "9/9 scored before (trials), scoring 0"]
    assert (again.trained, again.tried, len(again.saved)) == (0, 9, 1)
    _same_model(again.best, reference)
    assert again.selection == first.selection


def test_a_finished_best_only_search_rerun_saves_nothing_new(
    planted_store: FeatureStore, registry: ModelStore, reference: ModelRecord
) -> None:
    first = _run(_en(), planted_store, registry)
    again = _run(_en(), planted_store, registry)
    assert again.saved == [] and registry.list()[1] == 1  # not the runner-up: the best is registered already
    assert "the best combination is already registered: nothing new to save" in again.notes
    _same_model(again.best, first.best)


def test_half_the_trials_lead_to_scoring_the_other_half_only(
    planted_store: FeatureStore, registry: ModelStore, reference: ModelRecord
) -> None:
    sreq = _en()
    fps = _fingerprints(sreq, planted_store, registry)
    trials = TrialStore(registry.database)
    first = _run(sreq, planted_store, registry)
    assert first.best is not None
    registry.delete(first.best.id)
    # Keep the trials of the first half, the reference's best among the dropped ones when possible.
    dropped = [fp for fp in fps if fp == reference.fingerprint] + [fp for fp in fps if fp != reference.fingerprint]
    assert trials.delete(dropped[:5]) == 5

    again = _run(sreq, planted_store, registry)
    assert "4/9 scored before (trials), scoring 5" in again.notes
    assert (again.trained, again.tried) == (5, 9)
    # The same combination wins. Its score equals the reference's to the solver's tolerance only: the
    # elastic net is scored along a warm-started path of the alphas being scored, and a shorter path
    # stops at a slightly different point (as against GridSearchCV in test_search.py).
    best = again.best
    assert best is not None and best.cv_score is not None and reference.cv_score is not None
    assert (best.fingerprint, best.hyperparameters) == (reference.fingerprint, reference.hyperparameters)
    assert math.isclose(best.cv_score, reference.cv_score, abs_tol=1e-4)
    assert len(trials.scores(fps, FULL_FIDELITY)) == 9


class _Killed(Exception):
    """Stands for the interrupt that stops a search midway."""


def test_a_search_stopped_midway_keeps_what_it_scored(
    planted_store: FeatureStore, registry: ModelStore, reference: ModelRecord
) -> None:
    def stop_after_four(done: int, total: int, best: float | None, msg: str) -> None:
        if done == 4:
            raise _Killed

    with pytest.raises(_Killed):
        _run(_en(), planted_store, registry, progress=stop_after_four)
    assert registry.list()[1] == 0  # best-only: nothing was registered
    again = _run(_en(), planted_store, registry)
    assert "4/9 scored before (trials), scoring 5" in again.notes and again.trained == 5
    _same_model(again.best, reference)


def test_save_all_fits_the_combinations_scored_before_without_scoring_them(
    planted_store: FeatureStore, registry: ModelStore, tmp_path: Path
) -> None:
    best_only = _run(_en(), planted_store, registry)
    assert best_only.best is not None
    save_all = _run(_en(save_all_grid_models=True), planted_store, registry)
    # The best is registered already (skipped as before); the 8 others come from the trials table.
    assert save_all.notes[:2] == ["1/9 already exist, training 8", "8/8 scored before (trials), scoring 0"]
    assert (save_all.trained, len(save_all.saved)) == (8, 8)  # fitted and saved, not scored again
    assert registry.list()[1] == 9
    _same_model(save_all.best, best_only.best)
