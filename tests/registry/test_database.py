"""The shared registry Database on every backend: one database serving the model and the job store."""

from __future__ import annotations

import datetime as dt
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from walkforward.errors import InvalidInputError
from walkforward.registry import Database, DuplicateModelError, ModelStore, NewModel, RegistryError, to_json
from walkforward.registry._schema import VERSION_TABLE, jobs, models
from walkforward.registry.database import _head_revisions
from walkforward.registry.jobs import JobStatus, JobStore


@pytest.fixture()
def database(backend_url: str) -> Iterator[Database]:
    """A migrated, empty database on each backend."""
    with Database.open(backend_url) as opened:
        yield opened


def test_model_and_job_stores_share_one_database(
    database: Database, backend_url: str, models_dir: Path, new_model: Callable[..., NewModel]
) -> None:
    store = ModelStore(database, models_dir)
    job_store = JobStore(database)
    assert store.database is database and job_store.database is database
    assert job_store.backend == database.backend == backend_url.split(":")[0].split("+")[0]

    job = job_store.create("train", {"train": {"symbol": "AAPL"}})
    claimed = job_store.claim_next(host="h")
    assert claimed is not None and claimed.id == job.id
    record = store.add(new_model(), "artifact")
    assert job_store.finish(job.id, JobStatus.DONE, result={"model_ids": [record.id]})

    # Both tables are in the one database: a single transaction sees the job and the model.
    with database.transaction() as conn:
        result = conn.execute(sa.select(jobs.c.result).where(jobs.c.id == job.id)).scalar_one()
        model_ids = conn.execute(sa.select(models.c.id)).scalars().all()
    assert result == {"model_ids": [record.id]} and model_ids == [record.id]

    # Opening the same URL again finds the schema at head and the same rows.
    with Database.open(database.connection_url) as again:
        assert JobStore(again).get(job.id).status == "done"
        assert ModelStore(again, models_dir).get(record.id) == record
        with again.transaction() as conn:
            versions = conn.execute(sa.select(sa.column("version_num")).select_from(sa.table(VERSION_TABLE))).all()
        assert [v for (v,) in versions] == sorted(_head_revisions())  # the newest migration


def test_model_store_open_builds_a_database_a_job_store_can_use(backend_url: str, models_dir: Path) -> None:
    with ModelStore.open(backend_url, models_dir) as store:
        job_store = JobStore(store.database)
        job_store.ping()
        assert job_store.get(job_store.create("search", {}).id).status == "queued"


def test_transaction_commits_or_rolls_back(database: Database) -> None:
    row: dict[str, Any] = {
        "id": "j1",
        "kind": "train",
        "request": {},
        "status": "queued",
        "progress_done": 0,
        "log": "",
    }
    row["created_at"] = dt.datetime.now(dt.UTC)
    with database.transaction(write=True) as conn:
        conn.execute(sa.insert(jobs).values(**row))

    class Boom(Exception):
        pass

    with pytest.raises(Boom), database.transaction(write=True) as conn:
        conn.execute(sa.update(jobs).where(jobs.c.id == "j1").values(status="running"))
        raise Boom
    with database.transaction() as conn:
        assert conn.execute(sa.select(jobs.c.status).where(jobs.c.id == "j1")).scalar_one() == "queued"

    # Driver errors become our errors; a unique violation is a duplicate.
    with pytest.raises(DuplicateModelError), database.transaction(write=True) as conn:
        conn.execute(sa.insert(jobs).values(**row))
    with pytest.raises(RegistryError, match="registry database error") as info, database.transaction() as conn:
        conn.execute(sa.text("SELECT * FROM no_such_table"))
    assert isinstance(info.value.__cause__, sa.exc.SQLAlchemyError)


def test_url_hides_the_password() -> None:
    # Building an engine does not connect: no server needed.
    database = Database(sa.create_engine("postgresql+psycopg://walk:s3cret@db.example:5432/registry"))
    try:
        assert database.backend == "postgresql"
        assert "s3cret" not in database.url and "s3cret" not in repr(database)
        assert "s3cret" in database.connection_url
    finally:
        database.dispose()


def test_unreachable_database_fails_as_registry_error() -> None:
    database = Database(sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none"))
    try:
        with pytest.raises(RegistryError, match="127.0.0.1:1"):
            database.ping()
    finally:
        database.dispose()


def test_to_json_is_plain_json() -> None:
    value = {"a": np.float32(0.5), "b": (np.int64(2), float("inf")), "c": np.arange(2), "d": {"e": float("nan")}}
    assert to_json("x", value) == {"a": 0.5, "b": [2, None], "c": [0, 1], "d": {"e": None}}
    with pytest.raises(InvalidInputError, match="'derived'"):
        to_json("derived", {"estimator": object()})


def test_the_sqlite_registry_is_readable_by_its_owner_only(tmp_path: Path, new_model: Callable[..., NewModel]) -> None:
    folder = tmp_path / "data"
    previous = os.umask(0o022)  # the usual umask, under which SQLite alone would create 0644 files
    try:
        with ModelStore.open(f"sqlite:///{folder / 'metadata.db'}", tmp_path / "models") as store:
            record = store.add(new_model(), {"coef": [1.0]})
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}
            artifact_mode = stat.S_IMODE(Path(record.artifact_path).stat().st_mode)
    finally:
        os.umask(previous)
    assert modes == {"metadata.db": 0o600, "metadata.db-wal": 0o600, "metadata.db-shm": 0o600}
    assert artifact_mode == 0o600  # as the artifacts are
