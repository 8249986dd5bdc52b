"""What the migration tests share: an Alembic config for a test database, and what its schema holds.

Each helper opens an engine of its own and disposes of it, so a test can call them between
``command.upgrade`` / ``command.downgrade`` and ``ModelStore.open`` without holding a connection.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy.engine import make_url

from walkforward.registry._schema import VERSION_TABLE, metadata
from walkforward.registry.database import alembic_config


def migration_config(url: str) -> Config:
    """The project's Alembic config pointed at ``url`` (a SQLite file's folder is made first)."""
    if url.startswith("sqlite:///"):
        Path(str(make_url(url).database)).parent.mkdir(parents=True, exist_ok=True)
    config = alembic_config()
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def table_names(url: str) -> set[str]:
    """The tables the database at ``url`` holds."""
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def versions(url: str) -> list[str]:
    """The Alembic revisions the database at ``url`` is at."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [str(v) for v in conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()]
    finally:
        engine.dispose()


def schema_diffs(url: str) -> list[object]:
    """How the database at ``url`` differs from the schema the code declares (empty: the same)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()
