"""Out-of-sample predictions kept by a fit: one row per test row of each fold, and the metrics agree."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, r2_score

from walkforward.features.store import FeatureStore
from walkforward.request import TrainRequest
from walkforward.training.data import prepare
from walkforward.training.fit import fit
from walkforward.training.oos import COLUMNS


@pytest.mark.parametrize(
    ("algorithm", "extra"),
    [
        ("elasticnet_regression", {}),
        ("lightgbm_classifier", {"hyperparameters": {"n_estimators": 20}}),
        ("xgboost_regressor", {"hyperparameters": {"n_estimators": 30}, "early_stopping_rounds": 5}),
    ],
)
def test_every_fold_test_row_has_its_prediction(planted_store: FeatureStore, algorithm: str, extra: dict) -> None:
    req = TrainRequest(
        symbol="AAPL,QQQ", algorithm=algorithm, timeframe="5m", target_transform="log_return", explain=False, **extra
    )
    data = prepare(req, store=planted_store)
    trained = fit(req, data)
    pred = trained.predictions
    assert pred is not None and tuple(pred.columns) == COLUMNS
    expected = np.concatenate([f.test_index for f in data.plan.folds])
    assert len(pred) == expected.size
    frame = data.dataset.frame
    assert np.array_equal(pred["ts"].to_numpy(), frame["ts"].to_numpy()[expected])
    assert np.array_equal(pred["y"].to_numpy(), np.asarray(data.y, dtype=float)[expected])
    assert np.array_equal(pred["price"].to_numpy(), frame["close"].to_numpy(dtype=float)[expected])
    for m in trained.metrics["folds"]:  # the stored predictions are the ones the fold was scored on
        part = pred[pred["fold"] == m["fold"]]
        assert part["ts"].is_monotonic_increasing
        if req.spec.is_classifier:
            assert part["probability"].between(0, 1).all()
            assert np.array_equal(part["prediction"], (part["probability"] >= 0.5).astype(float))
            assert m["accuracy"] == pytest.approx(accuracy_score(part["y"], part["prediction"]))
        else:
            assert part["probability"].isna().all()
            assert m["r2"] == pytest.approx(r2_score(part["y"], part["prediction"]))
