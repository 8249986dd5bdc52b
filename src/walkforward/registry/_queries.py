"""Read queries of the model store: filtered and sorted pages, cohorts, lineage walks.

Each function runs inside the caller's transaction and returns ``models`` rows (mappings); the store
turns them into records.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from walkforward.errors import InvalidInputError
from walkforward.registry._schema import models
from walkforward.registry.errors import ModelNotFoundError

logger = logging.getLogger(__name__)

Row = Mapping[Any, Any]

#: Columns :meth:`ModelStore.list` can sort by; ``metrics.<name>`` sorts by a numeric metric.
SORT_COLUMNS: tuple[str, ...] = ("created_at", "algorithm", "symbol", "cv_score", "cohort_rank")
_METRIC_SORT_RE = re.compile(r"^metrics\.([A-Za-z0-9_]+)$")
#: Largest ``IN (...)`` list sent in one query.
IN_CHUNK = 500


def sort_expression(sort: str) -> sa.ColumnElement[Any]:
    """The SQL expression a ``sort`` name orders by; :class:`InvalidInputError` for an unknown one."""
    if sort in SORT_COLUMNS:
        return models.c[sort]
    match = _METRIC_SORT_RE.fullmatch(sort)
    if match is not None:
        # Trained models keep their aggregated metrics under "cv"; a flat metrics dict is read as is.
        name = match.group(1)
        return sa.func.coalesce(models.c.metrics[("cv", name)].as_float(), models.c.metrics[name].as_float())
    raise InvalidInputError(
        f"unknown sort {sort!r}: use one of {', '.join(SORT_COLUMNS)} or metrics.<name> (e.g. metrics.r2)"
    )


def rows_where(conn: Connection, where: sa.ColumnElement[bool]) -> list[Row]:
    """Every row matching ``where`` (unordered)."""
    return list(conn.execute(sa.select(models).where(where)).mappings().all())


def row_by_id(conn: Connection, model_id: str) -> Row:
    """The row of ``model_id``, or :class:`ModelNotFoundError`."""
    found = rows_where(conn, models.c.id == model_id)
    if not found:
        raise ModelNotFoundError(f"no model with id {model_id!r}: run `walkforward models list` to see registered ids")
    return found[0]


def page(
    conn: Connection,
    filters: Mapping[str, str | None],
    *,
    sort: str,
    descending: bool,
    limit: int,
    offset: int,
) -> tuple[list[Row], int]:
    """One page of rows whose columns equal the non-``None`` ``filters``, and how many match in total.

    Ties are broken by id so pages are stable; a ``NULL`` sort key sorts last in both directions.
    """
    if limit < 1 or offset < 0:
        raise InvalidInputError(f"invalid page limit={limit} offset={offset}: use limit >= 1, offset >= 0")
    key = sort_expression(sort)
    conditions = [models.c[name] == value for name, value in filters.items() if value is not None]
    order = (key.desc() if descending else key.asc()).nulls_last()
    # Two steps: page the ids on the sort key alone, then read only that page's full rows. Sorting
    # whole rows (with their JSON columns) before the offset made a page of 10,000 models ~10x slower.
    ids_query = sa.select(models.c.id).where(*conditions).order_by(order, models.c.id).limit(limit).offset(offset)
    total = conn.execute(sa.select(sa.func.count()).select_from(models).where(*conditions)).scalar_one()
    ids = [str(i) for i in conn.execute(ids_query).scalars().all()]
    rows = rows_where(conn, models.c.id.in_(ids)) if ids else []
    by_id = {str(row["id"]): row for row in rows}
    return [by_id[i] for i in ids if i in by_id], int(total)


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
