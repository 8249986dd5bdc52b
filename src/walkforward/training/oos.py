"""Out-of-sample predictions: one row per test row of each fold, as a model's evaluation saw them.

Kept beside a model's artifact (Parquet) so that trading evaluation, model comparisons and the
selection statistics of a cohort are computed from the predictions themselves, not re-derived.
``price`` is the target column at the row's own bar (the reference price a forecast is made at);
with a price-level target (no transform) a position is the sign of ``prediction - price``.
``realised`` is the realised target in return units (the raw target of classifiers too, whose ``y``
is the 0/1 label), ``bar_return`` the one-bar return into the row (computed on the whole series, so
a fold's first row has one) and ``session`` the row's trading day on its exchange's calendar.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from collections.abc import Sequence

    from walkforward.data.loader import Dataset
    from walkforward.domain import Fold
    from walkforward.training.data import PreparedData

#: columns of a predictions frame, in order (``probability`` is P(up) for classifiers, NaN otherwise)
COLUMNS = ("fold", "ts", "y", "prediction", "probability", "price", "realised", "bar_return", "session")


def fold_frame(
    data: PreparedData, fold: Fold, prediction: np.ndarray, probability: np.ndarray | None = None
) -> pd.DataFrame:
    """One fold's test rows with their realised target, prediction (label for classifiers) and price."""
    return rows_frame(data.dataset, data.y, fold.test_index, fold.number, prediction, probability)


def rows_frame(
    ds: Dataset,
    labels: np.ndarray,
    rows: np.ndarray,
    fold: int,
    prediction: np.ndarray,
    probability: np.ndarray | None = None,
) -> pd.DataFrame:
    """The frame of ``rows`` of ``ds`` scored as fold ``fold`` (``labels``: the fitted ``y``, 0/1 for classifiers).

    The lock-box evaluation builds its rows with this too, so they are judged exactly as the folds'.
    """
    from walkforward.evaluation.pnl import bar_returns
    from walkforward.evaluation.positions import forecast_edge

    price = ds.frame[ds.request.target_col].to_numpy(dtype=float)
    target = ds.y.to_numpy(dtype=float)[rows]
    return pd.DataFrame(
        {
            "fold": np.full(rows.size, fold, dtype=np.int32),
            "ts": ds.frame["ts"].to_numpy()[rows],
            "y": np.asarray(labels, dtype=float)[rows],
            "prediction": np.asarray(prediction, dtype=float),
            "probability": np.full(rows.size, np.nan) if probability is None else np.asarray(probability, dtype=float),
            "price": price[rows],
            "realised": forecast_edge(target, price[rows], ds.request.target_transform),
            "bar_return": bar_returns(price)[rows],
            "session": ds.local_ts.dt.date.to_numpy()[rows],
        },
        columns=list(COLUMNS),
    )


def combine(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The folds' frames as one, in fold then time order (an empty frame with the columns if none)."""
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in COLUMNS})
    return pd.concat(frames, ignore_index=True).sort_values(["fold", "ts"], kind="stable", ignore_index=True)


def predictions_frame(
    data: PreparedData, per_fold: Sequence[np.ndarray], *, classifier: bool, folds: Sequence[Fold] | None = None
) -> pd.DataFrame:
    """The frame of ``folds`` (default: the plan's) from their raw predictions (P(up) for classifiers)."""
    frames = []
    for fold, values in zip(data.plan.folds if folds is None else folds, per_fold, strict=True):
        if classifier:
            frames.append(fold_frame(data, fold, (values >= 0.5).astype(np.int64), values))
        else:
            frames.append(fold_frame(data, fold, values))
    return combine(frames)
