"""Reads of a model's kept out-of-sample forecasts, shared by the CLI and the API (via ``queries``).

The kept predictions themselves, their JSON form, two models' Diebold-Mariano comparison and the
equity curve; nothing heavy at import.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from walkforward.errors import DataNotFoundError

if TYPE_CHECKING:
    import pandas as pd

    from walkforward.registry import ModelStore


def kept_predictions(registry: ModelStore, model_id: str) -> pd.DataFrame:
    """A model's out-of-sample predictions as its evaluation scored them (hash-checked)."""
    frame = registry.load_predictions(model_id)
    if frame is None:
        raise no_kept_predictions(model_id)
    return frame


def no_kept_predictions(model_id: str) -> DataNotFoundError:
    """The refusal for a model registered before its out-of-sample predictions were kept."""
    return DataNotFoundError(
        f"model {model_id} was registered before out-of-sample predictions were kept: "
        "train it again (same request) to keep them"
    )


def predictions_dict(model_id: str, frame: pd.DataFrame) -> dict[str, Any]:
    """Kept predictions as JSON columns (ISO timestamps and dates), labelled out-of-sample."""
    columns = json.loads(frame.to_json(orient="columns", date_format="iso"))
    return {
        "model_id": model_id,
        "in_sample": False,
        "rows": len(frame),
        "columns": {name: [values[k] for k in sorted(values, key=int)] for name, values in columns.items()},
    }


def compare(registry: ModelStore, model_a: str, model_b: str) -> dict[str, Any]:
    """Diebold-Mariano test of two models' out-of-sample forecasts on the rows both scored.

    Losses are squared errors of the prediction (regressors) or Brier losses of P(up) (classifiers);
    a negative ``mean_difference`` means model a forecasts better. The HAC variance covers the
    overlap of ``lookforward``-bar targets (horizon = the models' lookforward).
    """
    import numpy as np

    from walkforward.errors import InvalidInputError
    from walkforward.evaluation.comparison import diebold_mariano
    from walkforward.training.run import request_of

    req_a, req_b = request_of(registry.get(model_a)), request_of(registry.get(model_b))
    if req_a.spec.is_classifier != req_b.spec.is_classifier or req_a.lookforward != req_b.lookforward:
        raise InvalidInputError(
            f"models {model_a} and {model_b} forecast different things (task or lookforward): "
            "compare models of the same target"
        )
    a, b = kept_predictions(registry, model_a), kept_predictions(registry, model_b)
    both = a.merge(b, on="ts", suffixes=("_a", "_b"))
    if both.empty or not np.allclose(both["y_a"], both["y_b"], equal_nan=True):
        raise InvalidInputError(
            f"models {model_a} and {model_b} share no out-of-sample row with the same target: "
            "compare models trained on the same symbol, target and folds"
        )
    column = "probability" if req_a.spec.is_classifier else "prediction"
    loss_a = (both[f"{column}_a"] - both["y_a"]).to_numpy() ** 2
    loss_b = (both[f"{column}_b"] - both["y_a"]).to_numpy() ** 2
    test = diebold_mariano(loss_a, loss_b, horizon=req_a.lookforward)
    return {
        "model_a": model_a,
        "model_b": model_b,
        "rows": len(both),
        "loss": "brier" if req_a.spec.is_classifier else "squared error",
        "mean_loss_a": float(loss_a.mean()),
        "mean_loss_b": float(loss_b.mean()),
        "diebold_mariano": test.to_dict(),
    }


def equity(registry: ModelStore, model_id: str) -> dict[str, Any]:
    """A model's compounded daily net return against buy-and-hold, and its drawdown (out-of-sample)."""
    from walkforward.training.evaluate import equity_curves
    from walkforward.training.run import request_of

    record = registry.get(model_id)
    return {"model_id": model_id, **equity_curves(request_of(record), kept_predictions(registry, model_id))}
