"""The training and search request, declared once.

:class:`TrainRequest` and :class:`SearchRequest` are the single source of a request's fields: the
CLI builds its options from them (:mod:`walkforward.cli.options`), the HTTP API takes
:class:`SearchRequest` as its body, and a job stores ``model_dump(mode="json")`` as its payload.
Parsing checks every field on its own (pydantic) and, without touching any data, the
hyperparameters and grids against the algorithm's spec; ``check_request`` then checks what
needs the feature store or the registry (symbols, feature names, the parent model; in
:mod:`walkforward.preflight`). Every entry
point runs both before any data is read, and reports the same one-line message.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Self, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from walkforward.domain import SearchBudget, TargetTransform, Timeframe, parse_symbols, validate_options
from walkforward.errors import InvalidInputError
from walkforward.model_selection.grids import grid_size, resolve_grid
from walkforward.models.catalog import Algorithm, AlgorithmSpec, early_stopping_algorithms, get_algorithm, grid_names

if TYPE_CHECKING:
    from walkforward.data.loader import LoadRequest
    from walkforward.model_selection.splitters import Scheme

#: Longest lookforward accepted (bars); a longer one leaves no label in any realistic data set.
MAX_LOOKFORWARD = 10_000
#: Largest exhaustive grid accepted; halving and optuna sample, so they may span more.
MAX_GRID_COMBINATIONS = 100_000
MAX_SEARCH_SPACE = 1_000_000
_FEATURE_RE = r"^[A-Za-z][A-Za-z0-9_.\-]{0,127}$"
#: TrainRequest fields that say how forecasts are traded in the evaluation (fingerprinted only when changed)
TRADING_FIELDS = ("cost_bps", "slippage_bps", "execution_lag", "long_only", "dead_band", "probability_threshold")
_MODEL_ID_RE = r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$"

Scalar = int | float | str | bool | None
GridValues = Annotated[list[int | float | str | None], Field(min_length=1, max_length=1000)]


class Validation(StrEnum):
    """How folds are made: each test block with the train block before it, all earlier ones, or 80/20."""

    WALK_FORWARD = "walk_forward"
    EXPANDING = "expanding"
    HOLDOUT = "holdout"

    @property
    def scheme(self) -> Scheme:
        """The splitters' name for this validation."""
        return cast("Scheme", self.value)


class SearchStrategy(StrEnum):
    """``none`` is a single run with the given hyperparameters; ``auto`` is ``grid`` for grids up to
    ``auto_threshold`` combinations (or algorithms without boosting rounds) and ``halving`` above."""

    NONE = "none"
    AUTO = "auto"
    GRID = "grid"
    HALVING = "halving"
    OPTUNA = "optuna"


class DataRequest(BaseModel):
    """A data set and its folds: what ``walkforward dataset`` shows and every training run starts from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: str = Field(max_length=200, description="Primary symbol then context symbols, e.g. AAPL,QQQ,VIX.")
    target_col: str = Field(default="close", pattern=r"^[a-z][a-z0-9_]{0,63}$", description="Price column to predict.")
    timeframe: Timeframe = Field(default=Timeframe.M1, description="Bar size the data is resampled to.")
    target_transform: TargetTransform = Field(
        default=TargetTransform.NONE, description="Target: log_return or pct_change are stationary, prefer them."
    )
    lookforward: int = Field(default=1, ge=1, le=MAX_LOOKFORWARD, description="Predict this many bars ahead.")
    data_options: str | None = Field(default=None, max_length=64, description="Feature-set version to load.")
    start: dt.date | None = Field(default=None, description="First date (YYYY-MM-DD).")
    end: dt.date | None = Field(default=None, description="Last date (YYYY-MM-DD).")
    validation: Validation = Field(default=Validation.WALK_FORWARD, description="How folds are made.")
    embargo: int | None = Field(
        default=None,
        ge=0,
        le=1_000_000,
        description="Embargo in bars after each test block (default: none where no training row of a fold "
        "follows its test block, as in walk-forward, expanding and holdout; see strict_embargo).",
    )
    strict_embargo: bool = Field(
        default=False,
        description="Drop training rows within the longest feature lookback after every test block, even "
        "where the scheme needs no embargo (the behaviour before 2026-11-28).",
    )

    @field_validator("symbol")
    @classmethod
    def _symbols(cls, value: str) -> str:
        return ",".join(parse_symbols(value))

    @field_validator("data_options")
    @classmethod
    def _options(cls, value: str | None) -> str | None:
        return None if value is None else validate_options(value)

    @model_validator(mode="after")
    def _dates(self) -> Self:
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}: swap them")
        return self

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self.symbol.split(","))

    def load_request(self) -> LoadRequest:
        """The loader's view of this request."""
        from walkforward.data.loader import LoadRequest

        return LoadRequest.build(
            self.symbol,
            timeframe=self.timeframe,
            target_col=self.target_col,
            target_transform=self.target_transform,
            lookforward=self.lookforward,
            data_options=self.data_options,
            start=self.start,
            end=self.end,
        )


