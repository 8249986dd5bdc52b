"""Out-of-sample predictions: one row per test row of each fold, as a model's evaluation saw them.

Kept beside a model's artifact (Parquet) so that trading evaluation, model comparisons and the
selection statistics of a cohort are computed from the predictions themselves, not re-derived.
``price`` is the target column at the row's own bar (the reference price a forecast is made at);
with a price-level target (no transform) a position is the sign of ``prediction - price``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from walkforward.domain import Fold
    from walkforward.training.data import PreparedData

#: columns of a predictions frame, in order (``probability`` is P(up) for classifiers, NaN otherwise)
COLUMNS = ("fold", "ts", "y", "prediction", "probability", "price")


def fold_frame(
    data: PreparedData, fold: Fold, prediction: np.ndarray, probability: np.ndarray | None = None
) -> pd.DataFrame:
    """One fold's test rows with their realised target, prediction (label for classifiers) and price."""
    rows = fold.test_index
    frame = data.dataset.frame
    return pd.DataFrame(
        {
            "fold": np.full(rows.size, fold.number, dtype=np.int32),
            "ts": frame["ts"].to_numpy()[rows],
            "y": np.asarray(data.y, dtype=float)[rows],
            "prediction": np.asarray(prediction, dtype=float),
            "probability": np.full(rows.size, np.nan) if probability is None else np.asarray(probability, dtype=float),
            "price": frame[data.dataset.request.target_col].to_numpy(dtype=float)[rows],
        },
        columns=list(COLUMNS),
    )


def combine(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The folds' frames as one, in fold then time order (an empty frame with the columns if none)."""
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in COLUMNS})
    return pd.concat(frames, ignore_index=True).sort_values(["fold", "ts"], kind="stable", ignore_index=True)
