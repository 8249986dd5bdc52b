"""The job store: training and search jobs as rows of the registry database.

It shares the :class:`~walkforward.registry.database.Database` of the
:class:`~walkforward.registry.ModelStore` (same SQLite file or PostgreSQL database, same migrations,
same transaction helper), so a job and the models it registers live together.
Every state change is one conditional ``UPDATE ... WHERE status IN (...)``: two servers claiming the
same queued job, or a cancel racing a finish, resolve in the database, never in memory.
"""

from __future__ import annotations

import builtins
import datetime as dt
import logging
import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from walkforward.errors import InvalidInputError, WalkforwardError
from walkforward.registry._schema import jobs
from walkforward.registry.database import Database, to_json
from walkforward.registry.errors import RegistryError

logger = logging.getLogger(__name__)

#: Lines of log kept per job (older lines are dropped); the API shows the last 50.
LOG_KEEP_LINES = 200
_LINE_CHARS = 2000


class JobStatus(StrEnum):
    """Where a job is in its life: queued -> running -> done | failed | cancelled | interrupted."""

    QUEUED = "queued"
    RUNNING = "running"
    CANCELLING = "cancelling"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


ACTIVE: tuple[str, ...] = (JobStatus.RUNNING, JobStatus.CANCELLING)
TERMINAL: tuple[str, ...] = (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.INTERRUPTED)


class JobNotFoundError(RegistryError, LookupError):
    """No job with the requested id."""


class JobStateError(WalkforwardError):
    """The job is not in a state that allows the operation (cancel a finished job, resume a running one)."""


@dataclass(frozen=True)
class JobRecord:
    """A job as stored; times are timezone-aware UTC, ``log`` holds the last lines (oldest first)."""

    id: str
    kind: str
    request: dict[str, Any]
    status: str
    progress_done: int
    progress_total: int | None
    best: float | None
    log: tuple[str, ...]
    error: str | None
    result: dict[str, Any] | None
    resumed_from: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    heartbeat_at: dt.datetime | None
    cancel_requested_at: dt.datetime | None
    worker_pid: int | None
    worker_host: str | None

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _record(row: Mapping[Any, Any]) -> JobRecord:
    created = _utc(row["created_at"])
    assert created is not None
    text = row["log"] or ""
    return JobRecord(
        id=row["id"],
        kind=row["kind"],
        request=row["request"],
        status=row["status"],
        progress_done=int(row["progress_done"]),
        progress_total=row["progress_total"],
        best=row["best"],
        log=tuple(text.split("\n")) if text else (),
        error=row["error"],
        result=row["result"],
        resumed_from=row["resumed_from"],
        created_at=created,
        started_at=_utc(row["started_at"]),
        finished_at=_utc(row["finished_at"]),
        heartbeat_at=_utc(row["heartbeat_at"]),
        cancel_requested_at=_utc(row["cancel_requested_at"]),
        worker_pid=row["worker_pid"],
        worker_host=row["worker_host"],
    )


def _append(log: str, lines: Iterable[str]) -> str:
    new = [line[:_LINE_CHARS] for text in lines for line in str(text).splitlines()]
    if not new:
        return log
    kept = (log.split("\n") if log else []) + new
    return "\n".join(kept[-LOG_KEEP_LINES:])


