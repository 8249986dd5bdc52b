"""Read queries of the model store that return whole rows: by id, cohorts, lineage walks, ensembles of a model.

Each function runs inside the caller's transaction and returns ``models`` rows (mappings); the store
turns them into records. Pages of the model list are :mod:`walkforward.registry._page`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from walkforward.registry._schema import models
from walkforward.registry.errors import ModelNotFoundError

logger = logging.getLogger(__name__)

Row = Mapping[Any, Any]

#: Largest ``IN (...)`` list sent in one query.
IN_CHUNK = 500


def rows_where(conn: Connection, where: sa.ColumnElement[bool]) -> list[Row]:
    """Every row matching ``where`` (unordered)."""
    return list(conn.execute(sa.select(models).where(where)).mappings().all())


def row_by_id(conn: Connection, model_id: str) -> Row:
    """The row of ``model_id``, or :class:`ModelNotFoundError`."""
    found = rows_where(conn, models.c.id == model_id)
    if not found:
        raise ModelNotFoundError(f"no model with id {model_id!r}: run `walkforward models list` to see registered ids")
    return found[0]


def cohort(conn: Connection, cohort_id: str) -> list[Row]:
    """A cohort's rows, best first: by ``cohort_rank``, then ``cv_score`` descending."""
    query = (
        sa.select(models)
        .where(models.c.cohort_id == cohort_id)
        .order_by(
            models.c.cohort_rank.asc().nulls_last(),
            models.c.cv_score.desc().nulls_last(),
            models.c.created_at,
            models.c.id,
        )
    )
    return list(conn.execute(query).mappings().all())


def ancestors(conn: Connection, model_id: str) -> list[Row]:
    """Parent, grandparent, ... of a model; stops at a deleted parent or a cycle."""
    chain: list[Row] = []
    current = row_by_id(conn, model_id)
    seen = {current["id"]}
    while current["parent_model_id"] is not None:
        parent_id = current["parent_model_id"]
        if parent_id in seen:
            logger.warning("lineage cycle at model %s; stopping", parent_id)
            break
        found = rows_where(conn, models.c.id == parent_id)
        if not found:
            break
        current = found[0]
        seen.add(current["id"])
        chain.append(current)
    return chain


def descendants(conn: Connection, model_id: str) -> list[Row]:
    """Children, grandchildren, ... of a model, breadth-first (oldest first per generation)."""
    row_by_id(conn, model_id)
    result: list[Row] = []
    seen = {model_id}
    frontier: Sequence[str] = [model_id]
    while frontier:
        children: list[Row] = []
        for start in range(0, len(frontier), IN_CHUNK):
            chunk = frontier[start : start + IN_CHUNK]
            query = (
                sa.select(models).where(models.c.parent_model_id.in_(chunk)).order_by(models.c.created_at, models.c.id)
            )
            children.extend(conn.execute(query).mappings().all())
        next_frontier: list[str] = []
        for child in children:
            if child["id"] not in seen:
                seen.add(child["id"])
                result.append(child)
                next_frontier.append(child["id"])
        frontier = next_frontier
    return result


def ensembles_using(conn: Connection, model_id: str) -> list[Row]:
    """The ensembles with ``model_id`` among their candidates (``request["ensemble"]["models"]``), oldest first.

    Read by the algorithm's index, then the request's JSON text must hold the id quoted (ids are
    letters, digits, ``_`` and ``-``: ``_`` escaped for ``LIKE``), and each row found is checked on its
    decoded request, so a note or another field naming the id never counts. ``"ensemble"`` is
    :data:`walkforward.ensembles.build.ENSEMBLE` (the registry imports nothing above it).
    """
    text = sa.cast(models.c.request, sa.Text)
    query = (
        sa.select(models)
        .where(models.c.algorithm == "ensemble", text.contains(f'"{model_id}"', autoescape=True))
        .order_by(models.c.created_at, models.c.id)
    )
    rows = conn.execute(query).mappings().all()
    return [r for r in rows if model_id in ((r["request"] or {}).get("ensemble") or {}).get("models", [])]
