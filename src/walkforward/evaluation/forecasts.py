"""Forecast skill without a trading rule: information coefficients and probability calibration."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from walkforward.errors import InvalidInputError


def _pair(forecast: object, realised: object) -> tuple[np.ndarray, np.ndarray]:
    f = np.asarray(forecast, dtype=float)
    r = np.asarray(realised, dtype=float)
    if f.ndim != 1 or f.shape != r.shape:
        raise InvalidInputError(f"{f.size} forecasts for {r.size} realised values: pass one of each per row")
    keep = np.isfinite(f) & np.isfinite(r)
    return f[keep], r[keep]


def information_coefficient(forecast: object, realised: object) -> float | None:
    """Pearson correlation of forecast and realised target (rows where both are finite).

    ``None`` when it is undefined: fewer than 3 rows, or a constant forecast (a model that always
    predicts the same value has no IC, rather than an IC of 0). Compare forecasts and targets in
    return units (:func:`~walkforward.evaluation.positions.forecast_edge`): the IC of price *levels*
    measures the level, not the skill.
    """
    f, r = _pair(forecast, realised)
    if f.size < 3 or np.ptp(f) == 0 or np.ptp(r) == 0:
        return None
    return float(np.corrcoef(f, r)[0, 1])


def rank_information_coefficient(forecast: object, realised: object) -> float | None:
    """Spearman rank correlation of forecast and realised target (robust to fat tails); ``None`` if undefined."""
    from scipy import stats

    f, r = _pair(forecast, realised)
    if f.size < 3 or np.ptp(f) == 0 or np.ptp(r) == 0:
        return None
    return float(stats.spearmanr(f, r).statistic)


@dataclass(frozen=True)
class Calibration:
    """Brier score and reliability curve of a classifier's P(up or flat).

    ``prob_pred[i]`` is the mean forecast probability in bin ``i``, ``prob_true[i]`` the share of "up
    or flat" outcomes there and ``count[i]`` its rows; empty bins are left out (as
    ``sklearn.calibration.calibration_curve`` does). A calibrated model has ``prob_true ~ prob_pred``.
    ``brier_skill`` is ``1 - brier / brier of always forecasting the base rate`` (> 0: better than it).
    """

    brier: float
    brier_skill: float | None
    base_rate: float
    n: int
    prob_pred: tuple[float, ...]
    prob_true: tuple[float, ...]
    count: tuple[int, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "brier": self.brier,
            "brier_skill": self.brier_skill,
            "base_rate": self.base_rate,
            "n": self.n,
            "reliability": {
                "prob_pred": list(self.prob_pred),
                "prob_true": list(self.prob_true),
                "count": list(self.count),
            },
        }


def calibration(y_true: object, proba: object, *, n_bins: int = 10) -> Calibration:
    """Brier score and a reliability curve over ``n_bins`` equal-width probability bins.

    Examples
    --------
    >>> c = calibration([0, 1, 1, 0], [0.2, 0.8, 0.6, 0.4], n_bins=2)
    >>> round(c.brier, 3), c.prob_true, c.count
    (0.1, (0.0, 1.0), (2, 2))
    """
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import brier_score_loss

    y = np.asarray(y_true, dtype=float)
    p = np.asarray(proba, dtype=float)
    if y.ndim != 1 or y.shape != p.shape or y.size == 0:
        raise InvalidInputError(f"{p.size} probabilities for {y.size} outcomes: pass one of each per row")
    if not np.isin(y, (0.0, 1.0)).all():
        raise InvalidInputError("outcomes must be 0 or 1 (1: the price ended up or flat)")
    if not (np.isfinite(p).all() and (p >= 0).all() and (p <= 1).all()):
        raise InvalidInputError("probabilities must lie in [0, 1]: pass predict_proba(X)[:, 1]")
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise InvalidInputError(f"invalid number of bins {n_bins!r}: use a whole number >= 1")
    brier = float(brier_score_loss(y, p, pos_label=1.0))
    base = float(y.mean())
    ref = base * (1.0 - base)  # Brier score of always forecasting the base rate
    prob_true, prob_pred = calibration_curve(y, p, n_bins=n_bins, strategy="uniform")
    # the bins calibration_curve uses (equal width, right edge inclusive except the last), to count rows
    binids = np.searchsorted(np.linspace(0.0, 1.0, n_bins + 1)[1:-1], p)
    counts = np.bincount(binids, minlength=n_bins)
    return Calibration(
        brier=brier,
        brier_skill=1.0 - brier / ref if ref > 0 else None,
        base_rate=base,
        n=int(y.size),
        prob_pred=tuple(float(v) for v in prob_pred),
        prob_true=tuple(float(v) for v in prob_true),
        count=tuple(int(c) for c in counts[counts > 0]),
    )
