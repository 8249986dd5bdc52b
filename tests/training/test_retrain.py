"""Retraining on new data: a child with lineage, the rows it used, and no retrain without new data."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from walkforward import queries
from walkforward.data.loader import load_dataset
from walkforward.domain import SplitScheme
from walkforward.features.demo import generate_market
from walkforward.features.pipeline import ingest_frames
from walkforward.features.store import FeatureStore
from walkforward.registry import ModelStore
from walkforward.request import TrainRequest
from walkforward.training import train
from walkforward.training.retrain import retrain, retrain_request

DAYS = 24
FIRST = 14  # days ingested before the parent is trained
LOCKBOX_DAY = 21  # index of the lock box's first day: the last 3 days are held out


def _frames() -> dict[str, pd.DataFrame]:
    return generate_market(days=DAYS, symbols=("AAPL", "QQQ", "VIX"), seed=11, predictability=0.15)


def _days(frames: dict[str, pd.DataFrame]) -> list[dt.date]:
    local = frames["AAPL"]["ts"].dt.tz_convert("America/New_York").dt.date
    return sorted(set(local))


def _head(frames: dict[str, pd.DataFrame], last: dt.date) -> dict[str, pd.DataFrame]:
    out = {}
    for sym, f in frames.items():
        out[sym] = f[f["ts"].dt.tz_convert("America/New_York").dt.date <= last].reset_index(drop=True)
    return out


@pytest.fixture(params=["sqlite", "postgresql"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ModelStore]:
    url = (
        f"sqlite:///{tmp_path / 'registry.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_registry_url")
    )
    opened = ModelStore.open(url, tmp_path / "models")
    yield opened
    opened.dispose()


def request_for(**kw: object) -> TrainRequest:
    fields: dict[str, object] = {
        "symbol": "AAPL,QQQ,VIX",
        "algorithm": "elasticnet_regression",
        "timeframe": "5m",
        "target_transform": "log_return",
        "lookforward": 3,
        "hyperparameters": {"alpha": 1e-5, "l1_ratio": 0.5},
        "explain": False,
        **kw,
    }
    return TrainRequest.model_validate(fields)


def test_retrain_after_new_days_registers_a_child_with_lineage(tmp_path: Path, registry: ModelStore) -> None:
    frames = _frames()
    days = _days(frames)
    lockbox = days[LOCKBOX_DAY]
    store = FeatureStore(tmp_path / "store", lockbox_start=lockbox)
    ingest_frames(store, _head(frames, days[FIRST - 1]), scheme=SplitScheme(4, 2))
    parent = train(request_for(), store=store, registry=registry)
    parent_end = pd.Timestamp(parent.derived["data_end"])
    assert parent_end.date() == days[FIRST - 1]

    ingest_frames(store, frames, scheme=SplitScheme(4, 2))  # the same days again, then ten new ones
    done = retrain(parent.id, store=store, registry=registry)
    child = done.record
    assert done.trained and child.id != parent.id
    assert child.parent_model_id == parent.id
    assert child.derived["retrained_from"] == parent.id
    info = child.derived["retrain"]
    assert info["rows"] == f"all up to {days[LOCKBOX_DAY - 1]} except lock box"
    assert pd.Timestamp(child.derived["data_end"]) > parent_end  # the data end moved forward
    assert pd.Timestamp(info["data_end"]).date() < lockbox

    # every labelled row before the lock box, test-labelled ones included, and none from it
    full = load_dataset(store, request_for().load_request(), include_lockbox=True)
    before = int((full.local_ts.dt.date < lockbox).sum())
    assert info["rows_used"] == child.folds["final_train_rows"] == before - 3  # the last 3 bars have no target
    ext = load_dataset(store, retrain_request(parent).load_request())
    assert (ext.split == "test").sum() > 0 and info["rows_used"] == len(ext.frame)
    assert ext.local_ts.dt.date.max() < lockbox

    # the metrics are those of a fresh train of the extended data: the same folds, out of sample
    fresh = train(retrain_request(parent), store=store, registry=registry)
    assert fresh.folds["folds"] == child.folds["folds"]
    assert [f["r2"] for f in fresh.metrics["folds"]] == pytest.approx([f["r2"] for f in child.metrics["folds"]])
    assert fresh.folds["final_train_rows"] < child.folds["final_train_rows"]  # only its final fit differs

    lineage = queries.lineage(registry, child.id).to_dict()
    assert lineage["model"]["retrained_from"] == parent.id
    assert [a["id"] for a in lineage["ancestors"]] == [parent.id]
    below = queries.lineage(registry, parent.id).to_dict()["descendants"]
    assert [(d["id"], d["retrained_from"]) for d in below] == [(child.id, parent.id)]


def test_a_second_retrain_without_new_data_trains_nothing(tmp_path: Path, registry: ModelStore) -> None:
    frames = _frames()
    days = _days(frames)
    store = FeatureStore(tmp_path / "store")
    ingest_frames(store, _head(frames, days[FIRST - 1]), scheme=SplitScheme(4, 2))
    parent = train(request_for(), store=store, registry=registry)
    first = retrain(parent.id, store=store, registry=registry)
    assert first.trained  # same days, but now every row trains the final model
    n = len(registry.descendants(parent.id))

    again = retrain(parent.id, store=store, registry=registry)
    assert not again.trained and again.record.id == first.record.id
    assert again.message.startswith(f"no new data since {days[FIRST - 1]}; nothing trained")
    of_child = retrain(first.record.id, store=store, registry=registry)  # the child is up to date too
    assert not of_child.trained and of_child.record.id == first.record.id
    assert len(registry.descendants(parent.id)) == n

    ingest_frames(store, _head(frames, days[FIRST + 1]), scheme=SplitScheme(4, 2))  # two new days
    later = retrain(first.record.id, store=store, registry=registry)
    assert later.trained and later.record.parent_model_id == first.record.id
    assert pd.Timestamp(later.record.derived["data_end"]).date() == days[FIRST + 1]
    assert [a.id for a in registry.ancestors(later.record.id)] == [first.record.id, parent.id]


def test_retrain_request_reads_up_to_now(tmp_path: Path) -> None:
    """A parent trained up to an end date is retrained with no end (the loader still clips the lock box)."""
    req = request_for(end=dt.date(2024, 1, 10))
    record_like = dataclasses.make_dataclass("R", [("request", dict)])(req.inputs())
    again = retrain_request(record_like)  # type: ignore[arg-type]
    assert again.end is None
    assert again.model_dump(exclude={"end"}) == req.model_dump(exclude={"end"})
