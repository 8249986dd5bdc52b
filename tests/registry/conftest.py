"""Fixtures for the registry: the same store contract on every backend (SQLite file, PostgreSQL).

PostgreSQL tests run on a fresh database ``wf_test_<hex>`` (one per session) created on the server of
``METADATA_DB_URL`` (when it is a PostgreSQL URL) or ``127.0.0.1:5432`` (user ``postgres``), and
dropped afterwards. An unreachable server skips them, except in CI (``CI=true``), where it fails.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from walkforward.registry import ModelStore, NewModel
from walkforward.registry._schema import VERSION_TABLE

DEFAULT_PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _pg_admin_url() -> str:
    url = os.environ.get("METADATA_DB_URL", "")
    if url.startswith("postgresql"):
        return make_url(url).set(database="postgres").render_as_string(hide_password=False)
    return DEFAULT_PG_ADMIN_URL


def _postgres_database() -> Iterator[str]:
    admin_url = make_url(_pg_admin_url())
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    name = f"wf_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        where = f"{admin_url.host}:{admin_url.port or 5432}"
        reason = f"PostgreSQL not reachable at {where}: {exc.orig}; set METADATA_DB_URL or start the server"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database created for this test session and dropped at its end."""
    yield from _postgres_database()


def _drop_registry_tables(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS models, {VERSION_TABLE}"))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database for each backend: a SQLite file (in a not-yet-existing dir) or PostgreSQL.

    PostgreSQL reuses the session's database (CREATE DATABASE costs ~1 s) and drops the registry's
    tables after each test, so every test still starts from an unmigrated, empty database.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db' / 'metadata.db'}"
        return
    url = request.getfixturevalue("postgres_url")
    try:
        yield url
    finally:
        _drop_registry_tables(url)


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
