"""Pure metric functions: regression (incl. price-unit RMSE and hit rate) and classification."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn import metrics as skm

from walkforward.domain import TargetTransform


def direction_labels(target: np.ndarray, ref: np.ndarray, transform: TargetTransform) -> np.ndarray:
    """1 if the price ``lookforward`` ahead is >= the current price ("up or flat"), else 0.

    The reference compares the target with the price column, which for a return target compares a
    return with a price; here the comparison is made in the target's own units.
    """
    target = np.asarray(target, dtype=float)
    if transform in (TargetTransform.LOG_RETURN, TargetTransform.PCT_CHANGE):
        up = target >= 0.0
    elif transform is TargetTransform.LOG:
        up = target >= np.log(ref)
    else:
        up = target >= ref
    return up.astype(np.int64)


def to_price(values: np.ndarray, ref: np.ndarray, transform: TargetTransform) -> np.ndarray:
    """Turn a target (or a prediction of it) back into a price, given the current price ``ref``."""
    values = np.asarray(values, dtype=float)
    if transform is TargetTransform.LOG_RETURN:
        return ref * np.exp(values)
    if transform is TargetTransform.PCT_CHANGE:
        return ref * (1.0 + values)
    if transform is TargetTransform.LOG:
        return np.exp(values)
    return values


def regression_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, ref: np.ndarray, transform: TargetTransform
) -> dict[str, float]:
    """R2, MSE, MAE, RMSE, RMSE in price units and the directional hit rate."""
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    # Plain numpy: scikit-learn's metric functions validate their inputs on every call, which cost
    # ~60x more than the arithmetic in a search scoring thousands of (combination, fold) pairs.
    resid = y_true - y_pred
    mse = float(np.mean(resid**2))
    ss_tot = float(np.sum((y_true - y_true.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / ss_tot if ss_tot > 0 else 0.0
    price_true = to_price(y_true, ref, transform)
    price_pred = to_price(y_pred, ref, transform)
    up_true = direction_labels(y_true, ref, transform)
    up_pred = direction_labels(y_pred, ref, transform)
    return {
        "r2": r2,
        "mse": mse,
        "mae": float(np.mean(np.abs(resid))),
        "rmse": math.sqrt(mse),
        "rmse_price": float(np.sqrt(np.mean((price_true - price_pred) ** 2))),
        "hit_rate": float(np.mean(up_true == up_pred)),
        "n": int(y_true.size),
    }


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray | None = None) -> dict[str, Any]:
    """Accuracy, precision, recall, F1, the confusion matrix [[TN, FP], [FN, TP]] and the base rate."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    out: dict[str, Any] = {
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "precision": float(skm.precision_score(y_true, y_pred, zero_division=0)),
        "recall": float(skm.recall_score(y_true, y_pred, zero_division=0)),
        "f1": float(skm.f1_score(y_true, y_pred, zero_division=0)),
        "confusion_matrix": skm.confusion_matrix(y_true, y_pred, labels=[0, 1]).tolist(),
        "base_rate": float(y_true.mean()),  # share of "up or flat": the accuracy of always saying up
        "n": int(y_true.size),
    }
    if proba is not None and len(np.unique(y_true)) == 2:
        out["roc_auc"] = float(skm.roc_auc_score(y_true, proba))
    return out


def aggregate(per_fold: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Mean and spread (standard deviation across folds) of every numeric metric; confusion matrices summed."""
    out: dict[str, Any] = {}
    if not per_fold:
        return out
    for key in per_fold[0]:
        values = [m[key] for m in per_fold if key in m]
        if key == "confusion_matrix":
            out[key] = np.sum(np.asarray(values), axis=0).tolist()
        elif key == "n":
            out[key] = int(sum(values))
        elif all(isinstance(v, int | float) for v in values):
            arr = np.asarray(values, dtype=float)
            out[key] = float(arr.mean())
            out[f"{key}_std"] = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    return out
