"""Nested walk-forward combination of out-of-sample predictions (pure computation, no I/O).

For fold k, which members enter the ensemble (the top K by their score on folds before k), their
weights (inverse mean squared error on folds before k) or the stacking meta-model (fitted on the
members' predictions of folds before k) are chosen from rows of folds before k only: the choice for
fold k never reads a prediction or a target of fold k or later. The first fold has no earlier fold:
it is either combined with equal weights over every candidate (``first_fold="equal"``) or left out
(``"skip"``), and its :class:`FoldChoice` says which.

The last ``purge`` rows of every fold (``purge`` = the target's lookforward in bars) are never used
to choose: their targets are prices after their fold's last test bar, which may be the next fold's
test bars when test blocks touch (the splitter purges member training rows the same way).

Examples
--------
>>> result = nested(P, y, folds, method="inverse_variance", top=3, classifier=False)  # doctest: +SKIP
>>> result.choices[1].members, result.choices[1].weights  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

METHODS: tuple[str, ...] = ("average", "inverse_variance", "stacking")
FIRST_FOLD: tuple[str, ...] = ("equal", "skip")


@dataclass(frozen=True)
class FoldChoice:
    """What combines the members' forecasts of one fold, and from which rows it was chosen.

    ``members`` are column indices into the prediction matrix, best first; ``weights`` sum to one
    (``None`` when a meta-model combines them); ``meta`` is the fitted stacking model;
    ``trained_on`` the folds whose rows chose them (empty for the first fold); ``basis`` says how.
    """

    fold: int | None  # None: the final choice, made on every fold (for data after the last one)
    members: tuple[int, ...]
    weights: tuple[float, ...] | None
    meta: Any
    trained_on: tuple[int, ...]
    basis: str
    skipped: bool = False

    def combine(self, predictions: np.ndarray, *, classifier: bool) -> np.ndarray:
        """The ensemble's forecast (P(up) for classifiers) from the members' columns of ``predictions``."""
        cols = np.asarray(predictions, dtype=float)[:, list(self.members)]
        if self.meta is not None:
            out = self.meta.predict_proba(cols)[:, 1] if classifier else self.meta.predict(cols)
            return np.asarray(out, dtype=float)
        assert self.weights is not None
        return cols @ np.asarray(self.weights, dtype=float)

    def to_dict(self, names: list[str] | None = None) -> dict[str, Any]:
        """JSON-ready: fold, basis, members (by ``names`` if given), weights or meta-model coefficients."""
        label = (lambda i: names[i]) if names is not None else (lambda i: i)
        out: dict[str, Any] = {
            "fold": self.fold,
            "basis": self.basis,
            "skipped": self.skipped,
            "trained_on_folds": list(self.trained_on),
            "members": [label(i) for i in self.members],
            "weights": None if self.weights is None else list(self.weights),
        }
        if self.meta is not None:
            out["meta_model"] = {
                "estimator": type(self.meta).__name__,
                "coef": np.ravel(self.meta.coef_).tolist(),
                "intercept": float(np.ravel(self.meta.intercept_)[0]),
            }
        return out


@dataclass(frozen=True)
class NestedResult:
    """Each fold's choice and the ensemble's out-of-sample forecast (NaN on the rows of a skipped fold)."""

    choices: list[FoldChoice]
    forecast: np.ndarray

    @property
    def kept(self) -> np.ndarray:
        """Rows of the folds that were not skipped."""
        return np.isfinite(self.forecast)


def fold_score(y: np.ndarray, p: np.ndarray, *, classifier: bool) -> float:
    """A member's score on one fold, as its cv score counts it: R2, or accuracy of P(up) >= 0.5."""
    from sklearn.metrics import accuracy_score, r2_score

    if classifier:
        return float(accuracy_score(y.astype(np.int64), (p >= 0.5).astype(np.int64)))
    # As walkforward.evaluation.metrics.regression_metrics: a constant target scores 0, not NaN.
    return float(r2_score(y, p)) if np.ptp(y) > 0 else 0.0


def rank(P: np.ndarray, y: np.ndarray, folds: np.ndarray, earlier: list[int], *, classifier: bool) -> list[int]:
    """Member columns best first by their mean score over the ``earlier`` folds (ties: column order)."""
    scores = np.zeros(P.shape[1])
    for j in range(P.shape[1]):
        per = [fold_score(y[folds == f], P[folds == f, j], classifier=classifier) for f in earlier]
        scores[j] = np.mean(per)
    scores = np.where(np.isfinite(scores), scores, -np.inf)
    return [int(j) for j in np.argsort(-scores, kind="stable")]


