"""Keeping the list tables (``model_summaries``, ``model_metrics``, ``model_symbols``) in step with ``models``.

Every write path (add, delete, delete a cohort, prune, the benchmark's bulk seeding) goes through
these two functions, so a new list table is added in one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from walkforward.registry._rows import metric_rows, summary_row, symbol_rows
from walkforward.registry._schema import model_metrics, model_summaries, model_symbols


def insert_list_rows(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert the list rows of ``models`` rows (as :func:`~walkforward.registry._rows.new_row` builds them)."""
    if not rows:
        return
    conn.execute(sa.insert(model_summaries), [summary_row(r) for r in rows])
    metrics = [m for r in rows for m in metric_rows(r["id"], r["metrics"])]
    if metrics:
        conn.execute(sa.insert(model_metrics), metrics)
    conn.execute(sa.insert(model_symbols), [s for r in rows for s in symbol_rows(r["id"], r["symbol"], r["symbols"])])


def delete_list_rows(conn: Connection, ids: Sequence[str] | sa.ScalarSelect[Any]) -> None:
    """Delete the list rows of the models ``ids`` (a list, or a subquery of ids).

    Explicitly, not by the foreign keys' cascade: SQLite enforces them only when asked.
    """
    conn.execute(sa.delete(model_metrics).where(model_metrics.c.model_id.in_(ids)))
    conn.execute(sa.delete(model_symbols).where(model_symbols.c.model_id.in_(ids)))
    conn.execute(sa.delete(model_summaries).where(model_summaries.c.id.in_(ids)))


__all__ = ["delete_list_rows", "insert_list_rows"]
