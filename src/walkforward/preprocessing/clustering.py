"""Keep one representative per correlation cluster, as a selector refitted on each fold's training rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.feature_selection import SelectorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from walkforward.evaluation.clusters import abs_correlation, cluster_features, representative


class ClusterSelector(SelectorMixin, BaseEstimator):
    """Cluster the features on ``1 - |rho|`` over the rows ``fit`` sees; keep one feature per cluster.

    The kept feature is the member with the highest mean |rho| to its cluster (ties: the first in
    column order), so the choice is deterministic. As a step of the model pipeline it sees only a
    fold's training rows: clusters and representatives are learned there and nowhere else.

    Attributes
    ----------
    clusters_ : list of member-name lists, in column order.
    representatives_ : the kept feature of each cluster.
    support_ : boolean mask of kept input columns.
    """

    def __init__(self, threshold: float = 0.3) -> None:
        self.threshold = threshold

    def fit(self, X: object, y: object = None) -> ClusterSelector:  # noqa: N803 - scikit-learn's name
        if not 0.0 < float(self.threshold) < 1.0:
            raise ValueError(f"cluster_threshold must be in (0, 1), got {self.threshold}")
        arr = validate_data(self, X, dtype=np.float64, ensure_all_finite=True)
        names = [str(c) for c in getattr(self, "feature_names_in_", [f"x{i}" for i in range(arr.shape[1])])]
        frame = pd.DataFrame(arr, columns=names)
        self.clusters_ = cluster_features(frame, float(self.threshold))
        corr = abs_correlation(frame)
        self.representatives_ = [representative(corr, members) for members in self.clusters_]
        keep = set(self.representatives_)
        self.support_ = np.array([n in keep for n in names], dtype=bool)
        self.n_rows_ = int(arr.shape[0])
        return self

    def _get_support_mask(self) -> np.ndarray:
        check_is_fitted(self, "support_")
        return self.support_

    def report(self) -> dict[str, object]:
        """The fitted clusters, JSON-ready: threshold, rows seen, and each cluster's members and kept one."""
        check_is_fitted(self, "support_")
        return {
            "threshold": float(self.threshold),
            "rows": self.n_rows_,
            "clusters": [
                {"members": list(m), "kept": r} for m, r in zip(self.clusters_, self.representatives_, strict=True)
            ],
        }
