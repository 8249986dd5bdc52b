"""What the migration tests share: an Alembic config for a test database, and what its schema holds.

Each helper opens an engine of its own and disposes of it, so a test can call them between
``command.upgrade`` / ``command.downgrade`` and ``ModelStore.open`` without holding a connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def connected(url: str) -> Iterator[sa.Connection]:
    """A connection to the database at ``url`` on an engine of its own, disposed afterwards (committed on success)."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    """The tables the database at ``url`` holds."""
    with connected(url) as conn:
        return set(sa.inspect(conn).get_table_names())


def versions(url: str) -> list[str]:
    """The Alembic revisions the database at ``url`` is at."""
    with connected(url) as conn:
        return [str(v) for v in conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()]


def schema_diffs(url: str) -> list[object]:
    """How the database at ``url`` differs from the schema the code declares (empty: the same)."""
    with connected(url) as conn:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        return list(compare_metadata(context, metadata))
