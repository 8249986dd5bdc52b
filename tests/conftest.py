"""Shared fixtures: small real stores on disk (generated, never mocked)."""

from __future__ import annotations

from pathlib import Path

import pytest

from walkforward.domain import SplitScheme
from walkforward.features.demo import generate_market
from walkforward.features.pipeline import ingest_frames
from walkforward.features.store import FeatureStore


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> FeatureStore:
    """A 15-day demo market (AAPL, MSFT, QQQ, VIX) with 5 train / 2 test day blocks."""
    root = tmp_path_factory.mktemp("store") / "features_parquet"
    store = FeatureStore(root)
    frames = generate_market(days=15, seed=11)
    ingest_frames(store, frames, scheme=SplitScheme(5, 2))
    return store


@pytest.fixture()
def empty_store(tmp_path: Path) -> FeatureStore:
    return FeatureStore(tmp_path / "features_parquet")
