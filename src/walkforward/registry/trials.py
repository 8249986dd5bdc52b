"""The trial store: per-combination, per-fidelity fold scores of searches, kept as they are computed.

A search scores many combinations and registers few (only the best, unless it saves them all). The
trials table keeps every scored combination's fold metrics under its model fingerprint and the
fidelity it was scored at (``"full"``: every fold at the full budget; a multi-fidelity search names
its reduced budgets, e.g. ``"rounds=50;folds=2"``), so a killed search, run again, scores only what
is missing. Rows are written once and never changed: a fingerprint fixes the data, features, folds
and hyperparameters, hence the scores. Two searches recording the same trial at once both succeed
(``INSERT ... ON CONFLICT DO NOTHING``): the first row stays.

A search also says what each trial was (:class:`TrialMeta`: its cohort, hyperparameters and
position in the order it scored them), so :meth:`TrialStore.of_cohort` gives every configuration a
best-only search tried, not only the one it registered (the explore view's trials).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from walkforward.errors import InvalidInputError
from walkforward.registry._queries import IN_CHUNK
from walkforward.registry._schema import trials
from walkforward.registry.database import Database, to_json

__all__ = ["FULL_FIDELITY", "CohortTrial", "TrialMeta", "TrialScore", "TrialStore"]

#: The fidelity of a combination scored on every fold at its full budget.
FULL_FIDELITY = "full"
_MAX_FINGERPRINT = 64
_MAX_FIDELITY = 128
#: Rows per multi-row INSERT (8 parameters each; well under SQLite's variable limit).
_INSERT_CHUNK = 500


class TrialScore(NamedTuple):
    """A recorded trial: its per-fold metric dicts (as JSON holds them: NaN reads back as ``None``) and score."""

    fold_metrics: list[dict[str, Any]]
    score: float | None


class TrialMeta(NamedTuple):
    """What a trial was: the search's cohort, the combination's hyperparameters, and its position in
    the order the search scored combinations at this fidelity (``None``: not an order that means anything)."""

    cohort_id: str
    params: dict[str, Any]
    position: int | None = None


class CohortTrial(NamedTuple):
    """A cohort's trial as :meth:`TrialStore.of_cohort` reads it back."""

    fingerprint: str
    params: dict[str, Any]
    score: float | None
    position: int | None
    created_at: dt.datetime


def _check(fingerprint: str, fidelity: str) -> None:
    if not fingerprint or len(fingerprint) > _MAX_FINGERPRINT:
        raise InvalidInputError(f"invalid trial fingerprint {fingerprint!r}: use 1-{_MAX_FINGERPRINT} characters")
    if not fidelity or len(fidelity) > _MAX_FIDELITY:
        raise InvalidInputError(f"invalid trial fidelity {fidelity!r}: use 1-{_MAX_FIDELITY} characters (e.g. 'full')")


