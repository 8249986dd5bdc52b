"""One page of the model list: filter, sort, count and read list rows without touching ``models``.

A trained model's row is 20-50 KB (mostly explanations), so a page reads only the narrow tables the
store keeps in step with it: ``model_summaries`` (what a list shows, filters and sorts by; each sort
key indexed together with ``id``, the tie-break; ~0.3 KB a row), ``model_metrics`` (numeric metrics
by name and value, for ``sort=metrics.<name>`` and filters like ``sharpe > 1``), ``model_symbols``
(every symbol of a model, for the symbol filter) and ``model_notes`` (the tag filter).

A sort key that can be missing (``cv_score``, ``cohort_rank``, a metric) is paged in two parts: the
models that have it, in order, then those that do not, by id. Each part is a range of an index; one
``ORDER BY key NULLS LAST`` would sort every row first, as neither backend keeps NULLs at that end
of an index in both directions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from walkforward.errors import InvalidInputError
from walkforward.metric_filter import MetricCondition
from walkforward.model_summary import MAX_PAGE
from walkforward.registry._schema import SORTED_COLUMNS, model_metrics, model_symbols
from walkforward.registry._schema import model_summaries as summaries
from walkforward.registry.notes import tag_members

Row = Mapping[Any, Any]

#: Columns :meth:`ModelStore.list` can sort by; ``metrics.<name>`` sorts by a numeric metric.
SORT_COLUMNS: tuple[str, ...] = SORTED_COLUMNS
_NULLABLE = frozenset({"cv_score", "cohort_rank"})
_METRIC_SORT_RE = re.compile(r"^metrics\.([A-Za-z0-9_]+)$")


@dataclass(frozen=True)
class _Sort:
    """How to page by one sort name: the ordered ids of models that have the key, and the rest."""

    key: sa.ColumnElement[Any]
    tie: sa.ColumnElement[Any]
    having: sa.Select[Any]  # ids of the models with the key (filters still to add)
    lacking: sa.ColumnElement[bool] | None  # condition on ``model_summaries`` for the models without it


def _sort(sort: str, conditions: Sequence[sa.ColumnElement[bool]]) -> _Sort:
    if sort in SORT_COLUMNS:
        key = summaries.c[sort]
        having = sa.select(summaries.c.id).where(*conditions)
        if sort not in _NULLABLE:
            return _Sort(key, summaries.c.id, having, None)
        return _Sort(key, summaries.c.id, having.where(key.is_not(None)), key.is_(None))
    match = _METRIC_SORT_RE.fullmatch(sort)
    if match is None:
        raise InvalidInputError(
            f"unknown sort {sort!r}: use one of {', '.join(SORT_COLUMNS)} or metrics.<name> (e.g. metrics.r2)"
        )
    name = match.group(1)
    having = sa.select(model_metrics.c.model_id).where(model_metrics.c.name == name)
    if conditions:
        having = having.join(summaries, summaries.c.id == model_metrics.c.model_id).where(*conditions)
    exists = sa.exists().where(model_metrics.c.model_id == summaries.c.id, model_metrics.c.name == name)
    return _Sort(model_metrics.c.value, model_metrics.c.model_id, having, ~exists)


_COMPARE: dict[str, Any] = {
    "<": lambda c, v: c < v,
    "<=": lambda c, v: c <= v,
    ">": lambda c, v: c > v,
    ">=": lambda c, v: c >= v,
    "=": lambda c, v: c == v,
}


#: From this many matches on, a page tests each model it scans in order for membership (EXISTS, one
#: primary-key probe; the scan stops after a page), rather than reading every match and sorting them
#: (IN). Measured on SQLite at 10,000 models: "VIX" (every model) 65 ms by IN, 0.1 ms by EXISTS;
#: a 20% metric range 33 ms vs 0.2 ms; a few matches are cheaper by IN (no long scan for them).
SCAN_AT = 500


def metric_members(condition: MetricCondition) -> sa.Select[Any]:
    """The ids of the models whose metric satisfies ``condition``: one range of ``ix_model_metrics_name_value``
    (a model without the metric never matches)."""
    compare = _COMPARE[condition.op]
    return sa.select(model_metrics.c.model_id).where(
        model_metrics.c.name == condition.name, compare(model_metrics.c.value, condition.value)
    )


def symbol_members(symbol: str) -> sa.Select[Any]:
    """The ids of the models trained on ``symbol``, primary or context (``ix_model_symbols_symbol``)."""
    return sa.select(model_symbols.c.model_id).where(model_symbols.c.symbol == symbol)


def _member_of(members: sa.Select[Any], scan: bool) -> sa.ColumnElement[bool]:
    """``model_summaries.id`` among ``members``: as ``IN (...)``, or as a correlated ``EXISTS`` to ``scan``."""
    if not scan:
        return summaries.c.id.in_(members)
    # Correlated to model_summaries only: a metric sort's outer query reads model_metrics too.
    return sa.exists(members.where(members.selected_columns[0] == summaries.c.id).correlate(summaries))


@dataclass(frozen=True)
class PageQuery:
    """What one page of the list asks for (see :func:`page_ids`): equality ``filters`` on
    ``model_summaries``, other ``where`` conditions, ``members`` sets, the order and the window."""

    filters: Mapping[str, str | None]
    where: Sequence[sa.ColumnElement[bool]] = ()
    members: Sequence[sa.Select[Any]] = ()
    sort: str = "created_at"
    descending: bool = True
    limit: int = 50
    offset: int = 0
    scan_at: int = SCAN_AT


def list_filters(
    *,
    symbol: str | None = None,
    primary_only: bool = False,
    algorithms: Sequence[str] | None = None,
    id_prefix: str | None = None,
    metric_filters: Sequence[MetricCondition] = (),
    algorithm: str | None = None,
    cohort_id: str | None = None,
    parent_model_id: str | None = None,
    ensemble_score: str | None = None,
    tag: str | None = None,
) -> PageQuery:
    """The :class:`PageQuery` of :meth:`ModelStore.list`'s filters (first page, default order)."""

    primary = symbol if primary_only else None
    filters = {"symbol": primary, "algorithm": algorithm, "cohort_id": cohort_id, "parent_model_id": parent_model_id}
    members = [metric_members(c) for c in metric_filters]
    if symbol is not None and not primary_only:
        members.append(symbol_members(symbol))
    if tag is not None:
        members.append(tag_members(tag))
    where: list[sa.ColumnElement[bool]] = []
    if algorithms is not None:
        among: sa.ColumnElement[bool] = summaries.c.algorithm.in_(list(algorithms))
        if ensemble_score is not None:
            # An ensemble's task is its members': the score it is in says which ("ensemble" is
            # walkforward.ensembles.build.ENSEMBLE, spelled here since the registry imports nothing above it).
            among = sa.or_(
                among, sa.and_(summaries.c.algorithm == "ensemble", summaries.c.score_name == ensemble_score)
            )
        where.append(among)
    if id_prefix:
        where.append(summaries.c.id.startswith(id_prefix, autoescape=True))
    return PageQuery(filters, tuple(where), tuple(members))


