"""What an algorithm is: its spec (factory, defaults, ranges, grid, evaluator, fallback), and the rules on it.

The specs themselves are in :mod:`walkforward.models.catalog`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from walkforward.errors import InvalidInputError
from walkforward.models.params import Range, check_value

if TYPE_CHECKING:
    import numpy as np
    from sklearn.base import BaseEstimator

    from walkforward.model_selection.evaluators import PreparedFold


Task = Literal["regression", "classification"]
Family = Literal["linear", "tree"]
GridEvaluator = Callable[["AlgorithmSpec", Sequence[Mapping[str, Any]], "PreparedFold"], list["np.ndarray"]]
#: a grid evaluator with early stopping on the fold's inner slice: (predictions, rounds scored at) per combination
StoppingEvaluator = Callable[
    ["AlgorithmSpec", Sequence[Mapping[str, Any]], "PreparedFold"], list[tuple["np.ndarray", int]]
]


@dataclass(frozen=True)
class Fallback:
    """Replace a fitted estimator by ``replacement`` when ``reason(fitted)`` says why (else ``None``).

    The rule is applied to the final fit, in a single run and in a search alike, and the record
    keeps the estimator actually fitted with the reason.
    """

    replacement: str
    reason: Callable[[Any], str | None]


@dataclass(frozen=True)
class AdaptiveGrid:
    """The reference's adaptive grid: ``values`` for ``param`` when the strongest |corr| < ``below``."""

    param: str
    values: Sequence[Any]
    below: float


@dataclass(frozen=True)
class AlgorithmSpec:
    """One algorithm: how to build it, what it is, how to search it."""

    name: str
    task: Task
    family: Family
    factory: Callable[..., BaseEstimator]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    ranges: Mapping[str, Range] = field(default_factory=dict)
    grid: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    #: request grid name (the reference's, e.g. ``alpha_grid``) -> estimator parameter
    grid_names: Mapping[str, str] = field(default_factory=dict)
    evaluator: GridEvaluator | None = None
    #: a parameter the fast evaluator sweeps in one pass (a regularisation path): combinations that
    #: differ only in it go to the same search task
    path_param: str | None = None
    #: the parameter counting boosting rounds (trees of a forest): the model fitted with the largest
    #: count also scores every smaller one (its first rounds), so combinations that differ only in it
    #: share one fit, and a multi-fidelity search can use it as the budget
    #: (:func:`~walkforward.model_selection.evaluators.predict_rounds`); None: no such parameter
    rounds_param: str | None = None
    fallback: Fallback | None = None
    adaptive_grid: AdaptiveGrid | None = None
    #: early stopping on a fold's inner slice (boosters; :mod:`walkforward.model_selection.stopped`);
    #: None: the algorithm refuses ``early_stopping_rounds``
    stopping_evaluator: StoppingEvaluator | None = None

    @property
    def is_classifier(self) -> bool:
        return self.task == "classification"

    @property
    def score_key(self) -> str:
        """The metric a cross-validated score is in (higher is better)."""
        return "accuracy" if self.is_classifier else "r2"

    def params(self, hyperparameters: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The defaults overridden by ``hyperparameters``."""
        return {**self.defaults, **(hyperparameters or {})}

    def check(self, hyperparameters: Mapping[str, Any], *, where: str = "hyperparameters") -> None:
        """Refuse unknown names and out-of-range values (``ValueError`` with the fix); no data needed."""
        valid = set(self.factory().get_params()) | set(self.defaults)  # LightGBM takes some only as kwargs
        unknown = sorted(set(hyperparameters) - valid)
        if unknown:
            raise ValueError(
                f"unknown hyperparameter(s) {', '.join(unknown)} for {self.name}: "
                f"valid ones include {', '.join(sorted(self.ranges) or sorted(valid)[:8])}"
            )
        for name, value in hyperparameters.items():
            if name in self.ranges:
                check_value(self.name, name, value, self.ranges[name], where if where != "hyperparameters" else "")

    def probe(self, hyperparameters: Mapping[str, Any]) -> None:
        """Fit on 40 synthetic rows so that the library judges what no range declares (a bad type, say)."""
        import numpy as np

        rng = np.random.default_rng(0)
        X = rng.normal(size=(40, 3))
        y = (X[:, 0] > 0).astype(np.int64) if self.is_classifier else X[:, 0] + rng.normal(scale=0.1, size=40)
        try:
            self.factory(**self.params(hyperparameters)).fit(X, y)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"invalid hyperparameters for {self.name}: {str(exc).splitlines()[0]}") from None

    def build(self, hyperparameters: Mapping[str, Any] | None = None) -> BaseEstimator:
        """An unfitted estimator with the defaults overridden by ``hyperparameters`` (names checked)."""
        try:
            self.check(hyperparameters or {})
        except ValueError as exc:
            raise InvalidInputError(str(exc)) from None
        return self.factory(**self.params(hyperparameters))
