"""Create the trials table: per-combination, per-fidelity fold scores of searches.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28

A search records every combination's fold metrics here as soon as they are computed, best-only
searches included, so a killed search resumes by scoring only what is missing. Types are spelled out
here rather than imported from ``_schema`` so this revision stays what it was when later revisions
change the schema.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    # A new table needs no batch mode on SQLite: only later alterations of it would.
    op.create_table(
        "trials",
        sa.Column("fingerprint", sa.String(64), primary_key=True),
        sa.Column("fidelity", sa.String(128), primary_key=True),
        sa.Column("fold_metrics", _json(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("trials")
