"""A random-walk market and a cohort trained on it once (SQLite), copied into each backend's registry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ensemblekit import BASE, GRID, Trained, copy_models

from walkforward.domain import SplitScheme
from walkforward.features.demo import generate_market
from walkforward.features.pipeline import ingest_frames
from walkforward.features.store import FeatureStore
from walkforward.model_selection.executors import LocalExecutor
from walkforward.registry import ModelStore
from walkforward.search import SearchRequest, run_search
from walkforward.training import TrainRequest, train


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """A pure random walk (no predictability): an elastic-net cohort of 6, two classifiers, and an MSFT model."""
    root = tmp_path_factory.mktemp("ensembles")
    store = FeatureStore(root / "features")
    frames = generate_market(days=24, symbols=("AAPL", "MSFT", "QQQ", "VIX"), seed=4, predictability=0.0)
    ingest_frames(store, frames, scheme=SplitScheme(6, 2))
    url = f"sqlite:///{root / 'trained.db'}"
    registry = ModelStore.open(url, root / "models")
    try:
        sreq = SearchRequest(
            algorithm="elasticnet_regression", search="grid", grids=GRID, save_all_grid_models=True, **BASE
        )
        result = run_search(sreq, store=store, registry=registry, executor=LocalExecutor(n_jobs=1))
        classifiers = [
            train(
                TrainRequest(algorithm="logistic_classification", hyperparameters={"C": c}, **BASE),
                store=store,
                registry=registry,
            ).id
            for c in (0.01, 1.0)
        ]
        other = train(
            TrainRequest(algorithm="linear_regression", **{**BASE, "symbol": "MSFT,QQQ,VIX"}),
            store=store,
            registry=registry,
        )
        ids = [r.id for r in registry.cohort(result.cohort_id)]
    finally:
        registry.dispose()
    return Trained(store, url, root / "models", result.cohort_id, ids, classifiers, other.id)


@pytest.fixture(params=["sqlite", "postgresql"])
def registry(request: pytest.FixtureRequest, trained: Trained, tmp_path: Path) -> Iterator[ModelStore]:
    """A fresh registry on each backend holding copies of the trained models."""
    url = (
        f"sqlite:///{tmp_path / 'metadata.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_registry_url")
    )
    target = ModelStore.open(url, tmp_path / "models")
    source = ModelStore.open(trained.registry_url, trained.models_dir)
    try:
        copy_models(source, target, [*trained.cohort_ids, *trained.classifier_ids, trained.other_symbol_id])
        yield target
    finally:
        source.dispose()
        target.dispose()
