"""Each model's one evaluation on the lock box: the ``lockbox_evaluations`` table.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29

One row per evaluated model (``model_id`` is the key, ``fingerprint`` unique too, so a model deleted
and trained again cannot be evaluated a second time). Not a foreign key to ``models``: the record of
a look at the lock box outlives the model. The downgrade drops the table.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    op.create_table(
        "lockbox_evaluations",
        sa.Column("model_id", sa.String(64), primary_key=True),
        sa.Column("fingerprint", sa.String(128), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lockbox_start", sa.Date(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("metrics", _json(), nullable=False),
        sa.UniqueConstraint("fingerprint", name="uq_lockbox_evaluations_fingerprint"),
    )


def downgrade() -> None:
    op.drop_table("lockbox_evaluations")
