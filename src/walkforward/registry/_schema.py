"""The registry's tables, as SQLAlchemy Core metadata (the migrations create it; this reads it)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData()


def json_type() -> sa.types.TypeEngine[Any]:
    """JSON on SQLite, JSONB on PostgreSQL; Python ``None`` is stored as SQL NULL."""
    return sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


models = sa.Table(
    "models",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("symbol", sa.String(32), nullable=False),
    sa.Column("symbols", json_type(), nullable=False),
    sa.Column("algorithm", sa.String(64), nullable=False),
    sa.Column("timeframe", sa.String(16), nullable=False),
    sa.Column("target_transform", sa.String(32), nullable=False),
    sa.Column("request", json_type(), nullable=False),
    sa.Column("features", json_type(), nullable=False),
    sa.Column("hyperparameters", json_type(), nullable=False),
    sa.Column("folds", json_type(), nullable=False),
    sa.Column("metrics", json_type(), nullable=False),
    sa.Column("fingerprint", sa.String(128), nullable=False),
    sa.Column("cohort_id", sa.String(64), nullable=True),
    sa.Column("parent_model_id", sa.String(64), nullable=True),
    sa.Column("artifact_path", sa.String(512), nullable=False),
    sa.Column("artifact_sha256", sa.String(64), nullable=False),
    sa.Column("cv_score", sa.Float(), nullable=True),
    sa.Column("cohort_rank", sa.Integer(), nullable=True),
    sa.Column("feature_details", json_type(), nullable=True),
    sa.Column("regime_importance", json_type(), nullable=True),
    # What a run derived from its request (0004); NULL on rows that had nothing to move.
    sa.Column("derived", json_type(), nullable=True),
    sa.Column("fingerprint_version", sa.Integer(), nullable=False, server_default=sa.text("1")),
    sa.Column("versions", json_type(), nullable=True),
    sa.UniqueConstraint("fingerprint", name="uq_models_fingerprint"),
    sa.Index("ix_models_symbol", "symbol"),
    sa.Index("ix_models_algorithm", "algorithm"),
    sa.Index("ix_models_cohort_id", "cohort_id"),
    sa.Index("ix_models_parent_model_id", "parent_model_id"),
    sa.Index("ix_models_created_at", "created_at"),
    sa.Index("ix_models_cv_score", "cv_score"),
)

#: The columns of ``model_summaries`` a list sorts by (each indexed with ``id``, the tie-break).
SORTED_COLUMNS: tuple[str, ...] = ("created_at", "algorithm", "symbol", "cv_score", "cohort_rank")
#: The filters that match many models (a cohort or a parent's children are few): indexed before
#: each sort key, so a filtered, sorted page is read from one index too.
BROAD_FILTERS: tuple[str, ...] = ("symbol", "algorithm")


def _summary_indexes() -> list[sa.Index]:
    """The indexes of ``model_summaries`` (also what migration 0006 creates)."""
    indexes = [
        sa.Index("ix_model_summaries_cohort_id", "cohort_id"),
        sa.Index("ix_model_summaries_parent_model_id", "parent_model_id"),
    ]
    indexes += [sa.Index(f"ix_model_summaries_{key}_id", key, "id") for key in SORTED_COLUMNS]
    indexes += [
        sa.Index(f"ix_model_summaries_{where}_{key}_id", where, key, "id")
        for where in BROAD_FILTERS
        for key in SORTED_COLUMNS
        if key != where
    ]
    return indexes


#: What a list row shows of each model, kept in step with ``models`` by the store (0006). A trained
#: model's ``models`` row is 20-50 KB (mostly explanations), so filtering, sorting and counting there
#: reads pages of JSON; these rows are ~0.3 KB. Written with the model, deleted with it.
model_summaries = sa.Table(
    "model_summaries",
    metadata,
    sa.Column("id", sa.String(64), sa.ForeignKey("models.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("symbol", sa.String(32), nullable=False),
    sa.Column("symbols", json_type(), nullable=False),
    sa.Column("algorithm", sa.String(64), nullable=False),
    sa.Column("timeframe", sa.String(16), nullable=False),
    sa.Column("target_transform", sa.String(32), nullable=False),
    sa.Column("fingerprint", sa.String(128), nullable=False),
    sa.Column("cohort_id", sa.String(64), nullable=True),
    sa.Column("cohort_rank", sa.Integer(), nullable=True),
    sa.Column("parent_model_id", sa.String(64), nullable=True),
    sa.Column("cv_score", sa.Float(), nullable=True),
    sa.Column("score_name", sa.String(64), nullable=True),
    sa.Column("n_features", sa.Integer(), nullable=True),
    # The listed metrics (model_summary.LISTED_METRICS) the model has, as {name: value}.
    sa.Column("metrics", json_type(), nullable=False),
    *_summary_indexes(),
)

#: Each model's numeric metrics, one row per name (0006): what ``sort=metrics.<name>`` orders by and
#: a list row shows, without decoding the ``metrics`` JSON. Written with the model, deleted with it.
model_metrics = sa.Table(
    "model_metrics",
    metadata,
    sa.Column("model_id", sa.String(64), sa.ForeignKey("models.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.Float(), nullable=False),
    sa.Index("ix_model_metrics_name_value", "name", "value", "model_id"),
    sqlite_with_rowid=False,  # clustered by (model_id, name): a lookup reads the value with the key
)

#: Each model's symbols, primary and context, one row per symbol (0009): what ``symbol=`` matches
#: (a model trained on AAPL,QQQ,VIX is found by "VIX") without reading the ``symbols`` JSON.
#: Written with the model, deleted with it.
model_symbols = sa.Table(
    "model_symbols",
    metadata,
    sa.Column("model_id", sa.String(64), sa.ForeignKey("models.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("symbol", sa.String(32), primary_key=True),
    sa.Index("ix_model_symbols_symbol", "symbol", "model_id"),
    sqlite_with_rowid=False,
)

#: Training and search jobs run by the service's worker processes (see ``walkforward.service.jobs``).
jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("request", json_type(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("progress_done", sa.Integer(), nullable=False),
    sa.Column("progress_total", sa.Integer(), nullable=True),
    sa.Column("best", sa.Float(), nullable=True),
    sa.Column("log", sa.Text(), nullable=False),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("result", json_type(), nullable=True),
    sa.Column("resumed_from", sa.String(64), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("cancel_requested_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("worker_pid", sa.Integer(), nullable=True),
    sa.Column("worker_host", sa.String(255), nullable=True),
    sa.Index("ix_jobs_status", "status"),
    sa.Index("ix_jobs_created_at", "created_at"),
)

#: Per-combination, per-fidelity fold scores of searches (0005): a killed search resumes from them.
trials = sa.Table(
    "trials",
    metadata,
    sa.Column("fingerprint", sa.String(64), primary_key=True),
    sa.Column("fidelity", sa.String(128), primary_key=True),
    sa.Column("fold_metrics", json_type(), nullable=False),
    sa.Column("score", sa.Float(), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    # What the trial was (0010; null on rows written before): its search's cohort, its
    # hyperparameters and its position in the order that search scored them.
    sa.Column("cohort_id", sa.String(64), nullable=True),
    sa.Column("params", json_type(), nullable=True),
    sa.Column("position", sa.Integer(), nullable=True),
    sa.Index("ix_trials_cohort_id_fidelity", "cohort_id", "fidelity"),
)

#: Each model's one evaluation on the lock box (0007). Not a foreign key: the record outlives the
#: model, and its fingerprint is unique too, so a model deleted and trained again is not evaluated twice.
lockbox_evaluations = sa.Table(
    "lockbox_evaluations",
    metadata,
    sa.Column("model_id", sa.String(64), primary_key=True),
    sa.Column("fingerprint", sa.String(128), nullable=False),
    sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("lockbox_start", sa.Date(), nullable=False),
    sa.Column("rows", sa.Integer(), nullable=False),
    sa.Column("sessions", sa.Integer(), nullable=False),
    sa.Column("metrics", json_type(), nullable=False),
    sa.UniqueConstraint("fingerprint", name="uq_lockbox_evaluations_fingerprint"),
)

#: A researcher's tags and note on a model (0008), edited at will; deleted with the model.
model_notes = sa.Table(
    "model_notes",
    metadata,
    sa.Column("model_id", sa.String(64), sa.ForeignKey("models.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("tags", json_type(), nullable=False),
    sa.Column("note", sa.Text(), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

#: Alembic's bookkeeping table, named so the registry can share a database with other apps.
VERSION_TABLE = "walkforward_registry_version"
