"""Successive halving over boosting rounds: rungs, stratified promotion, and the full rung's honesty."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from walkforward.features.store import FeatureStore
from walkforward.model_selection.executors import LocalExecutor
from walkforward.registry import ModelStore
from walkforward.request import SearchRequest, SearchStrategy
from walkforward.search import run_search
from walkforward.search.halving import (
    ETA,
    MIN_ROUNDS,
    plan_rungs,
    promote,
    rate_weights,
    sample_configurations,
    schedule,
)


@given(n=st.integers(1, 20_000), full=st.integers(1, 2000))
def test_rungs_shrink_by_eta_and_end_at_full_fidelity(n: int, full: int) -> None:
    rungs = plan_rungs(n, full)
    assert rungs[0].configurations == n and rungs[-1].fraction == 1.0
    for a, b in zip(rungs, rungs[1:], strict=False):
        assert b.fraction == pytest.approx(a.fraction * ETA)
        assert b.configurations == max(1, -(-a.configurations // ETA))
    assert all(r.rounds(full) >= 1 for r in rungs)
    assert rungs[0].rounds(full) >= min(full, MIN_ROUNDS)  # the lowest rung still trains a few rounds


def test_promotion_keeps_every_learning_rate() -> None:
    params = {i: {"learning_rate": lr, "num_leaves": i} for i, lr in enumerate([0.01] * 6 + [0.3] * 6)}
    # at few rounds the low rate scores worse across the board: it must still be promoted
    scored = {i: (-1.0 if p["learning_rate"] == 0.01 else 0.0) + i / 100 for i, p in params.items()}
    kept = promote(scored, params, keep=4)
    assert {params[i]["learning_rate"] for i in kept} == {0.01, 0.3}
    assert kept[:2] == [11, 10]  # the best of the strong stratum first, then the rest by score
    low = [i for i in kept if params[i]["learning_rate"] == 0.01]
    assert low == [5, 4]  # the best of the weak stratum, not its worst


@given(
    scores=st.lists(st.sampled_from([-0.5, 0.0, 0.1, 0.2]), min_size=2, max_size=30),
    keep=st.integers(1, 10),
    seed=st.integers(0, 1000),
)
def test_promotion_does_not_depend_on_the_order_outcomes_arrive_in(scores: list[float], keep: int, seed: int) -> None:
    import random

    params = {i: {"learning_rate": [0.01, 0.1][i % 2]} for i in range(len(scores))}
    order = list(range(len(scores)))
    random.Random(seed).shuffle(order)  # parallel workers finish in any order; ties are common
    assert promote({i: scores[i] for i in order}, params, keep) == promote(dict(enumerate(scores)), params, keep)


def test_sampling_is_stratified_and_deterministic() -> None:
    items = [(i, {"learning_rate": [0.01, 0.1, 0.3][i % 3], "num_leaves": i}) for i in range(3000)]
    a, b = sample_configurations(items, 300), sample_configurations(items, 300)
    assert a == b and len(a) == 300
    assert {p["learning_rate"] for _, p in a} == {0.01, 0.1, 0.3}
    assert sample_configurations(items[:10], 300) == items[:10]


@given(rates=st.lists(st.sampled_from([0.005, 0.01, 0.03, 0.05, 0.1, 0.2, 0.3]), min_size=1, max_size=20))
def test_rate_weights_give_slow_learners_more_rounds_at_the_same_mean(rates: list[float]) -> None:
    weights = rate_weights([{"learning_rate": r} for r in rates])
    distinct = sorted(set(rates))
    if len(distinct) < 2:
        assert weights == {}
        return
    assert sum(weights.values()) / len(weights) == pytest.approx(1.0)
    ordered = [weights[repr(r)] for r in distinct]
    assert ordered == sorted(ordered, reverse=True)  # the lower the rate, the more rounds


def test_configurations_differing_only_in_rounds_are_one_unit() -> None:
    from walkforward.model_selection.grids import combinations

    grid = {"max_depth": [3, 5, None], "n_estimators": [25, 100, 50], "min_samples_leaf": [1, 8]}
    combos = list(combinations(grid))
    plan = schedule(combos, "n_estimators", max_configs=1000)
    assert len(plan.units) == 6 and plan.configurations == 18 and not plan.sampled
    for rep, members in plan.units.items():
        assert combos[rep]["n_estimators"] == 100  # the unit is trained once, to its largest count
        others = {repr(sorted((k, v) for k, v in combos[m].items() if k != "n_estimators")) for m in members}
        assert len(others) == 1 and sorted(combos[m]["n_estimators"] for m in members) == [25, 50, 100]
    assert plan.full == 100 and plan.rungs[0].configurations == 6
    sampled = schedule(combos, "n_estimators", max_configs=12)  # configurations: 4 units of 3 round counts
    assert len(sampled.units) == 4 and sampled.sampled and sampled.configurations == 12
    assert len(schedule(combos, None, max_configs=1000).units) == 18  # no rounds parameter: every combination


def test_auto_picks_halving_only_for_big_booster_grids() -> None:
    base = {"symbol": "AAPL", "search": "auto"}
    assert SearchRequest(algorithm="lightgbm_regressor", **base).strategy() == SearchStrategy.HALVING  # 19,208
    assert SearchRequest(algorithm="elasticnet_regression", **base).strategy() == SearchStrategy.GRID
    small = {"num_leaves_grid": [7, 15], "lgbm_learning_rate_grid": [0.05, 0.1]}
    req = SearchRequest(algorithm="lightgbm_regressor", grids=small, use_default_grid=False, **base)
    assert req.strategy() == SearchStrategy.GRID
    assert req.model_copy(update={"auto_threshold": 3}).strategy() == SearchStrategy.HALVING


@pytest.mark.slow
def test_halving_finalists_score_exactly_as_the_exhaustive_grid(planted_store: FeatureStore, tmp_path: Path) -> None:
    grids = {"num_leaves_grid": [7, 31], "lgbm_learning_rate_grid": [0.03, 0.3], "min_data_in_leaf_grid": [10, 40, 80]}
    base = {
        "symbol": "AAPL,QQQ,VIX",
        "algorithm": "lightgbm_regressor",
        "timeframe": "5m",
        "target_transform": "log_return",
        "embargo": 12,
        "grids": grids,
        "use_default_grid": False,
        "explain": False,
        "hyperparameters": {"n_estimators": 90},
    }
    results = {}
    for strategy in ("grid", "halving"):
        with ModelStore.open(f"sqlite:///{tmp_path / strategy}.db", tmp_path / strategy) as registry:
            req = SearchRequest(search=strategy, save_all_grid_models=True, **base)
            results[strategy] = run_search(req, store=planted_store, registry=registry, executor=LocalExecutor(1))
            results[strategy + "_rows"] = registry.cohort(results[strategy].cohort_id)
    grid, halving = results["grid"], results["halving"]
    exhaustive = {r.fingerprint: r.cv_score for r in results["grid_rows"]}
    finalists = results["halving_rows"]
    assert 1 <= len(finalists) < len(exhaustive)  # only the full rung is registered
    for r in finalists:  # the full rung is the same out-of-sample evaluation, to the last digit
        assert r.cv_score == pytest.approx(exhaustive[r.fingerprint], abs=1e-12)
    note = next(n for n in halving.notes if n.startswith("halving over rounds"))
    spent = float(note.rsplit("; ", 1)[-1].split("%")[0])
    assert spent < 60.0  # a fraction of the exhaustive grid's boosting rounds
    ranked = sorted(exhaustive.values(), reverse=True)
    assert halving.best is not None and ranked.index(exhaustive[halving.best.fingerprint]) < len(ranked) // 2
    assert grid.best is not None and grid.best.cv_score == ranked[0]


class _Killed(Exception):
    """Stands for the interrupt that stops a search midway."""


@pytest.mark.slow
def test_a_killed_halving_search_resumes_every_rung_from_the_trials_table(
    planted_store: FeatureStore, tmp_path: Path
) -> None:
    grids = {"num_leaves_grid": [7, 31, 63], "lgbm_learning_rate_grid": [0.03, 0.3], "min_data_in_leaf_grid": [10, 80]}
    req = SearchRequest(
        symbol="AAPL,QQQ,VIX",
        algorithm="lightgbm_regressor",
        timeframe="5m",
        target_transform="log_return",
        embargo=12,
        grids=grids,
        use_default_grid=False,
        explain=False,
        search="halving",
        hyperparameters={"n_estimators": 90},
    )
    with ModelStore.open(f"sqlite:///{tmp_path / 'r.db'}", tmp_path / "models") as registry:

        def stop_in_rung_two(done: int, total: int, best: float | None, msg: str) -> None:
            if msg.startswith("halving rung 2") and done == 2:
                raise _Killed

        with pytest.raises(_Killed):
            run_search(
                req, store=planted_store, registry=registry, executor=LocalExecutor(1), progress=stop_in_rung_two
            )
        assert registry.list()[1] == 0  # best-only: nothing registered yet
        with registry.database.transaction() as conn:
            rows = conn.exec_driver_sql("SELECT fidelity, count(*) FROM trials GROUP BY 1").all()
        # rung 1 (90 rounds / 9, scaled by rate: 16 for 0.03, 5 for 0.3), and rung 2 until the kill
        rows = dict(rows)
        assert rows["rounds=16"] == 6 and rows["rounds=5"] == 6 and sum(rows.values()) == 14, rows
        again = run_search(req, store=planted_store, registry=registry, executor=LocalExecutor(1))
        note = next(n for n in again.notes if n.startswith("halving over rounds"))
        # rung 1 (12 configurations) and 2 of rung 2 came from the trials table; only the rest was scored
        assert note.endswith("; 14 rung scores taken from the trials table"), note
        third = run_search(req, store=planted_store, registry=registry, executor=LocalExecutor(1))
    assert third.trained == 0 and third.best is not None and again.best is not None
    assert third.best.fingerprint == again.best.fingerprint
