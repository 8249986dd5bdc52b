"""The lock box: no training, search or statistic row reaches it; a model is evaluated on it once, shown apart."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from walkforward.config import Settings
from walkforward.data.loader import Dataset, LoadRequest, load_dataset
from walkforward.errors import InvalidInputError
from walkforward.features.store import FeatureStore
from walkforward.model_selection.executors import LocalExecutor
from walkforward.registry import LockboxEvaluatedError, ModelStore
from walkforward.request import SearchRequest, TrainRequest
from walkforward.search.run import SearchRun
from walkforward.service import Services, create_app
from walkforward.training import predict, prepare, train
from walkforward.training.lockbox import evaluate_lockbox


def days_of(store: FeatureStore) -> list[dt.date]:
    files = store.day_files("AAPL")
    return sorted({dt.date.fromisoformat(p.parent.name[3:]) for paths in files.values() for p in paths})


@pytest.fixture(scope="module")
def lockbox_store(planted_store: FeatureStore) -> FeatureStore:
    """The planted store with its last 5 of 24 days in the lock box."""
    return FeatureStore(planted_store.root, lockbox_start=days_of(planted_store)[19])


def request(**kw: object) -> TrainRequest:
    fields: dict[str, object] = {
        "symbol": "AAPL,QQQ,VIX",
        "algorithm": "elasticnet_regression",
        "timeframe": "5m",
        "target_transform": "log_return",
        "lookforward": 3,
        "hyperparameters": {"alpha": 1e-5, "l1_ratio": 0.5},
        **kw,
    }
    return TrainRequest.model_validate(fields)


def assert_outside(ds: Dataset, full: Dataset, rows: np.ndarray, start: dt.date) -> None:
    """``rows`` of ``ds`` are before ``start``, and so is the bar each one's target is read from."""
    look = ds.request.lookforward
    local = full.local_ts.dt.date.to_numpy()
    where = np.searchsorted(full.ts.to_numpy(), ds.ts.to_numpy()[rows])
    assert (full.ts.to_numpy()[where] == ds.ts.to_numpy()[rows]).all()
    assert all(d < start for d in local[where])
    assert all(d < start for d in local[where + look])  # the target's bar


def test_no_training_or_fold_row_reaches_the_lockbox(lockbox_store: FeatureStore) -> None:
    start = lockbox_store.lockbox_start
    assert start is not None
    data = prepare(request(), store=lockbox_store)
    full = load_dataset(lockbox_store, dataclasses.replace(data.dataset.request, end=None), include_lockbox=True)
    plan = data.plan
    rows = np.concatenate(
        [plan.final_train_index, *[np.concatenate([f.train_index, f.test_index]) for f in plan.folds]]
    )
    assert_outside(data.dataset, full, np.arange(len(data.dataset.frame)), start)  # every loaded row, not just folds
    assert_outside(data.dataset, full, rows, start)
    assert data.dataset.request.end == start - dt.timedelta(days=1)
    assert any(n.startswith(f"lock box from {start}: 5 session(s) held out") for n in plan.notes)
    assert data.derived()["lockbox"] == {
        "start": start.isoformat(),
        "held_out_sessions": 5,
        "last_day": str(data.dataset.request.end),
    }
    # the full load does hold lock-box rows: the guard is what kept them out
    assert any(d >= start for d in full.local_ts.dt.date)


def test_search_sees_no_lockbox_row(lockbox_store: FeatureStore, registry: ModelStore) -> None:
    start = lockbox_store.lockbox_start
    sreq = SearchRequest.model_validate(
        {**request().inputs(), "hyperparameters": {}, "grids": {"alpha_grid": [1e-5, 1e-3]}, "search": "grid"}
    )
    run = SearchRun(sreq, store=lockbox_store, registry=registry, executor=LocalExecutor(n_jobs=1))
    assert max(run.data.dataset.local_ts.dt.date) < start


@pytest.mark.parametrize("field", ["end", "start"])
def test_dates_inside_the_lockbox_are_refused(lockbox_store: FeatureStore, field: str) -> None:
    start = lockbox_store.lockbox_start
    assert start is not None
    dates = {"start": days_of(lockbox_store)[0], "end": start + dt.timedelta(days=1)}
    dates[field] = start + dt.timedelta(days=1)
    if field == "start":
        dates["end"] = start + dt.timedelta(days=3)
    with pytest.raises(InvalidInputError, match=f"{field} date .* inside the lock box .*WALKFORWARD_LOCKBOX_START"):
        prepare(request(**{k: str(v) for k, v in dates.items()}), store=lockbox_store)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(day=st.integers(min_value=8, max_value=23), lookforward=st.integers(min_value=1, max_value=6))
