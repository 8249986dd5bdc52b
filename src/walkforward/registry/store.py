"""The model store: one interface, one SQL implementation serving SQLite and PostgreSQL.

Rows never leave this package: every method returns frozen :class:`ModelRecord` values. Artifacts
are joblib files in ``models_dir``; the database keeps their name and SHA-256. The database itself
(engine, migrations, transactions) is a :class:`~walkforward.registry.database.Database`, which the
job store shares.

The write protocol of :meth:`ModelStore.add` is what keeps the two consistent: the artifact is
written atomically first, then the row is inserted in one transaction; if the insert fails the file
is deleted. A crash between the two leaves an unreferenced file (never a row without its file),
which :meth:`ModelStore.sweep_orphans` removes later. The same transaction writes the model's list
row (``model_summaries``), numeric metrics (``model_metrics``) and symbols (``model_symbols``), which
a list reads instead of the 20-50 KB ``models`` row; every write to ``models`` keeps them in step,
and deletes remove them first.
"""

from __future__ import annotations

import builtins
import datetime as dt
import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from walkforward.errors import WalkforwardError
from walkforward.metric_filter import MetricCondition
from walkforward.registry import _page, _queries, notes
from walkforward.registry._listing import delete_list_rows, insert_list_rows
from walkforward.registry._page import MAX_PAGE, SORT_COLUMNS
from walkforward.registry._rows import explanation_values, new_row, to_record, to_summary
from walkforward.registry._schema import model_summaries, models
from walkforward.registry.artifacts import (
    cohort_explore_file,
    cohort_predictions_file,
    cohort_selection_file,
    load_artifact,
    load_predictions,
    model_files,
    save_artifact,
    save_predictions,
    validate_model_id,
)
from walkforward.registry.database import Database
from walkforward.registry.errors import DuplicateModelError, ModelNotFoundError
from walkforward.registry.lockbox import LockboxMixin
from walkforward.registry.notes import ModelNotesMixin
from walkforward.registry.records import ModelRecord, ModelSummary, NewModel
from walkforward.registry.retention import PrunePlan, prune
from walkforward.registry.sweep import GRACE_SECONDS, sweep_models_dir

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

__all__ = ["MAX_PAGE", "SORT_COLUMNS", "ModelStore"]


