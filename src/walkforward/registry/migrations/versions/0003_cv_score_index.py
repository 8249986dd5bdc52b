"""Index the models' cross-validated score (the UI and API sort by it).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index("ix_models_cv_score", "models", ["cv_score"])


def downgrade() -> None:
    op.drop_index("ix_models_cv_score", table_name="models")