def choose(
    P: np.ndarray,
    y: np.ndarray,
    folds: np.ndarray,
    *,
    fold: int | None,
    method: str,
    top: int,
    classifier: bool,
    purge: int = 0,
) -> FoldChoice:
    """Members and weights (or meta-model) for ``fold`` from the rows of earlier folds only.

    ``fold=None`` chooses from every row (the final model, which forecasts data after every fold).
    """
    order = sorted({int(f) for f in np.unique(folds)})
    earlier = order if fold is None else [f for f in order if f < fold]
    if not earlier:
        raise ValueError(f"fold {fold} has no earlier fold to choose members from")
    rows = np.isin(folds, earlier) & ~tails(folds, purge)
    if not rows.any():
        raise ValueError(f"no row before fold {fold} is left after purging the last {purge} row(s) of each fold")
    Pe, ye, fe = P[rows], y[rows], folds[rows]
    scored = [f for f in earlier if (fe == f).any()]
    members = tuple(rank(Pe, ye, fe, scored, classifier=classifier)[:top])
    span = f"fold {earlier[0]}" if len(earlier) == 1 else f"folds {earlier[0]}-{earlier[-1]}"
    cols = Pe[:, list(members)]
    if method == "average":
        weights = np.full(len(members), 1.0 / len(members))
        basis = f"top {top} on {span}, equal weights"
        return FoldChoice(fold, members, tuple(weights.tolist()), None, tuple(earlier), basis)
    if method == "inverse_variance":
        mse = np.mean((cols - ye[:, None]) ** 2, axis=0)
        inv = 1.0 / np.maximum(mse, np.finfo(float).tiny)
        weights = inv / inv.sum()
        basis = f"top {top} on {span}, weights 1/MSE of their errors on {span}"
        return FoldChoice(fold, members, tuple(weights.tolist()), None, tuple(earlier), basis)
    meta = _meta_model(cols, ye, classifier=classifier)
    if meta is None:  # a single class before this fold: nothing to fit a classifier on
        weights = np.full(len(members), 1.0 / len(members))
        basis = f"top {top} on {span}, equal weights: one class only on {span}, no meta-model fitted"
        return FoldChoice(fold, members, tuple(weights.tolist()), None, tuple(earlier), basis)
    basis = f"top {top} on {span}, {type(meta).__name__} fitted on their predictions of {span}"
    return FoldChoice(fold, members, None, meta, tuple(earlier), basis)


def tails(folds: np.ndarray, purge: int) -> np.ndarray:
    """Rows among the last ``purge`` of their fold (rows in fold then time order)."""
    out = np.zeros(len(folds), dtype=bool)
    if purge <= 0:
        return out
    for f in np.unique(folds):
        at = np.flatnonzero(folds == f)
        out[at[-purge:]] = True
    return out


def _meta_model(X: np.ndarray, y: np.ndarray, *, classifier: bool) -> Any:
    """Non-negative least squares (regressors) or a logistic regression on P(up) (classifiers)."""
    from sklearn.linear_model import LinearRegression, LogisticRegression

    if classifier:
        if np.unique(y).size < 2:
            return None
        return LogisticRegression().fit(X, y.astype(np.int64))
    return LinearRegression(positive=True).fit(X, y)


def nested(
    P: np.ndarray,
    y: np.ndarray,
    folds: np.ndarray,
    *,
    method: str,
    top: int,
    classifier: bool,
    first_fold: str = "equal",
    purge: int = 0,
) -> NestedResult:
    """Combine member forecasts fold by fold, each fold's combination chosen on earlier folds only.

    ``P`` holds one column per candidate (predictions, or P(up) for classifiers), ``y`` the targets
    (0/1 labels for classifiers) and ``folds`` each row's fold number, rows in fold then time order.
    """
    P = np.asarray(P, dtype=float)
    y = np.asarray(y, dtype=float)
    folds = np.asarray(folds)
    if first_fold not in FIRST_FOLD:
        raise ValueError(f"unknown first_fold {first_fold!r}: use one of {', '.join(FIRST_FOLD)}")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: use one of {', '.join(METHODS)}")
    if not 1 <= top <= P.shape[1]:
        raise ValueError(f"top={top} is outside 1..{P.shape[1]} (the number of candidates)")
    order = sorted({int(f) for f in np.unique(folds)})
    forecast = np.full(len(y), np.nan)
    choices = []
    for k in order:
        at = folds == k
        if k == order[0]:
            everyone = tuple(range(P.shape[1]))
            if first_fold == "skip":
                choices.append(FoldChoice(k, (), None, None, (), "skipped: no earlier fold", skipped=True))
                continue
            weights = tuple(np.full(P.shape[1], 1.0 / P.shape[1]).tolist())
            basis = f"equal weights over all {P.shape[1]} candidates: no earlier fold"
            choice = FoldChoice(k, everyone, weights, None, (), basis)
        else:
            choice = choose(P, y, folds, fold=k, method=method, top=top, classifier=classifier, purge=purge)
        choices.append(choice)
        forecast[at] = choice.combine(P[at], classifier=classifier)
    return NestedResult(choices, forecast)
