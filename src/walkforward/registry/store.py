"""The model store: one interface, one SQL implementation serving SQLite and PostgreSQL.

Rows never leave this module: every method returns frozen :class:`ModelRecord` values. Artifacts are
joblib files in ``models_dir``; the database keeps their name and SHA-256.

The write protocol of :meth:`ModelStore.add` is what keeps the two consistent: the artifact is
written atomically first, then the row is inserted in one transaction; if the insert fails the file
is deleted. A crash between the two leaves an unreferenced file (never a row without its file),
which :meth:`ModelStore.sweep_orphans` removes later.
"""

from __future__ import annotations

import builtins
import datetime as dt
import functools
import json
import logging
import math
import re
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.util import CommandError
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from walkforward.errors import InvalidInputError, WalkforwardError
from walkforward.registry._schema import models
from walkforward.registry.artifacts import (
    ARTIFACT_SUFFIX,
    TEMP_PREFIX,
    artifact_file_name,
    load_artifact,
    save_artifact,
    validate_model_id,
)
from walkforward.registry.errors import DuplicateModelError, ModelNotFoundError, RegistryError
from walkforward.registry.records import ModelRecord, NewModel

logger = logging.getLogger(__name__)

#: Columns :meth:`ModelStore.list` can sort by; ``metrics.<name>`` sorts by a numeric metric.
SORT_COLUMNS: tuple[str, ...] = ("created_at", "algorithm", "symbol", "cv_score", "cohort_rank")
_METRIC_SORT_RE = re.compile(r"^metrics\.([A-Za-z0-9_]+)$")
_JSON_FIELDS: tuple[str, ...] = ("request", "hyperparameters", "folds", "metrics")
_SQLITE_BUSY_TIMEOUT_MS = 30_000
_WRITE_OPTION = "walkforward_write"
#: Key of the PostgreSQL advisory lock that serialises concurrent migrations.
_PG_MIGRATION_LOCK = 0x57464D52  # "WFMR"
_IN_CHUNK = 500
_MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


# --------------------------------------------------------------------------- JSON values


def _json_safe(value: Any) -> Any:
    """Numpy scalars/arrays to Python, tuples to lists, NaN and +-inf to ``None``."""
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