class ModelStore(ModelNotesMixin, LockboxMixin):
    """Registered models: metadata in a SQL database, artifacts as files in ``models_dir``.

    Build it with :meth:`open` (which opens and migrates the database), or from an opened
    :class:`Database` to share it with a :class:`~walkforward.registry.jobs.JobStore`. One instance
    is safe to share between threads, and several processes may use the same database (SQLite runs
    in WAL mode).

    Examples
    --------
    >>> store = ModelStore.open("sqlite:///data/metadata.db", Path("data/models"))  # doctest: +SKIP
    >>> record = store.add(new_model, fitted_pipeline)  # doctest: +SKIP
    >>> page, total = store.list(symbol="AAPL", sort="metrics.r2")  # doctest: +SKIP
    """

    def __init__(self, database: Database, models_dir: Path) -> None:
        self._db = database
        self._models_dir = Path(models_dir).expanduser().resolve()

    @classmethod
    def open(cls, url: str, models_dir: Path) -> ModelStore:
        """Connect to ``url`` (``sqlite:///...`` or ``postgresql+psycopg://...``) and migrate to head."""
        return cls(Database.open(url), models_dir)

    @property
    def database(self) -> Database:
        """The registry database this store uses (share it with a ``JobStore``)."""
        return self._db

    @property
    def url(self) -> str:
        """The database URL (with its password: do not log it)."""
        return self._db.connection_url

    @property
    def models_dir(self) -> Path:
        return self._models_dir

    def dispose(self) -> None:
        """Close the database's pooled connections (neither this store nor others sharing it may be used afterwards)."""
        self._db.dispose()

    def __enter__(self) -> ModelStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.dispose()

    def __repr__(self) -> str:
        return f"ModelStore({self._db.url!r}, models_dir={str(self._models_dir)!r})"

    # ----------------------------------------------------------------------- plumbing

    def _record(self, row: Mapping[Any, Any]) -> ModelRecord:
        return to_record(row, self._models_dir)

    def _fetch_one(self, conn: Connection, model_id: str) -> ModelRecord:
        return self._record(_queries.row_by_id(conn, model_id))

    def _row_exists(self, model_id: str) -> bool | None:
        """Whether a row with ``model_id`` is committed; ``None`` if the database cannot say."""
        try:
            with self._db.transaction() as conn:
                found = conn.execute(sa.select(models.c.id).where(models.c.id == model_id)).first()
        except WalkforwardError:
            return None
        return found is not None

    # ----------------------------------------------------------------------- writes

    def add(
        self, new: NewModel, artifact: object, *, model_id: str | None = None, predictions: pd.DataFrame | None = None
    ) -> ModelRecord:
        """Register a model: write its artifact (and predictions) atomically, then insert its row.

        ``predictions`` (its out-of-sample predictions) go to ``{id}.predictions.parquet`` beside the
        artifact, their SHA-256 and row count into ``derived["predictions"]``. If the insert fails
        the files are deleted, so a row is never committed without its files.

        Raises
        ------
        DuplicateModelError
            The fingerprint (or ``model_id``) is already registered; ``existing_id`` names the model.
        InvalidInputError
            A field is not JSON-serialisable or ``model_id`` is malformed.
        """
        explicit_id = model_id is not None
        model_id = validate_model_id(model_id) if model_id is not None else uuid.uuid4().hex
        row = new_row(new, model_id)

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
        files = [path]
        if predictions is not None:
            try:
                kept, kept_sha = save_predictions(self._models_dir, model_id, predictions)
            except BaseException:
                path.unlink(missing_ok=True)
                raise
            files.append(kept)
            row["derived"] = {
                **(row["derived"] or {}),
                "predictions": {"file": kept.name, "sha256": kept_sha, "rows": len(predictions)},
            }
        try:
            with self._db.transaction(write=True) as conn:
                conn.execute(sa.insert(models).values(**row))
                insert_list_rows(conn, [row])
        except BaseException as exc:
            # Delete the file unless the row is known to be committed (e.g. the connection died
            # while acknowledging COMMIT); if in doubt keep it: sweep_orphans removes it later.
            if self._row_exists(model_id) is False:
                for file in files:
                    file.unlink(missing_ok=True)
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
        with self._db.transaction(write=True) as conn:
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
                conn.execute(
                    sa.update(model_summaries).where(model_summaries.c.id == model_id).values(cohort_rank=int(rank))
                )

    def update_explanations(
        self,
        model_id: str,
        feature_details: Mapping[str, Any],
        regime_importance: Mapping[str, Any] | None,
        info: Mapping[str, Any] | None = None,
    ) -> None:
        """Store a model's feature details and regime importance (computed after registration), and with
        ``info`` the explanations' notes and clustered importance (``derived["explanations"]``)."""
        with self._db.transaction(write=True) as conn:
            derived = None if info is None else self._fetch_one(conn, model_id).derived
            values = explanation_values(feature_details, regime_importance, derived, info)
            result = conn.execute(sa.update(models).where(models.c.id == model_id).values(**values))
            if result.rowcount == 0:
                self._fetch_one(conn, model_id)  # raises ModelNotFoundError

    def delete(self, model_id: str) -> None:
        """Delete a model's row, then its artifact (a missing file is fine).

        Children keep ``parent_model_id`` as text: lineage is not a foreign key, so nothing cascades.
        """
        with self._db.transaction(write=True) as conn:
            record = self._fetch_one(conn, model_id)
            # Explicitly, not by the foreign keys' cascade: SQLite enforces them only when asked.
            notes.delete_for(conn, [model_id])
            delete_list_rows(conn, [model_id])
            conn.execute(sa.delete(models).where(models.c.id == model_id))
        for file in model_files(Path(record.artifact_path)):
            file.unlink(missing_ok=True)
        logger.info("deleted model %s", model_id)

    def delete_cohort(self, cohort_id: str) -> int:
        """Delete every model of a cohort (rows, then files); return how many were deleted."""
        with self._db.transaction(write=True) as conn:
            names = conn.execute(sa.select(models.c.artifact_path).where(models.c.cohort_id == cohort_id)).scalars()
            paths = [self._models_dir / name for name in names]
            members = sa.select(models.c.id).where(models.c.cohort_id == cohort_id).scalar_subquery()
            notes.delete_for(conn, members)
            delete_list_rows(conn, members)
            conn.execute(sa.delete(models).where(models.c.cohort_id == cohort_id))
        for path in paths:
            for file in model_files(path):
                file.unlink(missing_ok=True)
        cohort_predictions_file(self._models_dir, cohort_id).unlink(missing_ok=True)
        cohort_selection_file(self._models_dir, cohort_id).unlink(missing_ok=True)
        cohort_explore_file(self._models_dir, cohort_id).unlink(missing_ok=True)
        logger.info("deleted cohort %s (%d models)", cohort_id, len(paths))
        return len(paths)

    def prune(self, older_than: dt.timedelta, *, apply: bool = False) -> PrunePlan:
        """The non-best models of cohorts older than ``older_than``: listed, or deleted with ``apply``.

        Each old cohort keeps its best model and every ancestor of a kept model (see
        :mod:`walkforward.registry.retention`); rows go in one transaction, then their files.
        """
        return prune(self._db, self._models_dir, older_than, apply=apply)

    def sweep_orphans(self, older_than_seconds: float = GRACE_SECONDS) -> builtins.list[Path]:
        """Delete artifact and temporary files no row references and no live writer owns; return them.

        An unreferenced file goes once it is older than ``older_than_seconds``; a temporary file
        whose writer (named in it) still runs, here or as another host's running job, stays whatever
        its age, and one whose writer was a process of this host that no longer runs goes at once
        (see :mod:`walkforward.registry.sweep`).
        """
        return sweep_models_dir(self._db, self._models_dir, grace=older_than_seconds)

    # ----------------------------------------------------------------------- reads

    def get(self, model_id: str) -> ModelRecord:
        """The model with ``model_id``, or :class:`ModelNotFoundError`."""
        with self._db.transaction() as conn:
            return self._fetch_one(conn, model_id)

    def get_by_fingerprint(self, fingerprint: str) -> ModelRecord | None:
        """The model registered with ``fingerprint``, if any."""
        with self._db.transaction() as conn:
            found = _queries.rows_where(conn, models.c.fingerprint == fingerprint)
        return self._record(found[0]) if found else None

    def existing_fingerprints(self, fingerprints: Iterable[str]) -> set[str]:
        """Which of ``fingerprints`` are registered (one query per 500, to skip trained candidates)."""
        wanted = builtins.list(dict.fromkeys(fingerprints))
        found: set[str] = set()
        with self._db.transaction() as conn:
            for start in range(0, len(wanted), _queries.IN_CHUNK):
                chunk = wanted[start : start + _queries.IN_CHUNK]
                found.update(
                    conn.execute(sa.select(models.c.fingerprint).where(models.c.fingerprint.in_(chunk))).scalars()
                )
        return found

    def load_artifact(self, model: str | ModelRecord) -> object:
        """Load a model's fitted object after verifying its SHA-256 (see :func:`load_artifact`)."""
        record = model if isinstance(model, ModelRecord) else self.get(model)
        return load_artifact(Path(record.artifact_path), record.artifact_sha256)

    def load_predictions(self, model: str | ModelRecord) -> pd.DataFrame | None:
        """A model's kept out-of-sample predictions, hash-checked; None for a model registered without them."""
        record = model if isinstance(model, ModelRecord) else self.get(model)
        kept = record.derived.get("predictions")
        if not kept:
            return None
        return load_predictions(self._models_dir / str(kept["file"]), str(kept["sha256"]))

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
        algorithms: Sequence[str] | None = None,
        id_prefix: str | None = None,
        primary_only: bool = False,
        metric_filters: Sequence[MetricCondition] = (),
        ensemble_score: str | None = None,
        tag: str | None = None,
    ) -> tuple[builtins.list[ModelSummary], int]:
        """One page of models matching the filters, as list rows, and how many match in total.

        ``sort`` is one of :data:`SORT_COLUMNS` or ``metrics.<name>`` (a numeric metric; models
        without it sort last). Ties are broken by id so pages are stable. ``limit`` is 1 to
        :data:`MAX_PAGE`; larger is refused (:class:`~walkforward.errors.InvalidInputError`). The
        rows are :class:`ModelSummary` values, read without any JSON column: :meth:`get` has the rest.
        ``symbol`` matches any of a model's symbols (primary or context), or only the primary one with
        ``primary_only``; ``algorithms`` keeps models of any of those algorithms (a task's, say), and
        with ``ensemble_score`` the ensembles whose score is that metric (the task's ensembles);
        ``id_prefix`` those whose id starts with it (a short id as shown); ``metric_filters`` those
        whose metrics satisfy every condition (``sharpe > 1``: see :mod:`walkforward.metric_filter`);
        ``tag`` those tagged with it, in any case (:func:`~walkforward.registry.notes.tag_members`).
        """
        filters = _page.list_filters(
            symbol=symbol,
            primary_only=primary_only,
            algorithms=algorithms,
            id_prefix=id_prefix,
            metric_filters=metric_filters,
            algorithm=algorithm,
            cohort_id=cohort_id,
            parent_model_id=parent_model_id,
            ensemble_score=ensemble_score,
            tag=tag,
        )
        query = replace(filters, sort=sort, descending=descending, limit=limit, offset=offset)
        with self._db.transaction() as conn:
            rows, total = _page.page(conn, query)
        return [to_summary(row) for row in rows], total

    def cohort_ids(self, cohort_id: str) -> builtins.list[str]:
        """The ids of a cohort's models (read from the list table: no JSON)."""
        with self._db.transaction() as conn:
            query = sa.select(model_summaries.c.id).where(model_summaries.c.cohort_id == cohort_id)
            return [str(i) for i in conn.execute(query).scalars()]

    def cohort(self, cohort_id: str) -> builtins.list[ModelRecord]:
        """A cohort's models, best first: by ``cohort_rank``, then ``cv_score`` descending."""
        with self._db.transaction() as conn:
            return [self._record(row) for row in _queries.cohort(conn, cohort_id)]

    def ancestors(self, model_id: str) -> builtins.list[ModelRecord]:
        """Parent, grandparent, ... of a model; stops at a deleted parent or a cycle."""
        with self._db.transaction() as conn:
            return [self._record(row) for row in _queries.ancestors(conn, model_id)]

    def descendants(self, model_id: str) -> builtins.list[ModelRecord]:
        """Children, grandchildren, ... of a model, breadth-first (oldest first per generation)."""
        with self._db.transaction() as conn:
            return [self._record(row) for row in _queries.descendants(conn, model_id)]

    def ensembles_using(self, model_id: str) -> builtins.list[ModelRecord]:
        """The ensembles built with ``model_id`` among their candidates, oldest first (none: ``[]``)."""
        with self._db.transaction() as conn:
            return [self._record(row) for row in _queries.ensembles_using(conn, model_id)]
