"""Retention: delete the non-best models of old cohorts, rows and artifacts together.

A cohort is old when its newest model is older than the cutoff. Of an old cohort the best model
(``cohort_rank`` 1, else the best ``cv_score``, as :meth:`ModelStore.cohort` orders them) is kept,
and so is every model a kept model descends from (a parent of a kept model, its parent, ...), so
no kept model loses its lineage. Models without a cohort are never pruned.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from walkforward.errors import InvalidInputError
from walkforward.registry import notes
from walkforward.registry._listing import delete_list_rows
from walkforward.registry._queries import IN_CHUNK
from walkforward.registry._schema import models
from walkforward.registry.artifacts import model_files
from walkforward.registry.database import Database

log = logging.getLogger(__name__)

_AGE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str) -> dt.timedelta:
    """``30d``, ``12h``, ``2w``, ``90m``, ``45s`` as a duration.

    >>> parse_age("30d"), parse_age("1.5h")
    (datetime.timedelta(days=30), datetime.timedelta(seconds=5400))
    """
    match = _AGE_RE.fullmatch(text)
    if match is None:
        raise InvalidInputError(f"invalid age {text!r}: use a number and a unit s, m, h, d or w (e.g. 30d)")
    return dt.timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])


@dataclass(frozen=True)
class PruneRow:
    """What a prune needs to know of a model of an old cohort (no JSON column is read)."""

    id: str
    cohort_id: str
    algorithm: str
    symbol: str
    cv_score: float | None
    cohort_rank: int | None
    created_at: dt.datetime
    artifact_path: str

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "cohort_id": self.cohort_id,
            "algorithm": self.algorithm,
            "symbol": self.symbol,
            "cv_score": self.cv_score,
            "cohort_rank": self.cohort_rank,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class PrunePlan:
    """What a prune deletes (``delete``) and keeps of the old cohorts, and whether it was applied."""

    cutoff: dt.datetime
    cohorts: tuple[str, ...]
    delete: tuple[PruneRow, ...]
    kept_best: tuple[str, ...]
    kept_parents: tuple[str, ...]
    applied: bool


def _rank_key(row: PruneRow) -> tuple[bool, int, bool, float, dt.datetime, str]:
    # The order of registry._queries.cohort: rank (NULL last), cv_score descending (NULL last), age, id.
    score = row.cv_score if row.cv_score is not None and math.isfinite(row.cv_score) else None
    return (
        row.cohort_rank is None,
        row.cohort_rank or 0,
        score is None,
        -(score or 0.0),
        row.created_at,
        row.id,
    )


def choose(candidates: Sequence[PruneRow], parent_of: Mapping[str, str]) -> tuple[list[PruneRow], list[str], list[str]]:
    """Split old cohorts' models into (to delete, kept as best, kept as an ancestor of a kept model) (pure).

    ``parent_of`` maps every registered model that has a parent to its parent's id; any model not in
    ``candidates`` is kept, so its ancestors are kept too.
    """
    by_cohort: dict[str, list[PruneRow]] = {}
    for row in candidates:
        by_cohort.setdefault(row.cohort_id, []).append(row)
    best = {min(rows, key=_rank_key).id for rows in by_cohort.values()}
    deletable = {row.id for row in candidates} - best
    kept_parents: list[str] = []
    stack = [child for child in parent_of if child not in deletable]
    while stack:
        parent = parent_of.get(stack.pop())
        if parent is not None and parent in deletable:
            deletable.discard(parent)
            kept_parents.append(parent)
            stack.append(parent)
    delete = sorted((row for row in candidates if row.id in deletable), key=lambda r: (r.cohort_id, _rank_key(r)))
    return delete, sorted(best), sorted(kept_parents)


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _plan(conn: Connection, cutoff: dt.datetime) -> tuple[list[str], list[PruneRow], dict[str, str]]:
    newest = conn.execute(
        sa.select(models.c.cohort_id, sa.func.max(models.c.created_at))
        .where(models.c.cohort_id.is_not(None))
        .group_by(models.c.cohort_id)
    ).all()
    old = sorted(str(cohort) for cohort, last in newest if last is not None and _utc(last) < cutoff)
    columns = [models.c[name] for name in PruneRow.__dataclass_fields__]
    rows: list[PruneRow] = []
    for start in range(0, len(old), IN_CHUNK):
        found = conn.execute(sa.select(*columns).where(models.c.cohort_id.in_(old[start : start + IN_CHUNK])))
        rows.extend(PruneRow(**{**r, "created_at": _utc(r["created_at"])}) for r in found.mappings())
    links = conn.execute(
        sa.select(models.c.id, models.c.parent_model_id).where(models.c.parent_model_id.is_not(None))
    ).all()
    return old, rows, {str(child): str(parent) for child, parent in links}


def _delete_rows(conn: Connection, ids: Iterable[str]) -> None:
    """Delete models with their list rows (explicitly: SQLite enforces foreign keys only when asked)."""
    wanted = list(ids)
    for start in range(0, len(wanted), IN_CHUNK):
        chunk = wanted[start : start + IN_CHUNK]
        notes.delete_for(conn, chunk)
        delete_list_rows(conn, chunk)
        conn.execute(sa.delete(models).where(models.c.id.in_(chunk)))


def prune(
    database: Database,
    models_dir: Path,
    older_than: dt.timedelta,
    *,
    apply: bool = False,
    now: dt.datetime | None = None,
) -> PrunePlan:
    """Plan (``apply=False``) or carry out the pruning of cohorts whose newest model is older than ``older_than``.

    Applied, the plan is made and its rows deleted in one write transaction (a model registered
    meanwhile as the child of a planned deletion is seen), then the artifact files are deleted; a
    file that cannot be deleted is left to the orphan sweep.
    """
    cutoff = (now or dt.datetime.now(dt.UTC)) - older_than
    with database.transaction(write=apply) as conn:
        cohorts, rows, parent_of = _plan(conn, cutoff)
        delete, best, parents = choose(rows, parent_of)
        if apply:
            _delete_rows(conn, (row.id for row in delete))
    if apply:
        for row in delete:
            for file in model_files(models_dir / row.artifact_path):
                file.unlink(missing_ok=True)
        log.info("pruned %d model(s) of %d cohort(s) older than %s", len(delete), len(cohorts), cutoff.isoformat())
    return PrunePlan(cutoff, tuple(cohorts), tuple(delete), tuple(best), tuple(parents), applied=apply)


__all__ = ["PrunePlan", "PruneRow", "choose", "parse_age", "prune"]
