"""Response bodies of the HTTP API; the request body is :class:`walkforward.request.SearchRequest`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from walkforward.registry.jobs import JobRecord
from walkforward.service.jobs.retrain import KINDS, describe

#: Log lines a job's detail shows (the store keeps more).
LOG_TAIL = 50


class Submitted(BaseModel):
    job_id: str
    status: str
    resumed_from: str | None = None


class FidelityOut(BaseModel):
    label: str
    fraction: float = Field(description="Fraction of each configuration's rounds (1: full fidelity).")
    configurations: int
    fits: int = Field(description="Configurations x folds.")
    trainings: int = Field(
        description="Models trained per fold: configurations sharing one booster or path count once."
    )


class PlanOut(BaseModel):
    """``POST /train?dry_run=true``: what the search would do and an estimated time; nothing is queued."""

    algorithm: str
    search: str
    strategy: str = Field(description="The strategy that would run (search=auto resolved).")
    grid_size: int
    folds: int
    final_rows: int
    registered: int = Field(description="Combinations already registered (not trained again).")
    scored_before: int = Field(description="Combinations whose scores are in the trials table (not scored again).")
    configurations: int
    fidelities: list[FidelityOut]
    fits: int
    final_fits: int
    n_jobs: int
    budget: str | None
    notes: list[str]
    estimate: dict[str, Any] | None = Field(
        description="seconds (with a low-high range), text, and the calibration fit it comes from."
    )


class JobOut(BaseModel):
    """A job: status, progress, best score so far, the log's last lines, error and result."""

    id: str
    kind: str
    status: str
    progress_done: int
    progress_total: int | None
    best: float | None
    error: str | None
    result: dict[str, Any] | None
    resumed_from: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    heartbeat_at: dt.datetime | None
    worker_pid: int | None
    worker_host: str | None
    request: dict[str, Any] | None = None
    log: list[str] | None = None
    trains: str | None = Field(
        default=None,
        description="What the job trains, in brief (algorithm, symbols, timeframe, search; "
        "`retrain of <model short id>` for a retrain).",
    )

    @classmethod
    def of(cls, job: JobRecord, *, detail: bool = True) -> JobOut:
        return cls(
            id=job.id,
            kind=job.kind,
            status=job.status,
            progress_done=job.progress_done,
            progress_total=job.progress_total,
            best=job.best,
            error=job.error,
            result=job.result if detail else None,
            resumed_from=job.resumed_from,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            heartbeat_at=job.heartbeat_at,
            worker_pid=job.worker_pid,
            worker_host=job.worker_host,
            request=job.request if detail else None,
            log=list(job.log[-LOG_TAIL:]) if detail else None,
            trains=_trains(job.kind, job.request),
        )


def _trains(kind: str, request: Mapping[str, Any] | None) -> str | None:
    """``algorithm · symbols · timeframe · search`` of a job's request (the fields it has);
    ``retrain of 1a2b3c4d · ...`` for a retrain."""
    if not request:
        return None
    if kind in KINDS:
        return describe(kind, request)
    parts = [request.get(k) for k in ("algorithm", "symbol", "timeframe")]
    search = request.get("search")
    if search and search != "none":
        parts.append(f"{search} search")
    return " · ".join(str(p) for p in parts if p) or None


class JobPage(BaseModel):
    total: int
    items: list[JobOut]


class ModelPage(BaseModel):
    total: int
    items: list[dict[str, Any]]


class PredictBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: str | None = Field(default=None, max_length=32, description="First date, YYYY-MM-DD.")
    end: str | None = Field(default=None, max_length=32, description="Last date, YYYY-MM-DD.")
    limit: int = Field(default=100, ge=1, le=10_000, description="How many of the latest rows to return.")


class LockboxBody(BaseModel):
    """A lock-box evaluation takes no parameters: ``{}`` (the lock box is the server's setting)."""

    model_config = ConfigDict(extra="forbid")


class RetrainBody(BaseModel):
    """A retrain takes no parameters: ``{}`` (the data up to now, the server's lock box excluded)."""

    model_config = ConfigDict(extra="forbid")


class ScheduleBody(BaseModel):
    """A retraining-schedule simulation: refit every ``every`` sessions after ``initial_days`` sessions."""

    model_config = ConfigDict(extra="forbid")

    every: int = Field(default=5, ge=1, le=1000, description="Refit every this many sessions (trading days).")
    initial_days: int | None = Field(
        default=None,
        ge=1,
        le=100_000,
        description="Sessions of the initial window (default: up to the model's data end).",
    )
    warm_start: bool = Field(
        default=False, description="Boosters: each refit continues the previous refit's trees on the new rows."
    )


class Health(BaseModel):
    status: str
    database: dict[str, Any]
    store: dict[str, Any]
    executor: dict[str, Any]
    checked_at: str | None = Field(default=None, description="When the checks ran (UTC, ISO 8601).")
