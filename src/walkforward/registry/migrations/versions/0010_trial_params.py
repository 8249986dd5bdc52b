"""What each trial was: the ``trials`` table gains ``cohort_id``, ``params`` and ``position``.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28

A best-only search registers one model of the hundreds it scores, so a cohort explored from its
registered models showed one point: no axes, no importance, a one-point history. The trials table
already kept every scored combination's fold metrics by fingerprint; these columns say which search
(cohort) it belonged to, its hyperparameters and its position in the order the search scored them,
so the explore view can show every configuration a search tried. Rows written before have them
null (they are left out of the view, which says so). The index serves "a cohort's trials at a
fidelity". The downgrade drops the index and the columns.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("trials") as batch:
        batch.add_column(sa.Column("cohort_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("params", _json(), nullable=True))
        batch.add_column(sa.Column("position", sa.Integer(), nullable=True))
    op.create_index("ix_trials_cohort_id_fidelity", "trials", ["cohort_id", "fidelity"])


def downgrade() -> None:
    op.drop_index("ix_trials_cohort_id_fidelity", table_name="trials")
    with op.batch_alter_table("trials") as batch:
        batch.drop_column("position")
        batch.drop_column("params")
        batch.drop_column("cohort_id")