def test_guard_holds_for_any_lockbox_day(planted_store: FeatureStore, day: int, lookforward: int) -> None:
    start = days_of(planted_store)[day]
    store = FeatureStore(planted_store.root, lockbox_start=start)
    req = LoadRequest.build("AAPL,QQQ", timeframe="15m", target_transform="log_return", lookforward=lookforward)
    ds = load_dataset(store, req)
    full = load_dataset(store, req, include_lockbox=True)
    assert_outside(ds, full, np.arange(len(ds.frame)), start)
    # nothing before the lock box is lost but the last `lookforward` rows, whose targets would read it
    before = int(sum(d < start for d in full.local_ts.dt.date))
    assert len(ds.frame) == before - lookforward
    assert ds.held_out_sessions == 24 - day


@pytest.mark.slow  # trains and evaluates a model; the guard's properties above stay fast
def test_evaluated_once_recorded_and_shown_apart(lockbox_store: FeatureStore, registry: ModelStore) -> None:
    start = lockbox_store.lockbox_start
    assert start is not None
    model = train(request(), store=lockbox_store, registry=registry)
    found = evaluate_lockbox(model.id, store=lockbox_store, registry=registry)
    assert found.lockbox_start == start and found.sessions == 5
    assert found.rows == 5 * 78 - 3  # five 5m sessions, less the last bars without a target
    scores = found.metrics["lockbox"]
    assert scores["n"] == found.rows
    assert scores["r2"] != model.metrics["cv"]["r2"]  # other rows, other numbers
    assert "lockbox" not in model.metrics and registry.get(model.id).metrics == model.metrics  # apart from the cv
    assert registry.lockbox(model.id) == found
    with pytest.raises(LockboxEvaluatedError, match="already evaluated on the lock box at") as again:
        evaluate_lockbox(model.id, store=lockbox_store, registry=registry)
    assert again.value.evaluation == found
    # serving reads the lock box, and labels it
    served = predict(model.id, store=lockbox_store, registry=registry)
    local = served["ts"].dt.tz_localize("UTC").dt.tz_convert("America/New_York").dt.date
    assert (served["lockbox"] == (local >= start)).all() and served["lockbox"].sum() == 5 * 78
    # ... and withholds the lock box's realised targets (judged once, above), not those before it
    assert served.loc[served["lockbox"], "target"].isna().all()
    assert served.loc[~served["lockbox"], "target"].notna().sum() > 0


@pytest.mark.slow  # trains and evaluates a model; the guard's properties above stay fast
def test_a_model_trained_without_the_lockbox_is_refused(planted_store: FeatureStore, registry: ModelStore) -> None:
    model = train(request(), store=planted_store, registry=registry)  # no lock box: it read every day
    later = FeatureStore(planted_store.root, lockbox_start=days_of(planted_store)[19])
    with pytest.raises(InvalidInputError, match="trained without a lock box"):
        evaluate_lockbox(model.id, store=later, registry=registry)
    assert registry.lockbox(model.id) is None
    with pytest.raises(InvalidInputError, match="no lock box is set"):
        evaluate_lockbox(model.id, store=planted_store, registry=registry)


@pytest.mark.slow  # trains and evaluates a model; the guard's properties above stay fast
def test_api_evaluates_once_409_then_shows(planted_store: FeatureStore, tmp_path: Path) -> None:
    start = days_of(planted_store)[19]
    settings_ = Settings(
        features_parquet_dir=planted_store.root,
        models_dir=tmp_path / "models",
        metadata_db_path=tmp_path / "metadata.db",
        walkforward_lockbox_start=start,
    )
    svc = Services.open(settings_, run_jobs=False)
    try:
        model = train(request(), store=svc.store, registry=svc.registry)
        with TestClient(create_app(settings_, services=svc)) as client:
            assert client.get(f"/models/{model.id}/lockbox").status_code == 404
            first = client.post(f"/models/{model.id}/lockbox", json={})
            assert first.status_code == 200, first.text
            body = first.json()
            assert body["lockbox_start"] == start.isoformat() and body["sessions"] == 5
            second = client.post(f"/models/{model.id}/lockbox", json={})
            assert second.status_code == 409
            assert "already evaluated" in second.json()["detail"] and second.json()["lockbox"] == body
            assert client.get(f"/models/{model.id}/lockbox").json() == body
            shown = client.get(f"/models/{model.id}").json()
            assert shown["lockbox"] == body and "lockbox" not in shown["metrics"]
    finally:
        svc.close()
