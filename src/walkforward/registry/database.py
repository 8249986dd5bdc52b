"""The registry database: one engine, one migration step, one transaction helper.

:class:`Database` is what :class:`~walkforward.registry.ModelStore` and
:class:`~walkforward.registry.jobs.JobStore` share: the same SQLite file or PostgreSQL database,
migrated once when it is opened, and one :meth:`Database.transaction` that commits or rolls back and
turns driver errors into :class:`~walkforward.registry.RegistryError`.
"""

from __future__ import annotations

import ast
import errno
import functools
import json
import math
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from walkforward.diskfull import disk_full_error
from walkforward.errors import DiskFullError, InvalidInputError
from walkforward.registry._schema import VERSION_TABLE
from walkforward.registry.errors import DuplicateModelError, RegistryError

if TYPE_CHECKING:
    from alembic.config import Config

_SQLITE_BUSY_TIMEOUT_MS = 30_000
_WRITE_OPTION = "walkforward_write"
#: Key of the PostgreSQL advisory lock that serialises concurrent migrations.
_PG_MIGRATION_LOCK = 0x57464D52  # "WFMR"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


# --------------------------------------------------------------------------- JSON values


def _json_safe(value: Any) -> Any:
    """Numpy scalars/arrays to Python, tuples to lists, NaN and +-inf to ``None``."""
    import numpy as np  # here, not at import: reading the registry needs no numpy

    if isinstance(value, np.ndarray):
        value = value.tolist()
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value


