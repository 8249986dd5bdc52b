"""Fixtures for training tests: small real demo stores and a real SQLite registry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from walkforward.domain import SplitScheme
from walkforward.features.demo import generate_market
from walkforward.features.pipeline import ingest_frames
from walkforward.features.store import FeatureStore
from walkforward.registry import ModelStore


def _market(root: Path, *, predictability: float, days: int = 24, seed: int = 3) -> FeatureStore:
    store = FeatureStore(root)
    frames = generate_market(days=days, symbols=("AAPL", "QQQ", "VIX"), seed=seed, predictability=predictability)
    ingest_frames(store, frames, scheme=SplitScheme(6, 2))
    return store


@pytest.fixture(scope="session")
def planted_store(tmp_path_factory: pytest.TempPathFactory) -> FeatureStore:
    """24 days, a real lead-lag from QQQ to AAPL; 6 train / 2 test day blocks (3 folds).

    Three times the demo's default strength, so 18 training days are enough to see it reliably.
    """
    return _market(tmp_path_factory.mktemp("planted"), predictability=0.15)


@pytest.fixture(scope="session")
def random_walk_store(tmp_path_factory: pytest.TempPathFactory) -> FeatureStore:
    """The same market with nothing predictable in it."""
    return _market(tmp_path_factory.mktemp("walk"), predictability=0.0, seed=4)


@pytest.fixture()
def registry(tmp_path: Path) -> Iterator[ModelStore]:
    store = ModelStore.open(f"sqlite:///{tmp_path / 'registry.db'}", tmp_path / "models")
    yield store
    store.dispose()
