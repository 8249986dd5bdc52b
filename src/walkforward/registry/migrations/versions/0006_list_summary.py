"""What a list reads, apart from the JSON: the ``model_summaries`` and ``model_metrics`` tables.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28

A list page used to decode every JSON column of its rows, and a metric sort extracted the metric from
each row's JSON; on SQLite even a filtered sort read a page of each 20-50 KB row. The upgrade adds
one narrow row per model with what a list shows, filters and sorts by (``model_summaries``, each sort
key indexed with the id, the tie-break) and one row per numeric metric (``model_metrics``, indexed by
name and value), and backfills both from the existing models, a chunk at a time. The downgrade drops
them; ``models`` itself is not altered.

Types and the summary rule are spelled out here rather than imported, so this revision stays what it
was when later code changes (``walkforward.model_summary`` and ``registry._rows`` are the live copy).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

_CHUNK = 500
_NAME_MAX = 64
_LISTED = ("r2", "rmse", "rmse_price", "hit_rate", "accuracy", "f1", "base_rate")
_SORTED = ("created_at", "algorithm", "symbol", "cv_score", "cohort_rank")
_BROAD_FILTERS = ("symbol", "algorithm")
#: Columns copied as they are from ``models`` to ``model_summaries``.
_COPIED = (
    "id",
    "created_at",
    "status",
    "symbol",
    "symbols",
    "algorithm",
    "timeframe",
    "target_transform",
    "fingerprint",
    "cohort_id",
    "cohort_rank",
    "parent_model_id",
    "cv_score",
)


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


_models = sa.table(
    "models",
    *(sa.column(name) for name in _COPIED if name not in ("symbols", "created_at")),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("symbols", _json()),
    sa.column("features", _json()),
    sa.column("metrics", _json()),
)
_summaries = sa.table(
    "model_summaries",
    *(sa.column(name) for name in _COPIED if name not in ("symbols", "created_at")),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("symbols", _json()),
    sa.column("score_name", sa.String(64)),
    sa.column("n_features", sa.Integer()),
    sa.column("metrics", _json()),
)
_metrics = sa.table(
    "model_metrics",
    sa.column("model_id", sa.String(64)),
    sa.column("name", sa.String(64)),
    sa.column("value", sa.Float()),
)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _metric_values(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Numeric, finite metrics by name: ``metrics["cv"]`` first, then the top level."""
    out: dict[str, float] = {}
    cv = metrics.get("cv")
    for source in (cv if isinstance(cv, Mapping) else {}, metrics):
        for name, value in source.items():
            number = _number(value)
            if number is not None and name not in out and isinstance(name, str) and len(name) <= _NAME_MAX:
                out[name] = number
    return out


def _backfill() -> None:
    conn = op.get_bind()
    ids = [str(i) for i in conn.execute(sa.select(_models.c.id).order_by(_models.c.id)).scalars()]
    columns = [_models.c[name] for name in _COPIED]
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        rows = conn.execute(
            sa.select(*columns, _models.c.features, _models.c.metrics).where(_models.c.id.in_(chunk))
        ).mappings()
        summaries: list[dict[str, Any]] = []
        values: list[dict[str, Any]] = []
        for row in rows:
            metrics = row["metrics"] if isinstance(row["metrics"], Mapping) else {}
            score = metrics.get("score")
            numbers = _metric_values(metrics)
            summaries.append(
                {
                    **{name: row[name] for name in _COPIED},
                    "score_name": score if isinstance(score, str) and 0 < len(score) <= _NAME_MAX else None,
                    "n_features": len(row["features"]) if isinstance(row["features"], list) else None,
                    "metrics": {name: numbers[name] for name in _LISTED if name in numbers},
                }
            )
            values.extend({"model_id": row["id"], "name": name, "value": value} for name, value in numbers.items())
        if summaries:
            conn.execute(sa.insert(_summaries), summaries)
        if values:
            conn.execute(sa.insert(_metrics), values)


def upgrade() -> None:
    # New tables only: SQLite needs no batch mode, and the (large) models table is not copied.
    op.create_table(
        "model_summaries",
        sa.Column("id", sa.String(64), sa.ForeignKey("models.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("symbols", _json(), nullable=False),
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
        sa.Column("metrics", _json(), nullable=False),
    )
    op.create_table(
        "model_metrics",
        sa.Column("model_id", sa.String(64), sa.ForeignKey("models.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Float(), nullable=False),
        sqlite_with_rowid=False,
    )
    _backfill()
    # Indexes after the bulk insert (cheaper than keeping them up to date row by row).
    op.create_index("ix_model_summaries_cohort_id", "model_summaries", ["cohort_id"])
    op.create_index("ix_model_summaries_parent_model_id", "model_summaries", ["parent_model_id"])
    for key in _SORTED:
        op.create_index(f"ix_model_summaries_{key}_id", "model_summaries", [key, "id"])
    for where in _BROAD_FILTERS:
        for key in _SORTED:
            if key != where:
                op.create_index(f"ix_model_summaries_{where}_{key}_id", "model_summaries", [where, key, "id"])
    op.create_index("ix_model_metrics_name_value", "model_metrics", ["name", "value", "model_id"])


def downgrade() -> None:
    op.drop_table("model_metrics")
    op.drop_table("model_summaries")