def _to_json(name: str, value: Any) -> Any:
    """Sanitise ``value`` and round-trip it through JSON so what we return equals what we read."""
    try:
        return json.loads(json.dumps(_json_safe(value), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"model field {name!r} is not JSON-serialisable: {exc}") from None


def _finite_or_none(value: float | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


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


def _create_engine(url: str) -> Engine:
    parsed = make_url(url)
    # A NaN slipping past _json_safe must fail loudly rather than write invalid JSON.
    serializer = functools.partial(json.dumps, allow_nan=False)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(parsed, json_serializer=serializer)
        sa.event.listen(engine, "connect", _sqlite_on_connect)
        sa.event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    return sa.create_engine(parsed, json_serializer=serializer, pool_pre_ping=True)


def _is_unique_violation(exc: IntegrityError) -> bool:
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)  # psycopg
    if sqlstate is not None:
        return bool(sqlstate == "23505")
    errorname = getattr(orig, "sqlite_errorname", None)  # sqlite3 (Python >= 3.11)
    if errorname is not None:
        return errorname in ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY")
    return "UNIQUE constraint failed" in str(orig)


# --------------------------------------------------------------------------- store


class ModelStore:
    """Registered models: metadata in a SQL database, artifacts as files in ``models_dir``.

    Build it with :meth:`open` (which migrates the schema); one instance is safe to share between
    threads, and several processes may use the same database (SQLite runs in WAL mode).

    Examples
    --------
    >>> store = ModelStore.open("sqlite:///data/metadata.db", Path("data/models"))  # doctest: +SKIP
    >>> record = store.add(new_model, fitted_pipeline)  # doctest: +SKIP
    >>> page, total = store.list(symbol="AAPL", sort="metrics.r2")  # doctest: +SKIP
    """

    def __init__(self, engine: Engine, models_dir: Path) -> None:
        self._engine = engine
        self._models_dir = Path(models_dir).expanduser().resolve()

    @classmethod
    def open(cls, url: str, models_dir: Path) -> ModelStore:
        """Connect to ``url`` (``sqlite:///...`` or ``postgresql+psycopg://...``) and migrate to head."""
        engine = _create_engine(url)
        store = cls(engine, models_dir)
        try:
            store._migrate()
        except BaseException:
            engine.dispose()
            raise
        return store

    @property
    def url(self) -> str:
        """The database URL (with its password: do not log it)."""
        return self._engine.url.render_as_string(hide_password=False)

    @property
    def models_dir(self) -> Path:
        return self._models_dir

    def dispose(self) -> None:
        """Close the pooled connections (the store must not be used afterwards)."""
        self._engine.dispose()

    def __enter__(self) -> ModelStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.dispose()

    def __repr__(self) -> str:
        safe = self._engine.url.render_as_string(hide_password=True)
        return f"ModelStore({safe!r}, models_dir={str(self._models_dir)!r})"

    # ----------------------------------------------------------------------- plumbing

    @contextmanager
    def _transaction(self, *, write: bool = False) -> Iterator[Connection]:
        """Run the block in one transaction: commit on success, roll back on any error.

        Driver errors become :class:`RegistryError`; unique violations :class:`DuplicateModelError`
        (without the existing id, which the caller may look up).
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
            safe = self._engine.url.render_as_string(hide_password=True)
            raise RegistryError(f"registry database error ({safe}): {exc}") from exc

    def _migrate(self) -> None:
        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS_DIR).replace("%", "%%"))
        try:
            # One locked transaction, so processes opening a fresh database at once migrate in turn.
            with self._transaction(write=True) as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
        except CommandError as exc:
            raise RegistryError(
                f"cannot migrate the registry schema: {exc} (was the database written by a newer walkforward?)"
            ) from exc

    def _record(self, row: Mapping[Any, Any]) -> ModelRecord:
        created_at: dt.datetime = row["created_at"]
        if created_at.tzinfo is None:  # SQLite keeps no offset; we always write UTC
            created_at = created_at.replace(tzinfo=dt.UTC)
        else:
            created_at = created_at.astimezone(dt.UTC)
        return ModelRecord(
            id=row["id"],
            created_at=created_at,
            status=row["status"],
            symbol=row["symbol"],
            symbols=tuple(row["symbols"]),
            algorithm=row["algorithm"],
            timeframe=row["timeframe"],
            target_transform=row["target_transform"],
            request=row["request"],
            features=tuple(row["features"]),
            hyperparameters=row["hyperparameters"],
            folds=row["folds"],
            metrics=row["metrics"],
            fingerprint=row["fingerprint"],
            cohort_id=row["cohort_id"],
            parent_model_id=row["parent_model_id"],
            artifact_path=str(self._models_dir / row["artifact_path"]),
            artifact_sha256=row["artifact_sha256"],
            cv_score=row["cv_score"],
            cohort_rank=row["cohort_rank"],
            feature_details=row["feature_details"],
            regime_importance=row["regime_importance"],
        )

    def _fetch(self, conn: Connection, where: sa.ColumnElement[bool]) -> builtins.list[ModelRecord]:
        rows = conn.execute(sa.select(models).where(where)).mappings().all()
        return [self._record(row) for row in rows]

    def _fetch_one(self, conn: Connection, model_id: str) -> ModelRecord:
        found = self._fetch(conn, models.c.id == model_id)
        if not found:
            raise ModelNotFoundError(
                f"no model with id {model_id!r}: run `walkforward models list` to see registered ids"
            )
        return found[0]

    def _row_exists(self, model_id: str) -> bool | None:
        """Whether a row with ``model_id`` is committed; ``None`` if the database cannot say."""
        try:
            with self._transaction() as conn:
                found = conn.execute(sa.select(models.c.id).where(models.c.id == model_id)).first()
        except WalkforwardError:
            return None
        return found is not None

    # ----------------------------------------------------------------------- writes

    def add(self, new: NewModel, artifact: object, *, model_id: str | None = None) -> ModelRecord:
        """Register a model: write its artifact atomically, then insert its row in one transaction.

        If the insert fails the artifact is deleted, so a row is never committed without its file.

        Raises
        ------
        DuplicateModelError
            The fingerprint (or ``model_id``) is already registered; ``existing_id`` names the model.
        InvalidInputError
            A field is not JSON-serialisable or ``model_id`` is malformed.
        """
        explicit_id = model_id is not None
        model_id = validate_model_id(model_id) if model_id is not None else uuid.uuid4().hex
        row: dict[str, Any] = {
            "id": model_id,
            "created_at": dt.datetime.now(dt.UTC),
            "status": new.status,
            "symbol": new.symbol,
            "symbols": _to_json("symbols", new.symbols),
            "algorithm": new.algorithm,
            "timeframe": new.timeframe,
            "target_transform": new.target_transform,
            "features": _to_json("features", new.features),
            "fingerprint": new.fingerprint,
            "cohort_id": new.cohort_id,
            "parent_model_id": new.parent_model_id,
            "artifact_path": artifact_file_name(model_id),
            "cv_score": _finite_or_none(new.cv_score),
            "cohort_rank": new.cohort_rank,
            "feature_details": _to_json("feature_details", new.feature_details),
            "regime_importance": _to_json("regime_importance", new.regime_importance),
        }
        for name in _JSON_FIELDS:
            row[name] = _to_json(name, getattr(new, name))

        # Cheap early refusals; the UNIQUE constraint still decides races below.
        existing = self.get_by_fingerprint(new.fingerprint)
        if existing is not None:
            raise DuplicateModelError(
                f"a model with fingerprint {new.fingerprint} is already registered: {existing.id}",
                existing.id,
            )
        target = self._models_dir / row["artifact_path"]
        if explicit_id and (self._row_exists(model_id) or target.exists()):
            # Never let the atomic rename replace another model's artifact.
            raise DuplicateModelError(f"model id {model_id!r} is already in use", model_id)

        path, sha = save_artifact(self._models_dir, model_id, artifact)
        row["artifact_sha256"] = sha
        try:
            with self._transaction(write=True) as conn:
                conn.execute(sa.insert(models).values(**row))
        except BaseException as exc:
            # Delete the file unless the row is known to be committed (e.g. the connection died
            # while acknowledging COMMIT); if in doubt keep it: sweep_orphans removes it later.
            if self._row_exists(model_id) is False:
                path.unlink(missing_ok=True)
            if isinstance(exc, DuplicateModelError):
                winner = self.get_by_fingerprint(new.fingerprint)
                existing_id = winner.id if winner is not None else model_id
                raise DuplicateModelError(
                    f"a model with fingerprint {new.fingerprint} is already registered: {existing_id}",
                    existing_id,
                ) from exc
            raise
        logger.info("registered model %s (%s %s)", model_id, new.algorithm, new.symbol)
        return self._record(row)

    def set_cohort_ranks(self, cohort_id: str, ranks: Mapping[str, int]) -> None:
        """Set ``cohort_rank`` of the given models (all or nothing: each must be in the cohort)."""
        with self._transaction(write=True) as conn:
            for model_id, rank in ranks.items():
                result = conn.execute(
                    sa.update(models)
                    .where(models.c.id == model_id, models.c.cohort_id == cohort_id)
                    .values(cohort_rank=int(rank))
                )
                if result.rowcount == 0:
                    raise ModelNotFoundError(
                        f"model {model_id!r} is not in cohort {cohort_id!r}: "
                        "run `walkforward models list` to see registered ids"
                    )

    def update_explanations(
        self,
        model_id: str,
        feature_details: Mapping[str, Any],
        regime_importance: Mapping[str, Any] | None,
    ) -> None:
        """Store a model's feature details and regime importance (computed after registration)."""
        values = {
            "feature_details": _to_json("feature_details", feature_details),
            "regime_importance": _to_json("regime_importance", regime_importance),
        }
        with self._transaction(write=True) as conn:
            result = conn.execute(sa.update(models).where(models.c.id == model_id).values(**values))
            if result.rowcount == 0:
                self._fetch_one(conn, model_id)  # raises ModelNotFoundError

    def delete(self, model_id: str) -> None:
        """Delete a model's row, then its artifact (a missing file is fine).

        Children keep ``parent_model_id`` as text: lineage is not a foreign key, so nothing cascades.
        """
        with self._transaction(write=True) as conn:
            record = self._fetch_one(conn, model_id)
            conn.execute(sa.delete(models).where(models.c.id == model_id))
        Path(record.artifact_path).unlink(missing_ok=True)
        logger.info("deleted model %s", model_id)

    def delete_cohort(self, cohort_id: str) -> int:
        """Delete every model of a cohort (rows, then files); return how many were deleted."""
        with self._transaction(write=True) as conn:
            names = conn.execute(sa.select(models.c.artifact_path).where(models.c.cohort_id == cohort_id)).scalars()
            paths = [self._models_dir / name for name in names]
            conn.execute(sa.delete(models).where(models.c.cohort_id == cohort_id))
        for path in paths:
            path.unlink(missing_ok=True)
        logger.info("deleted cohort %s (%d models)", cohort_id, len(paths))
        return len(paths)

    def sweep_orphans(self, older_than_seconds: float = 3600) -> builtins.list[Path]:
        """Delete artifact (and stale temporary) files no row references; return what was deleted.

        Only files last modified more than ``older_than_seconds`` ago are considered, so an artifact
        another process has written but not yet committed is left alone.
        """
        if not self._models_dir.is_dir():
            return []
        cutoff = time.time() - older_than_seconds
        # List candidates before reading the referenced names: a row committed in between is seen.
        candidates = [
            path
            for path in self._models_dir.iterdir()
            if path.is_file()
            and (path.name.endswith(ARTIFACT_SUFFIX) or path.name.startswith(TEMP_PREFIX))
            and path.stat().st_mtime <= cutoff
        ]
        if not candidates:
            return []
        with self._transaction() as conn:
            referenced = set(conn.execute(sa.select(models.c.artifact_path)).scalars())
        removed = []
        for path in candidates:
            if path.name not in referenced:
                path.unlink(missing_ok=True)
                removed.append(path)
        if removed:
            logger.info("swept %d orphan artifact file(s) from %s", len(removed), self._models_dir)
        return removed

    # ----------------------------------------------------------------------- reads

    def get(self, model_id: str) -> ModelRecord:
        """The model with ``model_id``, or :class:`ModelNotFoundError`."""
        with self._transaction() as conn:
            return self._fetch_one(conn, model_id)

    def get_by_fingerprint(self, fingerprint: str) -> ModelRecord | None:
        """The model registered with ``fingerprint``, if any."""
        with self._transaction() as conn:
            found = self._fetch(conn, models.c.fingerprint == fingerprint)
        return found[0] if found else None

    def existing_fingerprints(self, fingerprints: Iterable[str]) -> set[str]:
        """Which of ``fingerprints`` are registered (one query per 500, to skip trained candidates)."""
        wanted = builtins.list(dict.fromkeys(fingerprints))
        found: set[str] = set()
        with self._transaction() as conn:
            for start in range(0, len(wanted), _IN_CHUNK):
                chunk = wanted[start : start + _IN_CHUNK]
                found.update(
                    conn.execute(sa.select(models.c.fingerprint).where(models.c.fingerprint.in_(chunk))).scalars()
                )
        return found

    def load_artifact(self, model: str | ModelRecord) -> object:
        """Load a model's fitted object after verifying its SHA-256 (see :func:`load_artifact`)."""
        record = model if isinstance(model, ModelRecord) else self.get(model)
        return load_artifact(Path(record.artifact_path), record.artifact_sha256)

    def list(
        self,
        *,
        symbol: str | None = None,
        algorithm: str | None = None,
        cohort_id: str | None = None,
        parent_model_id: str | None = None,
        sort: str = "created_at",
        descending: bool = True,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[builtins.list[ModelRecord], int]:
        """One page of models matching the filters, and how many match in total.

        ``sort`` is one of :data:`SORT_COLUMNS` or ``metrics.<name>`` (a numeric metric; models
        without it sort last). Ties are broken by id so pages are stable.
        """
        if limit < 1 or offset < 0:
            raise InvalidInputError(f"invalid page limit={limit} offset={offset}: use limit >= 1, offset >= 0")
        key = _sort_expression(sort)
        conditions = [
            column == value
            for column, value in (
                (models.c.symbol, symbol),
                (models.c.algorithm, algorithm),
                (models.c.cohort_id, cohort_id),
                (models.c.parent_model_id, parent_model_id),
            )
            if value is not None
        ]
        order = (key.desc() if descending else key.asc()).nulls_last()
        # Two steps: page the ids on the sort key alone, then read only that page's full rows. Sorting
        # whole rows (with their JSON columns) before the offset made a page of 10,000 models ~10x slower.
        page = sa.select(models.c.id).where(*conditions).order_by(order, models.c.id).limit(limit).offset(offset)
        with self._transaction() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(models).where(*conditions)).scalar_one()
            ids = [str(i) for i in conn.execute(page).scalars().all()]
            rows = conn.execute(sa.select(models).where(models.c.id.in_(ids))).mappings().all() if ids else []
        by_id = {str(row["id"]): row for row in rows}
        return [self._record(by_id[i]) for i in ids if i in by_id], int(total)

    def cohort(self, cohort_id: str) -> builtins.list[ModelRecord]:
        """A cohort's models, best first: by ``cohort_rank``, then ``cv_score`` descending."""
        query = (
            sa.select(models)
            .where(models.c.cohort_id == cohort_id)
            .order_by(
                models.c.cohort_rank.asc().nulls_last(),
                models.c.cv_score.desc().nulls_last(),
                models.c.created_at,
                models.c.id,
            )
        )
        with self._transaction() as conn:
            return [self._record(row) for row in conn.execute(query).mappings().all()]

    def ancestors(self, model_id: str) -> builtins.list[ModelRecord]:
        """Parent, grandparent, ... of a model; stops at a deleted parent or a cycle."""
        chain: builtins.list[ModelRecord] = []
        with self._transaction() as conn:
            current = self._fetch_one(conn, model_id)
            seen = {current.id}
            while current.parent_model_id is not None:
                if current.parent_model_id in seen:
                    logger.warning("lineage cycle at model %s; stopping", current.parent_model_id)
                    break
                found = self._fetch(conn, models.c.id == current.parent_model_id)
                if not found:
                    break
                current = found[0]
                seen.add(current.id)
                chain.append(current)
        return chain

    def descendants(self, model_id: str) -> builtins.list[ModelRecord]:
        """Children, grandchildren, ... of a model, breadth-first (oldest first per generation)."""
        result: builtins.list[ModelRecord] = []
        with self._transaction() as conn:
            self._fetch_one(conn, model_id)
            seen = {model_id}
            frontier = [model_id]
            while frontier:
                children: builtins.list[ModelRecord] = []
                for start in range(0, len(frontier), _IN_CHUNK):
                    chunk = frontier[start : start + _IN_CHUNK]
                    rows = conn.execute(
                        sa.select(models)
                        .where(models.c.parent_model_id.in_(chunk))
                        .order_by(models.c.created_at, models.c.id)
                    ).mappings()
                    children.extend(self._record(row) for row in rows)
                frontier = []
                for child in children:
                    if child.id not in seen:
                        seen.add(child.id)
                        result.append(child)
                        frontier.append(child.id)
        return result


def _sort_expression(sort: str) -> sa.ColumnElement[Any]:
    if sort in SORT_COLUMNS:
        return models.c[sort]
    match = _METRIC_SORT_RE.fullmatch(sort)
    if match is not None:
        # Trained models keep their aggregated metrics under "cv"; a flat metrics dict is read as is.
        name = match.group(1)
        return sa.func.coalesce(models.c.metrics[("cv", name)].as_float(), models.c.metrics[name].as_float())
    raise InvalidInputError(
        f"unknown sort {sort!r}: use one of {', '.join(SORT_COLUMNS)} or metrics.<name> (e.g. metrics.r2)"
    )
