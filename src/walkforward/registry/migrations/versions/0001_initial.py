"""Create the models table.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Types are spelled out here rather than imported from ``_schema`` so this revision stays what it was
when later revisions change the schema.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("symbols", _json(), nullable=False),
        sa.Column("algorithm", sa.String(64), nullable=False),
        sa.Column("timeframe", sa.String(16), nullable=False),
        sa.Column("target_transform", sa.String(32), nullable=False),
        sa.Column("request", _json(), nullable=False),
        sa.Column("features", _json(), nullable=False),
        sa.Column("hyperparameters", _json(), nullable=False),
        sa.Column("folds", _json(), nullable=False),
        sa.Column("metrics", _json(), nullable=False),
        sa.Column("fingerprint", sa.String(128), nullable=False),
        sa.Column("cohort_id", sa.String(64), nullable=True),
        sa.Column("parent_model_id", sa.String(64), nullable=True),
        sa.Column("artifact_path", sa.String(512), nullable=False),
        sa.Column("artifact_sha256", sa.String(64), nullable=False),
        sa.Column("cv_score", sa.Float(), nullable=True),
        sa.Column("cohort_rank", sa.Integer(), nullable=True),
        sa.Column("feature_details", _json(), nullable=True),
        sa.Column("regime_importance", _json(), nullable=True),
        sa.UniqueConstraint("fingerprint", name="uq_models_fingerprint"),
    )
    for column in ("symbol", "algorithm", "cohort_id", "parent_model_id", "created_at"):
        op.create_index(f"ix_models_{column}", "models", [column])


def downgrade() -> None:
    op.drop_table("models")
