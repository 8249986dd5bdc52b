"""Shared fixtures: small real stores on disk (generated, never mocked)."""

from __future__ import annotations

import errno
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from walkforward.domain import SplitScheme
from walkforward.features.demo import generate_market
from walkforward.features.pipeline import ingest_frames
from walkforward.features.store import FeatureStore
from walkforward.registry._schema import VERSION_TABLE, metadata


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


# PostgreSQL: a fresh database ``wf_test_<hex>`` (one per session) on the server of ``METADATA_DB_URL``
# (when it is a PostgreSQL URL) or 127.0.0.1:5432 (user postgres), dropped afterwards. An unreachable
# server skips the tests that need it, except in CI (CI=true), where it fails them.

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
            # Every table of the schema (a new migration's too), in one statement so that foreign keys allow it.
            names = ", ".join([*sorted(metadata.tables), VERSION_TABLE])
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {names}"))
    finally:
        engine.dispose()


@pytest.fixture()
def pg_registry_url(postgres_url: str) -> Iterator[str]:
    """The session's PostgreSQL database, emptied of the registry's tables after each test."""
    try:
        yield postgres_url
    finally:
        _drop_registry_tables(postgres_url)


class SmallDisk:
    """Small real filesystems (tmpfs) that a test can fill: ENOSPC for real, not simulated."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.mounted: list[Path] = []

    def mount(self, size: str = "1m") -> Path:
        """A fresh tmpfs of ``size``; the test is skipped (with the reason) where mounting is not allowed."""
        where = self.base / f"disk{len(self.mounted)}"
        where.mkdir(parents=True)
        if os.geteuid() != 0:
            pytest.skip("a full disk is tested on a small tmpfs, and mounting one needs root")
        res = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where)],
            capture_output=True,
            text=True,
        )
        if res.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here: {res.stderr.strip() or res.returncode}")
        self.mounted.append(where)
        return where

    @staticmethod
    def fill(directory: Path) -> Path:
        """Write a file in ``directory`` until its filesystem has no byte left; return the file."""
        filler = directory / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            for size in (1 << 16, 1 << 12, 1):
                try:
                    while True:
                        os.write(fd, b"\0" * size)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc
        finally:
            os.close(fd)
        return filler

    def unmount_all(self) -> None:
        for where in self.mounted:
            subprocess.run(["umount", "-l", str(where)], capture_output=True)


@pytest.fixture()
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    """Mount small tmpfs filesystems for the test (unmounted after it)."""
    disks = SmallDisk(tmp_path / "small-disks")
    try:
        yield disks
    finally:
        disks.unmount_all()


# Markers by file, in one place: `make test-fast` deselects slow, e2e and ui; CI runs everything.
_MARKERS: dict[str, tuple[str, ...]] = {
    "ui/": ("ui", "e2e", "slow"),  # a directory: every browser test file in it
    "service/test_service_e2e.py": ("e2e", "slow"),
    "service/test_dask_jobs.py": ("e2e", "slow"),
    "service/test_retrain_jobs.py": ("e2e", "slow"),
    "service/test_service_health_busy.py": ("e2e", "slow"),
    "training/test_search_processes.py": ("e2e", "slow"),
    "registry/test_contract_processes.py": ("e2e", "slow"),
    "training/test_cli_training.py": ("slow",),
    "test_cli.py": ("slow",),
    # Whole flows over a trained model (retrain, its schedule, early stopping, re-priced costs, an
    # ensemble's build): their units and leakage properties stay in the fast loop.
    "training/test_retrain.py": ("slow",),
    "training/test_retrain_schedule.py": ("slow",),
    "training/test_early_stopping_runs.py": ("slow",),
    "training/test_trading_fingerprint.py": ("slow",),
    "ensembles/test_ensemble_build.py": ("slow",),
    "ensembles/test_ensemble_edges.py": ("slow",),
    "training/test_search_plan.py": ("slow",),  # dry runs time a calibration fit
}
_TESTS_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        rel = Path(str(item.fspath)).resolve().relative_to(_TESTS_DIR).as_posix()
        marks = _MARKERS.get(rel, ()) or next(
            (m for d, m in _MARKERS.items() if d.endswith("/") and rel.startswith(d)), ()
        )
        for name in marks:
            item.add_marker(getattr(pytest.mark, name))
