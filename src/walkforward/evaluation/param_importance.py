"""Hyperparameter importance over a cohort's trials: which parameters explain the score's variance.

The method is Optuna's fANOVA (:class:`optuna.importance.FanovaImportanceEvaluator`, fixed seed) on a
study built from the trials with :func:`optuna.trial.create_trial`. fANOVA fits a random forest of the
score on the parameters and splits the forest's variance into each parameter's main effect, which is
exactly "how much of the score's variance across siblings this parameter explains"; it is also what
optuna-dashboard shows by default, so a user sees the numbers they know. Permutation importance of a
random forest would answer a different question (how much the forest's fit degrades) and is noisier
on the few dozen trials a cohort has.

The forest has 16 trees, not Optuna's default 64: fANOVA's cost grows with trees times leaves (64
trees took ~3 s on 56 trials and ~12 s on 200 on this project's 2-core machine, 16 trees a quarter of
that) and 16 give the same ranking on planted dependences (``tests/evaluation/test_param_importance.py``).
Above :data:`MAX_TRIALS` scored trials, a seeded sample of them is used, and the result says so.

Optuna is imported inside :func:`param_importance` (the service imports this module at start-up).

Examples
--------
>>> axes = [Axis("alpha", "log", (0.001, 0.01, 0.1)), Axis("l1_ratio", "linear", (0.5, 0.9))]
>>> trials = [{"alpha": a, "l1_ratio": r} for a in (0.001, 0.01, 0.1) for r in (0.5, 0.9)]
>>> result = param_importance(axes, trials, [-a for a in (0.001, 0.001, 0.01, 0.01, 0.1, 0.1)])
>>> result.ranked[0][0]
'alpha'
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["MAX_TRIALS", "MIN_TRIALS", "Axis", "Importance", "axis_of", "label", "param_importance"]

#: Fewer scored trials than this give "not enough variation" instead of numbers.
MIN_TRIALS = 4
#: A grid whose largest positive value is at least this many times its smallest is drawn on a log axis.
LOG_SPAN = 10.0
#: Scores within this relative spread are constant (float noise, e.g. every sibling predicting the mean).
_CONSTANT = 1e-9
_SEED = 0
_TREES = 16
#: At most this many trials go into the forest (a seeded sample of larger cohorts).
MAX_TRIALS = 200
METHOD = "fANOVA (optuna.importance.FanovaImportanceEvaluator, 16 trees, seed 0): share of the score's variance"

Kind = Literal["log", "linear", "categorical"]


@dataclass(frozen=True)
class Axis:
    """A varied hyperparameter: numeric on a log or linear scale, or ordered categories (``values`` sorted)."""

    name: str
    kind: Kind
    values: tuple[Any, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "values": list(self.values)}


@dataclass(frozen=True)
class Importance:
    """Each axis's share of the score's variance, largest first; or why there are no numbers (``note``)."""

    method: str
    ranked: list[tuple[str, float]] = field(default_factory=list)
    note: str | None = None
    sampled: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "items": [{"name": n, "importance": v} for n, v in self.ranked],
            "note": self.note,
            "sampled": self.sampled,
        }


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(float(v))


def label(value: Any) -> str:
    """A category's label: JSON-like text (``None`` is ``null``), stable across value types."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def axis_of(name: str, values: Sequence[Any]) -> Axis:
    """The axis of one hyperparameter from the values its trials took.

    Numbers give a numeric axis, logarithmic when all are positive and the largest is at least
    :data:`LOG_SPAN` times the smallest (a grid spanning decades); anything else (text, booleans,
    ``None``, a mix) gives ordered categories, sorted numbers first then by label.
    """
    distinct = list({label(v) if not _is_number(v) else float(v): v for v in values}.values())
    if distinct and all(_is_number(v) for v in distinct):
        ordered = tuple(sorted(distinct, key=float))
        lo, hi = float(ordered[0]), float(ordered[-1])
        kind: Kind = "log" if lo > 0 and hi / lo >= LOG_SPAN else "linear"
        return Axis(name, kind, ordered)
    ordered = tuple(sorted(distinct, key=lambda v: (not _is_number(v), float(v) if _is_number(v) else 0.0, label(v))))
    return Axis(name, "categorical", ordered)


def _not_enough(why: str) -> Importance:
    return Importance(METHOD, note=f"not enough variation: {why}")


def param_importance(
    axes: Sequence[Axis], trials: Sequence[Mapping[str, Any]], scores: Sequence[float | None]
) -> Importance:
    """fANOVA importance of ``axes`` over ``trials`` (parameter dicts) and their ``scores``.

    Trials whose score is not finite are left out. With fewer than :data:`MIN_TRIALS` scored trials,
    no varied axis, or a constant score, the result has no numbers and a ``note`` saying why.
    """
    kept = [(t, float(s)) for t, s in zip(trials, scores, strict=True) if s is not None and math.isfinite(float(s))]
    if len(kept) < MIN_TRIALS:
        return _not_enough(f"{len(kept)} scored sibling(s); importance needs at least {MIN_TRIALS}")
    if not axes:
        return _not_enough("no hyperparameter differs between the siblings")
    values = [s for _, s in kept]
    spread = max(values) - min(values)
    if spread <= _CONSTANT * max(1.0, max(abs(v) for v in values)):
        return _not_enough(f"every sibling scores {values[0]:.6g}")

    sampled = None
    if len(kept) > MAX_TRIALS:
        import random

        sampled = f"over a random {MAX_TRIALS} of the {len(kept)} scored siblings (seed {_SEED})"
        kept = random.Random(_SEED).sample(kept, MAX_TRIALS)

    import optuna
    from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions: dict[str, BaseDistribution] = {}
    for axis in axes:
        if axis.kind == "categorical":
            distributions[axis.name] = CategoricalDistribution([label(v) for v in axis.values])
        else:
            distributions[axis.name] = FloatDistribution(
                float(axis.values[0]), float(axis.values[-1]), log=axis.kind == "log"
            )
    study = optuna.create_study(direction="maximize")
    for params, score in kept:
        converted = {
            a.name: label(params.get(a.name)) if a.kind == "categorical" else float(params[a.name]) for a in axes
        }
        study.add_trial(optuna.trial.create_trial(params=converted, distributions=distributions, value=score))
    evaluator = optuna.importance.FanovaImportanceEvaluator(n_trees=_TREES, seed=_SEED)
    found = optuna.importance.get_param_importances(study, evaluator=evaluator, normalize=True)
    ranked = sorted(((name, float(found.get(name, 0.0))) for name in distributions), key=lambda kv: -kv[1])
    return Importance(METHOD, ranked, sampled=sampled)
