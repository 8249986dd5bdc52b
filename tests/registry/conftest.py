"""Fixtures for the registry: the same store contract on every backend (SQLite file, PostgreSQL).

The PostgreSQL database comes from the root conftest (``pg_registry_url``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from walkforward.registry import ModelStore, NewModel


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database for each backend: a SQLite file (in a not-yet-existing dir) or PostgreSQL.

    PostgreSQL reuses the session's database (CREATE DATABASE costs ~1 s) and drops the registry's
    tables after each test, so every test still starts from an unmigrated, empty database.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db' / 'metadata.db'}"
        return
    yield request.getfixturevalue("pg_registry_url")


@pytest.fixture()
def models_dir(tmp_path: Path) -> Path:
    return tmp_path / "models"


@pytest.fixture()
def store(backend_url: str, models_dir: Path) -> Iterator[ModelStore]:
    """A migrated, empty store on each backend."""
    opened = ModelStore.open(backend_url, models_dir)
    try:
        yield opened
    finally:
        opened.dispose()


def make_new_model(**overrides: Any) -> NewModel:
    """A valid :class:`NewModel`; override any field."""
    fields: dict[str, Any] = {
        "symbol": "AAPL",
        "symbols": ("AAPL", "QQQ"),
        "algorithm": "ridge",
        "timeframe": "1h",
        "target_transform": "log_return",
        "request": {"symbols": ["AAPL", "QQQ"], "lookforward": 4, "start": "2024-01-02"},
        "features": ("rsi_14", "macd"),
        "hyperparameters": {"alpha": 1.0},
        "folds": {"n_splits": 3, "ranges": [[0, 10], [10, 20]]},
        "metrics": {"r2": 0.1, "rmse": 0.5},
        "fingerprint": uuid.uuid4().hex,
    }
    fields.update(overrides)
    return NewModel(**fields)


@pytest.fixture()
def new_model() -> Callable[..., NewModel]:
    """Factory of valid :class:`NewModel` values (a fresh fingerprint each call)."""
    return make_new_model
