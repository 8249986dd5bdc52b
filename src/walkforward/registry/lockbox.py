"""Lock-box evaluations in the registry: each model's one look at the lock box, written once, never changed.

The ``lockbox_evaluations`` table keys a row by the model's id and keeps its fingerprint unique
too, so neither the same model nor an identical one trained again (same data, features, folds and
hyperparameters) is evaluated twice. Two requests racing to evaluate the same model both reach the
insert; the database's unique constraint keeps the first, and the second is told what was recorded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from walkforward.registry._schema import lockbox_evaluations as table
from walkforward.registry.database import Database, to_json
from walkforward.registry.errors import DuplicateModelError, LockboxEvaluatedError

__all__ = ["LockboxMixin", "LockboxRecord", "already_evaluated", "find"]


@dataclass(frozen=True)
class LockboxRecord:
    """A model's recorded evaluation on the lock box (``metrics``: the prediction metrics and trading figures)."""

    model_id: str
    fingerprint: str
    evaluated_at: dt.datetime
    lockbox_start: dt.date
    rows: int
    sessions: int
    metrics: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (ISO time and date)."""
        return {
            "model_id": self.model_id,
            "fingerprint": self.fingerprint,
            "evaluated_at": self.evaluated_at.isoformat(),
            "lockbox_start": self.lockbox_start.isoformat(),
            "rows": self.rows,
            "sessions": self.sessions,
            "metrics": dict(self.metrics),
        }


def _to_record(row: Mapping[Any, Any]) -> LockboxRecord:
    at: dt.datetime = row["evaluated_at"]
    return LockboxRecord(
        model_id=row["model_id"],
        fingerprint=row["fingerprint"],
        evaluated_at=at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC),  # SQLite: naive UTC
        lockbox_start=row["lockbox_start"],
        rows=int(row["rows"]),
        sessions=int(row["sessions"]),
        metrics=row["metrics"],
    )


def find(db: Database, model_id: str, fingerprint: str | None = None) -> LockboxRecord | None:
    """The evaluation of ``model_id`` (or, with ``fingerprint``, of any model with that fingerprint)."""
    where = table.c.model_id == model_id
    if fingerprint is not None:
        where = sa.or_(where, table.c.fingerprint == fingerprint)
    with db.transaction() as conn:
        row = conn.execute(sa.select(table).where(where).order_by(table.c.evaluated_at).limit(1)).mappings().first()
    return None if row is None else _to_record(row)


def already_evaluated(found: LockboxRecord, model_id: str) -> LockboxEvaluatedError:
    """The refusal of a second evaluation, naming when (and under which id) the first was recorded."""
    who = "" if found.model_id == model_id else f" (as model {found.model_id}, the same fingerprint)"
    return LockboxEvaluatedError(
        f"model {model_id} was already evaluated on the lock box at {found.evaluated_at:%Y-%m-%d %H:%M:%S} UTC{who}; "
        "a lock box is looked at once per model: here is the recorded result "
        f"(`walkforward models show {found.model_id}`)",
        found,
    )


class LockboxMixin:
    """The store's lock-box methods (:class:`~walkforward.registry.ModelStore` has them): one interface,
    a module about one thing."""

    _db: Database

    def record_lockbox(
        self,
        model_id: str,
        *,
        fingerprint: str,
        lockbox_start: dt.date,
        rows: int,
        sessions: int,
        metrics: Mapping[str, Any],
    ) -> LockboxRecord:
        """Record ``model_id``'s one lock-box evaluation; a second (same id or fingerprint) raises
        :class:`~walkforward.registry.errors.LockboxEvaluatedError` carrying the first."""
        values = {
            "model_id": model_id,
            "fingerprint": fingerprint,
            "evaluated_at": dt.datetime.now(dt.UTC),
            "lockbox_start": lockbox_start,
            "rows": int(rows),
            "sessions": int(sessions),
            "metrics": to_json("metrics", dict(metrics)),
        }
        try:
            with self._db.transaction(write=True) as conn:
                conn.execute(sa.insert(table).values(values))
        except DuplicateModelError:
            found = find(self._db, model_id, fingerprint)
            if found is None:  # pragma: no cover - a unique violation always leaves the row it collided with
                raise
            raise already_evaluated(found, model_id) from None
        return _to_record(values)

    def lockbox(self, model_id: str, fingerprint: str | None = None) -> LockboxRecord | None:
        """The lock-box evaluation of ``model_id`` (or of a model with ``fingerprint``), if one was recorded."""
        return find(self._db, model_id, fingerprint)
