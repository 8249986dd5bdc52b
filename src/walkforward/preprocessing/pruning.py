"""P-value feature pruning as a scikit-learn selector, so it is refitted on each fold's training rows."""

from __future__ import annotations

import logging

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.feature_selection import SelectorMixin, f_regression
from sklearn.utils.validation import check_is_fitted, validate_data

log = logging.getLogger(__name__)


class PValuePruner(SelectorMixin, BaseEstimator):
    """Keep features whose univariate F-test p-value against ``y`` is at most ``threshold``.

    Features are standardized (on the rows ``fit`` sees) before ``f_regression``; the standardized
    univariate betas (the correlation with the standardized target) are kept in ``betas_`` as the
    reference logs them. If every feature would be pruned, the single best one (lowest p-value) is
    kept. ``threshold=None`` or ``>= 1`` keeps every feature (pruning off).

    The reference prunes on the whole data set before splitting; as a step of the model pipeline this
    sees only the training rows of each fold, so a feature that is predictive only in test blocks
    cannot be selected because of it.
    """

    def __init__(self, threshold: float | None = 0.05) -> None:
        self.threshold = threshold

    def fit(self, X: object, y: object) -> PValuePruner:  # noqa: N803 - scikit-learn's name
        X_arr, y_arr = validate_data(self, X, y, dtype=np.float64, ensure_all_finite=True, y_numeric=True)
        if self.threshold is not None and not 0.0 < float(self.threshold) <= 1.0:
            raise ValueError(f"p_value_threshold must be in (0, 1], got {self.threshold}")
        std = X_arr.std(axis=0)
        safe = np.where(std > 0, std, 1.0)
        Z = (X_arr - X_arr.mean(axis=0)) / safe
        y_std = float(np.std(y_arr)) or 1.0
        yz = (y_arr - np.mean(y_arr)) / y_std
        with np.errstate(divide="ignore", invalid="ignore"):
            f, p = f_regression(Z, yz)
        p = np.where(np.isfinite(p), p, 1.0)
        self.pvalues_ = p
        self.scores_ = np.nan_to_num(f, nan=0.0)
        self.betas_ = (Z * yz[:, None]).mean(axis=0)
        if self.threshold is None or float(self.threshold) >= 1.0:
            support = np.ones(X_arr.shape[1], dtype=bool)
        else:
            support = p <= float(self.threshold)
            if not support.any():
                support[int(np.argmin(p))] = True
                log.info("p-value pruning kept no feature; keeping the best one (p=%.3g)", float(p.min()))
        self.support_ = support
        return self

    def _get_support_mask(self) -> np.ndarray:
        check_is_fitted(self, "support_")
        return self.support_
