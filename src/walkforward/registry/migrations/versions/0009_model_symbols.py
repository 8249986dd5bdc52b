"""Each model's symbols, primary and context, as rows: the ``model_symbols`` table.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28

The symbol filter matched only a model's primary symbol: "VIX" listed none of the models trained on
AAPL,QQQ,VIX. Matching inside the ``symbols`` JSON would need a different query per backend
(``json_each`` on SQLite, ``@>`` with a GIN index on PostgreSQL); one row per (model, symbol),
indexed by symbol, is the same indexed lookup on both. The upgrade creates the table and backfills
it from ``models``, a chunk at a time; the downgrade drops it.

The rule is spelled out here rather than imported, so this revision stays what it was when later
code changes (``registry._rows.symbol_rows`` is the live copy).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None

_CHUNK = 500
_SYMBOL_MAX = 32


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


_models = sa.table("models", sa.column("id"), sa.column("symbol"), sa.column("symbols", _json()))
_symbols = sa.table("model_symbols", sa.column("model_id", sa.String(64)), sa.column("symbol", sa.String(32)))


def _backfill() -> None:
    conn = op.get_bind()
    ids = [str(i) for i in conn.execute(sa.select(_models.c.id).order_by(_models.c.id)).scalars()]
    for start in range(0, len(ids), _CHUNK):
        rows = conn.execute(
            sa.select(_models.c.id, _models.c.symbol, _models.c.symbols).where(
                _models.c.id.in_(ids[start : start + _CHUNK])
            )
        ).all()
        values: list[dict[str, Any]] = []
        for model_id, symbol, symbols in rows:
            listed = symbols if isinstance(symbols, list) else []
            wanted = dict.fromkeys(s for s in (symbol, *listed) if isinstance(s, str) and 0 < len(s) <= _SYMBOL_MAX)
            values.extend({"model_id": model_id, "symbol": s} for s in wanted)
        if values:
            conn.execute(sa.insert(_symbols), values)


def upgrade() -> None:
    op.create_table(
        "model_symbols",
        sa.Column("model_id", sa.String(64), sa.ForeignKey("models.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("symbol", sa.String(32), primary_key=True),
        sqlite_with_rowid=False,
    )
    _backfill()
    op.create_index("ix_model_symbols_symbol", "model_symbols", ["symbol", "model_id"])


def downgrade() -> None:
    op.drop_table("model_symbols")
