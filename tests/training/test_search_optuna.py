"""Optuna search: index sampling, distinct trials, parallel batches, pruning on rounds, resume from the trials table."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from walkforward.features.store import FeatureStore
from walkforward.model_selection.executors import DaskExecutor, LocalExecutor
from walkforward.model_selection.grids import combinations
from walkforward.registry import FULL_FIDELITY, ModelStore, TrialStore
from walkforward.request import SearchRequest
from walkforward.search import SearchResult, run_search
from walkforward.search.index_space import Space, order_values
from walkforward.search.optuna import OptunaSearch, Pruning
from walkforward.search.run import SearchRun

BASE = dict(symbol="AAPL,QQQ,VIX", timeframe="5m", target_transform="log_return", embargo=12, explain=False)
EN_GRID = {"alpha_grid": [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05], "l1_ratio_grid": [0.1, 0.5, 0.9]}
# One learning rate (so every trial competes in one rung), and a spread of leaf sizes: the largest
# leaves cannot split the few hundred training rows of a fold and predict a constant.
LGBM_GRID = {
    "num_leaves_grid": [3, 7, 31],
    "min_data_in_leaf_grid": [5, 20, 80, 400, 2000],
    "lgbm_learning_rate_grid": [0.1],
}


def _request(algorithm: str, grids: dict[str, list[Any]], **kw: Any) -> SearchRequest:
    extra = {"hyperparameters": {"n_estimators": 90}} if algorithm.startswith("lightgbm") else {}
    return SearchRequest(
        **{"algorithm": algorithm, "search": "optuna", "grids": grids, "use_default_grid": False, **BASE, **extra, **kw}
    )


def _run(sreq: SearchRequest, store: FeatureStore, registry: ModelStore, n_jobs: int = 1) -> SearchResult:
    return run_search(sreq, store=store, registry=registry, executor=LocalExecutor(n_jobs=n_jobs))


def _note(result: SearchResult) -> str:
    return next(n for n in result.notes if n.startswith("optuna"))


def _count(note: str, what: str) -> int:
    found = re.search(rf"(\d+) {what}", note)
    return int(found.group(1)) if found else 0


# -- index sampling (pure)
_value = st.one_of(st.integers(-1000, 1000), st.floats(-1e6, 1e6, allow_nan=False), st.text(max_size=3), st.none())
_values = st.lists(_value, min_size=1, max_size=4, unique_by=repr)


@given(grid=st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), _values, min_size=1, max_size=4), data=st.data())
def test_indices_map_to_grid_values_in_sorted_order(grid: dict[str, list[Any]], data: st.DataObject) -> None:
    combos = [dict(c) for c in combinations(grid)]
    space = Space(grid, combos)
    for axis in space.axes:
        assert sorted(map(repr, axis.values)) == sorted(map(repr, grid[axis.name]))  # the same values, each once
        numbers = [v for v in axis.values if v is not None]
        if axis.ordered:  # numbers ascend; None only at an end, where the grid put it
            assert numbers == sorted(numbers)
            if None in axis.values:
                assert axis.values.index(None) in (0, len(axis.values) - 1)
        else:
            assert axis.values == tuple(grid[axis.name])
    assert {a.name for a in space.axes} == {k for k, v in grid.items() if len(v) > 1}
    params = {a.name: data.draw(st.integers(0, len(a.values) - 1)) for a in space.axes}
    i = space.combo_index(params)
    for a in space.axes:  # the index stands for that grid value, and the grid point maps back to the index
        assert repr(combos[i][a.name]) == repr(a.values[params[a.name]])
    assert space.params(i) == params


def test_order_values_sorts_numbers_and_keeps_strings_in_grid_order() -> None:
    assert order_values([63, 7, 31, 15]) == ((7, 15, 31, 63), True)
    assert order_values([5, 30, 10, None]) == ((5, 10, 30, None), True)  # max_depth=None: no limit, last
    assert order_values(["sqrt", "log2", 0.3, 1.0]) == (("sqrt", "log2", 0.3, 1.0), False)


def test_pruning_compares_a_trial_only_with_its_own_learning_rate() -> None:
    pruning = Pruning()
    assert [pruning.should_prune(n, "0.3", 1, float(n)) for n in range(3)] == [False] * 3  # each the best so far
    # At few rounds a low rate scores far below: it is not pruned for that, only against its own rate.
    assert pruning.should_prune(10, "0.01", 1, -5.0) is False
    assert pruning.should_prune(11, "0.01", 1, -6.0) is True
    assert pruning.should_prune(3, "0.3", 1, -1.0) is True
    assert pruning.should_prune(0, "0.3", 3, 0.5) is False  # a promoted trial's next rung: first there


# -- searches on the planted store
def test_trials_count_distinct_configurations(planted_store: FeatureStore, registry: ModelStore) -> None:
    result = _run(_request("elasticnet_regression", EN_GRID, n_trials=7), planted_store, registry)
    note = _note(result)
    assert _count(note, "distinct configurations") == 7 and result.tried == 7 == result.trained
    assert "no pruning: elasticnet_regression has no rounds to cut" in note
    # Every trial is a grid point scored at full fidelity and kept in the trials table.
    run_fps = {r.fingerprint for r in registry.cohort(result.cohort_id)}
    assert len(run_fps) == 1 and result.best is not None and result.best.fingerprint in run_fps
    stored = TrialStore(registry.database).scores([result.best.fingerprint], FULL_FIDELITY)
    assert stored[result.best.fingerprint].score == pytest.approx(result.best.cv_score, abs=1e-12)
    again = _run(_request("elasticnet_regression", EN_GRID, n_trials=7), planted_store, registry)
    assert (again.trained, again.tried) == (0, 7)  # resumed from the trials table: nothing scored twice
    assert "7 taken from the trials table" in _note(again)


def test_an_exhausted_grid_ends_with_every_combination_once(planted_store: FeatureStore, registry: ModelStore) -> None:
    grids = {"alpha_grid": [0.0001, 0.001, 0.01], "l1_ratio_grid": [0.1, 0.9]}
    result = _run(_request("elasticnet_regression", grids, n_trials=40), planted_store, registry)
    assert (result.grid_size, result.tried, result.trained) == (6, 6, 6)  # n_trials is capped at the grid's size
    assert _count(_note(result), "distinct configurations") == 6


@pytest.mark.slow
def test_a_rerun_is_seeded_from_the_trials_table_and_trains_nothing(
    planted_store: FeatureStore, registry: ModelStore
) -> None:
    sreq = _request("lightgbm_regressor", LGBM_GRID, n_trials=6)
    first = _run(sreq, planted_store, registry)
    assert first.trained >= 1
    run = SearchRun(sreq, store=planted_store, registry=registry, executor=LocalExecutor(1))
    search = OptunaSearch(run, set())
    search.seed()  # full-fidelity trials complete, pruned ones pruned, with the index parameters
    assert len(search.study.trials) == 6 == len(search.told)
    complete = [t for t in search.study.trials if t.state.name == "COMPLETE"]
    assert len(complete) == first.tried and all(t.params.keys() == search.space.distributions.keys() for t in complete)
    second = _run(sreq, planted_store, registry)
    assert second.trained == 0 and second.best is not None and first.best is not None
    assert second.best.cv_score == first.best.cv_score
    assert "6 taken from the trials table" in _note(second) and "in 0 rounds" in _note(second)


@pytest.mark.slow
def test_pruned_trials_stop_early_and_the_best_is_a_full_fidelity_score(
    planted_store: FeatureStore, tmp_path: Path
) -> None:
    with ModelStore.open(f"sqlite:///{tmp_path / 'grid'}.db", tmp_path / "grid") as registry:
        sreq = _request("lightgbm_regressor", LGBM_GRID, search="grid", save_all_grid_models=True)
        grid = _run(sreq, planted_store, registry)
        exhaustive = {r.fingerprint: r.cv_score for r in registry.cohort(grid.cohort_id)}
    assert len(exhaustive) == 15
    with ModelStore.open(f"sqlite:///{tmp_path / 'optuna'}.db", tmp_path / "optuna") as registry:
        result = _run(_request("lightgbm_regressor", LGBM_GRID, n_trials=12), planted_store, registry)
        trials = TrialStore(registry.database)
        full = trials.scores(exhaustive, FULL_FIDELITY)
        lowest = trials.scores(exhaustive, "rounds=10")  # 1/9 of 90 rounds
    note = _note(result)
    pruned = _count(note, "pruned at 1/9 of the rounds") + _count(note, "pruned at 1/3 of the rounds")
    assert pruned >= 1 and _count(note, "distinct configurations") == 12
    assert result.tried == _count(note, "at full fidelity") == 12 - pruned == result.trained
    assert len(full) == result.tried  # only full-fidelity scores are recorded as the combinations' scores
    assert len(lowest) == 12 and full.keys() <= lowest.keys()  # every trial was scored at the lowest rung first
    for fp, trial in full.items():  # the same out-of-sample evaluation as the exhaustive grid, to the last digit
        assert trial.score == pytest.approx(exhaustive[fp], abs=1e-12)
    assert result.best is not None and result.best.fingerprint in full
    assert result.best.cv_score == pytest.approx(exhaustive[result.best.fingerprint], abs=1e-12)
    assert result.best.cv_score == max(t.score for t in full.values() if t.score is not None)


@pytest.mark.slow
def test_parallel_trials_are_recorded_and_match_one_process(planted_store: FeatureStore, tmp_path: Path) -> None:
    scores = {}
    for n_jobs in (2, 1):
        name = f"jobs{n_jobs}"
        with ModelStore.open(f"sqlite:///{tmp_path / name}.db", tmp_path / name) as registry:
            sreq = _request("lightgbm_regressor", LGBM_GRID, n_trials=8, save_all_grid_models=True)
            result = _run(sreq, planted_store, registry, n_jobs=n_jobs)
            if n_jobs == 2:
                assert "on 2 workers" in _note(result)
            cohort = {r.fingerprint: r.cv_score for r in registry.cohort(result.cohort_id)}
            assert len(cohort) == result.tried >= 1  # save-all registers every full-fidelity trial
            stored = TrialStore(registry.database).scores(cohort, FULL_FIDELITY)
            assert {fp: t.score for fp, t in stored.items()} == pytest.approx(cohort, abs=1e-12)
            scores[n_jobs] = cohort
    # The same scores whichever process computed them (the configurations differ: the batches do).
    for fp in scores[1].keys() & scores[2].keys():
        assert scores[1][fp] == pytest.approx(scores[2][fp], abs=1e-12)


@pytest.mark.e2e
@pytest.mark.slow
def test_trials_run_on_a_dask_cluster_as_they_run_locally(planted_store: FeatureStore, tmp_path: Path) -> None:
    from distributed import LocalCluster

    results = {}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        for name in ("local", "dask"):
            executor = LocalExecutor(n_jobs=2) if name == "local" else DaskExecutor(cluster.scheduler_address)
            with ModelStore.open(f"sqlite:///{tmp_path / name}.db", tmp_path / name) as registry:
                try:
                    sreq = _request("lightgbm_regressor", LGBM_GRID, n_trials=6, save_all_grid_models=True)
                    result = run_search(sreq, store=planted_store, registry=registry, executor=executor)
                finally:
                    executor.close()
                assert "on 2 workers" in _note(result)
                results[name] = {r.fingerprint: r.cv_score for r in registry.cohort(result.cohort_id)}
    # Batches of the same size, told in trial order: the same trials, the same scores, wherever they ran.
    assert results["local"].keys() == results["dask"].keys()
    assert results["dask"] == pytest.approx(results["local"], abs=1e-12)
