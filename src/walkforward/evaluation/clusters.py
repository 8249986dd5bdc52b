"""Correlation clusters of features and their clustered permutation importance (clustered MDA).

López de Prado (*Machine Learning for Asset Managers*, ch. 6): single-feature permutation importance
under-rates features that have substitutes (permuting ``x`` changes little while ``x + noise`` is
still there). Grouping features by correlation and permuting a whole group at once removes that
substitution effect.

Clustering: agglomerative (scipy ``linkage``, average linkage) on the distance ``1 - |rho|`` between
Pearson correlations, cut with ``fcluster(criterion="distance")`` at a threshold. ``1 - |rho|``
rather than ``sqrt(0.5 (1 - rho))`` because a feature and its negation are substitutes to a model
(the redundancy we cluster for), and a fixed threshold rather than ONC's silhouette-chosen k because
it is deterministic (ONC restarts k-means at random), has one interpretable parameter (average
``|rho| >= 1 - threshold`` inside a cluster) and costs one linkage on ~100 features.

Everything here is pure: frames and fitted predictors in, plain numbers out. Callers pass training
rows to :func:`cluster_features` (nothing here knows which rows those are).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

#: the linkage method: average linkage keeps a cluster's mean |rho| above 1 - threshold
LINKAGE = "average"
#: the importance clustering's cut when the request sets none (members' mean |rho| >= 0.5)
DEFAULT_THRESHOLD = 0.5
#: fewer paired non-missing rows than this and a correlation counts as 0 (unknown: not clustered)
MIN_PERIODS = 20


def abs_correlation(X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
    """|Pearson rho| between columns, pairwise over non-missing rows; undefined (constant, too few rows) -> 0."""
    corr = X.astype(float).corr(min_periods=MIN_PERIODS).abs()
    values = np.nan_to_num(corr.to_numpy(), nan=0.0)
    np.fill_diagonal(values, 1.0)
    return pd.DataFrame(values, index=corr.index, columns=corr.columns)


def cluster_features(X: pd.DataFrame, threshold: float) -> list[list[str]]:  # noqa: N803
    """Features of ``X`` (training rows) grouped by correlation; clusters and members in column order.

    Examples
    --------
    >>> rng = np.random.default_rng(0); x = rng.normal(size=200)
    >>> cluster_features(pd.DataFrame({"a": x, "b": x + 1e-3 * rng.normal(size=200),
    ...                                "c": rng.normal(size=200)}), 0.3)
    [['a', 'b'], ['c']]
    """
    if not 0.0 < float(threshold) <= 1.0:
        raise ValueError(f"cluster threshold must be in (0, 1], got {threshold}")
    columns = [str(c) for c in X.columns]
    if len(columns) == 0:
        return []
    if len(columns) == 1:
        return [columns]
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    dist = 1.0 - abs_correlation(X).to_numpy()
    dist = np.clip((dist + dist.T) / 2.0, 0.0, 1.0)  # exact symmetry and a zero diagonal for squareform
    np.fill_diagonal(dist, 0.0)
    labels = fcluster(linkage(squareform(dist, checks=False), method=LINKAGE), t=float(threshold), criterion="distance")
    groups: dict[int, list[str]] = {}
    for name, label in zip(columns, labels, strict=True):
        groups.setdefault(int(label), []).append(name)
    return list(groups.values())  # dicts keep insertion order: clusters ordered by their first column


def representative(corr: pd.DataFrame, members: Sequence[str]) -> str:
    """The member with the highest mean |rho| to the other members (ties: the first in column order)."""
    if len(members) <= 2:
        return str(members[0])
    sub = corr.loc[list(members), list(members)].to_numpy()
    mean = (sub.sum(axis=1) - 1.0) / (len(members) - 1)
    return str(members[int(np.argmax(mean))])


def representatives(X: pd.DataFrame, clusters: Sequence[Sequence[str]]) -> list[str]:  # noqa: N803
    """One representative per cluster (see :func:`representative`), in cluster order."""
    corr = abs_correlation(X)
    return [representative(corr, members) for members in clusters]


@dataclass(frozen=True)
class FoldCase:
    """One fold's fitted predictor and its own test rows (never rows it was fitted on).

    ``columns`` maps a feature to its columns in ``X_test`` when those are transformed rows (a
    one-hot feature has several); a feature it lacks is one the fold's model never saw (pruned), and
    permuting it changes nothing. ``None``: ``X_test`` holds the features themselves.
    """

    number: int
    score: Callable[[pd.DataFrame, np.ndarray], float]  # higher is better
    X_test: pd.DataFrame
    y_test: np.ndarray
    columns: Mapping[str, Sequence[str]] | None = None

    def columns_of(self, members: Sequence[str]) -> list[str]:
        if self.columns is None:
            missing = [m for m in members if m not in self.X_test.columns]
            if missing:
                raise ValueError(f"fold {self.number}'s test rows lack clustered feature(s) {', '.join(missing[:5])}")
            return list(members)
        return [c for m in members for c in self.columns.get(m, ())]


def _num(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def clustered_mda(
    folds: Sequence[FoldCase],
    clusters: Sequence[Sequence[str]],
    *,
    repeats: int = 3,
    random_state: int = 0,
) -> list[dict[str, Any]]:
    """Score drop when all features of a cluster are permuted together, per fold, then over folds.

    The members of a cluster are shuffled with ONE row permutation, so they keep their joint
    distribution and lose only their link with the target and the other clusters. scikit-learn's
    ``permutation_importance`` permutes one column at a time (no groups), hence this loop.

    Returns one entry per cluster, most important first: ``cluster`` (1-based, in the clusters'
    order), ``members``, ``importance`` (mean over folds of the mean drop over repeats),
    ``std`` (spread over folds, ddof=1; 0 for one fold), ``folds`` ({fold number: drop}) and
    ``seen_folds`` (folds whose model saw at least one member: 0 means pruned everywhere, drop 0).
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if not folds:
        raise ValueError("clustered MDA needs at least one fold")
    rng = np.random.default_rng(random_state)
    drops = np.zeros((len(clusters), len(folds)))
    seen = np.zeros(len(clusters), dtype=int)
    for j, fold in enumerate(folds):
        columns = [fold.columns_of(members) for members in clusters]
        seen += np.array([bool(cols) for cols in columns], dtype=int)
        X = fold.X_test.reset_index(drop=True)
        base = fold.score(X, fold.y_test)
        for i, cols in enumerate(columns):
            total = 0.0
            for _ in range(repeats if cols else 0):  # no column the model sees: the drop is exactly 0
                shuffled = X.copy()
                order = rng.permutation(len(X))
                shuffled[cols] = X[cols].to_numpy()[order]
                total += base - fold.score(shuffled, fold.y_test)
            drops[i, j] = total / repeats
    out = []
    for i, members in enumerate(clusters):
        row = drops[i]
        out.append(
            {
                "cluster": i + 1,
                "members": [str(m) for m in members],
                "importance": _num(float(row.mean())),
                "std": _num(float(row.std(ddof=1))) if len(row) > 1 else 0.0,
                "folds": {str(f.number): _num(float(v)) for f, v in zip(folds, row, strict=True)},
                "seen_folds": int(seen[i]),
            }
        )
    return sorted(out, key=lambda e: -(e["importance"] if e["importance"] is not None else -math.inf))


__all__ = [
    "DEFAULT_THRESHOLD",
    "LINKAGE",
    "FoldCase",
    "abs_correlation",
    "cluster_features",
    "clustered_mda",
    "representative",
    "representatives",
]
