"""Keep what a run derived apart from what it was asked: ``derived``, ``versions``, ``fingerprint_version``.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29

Existing rows kept their derived values inside ``request``; the upgrade moves those keys to
``derived`` (everything else stays in ``request``) and the downgrade merges them back. Old rows are
fingerprint version 1. Types are spelled out here rather than imported from ``_schema`` so this
revision stays what it was when later revisions change the schema.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

#: Keys a run derived that older versions stored inside ``request``.
DERIVED_KEYS: tuple[str, ...] = (
    "input_features",
    "feature_source",
    "dropped_features",
    "skipped_symbols",
    "pruning",
    "explanations",
    "search",
    "ols_fallback",
)
_CHUNK = 500


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


_models = sa.table(
    "models",
    sa.column("id", sa.String(64)),
    sa.column("request", _json()),
    sa.column("derived", _json()),
)

Rewrite = Callable[[dict[str, Any], dict[str, Any] | None], tuple[dict[str, Any], dict[str, Any] | None] | None]


def _rewrite_rows(rewrite: Rewrite) -> None:
    """Apply ``rewrite(request, derived)`` to every row, a chunk of ids at a time (rows can be ~20 KB).

    ``rewrite`` returns the new ``(request, derived)``, or ``None`` to leave the row alone.
    """
    conn = op.get_bind()
    ids = [str(i) for i in conn.execute(sa.select(_models.c.id).order_by(_models.c.id)).scalars()]
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        rows = conn.execute(
            sa.select(_models.c.id, _models.c.request, _models.c.derived).where(_models.c.id.in_(chunk))
        ).all()
        for model_id, request, derived in rows:
            changed = rewrite(dict(request) if isinstance(request, dict) else {}, derived)
            if changed is not None:
                new_request, new_derived = changed
                conn.execute(
                    sa.update(_models).where(_models.c.id == model_id).values(request=new_request, derived=new_derived)
                )


def _split(request: dict[str, Any], derived: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]] | None:
    moved = {key: request.pop(key) for key in DERIVED_KEYS if key in request}
    if not moved:
        return None
    return request, {**moved, **(derived or {})}


def _merge(request: dict[str, Any], derived: dict[str, Any] | None) -> tuple[dict[str, Any], None] | None:
    if not derived:
        return None
    return {**request, **derived}, None


def upgrade() -> None:
    # Batch mode: SQLite cannot alter a table in place beyond adding columns; a no-op elsewhere.
    with op.batch_alter_table("models") as batch:
        batch.add_column(sa.Column("derived", _json(), nullable=True))
        batch.add_column(sa.Column("fingerprint_version", sa.Integer(), nullable=False, server_default=sa.text("1")))
        batch.add_column(sa.Column("versions", _json(), nullable=True))
    _rewrite_rows(_split)


def downgrade() -> None:
    _rewrite_rows(_merge)
    with op.batch_alter_table("models") as batch:
        batch.drop_column("versions")
        batch.drop_column("fingerprint_version")
        batch.drop_column("derived")
