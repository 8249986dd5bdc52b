"""What a job does (:class:`JobSpec`), checked completely before it is queued (:func:`submit`, :func:`resume`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from walkforward.domain import parse_symbols
from walkforward.errors import InvalidInputError
from walkforward.features.store import FeatureStore
from walkforward.model_selection.grids import GRID_PARAMETERS, grid_size, resolve_grid
from walkforward.models.catalog import AlgorithmSpec
from walkforward.registry.jobs import JobRecord, JobStateError, JobStatus, JobStore
from walkforward.search import STRATEGIES, SearchRequest
from walkforward.training import TrainRequest

SEARCHES: tuple[str, ...] = ("none", *STRATEGIES)
#: Largest exhaustive grid accepted; halving and optuna sample, so they may span more.
MAX_GRID_COMBINATIONS = 100_000
MAX_SEARCH_SPACE = 1_000_000
RESUMABLE: tuple[str, ...] = (JobStatus.INTERRUPTED, JobStatus.FAILED, JobStatus.CANCELLED)


@dataclass(frozen=True)
class JobSpec:
    """What a job does: one training run (``search="none"``) or a hyperparameter search.

    Examples
    --------
    >>> spec = JobSpec(TrainRequest("AAPL,QQQ,VIX", "elasticnet_regression"), search="grid",
    ...                grids={"alpha_grid": [0.001, 0.01]})
    >>> spec.kind
    'search'
    """

    train: TrainRequest
    search: str = "none"
    grids: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    use_default_grid: bool = True
    n_trials: int = 40
    save_all_grid_models: bool = False
    explain: bool = True

    @property
    def kind(self) -> str:
        return "train" if self.search == "none" else "search"

    def search_request(self) -> SearchRequest:
        return SearchRequest(
            train=self.train,
            grids={k: list(v) for k, v in self.grids.items()},
            search=self.search,
            n_trials=self.n_trials,
            save_all_grid_models=self.save_all_grid_models,
            explain=self.explain,
            use_default_grid=self.use_default_grid,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "train": self.train.to_dict(),
            "search": self.search,
            "grids": {k: list(v) for k, v in self.grids.items()},
            "use_default_grid": self.use_default_grid,
            "n_trials": self.n_trials,
            "save_all_grid_models": self.save_all_grid_models,
            "explain": self.explain,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobSpec:
        raw = dict(data["train"])
        if raw.get("feature_whitelist") is not None:
            raw["feature_whitelist"] = tuple(raw["feature_whitelist"])
        fields = {k: v for k, v in data.items() if k != "train" and k in cls.__dataclass_fields__}
        return cls(train=TrainRequest(**raw), **fields)

    def validate(self, store: FeatureStore) -> None:
        """Everything that can be checked before loading data; raises :class:`InvalidInputError`."""
        if self.search not in SEARCHES:
            raise InvalidInputError(f"unknown search {self.search!r}: use one of {', '.join(SEARCHES)}")
        if self.search == "none":
            if self.grids:
                raise InvalidInputError(
                    f"grid parameters ({', '.join(sorted(self.grids))}) need a search: "
                    f"set search to one of {', '.join(STRATEGIES)}, or pass hyperparameters for one run"
                )
            spec = self.train.validate()
            _check_values(spec, dict(self.train.hyperparameters))
        else:
            spec = self.search_request().validate()
            grid = resolve_grid(self.train.algorithm, self.grids, use_defaults=self.use_default_grid)
            size = grid_size(grid)
            limit = MAX_GRID_COMBINATIONS if self.search == "grid" else MAX_SEARCH_SPACE
            if size > limit:
                raise InvalidInputError(
                    f"the grid has {size:,} combinations, more than {limit:,} for search={self.search}: "
                    "pass fewer values, use_default_grid=false, or search=halving / optuna"
                )
            fixed = dict(self.train.hyperparameters)
            _check_values(spec, fixed)
            for name in self.grids:
                param = GRID_PARAMETERS[name][1]
                for value in grid[param]:
                    _check_values(spec, {**fixed, param: value}, where=name)
        _check_symbols(self.train.symbol, store)


def _check_values(spec: AlgorithmSpec, params: Mapping[str, Any], where: str = "hyperparameters") -> None:
    """Let scikit-learn judge parameter values now (a bad ``alpha`` would otherwise fail the job later)."""
    estimator = spec.build(params)
    validate: Callable[[], None] | None = getattr(estimator, "_validate_params", None)
    if validate is None or not hasattr(estimator, "_parameter_constraints"):  # only scikit-learn's own declare them
        return
    try:
        validate()
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(f"invalid {where} for {spec.name}: {exc}") from None


def _check_symbols(symbol: str, store: FeatureStore) -> None:
    wanted = parse_symbols(symbol)
    held = store.symbols()
    missing = [s for s in wanted if s not in held]
    if missing:
        holds = ", ".join(held[:20]) if held else "nothing yet"
        raise InvalidInputError(
            f"unknown symbol(s) {', '.join(missing)}: the feature store holds {holds}; "
            "ingest the bars first (`walkforward ingest FILE`) or fix the symbol"
        )


def submit(spec: JobSpec, *, jobs: JobStore, store: FeatureStore) -> JobRecord:
    """Validate ``spec`` and queue it; the returned job is ``queued``."""
    spec.validate(store)
    return jobs.create(spec.kind, spec.to_dict())


def resume(job_id: str, *, jobs: JobStore, store: FeatureStore) -> JobRecord:
    """Queue a new job with the request of an interrupted, failed or cancelled one.

    Raises
    ------
    JobStateError
        The job is queued, running or done.
    """
    old = jobs.get(job_id)
    if old.status not in RESUMABLE:
        hint = "it is done: submit a new job to train more" if old.status == JobStatus.DONE else "wait for it to end"
        raise JobStateError(f"job {job_id} is {old.status}: only {', '.join(RESUMABLE)} jobs can be resumed ({hint})")
    spec = JobSpec.from_dict(old.request)
    spec.validate(store)
    return jobs.create(old.kind, old.request, resumed_from=old.id)


__all__ = [
    "MAX_GRID_COMBINATIONS",
    "MAX_SEARCH_SPACE",
    "RESUMABLE",
    "SEARCHES",
    "JobSpec",
    "resume",
    "submit",
]