class JobStore:
    """Jobs in the registry database (create, claim, report, finish, cancel, list).

    Parameters
    ----------
    database
        An opened (migrated) :class:`Database`, usually the model store's ``database``.

    Examples
    --------
    >>> jobs = JobStore(ModelStore.open(url, models_dir).database)  # doctest: +SKIP
    >>> job = jobs.create("search", {"train": {...}})  # doctest: +SKIP
    >>> jobs.claim_next(host="web-1").id == job.id  # doctest: +SKIP
    True
    """

    def __init__(self, database: Database) -> None:
        self._db = database

    @property
    def database(self) -> Database:
        """The registry database the jobs live in."""
        return self._db

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._db.backend

    def ping(self) -> None:
        """Run a trivial query (raises :class:`RegistryError` when the database is unreachable)."""
        self._db.ping()

    def _update(self, job_id: str, allowed: Sequence[str] | None, **values: Any) -> bool:
        query = sa.update(jobs).where(jobs.c.id == job_id)
        if allowed is not None:
            query = query.where(jobs.c.status.in_(list(allowed)))
        with self._db.transaction(write=True) as conn:
            return conn.execute(query.values(**values)).rowcount == 1

    # ----------------------------------------------------------------------- writes

    def create(self, kind: str, request: Mapping[str, Any], *, resumed_from: str | None = None) -> JobRecord:
        """Queue a new job; ``request`` must be JSON-serialisable."""
        row = {
            "id": uuid.uuid4().hex,
            "kind": kind,
            "request": to_json("request", request),
            "status": JobStatus.QUEUED.value,
            "progress_done": 0,
            "progress_total": None,
            "best": None,
            "log": "",
            "error": None,
            "result": None,
            "resumed_from": resumed_from,
            "created_at": _now(),
        }
        with self._db.transaction(write=True) as conn:
            conn.execute(sa.insert(jobs).values(**row))
        logger.info("queued %s job %s", kind, row["id"])
        return self.get(row["id"])

    def claim_next(self, *, host: str) -> JobRecord | None:
        """Atomically take the oldest queued job (``queued`` -> ``running``); ``None`` if there is none.

        Safe with several servers on one database: the ``UPDATE ... WHERE status = 'queued'`` of only
        one of them matches a given row; the others move on to the next candidate.
        """
        with self._db.transaction() as conn:
            candidates = (
                conn.execute(
                    sa.select(jobs.c.id)
                    .where(jobs.c.status == JobStatus.QUEUED)
                    .order_by(jobs.c.created_at, jobs.c.id)
                    .limit(20)
                )
                .scalars()
                .all()
            )
        for job_id in candidates:
            now = _now()
            if self._update(
                job_id,
                (JobStatus.QUEUED,),
                status=JobStatus.RUNNING.value,
                started_at=now,
                heartbeat_at=now,
                worker_host=host[:255],
                worker_pid=None,
            ):
                logger.info("claimed job %s", job_id)
                return self.get(job_id)
        return None

    def attach_worker(self, job_id: str, pid: int) -> None:
        """Record the process running the job."""
        self._update(job_id, ACTIVE, worker_pid=int(pid), heartbeat_at=_now())

    def report(
        self,
        job_id: str,
        *,
        done: int | None = None,
        total: int | None = None,
        best: float | None = None,
        lines: Sequence[str] = (),
    ) -> str:
        """Write progress and log lines of an active job, refresh its heartbeat; return its status.

        The returned status is how a worker learns that a cancel was requested (``cancelling``).
        """
        with self._db.transaction(write=True) as conn:
            row = conn.execute(sa.select(jobs.c.status, jobs.c.log).where(jobs.c.id == job_id)).first()
            if row is None:
                raise JobNotFoundError(f"no job with id {job_id!r}")
            status, log = row
            if status not in ACTIVE:
                return str(status)
            values: dict[str, Any] = {"heartbeat_at": _now()}
            if done is not None:
                values["progress_done"] = int(done)
            if total is not None:
                values["progress_total"] = int(total)
            if best is not None:
                values["best"] = float(best) if math.isfinite(best) else None
            if lines:
                values["log"] = _append(log or "", lines)
            conn.execute(sa.update(jobs).where(jobs.c.id == job_id).values(**values))
            return str(status)

    def finish(
        self,
        job_id: str,
        status: JobStatus,
        *,
        result: Mapping[str, Any] | None = None,
        error: str | None = None,
        lines: Sequence[str] = (),
        only_from: Sequence[str] = ACTIVE,
    ) -> bool:
        """Move an active job to a final ``status``; ``False`` if it was no longer active."""
        if status not in TERMINAL:
            raise InvalidInputError(f"cannot finish a job as {status!r}: use one of {', '.join(TERMINAL)}")
        with self._db.transaction(write=True) as conn:
            row = conn.execute(sa.select(jobs.c.status, jobs.c.log).where(jobs.c.id == job_id)).first()
            if row is None:
                raise JobNotFoundError(f"no job with id {job_id!r}")
            if row[0] not in only_from:
                return False
            values: dict[str, Any] = {
                "status": status.value,
                "finished_at": _now(),
                "result": to_json("result", result) if result is not None else None,
                "error": error,
                "log": _append(row[1] or "", lines),
            }
            changed = conn.execute(
                sa.update(jobs).where(jobs.c.id == job_id, jobs.c.status == row[0]).values(**values)
            ).rowcount
        if changed:
            logger.info("job %s %s", job_id, status.value)
        return bool(changed)

    def request_cancel(self, job_id: str) -> JobRecord:
        """Cancel a job: a queued one at once, a running one by asking its worker (``cancelling``).

        Raises
        ------
        JobStateError
            The job already finished.
        """
        job = self.get(job_id)
        if job.status == JobStatus.QUEUED and self.finish(
            job_id,
            JobStatus.CANCELLED,
            lines=["cancelled before it started"],
            only_from=(JobStatus.QUEUED,),
        ):
            return self.get(job_id)
        if self._update(job_id, (JobStatus.RUNNING,), status=JobStatus.CANCELLING.value, cancel_requested_at=_now()):
            return self.get(job_id)
        job = self.get(job_id)
        if job.status == JobStatus.CANCELLING:
            return job
        raise JobStateError(f"job {job_id} is already {job.status}: only queued or running jobs can be cancelled")

    # ----------------------------------------------------------------------- reads

    def get(self, job_id: str) -> JobRecord:
        """The job with ``job_id``, or :class:`JobNotFoundError`."""
        with self._db.transaction() as conn:
            row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).mappings().first()
        if row is None:
            raise JobNotFoundError(f"no job with id {job_id!r}: GET /jobs lists the jobs")
        return _record(row)

    def list(
        self, *, status: str | None = None, limit: int = 50, offset: int = 0
    ) -> tuple[builtins.list[JobRecord], int]:
        """One page of jobs, newest first, and how many match in total."""
        if limit < 1 or offset < 0:
            raise InvalidInputError(f"invalid page limit={limit} offset={offset}: use limit >= 1, offset >= 0")
        conditions = [jobs.c.status == status] if status is not None else []
        query = (
            sa.select(jobs).where(*conditions).order_by(jobs.c.created_at.desc(), jobs.c.id).limit(limit).offset(offset)
        )
        with self._db.transaction() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(jobs).where(*conditions)).scalar_one()
            rows = conn.execute(query).mappings().all()
        return [_record(r) for r in rows], int(total)

    def active(self) -> builtins.list[JobRecord]:
        """Jobs marked running or cancelling (by any server)."""
        with self._db.transaction() as conn:
            rows = conn.execute(sa.select(jobs).where(jobs.c.status.in_(list(ACTIVE)))).mappings().all()
        return [_record(r) for r in rows]
