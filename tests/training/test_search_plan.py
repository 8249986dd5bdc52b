"""A plan before the work (dry runs) and a budget during it: the plan says what the run then does.

The dry runs read real data and time one real fit; the searches they are compared with are real
searches on the same small planted market, with a real SQLite registry.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from planted_cli import planted
from typer.testing import CliRunner

from walkforward.config import Settings
from walkforward.domain import SearchBudget
from walkforward.errors import InvalidInputError
from walkforward.features.store import FeatureStore
from walkforward.model_selection.executors import LocalExecutor
from walkforward.registry import FULL_FIDELITY, ModelStore, TrialStore
from walkforward.request import SearchRequest, parse
from walkforward.search import run_search
from walkforward.search.budget import BudgetClock
from walkforward.search.halving import halving_plan
from walkforward.search.plan import Calibration, SearchPlan, dry_run, estimate_seconds, plan_search
from walkforward.search.run import SearchRun
from walkforward.service import Services, create_app

BASE: dict[str, Any] = {
    "symbol": "AAPL,QQQ,VIX",
    "timeframe": "5m",
    "target_transform": "log_return",
    "embargo": 12,
    "explain": False,
}
#: 12 LightGBM configurations, 27 rounds: halving runs 2 rungs (12 at 9 rounds, then 4 at 27).
LGBM = {
    "algorithm": "lightgbm_regressor",
    "use_default_grid": False,
    "grids": {
        "num_leaves_grid": [7, 15],
        "lgbm_learning_rate_grid": [0.05, 0.3],
        "min_data_in_leaf_grid": [10, 40, 80],
    },
    "hyperparameters": {"n_estimators": 27},
}


def _req(**fields: Any) -> SearchRequest:
    return parse(SearchRequest, {**BASE, **LGBM, **fields})


def _nothing_written(registry: ModelStore, sreq: SearchRequest, store: FeatureStore, models_dir: Path) -> None:
    fps = SearchRun(sreq, store=store, registry=registry, executor=LocalExecutor(1)).fps
    assert registry.list(limit=1)[1] == 0
    assert TrialStore(registry.database).scores(fps, FULL_FIDELITY) == {}
    assert not models_dir.exists() or not any(p.is_file() for p in models_dir.rglob("*"))


# -- the budget's grammar ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds", "fits"),
    [("90s", 90.0, None), ("10m", 600.0, None), ("1.5h", 5400.0, None), ("500fits", None, 500), (" 3 FITS", None, 3)],
)
def test_budgets_parse(text: str, seconds: float | None, fits: int | None) -> None:
    budget = SearchBudget.parse(text)
    assert (budget.seconds, budget.fits) == (seconds, fits)
    assert SearchBudget.parse(budget.text) == budget  # the normal form parses to itself


@pytest.mark.parametrize("text", ["10x", "0s", "-1m", "2.5fits", "fits", "10 minutes", "", "1e3s"])
def test_malformed_budgets_are_one_clear_line(text: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        parse(SearchRequest, {**BASE, **LGBM, "search": "grid", "budget": text})
    message = str(err.value)
    assert message.startswith(f"invalid budget={text!r}") and "90s, 10m or 2h" in message and "500fits" in message
    assert "\n" not in message


def test_a_fits_budget_is_spent_by_fits_and_a_time_budget_by_time() -> None:
    fits = BudgetClock(SearchBudget.parse("7fits"))
    assert fits.affordable(3) == 3 and not fits.spent
    fits.spend(6)
    assert fits.affordable(3) == 1 and not fits.spent
    fits.spend(3)
    assert fits.spent and fits.affordable(3) == 0
    timed = BudgetClock(SearchBudget.parse("0.001s"))
    time.sleep(0.01)
    assert timed.spent and timed.affordable(3) is None
    assert not BudgetClock(None).spent


# -- the plan, pure --------------------------------------------------------------------------------------


def test_grid_plan_counts_fits_and_shared_boosters() -> None:
    sreq = parse(
        SearchRequest,
        {
            **BASE,
            "algorithm": "random_forest_regressor",
            "search": "grid",
            "use_default_grid": False,
            "grids": {"n_estimators_grid": [25, 50, 75], "rf_max_depth_grid": [5, 10]},
        },
    )
    combos = [{**c} for c in _combos(sreq)]
    plan = plan_search(
        sreq, combos, fold_rows=[400, 400, 400], final_rows=1200, registered={0}, scored_before={1}, n_jobs=2
    )
    assert (plan.grid_size, plan.strategy, plan.registered, plan.scored_before) == (6, "grid", 1, 1)
    (full,) = plan.fidelities
    assert (full.configurations, full.fits) == (4, 12)  # 6 - registered - scored before, x 3 folds
    # the three round counts of one max_depth share one forest: 2 forests per fold (less the 2 skipped)
    assert full.trainings == 2 * 3
    assert plan.final_fits == 1


def test_halving_plan_is_halvings_own_rungs() -> None:
    sreq = _req(search="halving")
    combos = _combos(sreq)
    plan = plan_search(sreq, combos, fold_rows=[400] * 3, final_rows=1200, registered=(), scored_before=(), n_jobs=2)
    sched = halving_plan(sreq.spec, combos, sreq.max_configs)
    assert [f.configurations for f in plan.fidelities] == [r.configurations for r in sched.rungs] == [12, 4]
    assert [f.fraction for f in plan.fidelities] == [r.fraction for r in sched.rungs]
    assert plan.fits == (12 + 4) * 3 and plan.configurations == sched.configurations == 12


def test_optuna_plans_its_trials_at_full_fidelity_capped_by_the_grid() -> None:
    sreq = _req(search="optuna", n_trials=40)
    plan = plan_search(
        sreq, _combos(sreq), fold_rows=[400] * 3, final_rows=1200, registered=(), scored_before=(), n_jobs=2
    )
    assert plan.configurations == 12 and plan.fits == 36
    assert any("upper bound" in n for n in plan.notes)


def test_the_estimate_grows_with_rounds_rows_and_shrinks_with_workers() -> None:
    cal = Calibration(1.0, 0.2, 0.01, 1e-3, 400, 50, {})  # enough work per fit that two workers pay off
    sreq = _req(search="grid")

    def seconds(sreq: SearchRequest, rows: int = 400, n_jobs: int = 2) -> float:
        plan = plan_search(
            sreq,
            _combos(sreq),
            fold_rows=[rows] * 3,
            final_rows=3 * rows,
            registered=(),
            scored_before=(),
            n_jobs=n_jobs,
        )
        return estimate_seconds(plan, sreq.spec, cal).seconds

    base = seconds(sreq)
    assert base > cal.prepare_seconds
    assert seconds(_req(search="grid", hyperparameters={"n_estimators": 270})) > base
    assert seconds(sreq, rows=800) > base
    assert seconds(sreq, n_jobs=1) > base


def _combos(sreq: SearchRequest) -> list[dict[str, Any]]:
    from walkforward.model_selection.grids import combinations

    fixed = sreq.spec.params(sreq.hyperparameters)
    return [{**fixed, **c} for c in combinations(sreq.grid())]


# -- dry runs against the real runs ---------------------------------------------------------------------


def _open(tmp_path: Path, name: str) -> ModelStore:
    return ModelStore.open(f"sqlite:///{tmp_path / name}.db", tmp_path / name)


def test_a_grid_dry_run_trains_nothing_and_counts_what_the_run_does(
    planted_store: FeatureStore, tmp_path: Path
) -> None:
    sreq = _req(search="grid")
    with _open(tmp_path, "grid") as registry:
        plan = dry_run(sreq, store=planted_store, registry=registry, n_jobs=1)
        _nothing_written(registry, sreq, planted_store, tmp_path / "grid")
        est = plan.estimate
        assert est is not None and 0 < est.low < est.seconds < est.high and "calibration fit" in est.text
        assert plan.estimate.calibration.rounds is not None and plan.estimate.calibration.rounds <= 27
        result = run_search(sreq, store=planted_store, registry=registry, executor=LocalExecutor(1))
        (full,) = plan.fidelities
        assert full.fits == result.grid_size * plan.folds == 12 * 3
        assert full.configurations == result.trained == result.tried == 12
        # run again: everything is registered or scored, and the plan says so
        again = dry_run(sreq, store=planted_store, registry=registry, n_jobs=1)
        assert again.registered + again.scored_before == 12 and again.fits == 0


@pytest.mark.slow
def test_a_halving_dry_run_counts_each_rung_as_the_run_does(planted_store: FeatureStore, tmp_path: Path) -> None:
    sreq = _req(search="halving")
    with _open(tmp_path, "halving") as registry:
        plan = dry_run(sreq, store=planted_store, registry=registry, n_jobs=1)
        _nothing_written(registry, sreq, planted_store, tmp_path / "halving")
        result = run_search(sreq, store=planted_store, registry=registry, executor=LocalExecutor(1))
    (note,) = [n for n in result.notes if n.startswith("halving over rounds")]
    ran = [int(n) for n in re.findall(r"(\d+) at ", note)]
    assert ran == [f.configurations for f in plan.fidelities] == [12, 4]
    assert result.trained == plan.fidelities[-1].configurations
    assert plan.estimate is not None and plan.estimate.seconds > 0


def test_a_dry_run_needs_a_search(planted_store: FeatureStore, registry: ModelStore) -> None:
    with pytest.raises(InvalidInputError, match="plans a search"):
        dry_run(_req(search="none", grids={}, use_default_grid=True), store=planted_store, registry=registry, n_jobs=1)


# -- budgets ----------------------------------------------------------------------------------------------


def test_a_fits_budget_stops_a_grid_and_saves_its_best(planted_store: FeatureStore, registry: ModelStore) -> None:
    sreq = _req(search="grid", budget="7fits")
    result = run_search(sreq, store=planted_store, registry=registry, executor=LocalExecutor(1))
    assert not result.complete
    assert result.tried == 3  # ceil(7 / 3 folds) configurations started, none after
    assert result.best is not None and len(result.saved) == 1
    assert Path(result.best.artifact_path).is_file()
    fps = SearchRun(sreq, store=planted_store, registry=registry, executor=LocalExecutor(1)).fps
    assert len(TrialStore(registry.database).scores(fps, FULL_FIDELITY)) == 3  # what was scored is kept
    assert any("budget of 7 fits spent" in n and "3 of 12 configurations" in n for n in result.notes)


def test_a_fits_budget_stops_halving_and_saves_a_fully_scored_pick(
    planted_store: FeatureStore, registry: ModelStore
) -> None:
    sreq = _req(search="halving", budget="12fits")
    result = run_search(sreq, store=planted_store, registry=registry, executor=LocalExecutor(1))
    assert not result.complete and result.best is not None and len(result.saved) == 1
    assert len(result.best.metrics["folds"]) == 3  # saved with its full-fidelity fold scores
    assert any("incomplete search" in n and "during rung 1/2" in n for n in result.notes)


def test_a_spent_time_budget_saves_nothing_half_done(planted_store: FeatureStore, registry: ModelStore) -> None:
    sreq = _req(search="grid", budget="0.001s")  # spent while the data is read
    result = run_search(sreq, store=planted_store, registry=registry, executor=LocalExecutor(1))
    assert not result.complete and result.tried == 0 and result.saved == [] and result.best is None
    assert any("before any configuration was scored; nothing saved" in n for n in result.notes)
    assert registry.list(limit=1)[1] == 0


@pytest.mark.slow
def test_a_spent_budget_abandons_the_tasks_in_flight(planted_store: FeatureStore, registry: ModelStore) -> None:
    """Real worker processes: once the budget is spent the stream is closed, and a best is still saved."""
    sreq = _req(search="grid", budget="1000fits")
    executor = LocalExecutor(2)
    try:
        run = SearchRun(sreq, store=planted_store, registry=registry, executor=executor)
        seen: list[int] = []

        def on_outcome(o: Any) -> None:
            run.record(o)
            seen.append(o.index)
            run.budget.spend(1000)  # the budget is gone after the first outcome

        complete = run.run_tasks(list(enumerate(run.combos)), run.shared(with_final=False), on_outcome)
        assert not complete and run.budget.stopped
        assert 1 <= len(seen) < len(run.combos)
        run.save_best(run.ranked()[:1])  # the pool comes back for the best
        assert len(run.saved) == 1 and Path(run.saved[0].artifact_path).is_file()
    finally:
        executor.close()


# -- the CLI and the API -----------------------------------------------------------------------------------


def _cli_env(monkeypatch: pytest.MonkeyPatch, store: FeatureStore, tmp: Path) -> None:
    monkeypatch.setenv("FEATURES_PARQUET_DIR", str(store.root))
    monkeypatch.setenv("MODELS_DIR", str(tmp / "models"))
    monkeypatch.setenv("METADATA_DB_PATH", str(tmp / "meta.db"))
    monkeypatch.delenv("METADATA_DB_URL", raising=False)


def _cli_args() -> list[str]:
    return planted(
        "search",
        "lightgbm_regressor",
        "--no-explain",
        "--no-default-grid",
        "--grid",
        "num_leaves_grid=[7, 15]",
        "--grid",
        "min_data_in_leaf_grid=[10, 40, 80]",
        "--param",
        "n_estimators=27",
        "--search",
        "halving",
        "--n-jobs",
        "1",
    )


def test_cli_dry_run_prints_the_plan_and_trains_nothing(
    planted_store: FeatureStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from walkforward.cli import app

    _cli_env(monkeypatch, planted_store, tmp_path)
    res = CliRunner().invoke(app, [*_cli_args(), "--dry-run", "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    plan = json.loads(res.stdout)
    assert plan["strategy"] == "halving" and plan["grid_size"] == 6
    assert [f["configurations"] for f in plan["fidelities"]] == [6, 2]
    assert plan["fits"] == (6 + 2) * 3 and plan["estimate"]["seconds"] > 0
    table = CliRunner().invoke(app, [*_cli_args(), "--dry-run"], catch_exceptions=False)
    assert table.exit_code == 0 and "rung 1/2" in table.stdout and "estimated time" in table.stdout
    with ModelStore.open(f"sqlite:///{tmp_path / 'meta.db'}", tmp_path / "models") as registry:
        assert registry.list(limit=1)[1] == 0
    assert not (tmp_path / "models").exists() or not any(p.is_file() for p in (tmp_path / "models").rglob("*"))


def test_api_dry_run_returns_the_plan_and_queues_nothing(planted_store: FeatureStore, tmp_path: Path) -> None:
    settings = Settings(
        features_parquet_dir=planted_store.root, models_dir=tmp_path / "models", metadata_db_path=tmp_path / "m.db"
    )
    svc = Services.open(settings, run_jobs=False)
    body = {**BASE, **LGBM, "search": "grid"}
    try:
        with TestClient(create_app(settings, services=svc)) as client:
            res = client.post("/train", params={"dry_run": "true"}, json=body)
            assert res.status_code == 200, res.text
            plan = res.json()
            assert plan["strategy"] == "grid" and plan["fits"] == 12 * 3 and plan["estimate"]["seconds"] > 0
            assert client.get("/jobs").json()["total"] == 0
            assert svc.registry.list(limit=1)[1] == 0
            refused = client.post("/train", params={"dry_run": "true"}, json={**body, "budget": "soon"})
            assert refused.status_code == 422 and "invalid budget='soon'" in refused.json()["detail"]
            queued = client.post("/train", json=body)  # without the flag: a job, as before
            assert queued.status_code == 202 and client.get("/jobs").json()["total"] == 1
    finally:
        svc.close()


def test_plan_json_round_trips() -> None:
    sreq = _req(search="halving")
    plan = plan_search(
        sreq, _combos(sreq), fold_rows=[400] * 3, final_rows=1200, registered=(), scored_before=(), n_jobs=2
    )
    d = json.loads(json.dumps(plan.to_dict()))
    assert isinstance(plan, SearchPlan) and d["fits"] == plan.fits and d["estimate"] is None
    assert [f["label"] for f in d["fidelities"]] == ["rung 1/2", "rung 2/2"]