def check_page(limit: int, offset: int) -> None:
    """Refuse a page size outside 1..:data:`MAX_PAGE` or a negative offset (:class:`InvalidInputError`)."""
    if limit > MAX_PAGE:
        raise InvalidInputError(
            f"invalid page limit={limit}: at most {MAX_PAGE} models a page; "
            f"fetch more pages with offset (limit={MAX_PAGE}&offset={MAX_PAGE}, ...)"
        )
    if limit < 1 or offset < 0:
        raise InvalidInputError(f"invalid page limit={limit} offset={offset}: use limit >= 1, offset >= 0")


def _count(conn: Connection, query: sa.Select[Any]) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one())


def page_ids(conn: Connection, q: PageQuery) -> tuple[list[str], int]:
    """The ids of one page of models whose columns equal the non-``None`` ``q.filters``, and the total.

    ``q.where`` adds conditions on ``model_summaries`` that are not equalities (a set of algorithms,
    an id prefix); each of ``q.members`` (ids of models: those with a metric in a range, those using a
    symbol) is a set the models must be in, counted by ``IN`` and paged by ``IN``, or by ``EXISTS``
    from ``q.scan_at`` matches on (:data:`SCAN_AT`).

    Ties are broken by id (in the sort's direction) so pages are stable; models without the key
    come last in both directions.
    """
    sort, descending, limit, offset = q.sort, q.descending, q.limit, q.offset
    check_page(limit, offset)
    conditions = [summaries.c[name] == value for name, value in q.filters.items() if value is not None]
    conditions.extend(q.where)
    counted = [*conditions, *(_member_of(m, scan=False) for m in q.members)]
    total = int(conn.execute(sa.select(sa.func.count()).select_from(summaries).where(*counted)).scalar_one())
    conditions = [*conditions, *(_member_of(m, scan=total >= q.scan_at) for m in q.members)]
    spec = _sort(sort, conditions)

    def direction(column: sa.ColumnElement[Any]) -> sa.UnaryExpression[Any]:
        return column.desc() if descending else column.asc()

    ordered = spec.having.order_by(direction(spec.key), direction(spec.tie))
    ids = [str(i) for i in conn.execute(ordered.limit(limit).offset(offset)).scalars()]
    if spec.lacking is None or len(ids) == limit:
        return ids, total
    # The models with the key are used up: the page goes on with those without it.
    with_key = offset + len(ids) if ids else _count(conn, spec.having)
    rest = (
        sa.select(summaries.c.id)
        .where(*conditions, spec.lacking)
        .order_by(direction(summaries.c.id))
        .limit(limit - len(ids))
        .offset(max(offset - with_key, 0))
    )
    ids.extend(str(i) for i in conn.execute(rest).scalars())
    return ids, total


def page(conn: Connection, q: PageQuery) -> tuple[list[Row], int]:
    """One page of ``model_summaries`` rows and the total (see :func:`page_ids` for filters and order)."""
    ids, total = page_ids(conn, q)
    if not ids:
        return [], total
    rows = conn.execute(sa.select(summaries).where(summaries.c.id.in_(ids))).mappings().all()
    by_id = {str(row["id"]): row for row in rows}
    return [by_id[i] for i in ids if i in by_id], total


__all__ = [
    "MAX_PAGE",
    "SORT_COLUMNS",
    "PageQuery",
    "check_page",
    "list_filters",
    "metric_members",
    "page",
    "page_ids",
    "symbol_members",
]