def _score(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _insert_ignoring_duplicates(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert ``rows``, keeping any row already stored under the same key; return how many were new."""
    dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
    query = dialect.insert(trials).values(list(rows)).on_conflict_do_nothing(index_elements=["fingerprint", "fidelity"])
    # RETURNING lists only the rows inserted (rowcount is not reliable for this statement on psycopg).
    return len(conn.execute(query.returning(trials.c.fingerprint)).all())


class TrialStore:
    """Scored trials in the registry database (record, read by fingerprint, delete).

    Parameters
    ----------
    database
        An opened (migrated) :class:`Database`, usually the model store's ``database``.

    Examples
    --------
    >>> trials = TrialStore(ModelStore.open(url, models_dir).database)  # doctest: +SKIP
    >>> trials.record("3f2a...", "full", [{"fold": 1, "r2": 0.02}, {"fold": 2, "r2": 0.01}], 0.015)  # doctest: +SKIP
    True
    >>> trials.scores(["3f2a...", "9c1b..."], "full")  # doctest: +SKIP
    {'3f2a...': TrialScore(fold_metrics=[{'fold': 1, 'r2': 0.02}, {'fold': 2, 'r2': 0.01}], score=0.015)}
    """

    def __init__(self, database: Database) -> None:
        self._db = database

    @property
    def database(self) -> Database:
        """The registry database the trials live in."""
        return self._db

    def record(
        self, fingerprint: str, fidelity: str, fold_metrics: Sequence[Mapping[str, Any]], score: float | None
    ) -> bool:
        """Store one trial unless it is already stored; ``True`` if this call wrote it.

        Idempotent and safe to race: a second record of the same ``(fingerprint, fidelity)`` (by this
        or another process) keeps the first row and returns ``False``. A non-finite ``score`` is
        stored as ``None``.
        """
        return self.record_many(fidelity, {fingerprint: (fold_metrics, score)}) == 1

    def record_many(
        self,
        fidelity: str,
        scored: Mapping[str, tuple[Sequence[Mapping[str, Any]], float | None]],
        meta: Mapping[str, TrialMeta] | None = None,
    ) -> int:
        """Store several trials of one fidelity at once (``fingerprint -> (fold_metrics, score)``),
        with what each was when ``meta`` names it.

        One transaction, one multi-row insert per 500: a chunk of combinations costs one commit.
        Trials already stored are kept; returns how many rows were new.
        """
        now = dt.datetime.now(dt.UTC)
        rows = []
        for fingerprint, (fold_metrics, score) in scored.items():
            _check(fingerprint, fidelity)
            about = (meta or {}).get(fingerprint)
            rows.append(
                {
                    "fingerprint": fingerprint,
                    "fidelity": fidelity,
                    "fold_metrics": to_json("fold_metrics", list(fold_metrics)),
                    "score": _score(score),
                    "created_at": now,
                    "cohort_id": None if about is None else about.cohort_id,
                    "params": None if about is None else to_json("params", dict(about.params)),
                    "position": None if about is None else about.position,
                }
            )
        if not rows:
            return 0
        written = 0
        with self._db.transaction(write=True) as conn:
            for start in range(0, len(rows), _INSERT_CHUNK):
                written += _insert_ignoring_duplicates(conn, rows[start : start + _INSERT_CHUNK])
        return written

    def scores(self, fingerprints: Iterable[str], fidelity: str) -> dict[str, TrialScore]:
        """The stored trials of ``fingerprints`` at ``fidelity`` (absent ones are left out; one query per 500)."""
        wanted = list(dict.fromkeys(fingerprints))
        found: dict[str, TrialScore] = {}
        query = sa.select(trials.c.fingerprint, trials.c.fold_metrics, trials.c.score)
        with self._db.transaction() as conn:
            for start in range(0, len(wanted), IN_CHUNK):
                chunk = wanted[start : start + IN_CHUNK]
                rows = conn.execute(query.where(trials.c.fidelity == fidelity, trials.c.fingerprint.in_(chunk)))
                for fingerprint, fold_metrics, score in rows:
                    found[str(fingerprint)] = TrialScore(list(fold_metrics), None if score is None else float(score))
        return found

    def of_cohort(self, cohort_id: str, fidelity: str = FULL_FIDELITY) -> list[CohortTrial]:
        """Every trial recorded for ``cohort_id`` at ``fidelity``, in the order they were scored
        (runs by time, then each run's positions). Trials recorded without :class:`TrialMeta` are not here."""
        query = (
            sa.select(trials.c.fingerprint, trials.c.params, trials.c.score, trials.c.position, trials.c.created_at)
            .where(trials.c.cohort_id == cohort_id, trials.c.fidelity == fidelity)
            .order_by(trials.c.created_at, trials.c.position, trials.c.fingerprint)
        )
        with self._db.transaction() as conn:
            rows = conn.execute(query).all()
        return [
            CohortTrial(
                str(fp),
                dict(params or {}),
                None if score is None else float(score),
                None if position is None else int(position),
                created if created.tzinfo else created.replace(tzinfo=dt.UTC),
            )
            for fp, params, score, position, created in rows
        ]

    def cohort_state(self, cohort_id: str, fidelity: str = FULL_FIDELITY) -> tuple[int, str | None]:
        """How many trials :meth:`of_cohort` would read, and the latest one's time: a cheap key that
        changes when a search adds to the cohort."""
        query = sa.select(sa.func.count(), sa.func.max(trials.c.created_at)).where(
            trials.c.cohort_id == cohort_id, trials.c.fidelity == fidelity
        )
        with self._db.transaction() as conn:
            count, latest = conn.execute(query).one()
        return int(count), None if latest is None else str(latest)

    def delete(self, fingerprints: Iterable[str], fidelity: str | None = None) -> int:
        """Delete the trials of ``fingerprints`` (at every fidelity, or only ``fidelity``); return how many."""
        wanted = list(dict.fromkeys(fingerprints))
        conditions = [trials.c.fidelity == fidelity] if fidelity is not None else []
        deleted = 0
        with self._db.transaction(write=True) as conn:
            for start in range(0, len(wanted), IN_CHUNK):
                chunk = wanted[start : start + IN_CHUNK]
                deleted += int(
                    conn.execute(sa.delete(trials).where(trials.c.fingerprint.in_(chunk), *conditions)).rowcount
                )
        return deleted
