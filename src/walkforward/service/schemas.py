"""Request and response bodies of the HTTP API (pydantic), with the reference's parameter names."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from walkforward.errors import InvalidInputError
from walkforward.model_selection.grids import GRID_PARAMETERS
from walkforward.registry.jobs import JobRecord
from walkforward.service.jobs import JobSpec
from walkforward.training import TrainRequest

GridValues = list[int | float | str | None]
_GRID = Field(default=None, max_length=1000, description="Grid values (see GRID_PARAMETERS).")

#: Log lines a job's detail shows (the store keeps more).
LOG_TAIL = 50


class TrainBody(BaseModel):
    """A training run (``search="none"``) or a hyperparameter search, queued as a job.

    Grid values may be given in ``grids`` or as top-level fields named like the reference's
    (``alpha_grid``, ``num_leaves_grid``, ...); a name given both ways is refused.
    """

    model_config = ConfigDict(extra="forbid")

    symbol: str = Field(max_length=200, description="Primary symbol then context symbols, e.g. AAPL,QQQ,VIX.")
    algorithm: str = Field(max_length=64, description="One of the nine algorithms, e.g. elasticnet_regression.")
    target_col: str = Field(default="close", max_length=64)
    timeframe: str = Field(default="1m", max_length=8, description="1m, 5m, 15m, 1h or 1d.")
    target_transform: str = Field(default="none", max_length=32, description="log_return, pct_change, log, none.")
    lookforward: int = Field(default=1, ge=1, le=100_000)
    data_options: str | None = Field(default=None, max_length=64)
    start: str | None = Field(default=None, max_length=32, description="First date, YYYY-MM-DD.")
    end: str | None = Field(default=None, max_length=32, description="Last date, YYYY-MM-DD.")
    p_value_threshold: float | None = Field(default=0.05, description="Prune features with p above this.")
    parent_model_id: str | None = Field(default=None, max_length=64)
    feature_whitelist: list[str] | None = Field(default=None, max_length=2000)
    hyperparameters: dict[str, Any] = Field(default_factory=dict, max_length=100)
    validation: str = Field(default="walk_forward", max_length=32, description="walk_forward, expanding, holdout.")
    embargo: int | None = Field(default=None, ge=0, le=1_000_000, description="Bars; default: longest lookback.")
    search: Literal["none", "grid", "halving", "optuna"] = "none"
    grids: dict[str, GridValues] = Field(default_factory=dict, max_length=len(GRID_PARAMETERS))
    use_default_grid: bool = True
    n_trials: int = Field(default=40, ge=1, le=10_000)
    save_all_grid_models: bool = False
    explain: bool = True
    alpha_grid: GridValues | None = _GRID
    l1_ratio_grid: GridValues | None = _GRID
    max_depth_grid: GridValues | None = _GRID
    min_child_weight_grid: GridValues | None = _GRID
    reg_alpha_grid: GridValues | None = _GRID
    reg_lambda_grid: GridValues | None = _GRID
    learning_rate_grid: GridValues | None = _GRID
    num_leaves_grid: GridValues | None = _GRID
    min_data_in_leaf_grid: GridValues | None = _GRID
    lambda_l1_grid: GridValues | None = _GRID
    lambda_l2_grid: GridValues | None = _GRID
    lgbm_learning_rate_grid: GridValues | None = _GRID
    rf_max_depth_grid: GridValues | None = _GRID
    min_samples_split_grid: GridValues | None = _GRID
    min_samples_leaf_grid: GridValues | None = _GRID
    n_estimators_grid: GridValues | None = _GRID
    max_features_grid: GridValues | None = _GRID
    c_grid: GridValues | None = _GRID

    def all_grids(self) -> dict[str, list[Any]]:
        """``grids`` merged with the top-level ``*_grid`` fields."""
        merged = {k: list(v) for k, v in self.grids.items()}
        for name in GRID_PARAMETERS:
            value = getattr(self, name)
            if value is None:
                continue
            if name in merged:
                raise InvalidInputError(f"{name} is given both in grids and as a field: give it once")
            merged[name] = list(value)
        return merged

    def to_spec(self) -> JobSpec:
        """The job this body asks for (validated later by :func:`walkforward.service.jobs.submit`)."""
        train = TrainRequest(
            symbol=self.symbol,
            algorithm=self.algorithm,
            target_col=self.target_col,
            timeframe=self.timeframe,
            target_transform=self.target_transform,
            lookforward=self.lookforward,
            data_options=self.data_options,
            start=self.start,
            end=self.end,
            p_value_threshold=self.p_value_threshold,
            parent_model_id=self.parent_model_id,
            feature_whitelist=tuple(self.feature_whitelist) if self.feature_whitelist is not None else None,
            hyperparameters=dict(self.hyperparameters),
            validation=self.validation,
            embargo=self.embargo,
        )
        return JobSpec(
            train=train,
            search=self.search,
            grids=self.all_grids(),
            use_default_grid=self.use_default_grid,
            n_trials=self.n_trials,
            save_all_grid_models=self.save_all_grid_models,
            explain=self.explain,
        )


class Submitted(BaseModel):
    job_id: str
    status: str
    resumed_from: str | None = None


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
        )


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


class Health(BaseModel):
    status: str
    database: dict[str, Any]
    store: dict[str, Any]