class TrainRequest(DataRequest):
    """Everything one training run needs, with the reference's parameter names and defaults."""

    algorithm: Algorithm = Field(description="One of the nine algorithms, e.g. elasticnet_regression.")
    p_value_threshold: float | None = Field(
        default=0.05, gt=0.0, le=1.0, description="Prune features with p above this (1 keeps all)."
    )
    parent_model_id: str | None = Field(default=None, description="Inherit the features of this registered model.")
    feature_whitelist: tuple[Annotated[str, Field(pattern=_FEATURE_RE)], ...] | None = Field(
        default=None, min_length=1, max_length=2000, description="Features to use (overrides the parent's)."
    )
    hyperparameters: dict[str, Scalar] = Field(
        default_factory=dict, max_length=100, description='Estimator parameters, e.g. {"alpha": 0.01}.'
    )
    explain: bool = Field(default=True, description="Compute SHAP and permutation importance.")
    cluster_threshold: float | None = Field(
        default=None,
        gt=0.0,
        lt=1.0,
        description="Keep one feature per correlation cluster (distance 1-|rho|, average linkage, cut at this "
        "distance; learned on each fold's training rows), e.g. 0.3. Off by default.",
    )
    early_stopping_rounds: int | None = Field(
        default=None,
        ge=1,
        le=10_000,
        description="Boosters: per fold, stop when the loss on the last 10% of its training rows has not "
        "improved for this many rounds (n_estimators is then an upper bound; the final fit uses the folds' "
        "median). Off by default.",
    )

    # How out-of-sample forecasts are traded for the evaluation: the stored net figures are at these, so the
    # fingerprint and cohort id cover those changed from the defaults (training.data.trading_overrides);
    # `models show --cost-bps` re-prices a registered model's predictions without training.
    cost_bps: float = Field(
        default=1.0, ge=0.0, le=1000.0, description="Commission and fees in basis points per unit of turnover."
    )
    slippage_bps: float = Field(
        default=1.0, ge=0.0, le=1000.0, description="Slippage in basis points per unit of turnover."
    )
    execution_lag: int = Field(
        default=1, ge=0, le=1000, description="Bars between a forecast (at a bar's close) and its trade."
    )
    long_only: bool = Field(default=False, description="Trade flat instead of short on a negative forecast.")
    dead_band: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="No position while the forecast's edge is at most this (return units; probability for "
        "classifiers).",
    )
    probability_threshold: float = Field(
        default=0.5, gt=0.0, lt=1.0, description="Classifiers: the P(up) at which the position changes side."
    )

    @field_validator("parent_model_id")
    @classmethod
    def _model_id(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(_MODEL_ID_RE, value):
            raise ValueError(f"invalid parent_model_id={value!r}: use a model id (letters, digits, '_' or '-')")
        return value

    @field_validator("feature_whitelist", mode="before")
    @classmethod
    def _split_whitelist(cls, value: Any) -> Any:
        if isinstance(value, str):  # "a,b,c" from a command line
            return tuple(f.strip() for f in value.split(",") if f.strip()) or None
        return value

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.feature_whitelist is not None and len(set(self.feature_whitelist)) != len(self.feature_whitelist):
            raise ValueError("feature_whitelist lists a feature twice: list each once")
        self.spec.check(self.hyperparameters)
        self._check_early_stopping()
        return self

    def _check_early_stopping(self) -> None:
        if "early_stopping_rounds" in self.hyperparameters:
            raise ValueError(
                "early_stopping_rounds is not a hyperparameter: pass it as the early_stopping_rounds field "
                "(--early-stopping-rounds), which stops on an inner slice of each fold's training rows"
            )
        if self.early_stopping_rounds is None:
            return
        if self.spec.stopping_evaluator is None:
            raise ValueError(
                f"early_stopping_rounds is for boosters only ({', '.join(early_stopping_algorithms())}), "
                f"not {self.algorithm.value}: drop early_stopping_rounds or pick a booster"
            )
        if "eval_metric" in self.hyperparameters:
            raise ValueError(
                "eval_metric with early_stopping_rounds: early stopping watches the objective's loss "
                "(rmse or logloss); drop eval_metric"
            )

    @property
    def spec(self) -> AlgorithmSpec:
        return get_algorithm(self.algorithm)

    def inputs(self) -> dict[str, Any]:
        """What was asked for one training run, JSON-ready (the registry's ``request``).

        ``early_stopping_rounds`` and ``cluster_threshold`` are left out while off, so that the records (and
        a search's cohort id, made from them) of runs that never asked for them are the same as before.
        """
        out = self.model_dump(mode="json", include=set(TrainRequest.model_fields))
        for optional in ("early_stopping_rounds", "cluster_threshold"):
            if out.get(optional) is None:
                out.pop(optional, None)
        return out

    def training(self) -> TrainRequest:
        """This request's training part."""
        return TrainRequest.model_validate(self.model_dump(include=set(TrainRequest.model_fields)))


class SearchRequest(TrainRequest):
    """A training request with a hyperparameter search (``search="none"`` is a single run).

    Grid values are given in ``grids`` by the reference's names (``alpha_grid``, ``num_leaves_grid``
    ...), or as top-level fields of those names; they replace the algorithm's default grid values,
    and with ``use_default_grid=false`` only they are searched.
    """

    search: SearchStrategy = Field(
        default=SearchStrategy.NONE,
        description="auto, grid (exhaustive), halving (successive halving over boosting rounds) or optuna.",
    )
    grids: dict[str, GridValues] = Field(
        default_factory=dict, max_length=64, description='Grid values by name, e.g. {"alpha_grid": [0.001, 0.01]}.'
    )
    use_default_grid: bool = Field(default=True, description="Start from the reference's default grid.")
    n_trials: int = Field(default=40, ge=1, le=10_000, description="Trials for search=optuna.")
    save_all_grid_models: bool = Field(default=False, description="Register every combination, not just the best.")
    auto_threshold: int = Field(
        default=500, ge=1, le=MAX_SEARCH_SPACE, description="search=auto: halving above this many combinations."
    )
    max_configs: int = Field(
        default=729, ge=1, le=100_000, description="halving: configurations sampled from a larger grid (first rung)."
    )
    budget: str | None = Field(
        default=None,
        max_length=32,
        description="Stop the search after a wall time (90s, 10m, 2h) or fits (500fits); the best found is saved.",
    )

    @field_validator("budget")
    @classmethod
    def _budget(cls, value: str | None) -> str | None:
        return None if value is None else SearchBudget.parse(value).text

    @model_validator(mode="before")
    @classmethod
    def _top_level_grids(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        names = grid_names()
        loose = {k: v for k, v in data.items() if k in names}
        if not loose:
            return data
        grids = dict(data.get("grids") or {})
        for name, values in loose.items():
            if values is None:
                continue
            if name in grids:
                raise ValueError(f"{name} is given both in grids and as a field: give it once")
            grids[name] = values
        return {**{k: v for k, v in data.items() if k not in names}, "grids": grids}

    @model_validator(mode="after")
    def _check_search(self) -> Self:
        if self.search == SearchStrategy.NONE:
            if self.budget is not None:
                raise ValueError(f"budget={self.budget} needs a search: set search to auto, grid, halving or optuna")
            if self.grids:
                raise ValueError(
                    f"grid parameters ({', '.join(sorted(self.grids))}) need a search: set search to grid, "
                    "halving or optuna, or pass hyperparameters for one run"
                )
            return self
        grid = self.grid()
        size = grid_size(grid)
        limit = MAX_GRID_COMBINATIONS if self.search == SearchStrategy.GRID else MAX_SEARCH_SPACE
        if size > limit:
            raise ValueError(
                f"the grid has {size:,} combinations, more than {limit:,} for search={self.search}: "
                "pass fewer values, use_default_grid=false, or search=halving / optuna"
            )
        return self

    @property
    def kind(self) -> str:
        return "train" if self.search == SearchStrategy.NONE else "search"

    def strategy(self) -> SearchStrategy:
        """The strategy that runs: ``auto`` resolved by the grid's size and the algorithm."""
        if self.search != SearchStrategy.AUTO:
            return self.search
        rounds = self.spec.rounds_param is not None
        big = grid_size(self.grid()) > self.auto_threshold
        return SearchStrategy.HALVING if big and rounds else SearchStrategy.GRID

    def search_budget(self) -> SearchBudget | None:
        """The parsed ``budget`` (None: no limit)."""
        return None if self.budget is None else SearchBudget.parse(self.budget)

    def grid(self) -> dict[str, list[Any]]:
        """The grid to search (the spec's defaults overridden by ``grids``), values range-checked."""
        try:
            return resolve_grid(self.spec, self.grids, use_defaults=self.use_default_grid)
        except InvalidInputError as exc:
            raise ValueError(str(exc)) from None


# ---------------------------------------------------------------------------------------------- parsing

R = TypeVar("R", bound=DataRequest)


def describe_errors(errors: Iterable[Mapping[str, Any]]) -> str:
    """One line for pydantic errors: ``invalid lookforward=99999: Input should be ... <= 10000``."""
    parts = []
    for e in errors:
        loc = [str(p) for p in e.get("loc", ()) if p not in ("body",)]
        msg = str(e.get("msg", "")).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if not loc or msg.startswith(("invalid ", "unknown ")) or e.get("type") == "value_error":
            parts.append(msg)
            continue
        field = ".".join(loc)
        value = e.get("input")
        shown = "" if isinstance(value, Mapping) or e.get("type") == "missing" else f"={value!r}"
        parts.append(f"invalid {field}{shown}: {msg}")
    return "; ".join(dict.fromkeys(parts))


def parse(model: type[R], data: Mapping[str, Any]) -> R:
    """Build a request from plain values, or refuse it with one line naming the field and the fix."""
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        raise InvalidInputError(describe_errors(exc.errors())) from None


__all__ = [
    "DataRequest",
    "MAX_GRID_COMBINATIONS",
    "MAX_LOOKFORWARD",
    "SearchRequest",
    "SearchStrategy",
    "TrainRequest",
    "Validation",
    "describe_errors",
    "parse",
]