def to_json(name: str, value: Any) -> Any:
    """``value`` as plain JSON data, so what a store returns equals what it later reads back.

    Numpy scalars and arrays become Python numbers and lists, tuples become lists, and float NaN or
    infinity becomes ``None`` (JSON has no NaN).

    Raises
    ------
    InvalidInputError
        ``value`` holds something JSON cannot represent; the message names the field ``name``.

    Examples
    --------
    >>> to_json("metrics", {"r2": float("nan"), "folds": (1, 2)})
    {'r2': None, 'folds': [1, 2]}
    """
    try:
        return json.loads(json.dumps(_json_safe(value), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"field {name!r} is not JSON-serialisable: {exc}") from None


# --------------------------------------------------------------------------- engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from the sqlite3 module so BEGIN is ours (see _sqlite_on_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # busy_timeout first: switching to WAL needs a lock another process may hold.
        cursor.execute(f"PRAGMA busy_timeout = {_SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
    finally:
        cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    # Writers take the write lock up front (BEGIN IMMEDIATE): a deferred transaction that reads
    # then writes can fail with SQLITE_BUSY immediately instead of waiting busy_timeout.
    immediate = conn.get_execution_options().get(_WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _create_private_file(path: Path) -> None:
    """Create the SQLite file (and its folder) readable by its owner only, as artifacts and Parquet files are.

    An empty file is a valid new SQLite database, and SQLite gives its ``-wal`` and ``-shm`` files
    the database file's mode, so the whole registry stays 0600 whatever the umask. An existing file
    is left as it is (its owner may have shared it on purpose).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def _disk_full_error(exc: SQLAlchemyError, engine: Engine) -> DiskFullError | None:
    """A one-line :class:`DiskFullError` when the driver error means "no space", else ``None``."""
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) == "53100":  # PostgreSQL's disk_full
        return DiskFullError(
            "the registry database server has no space left (PostgreSQL disk_full): free space on the "
            "database server; nothing was written"
        )
    if getattr(orig, "sqlite_errorname", None) == "SQLITE_FULL":
        name = Path(engine.url.database or "metadata.db").name
        return disk_full_error(errno.ENOSPC, f"the registry database {name}", "METADATA_DB_PATH")
    return None


def _create_engine(url: str, **pool: Any) -> Engine:
    parsed = make_url(url)
    # A NaN slipping past to_json must fail loudly rather than write invalid JSON.
    serializer = functools.partial(json.dumps, allow_nan=False)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            _create_private_file(Path(database).expanduser())
        engine = sa.create_engine(parsed, json_serializer=serializer, **pool)
        sa.event.listen(engine, "connect", _sqlite_on_connect)
        sa.event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    return sa.create_engine(parsed, json_serializer=serializer, pool_pre_ping=True, **pool)


def _is_unique_violation(exc: IntegrityError) -> bool:
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)  # psycopg
    if sqlstate is not None:
        return bool(sqlstate == "23505")
    errorname = getattr(orig, "sqlite_errorname", None)  # sqlite3 (Python >= 3.11)
    if errorname is not None:
        return errorname in ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY")
    return "UNIQUE constraint failed" in str(orig)


def alembic_config() -> Config:
    """An Alembic configuration pointing at the registry's migrations (no URL, no connection set)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return config


# --------------------------------------------------------------------------- database


class Database:
    """A registry database (SQLite or PostgreSQL) shared by the model store and the job store.

    Build it with :meth:`open`, which creates the engine (SQLite in WAL mode with a busy timeout,
    writers taking the lock up front; PostgreSQL with pre-ping) and migrates the schema to head. One
    instance is safe to share between threads; several processes may open the same database.

    Examples
    --------
    >>> db = Database.open("sqlite:///data/metadata.db")  # doctest: +SKIP
    >>> with db.transaction(write=True) as conn:  # doctest: +SKIP
    ...     conn.execute(sa.update(jobs).values(status="done"))
    >>> models, job_store = ModelStore(db, Path("data/models")), JobStore(db)  # doctest: +SKIP
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._ping_engine: Engine | None = None
        self._ping_lock = threading.Lock()

    @classmethod
    def open(cls, url: str) -> Database:
        """Connect to ``url`` (``sqlite:///...`` or ``postgresql+psycopg://...``) and migrate to head."""
        database = cls(_create_engine(url))
        try:
            database.migrate()
        except BaseException:
            database.dispose()
            raise
        return database

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._engine.url.get_backend_name()

    @property
    def url(self) -> str:
        """The database URL with its password masked (safe to log)."""
        return self._engine.url.render_as_string(hide_password=True)

    @property
    def connection_url(self) -> str:
        """The database URL with its password, to open the same database elsewhere (do not log it)."""
        return self._engine.url.render_as_string(hide_password=False)

    def dispose(self) -> None:
        """Close the pooled connections (the database must not be used afterwards)."""
        self._engine.dispose()
        if self._ping_engine is not None:
            self._ping_engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.dispose()

    def __repr__(self) -> str:
        return f"Database({self.url!r})"

    @contextmanager
    def transaction(self, write: bool = False) -> Iterator[Connection]:
        """Run the block in one transaction: commit on success, roll back on any error.

        ``write=True`` takes SQLite's write lock at ``BEGIN`` (a transaction that reads then writes
        would otherwise fail at once when another writer holds it). Driver errors become
        :class:`RegistryError`; unique violations :class:`DuplicateModelError` (without the existing
        id, which the caller may look up).

        Examples
        --------
        >>> with db.transaction() as conn:  # doctest: +SKIP
        ...     conn.execute(sa.select(sa.literal(1))).scalar_one()
        1
        """
        try:
            with self._engine.connect() as conn:
                if write:
                    conn.execution_options(**{_WRITE_OPTION: True})
                with conn.begin():
                    yield conn
        except IntegrityError as exc:
            if _is_unique_violation(exc):
                raise DuplicateModelError(f"a model with the same fingerprint or id exists: {exc.orig}") from exc
            raise RegistryError(f"the registry refused the write: {exc.orig}") from exc
        except SQLAlchemyError as exc:
            full = _disk_full_error(exc, self._engine)
            if full is not None:
                raise full from exc  # the transaction was rolled back: nothing half-written
            raise RegistryError(f"registry database error ({self.url}): {exc}") from exc

    def ping(self) -> None:
        """Run a trivial query (raises :class:`RegistryError` when the database is unreachable).

        It runs on a connection of its own, not one of the pool the other queries share: a health
        check must not wait behind a busy server's queries for a connection (one at a time: callers
        are serialised by the lock).
        """
        with self._ping_lock:
            if self._ping_engine is None:
                self._ping_engine = _create_engine(self.connection_url, pool_size=1, max_overflow=0)
            try:
                with self._ping_engine.connect() as conn:
                    conn.execute(sa.select(sa.literal(1))).scalar_one()
            except SQLAlchemyError as exc:
                raise RegistryError(f"registry database error ({self.url}): {exc}") from exc

    def migrate(self) -> None:
        """Upgrade the schema to head (:meth:`open` does it; running it again changes nothing).

        One locked transaction, so processes opening a fresh database at once migrate in turn: on
        PostgreSQL an advisory lock, on SQLite the write lock of ``BEGIN IMMEDIATE``.
        """
        if self._at_head():
            return  # up to date: skip importing Alembic (0.5 s of every command's start-up)
        heads = _head_revisions()
        if heads is not None and self._create_when_empty(heads):
            return
        from alembic import command
        from alembic.util import CommandError

        config = alembic_config()
        try:
            with self.transaction(write=True) as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
        except CommandError as exc:
            raise RegistryError(
                f"cannot migrate the registry schema: {exc} (was the database written by a newer walkforward?)"
            ) from exc

    def _create_when_empty(self, heads: frozenset[str]) -> bool:
        """Give a database without any table the declared schema and the heads' version rows, in one
        locked transaction; ``False`` (nothing done) when it has tables.

        Alembic's recipe for building an up-to-date database from scratch (``create_all``, then
        stamp head), with the stamp written here: a new registry's first command then imports no
        Alembic and runs no nine migrations (0.18 s of issue 9's 3-second command). The migration
        tests hold both roads to the same schema, and Alembic upgrades and downgrades such a database.
        """
        from walkforward.registry._schema import metadata

        with self.transaction(write=True) as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
            if sa.inspect(conn).get_table_names():
                return False
            metadata.create_all(conn)
            # Alembic's own version table: one VARCHAR(32) primary key named "<table>_pkc"
            version = sa.Table(
                VERSION_TABLE,
                sa.MetaData(),
                sa.Column("version_num", sa.String(32), nullable=False),
                sa.PrimaryKeyConstraint("version_num", name=f"{VERSION_TABLE}_pkc"),
            )
            version.create(conn)
            conn.execute(version.insert(), [{"version_num": head} for head in sorted(heads)])
        return True

    def _at_head(self) -> bool:
        """Whether the version table already names exactly the migrations' heads (read without Alembic)."""
        heads = _head_revisions()
        if heads is None:
            return False
        with self.transaction() as conn:
            if not sa.inspect(conn).has_table(VERSION_TABLE):
                return False
            table = sa.table(VERSION_TABLE, sa.column("version_num"))
            current = {row[0] for row in conn.execute(sa.select(table.c.version_num))}
        return current == heads


@functools.cache
def _head_revisions() -> frozenset[str] | None:
    """The head revisions of ``migrations/versions``, read from the files' literal ``revision`` and
    ``down_revision`` (a revision no other names as its parent is a head).

    ``None`` when a file does not spell them as literals: :meth:`Database.migrate` then asks Alembic.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        if path.name == "__init__.py":
            continue
        found: dict[str, Any] = {}
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                target, value = node.target, node.value
            else:
                continue
            if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
                try:
                    found[target.id] = ast.literal_eval(value)
                except (ValueError, TypeError, SyntaxError):
                    return None
        revision, down = found.get("revision"), found.get("down_revision", "missing")
        if not isinstance(revision, str) or down == "missing":
            return None
        revisions.add(revision)
        parents.update([down] if isinstance(down, str) else down or ())
    return frozenset(revisions - parents) or None
