"""SHAP across models: a symbol's or a cohort's stored explanations side by side, and dependence plots.

Consistency (:func:`walkforward.evaluation.shap_across.consistency`) reads only what the registry
keeps (each model's mean |SHAP| per feature and per regime level). Per-row SHAP values are not
stored, so a dependence plot (feature value vs its SHAP value) is computed on demand for at most
:data:`MAX_DEPENDENCE_MODELS` models (the best-scored ones that use the feature) on at most
:data:`DEPENDENCE_ROWS` evenly spaced rows of each model's own training rows (the rows its final
pipeline was fitted on: a dependence plot describes the fitted function, not its out-of-sample skill).
Its explainer is the one the model's explanations used (``TreeExplainer`` / ``LinearExplainer`` on
the bare estimator); a model it fails on is reported with its error, never silently replaced.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from walkforward.errors import DataNotFoundError, InvalidInputError
from walkforward.evaluation.shap_across import DEFAULT_TOP, ModelShap, consistency, sign_agreement

if TYPE_CHECKING:
    from walkforward.features.store import FeatureStore
    from walkforward.registry import ModelRecord, ModelStore

log = logging.getLogger(__name__)

MAX_MODELS = 50
MAX_DEPENDENCE_MODELS = 3
DEPENDENCE_ROWS = 200


def select_models(
    registry: ModelStore, *, symbol: str | None, cohort_id: str | None, limit: int = MAX_MODELS
) -> list[ModelRecord]:
    """A cohort's models (best first) or a symbol's latest ``limit`` models; exactly one of the two."""
    if (symbol is None) == (cohort_id is None):
        raise InvalidInputError("give exactly one of symbol or cohort (e.g. symbol=AAPL, or a search's cohort id)")
    if not 1 <= limit <= MAX_MODELS:
        raise InvalidInputError(f"limit must be between 1 and {MAX_MODELS}, got {limit}")
    if cohort_id is not None:
        rows = registry.cohort(cohort_id)[:limit]
        if not rows:
            raise DataNotFoundError(f"no cohort {cohort_id!r}: `walkforward models list` shows the models' cohorts")
        return list(rows)
    assert symbol is not None
    summaries, _ = registry.list(symbol=symbol.upper(), sort="created_at", descending=True, limit=limit)
    if not summaries:
        raise DataNotFoundError(f"no model of symbol {symbol.upper()!r}: `walkforward models list` shows the symbols")
    return [registry.get(s.id) for s in summaries]


def _model_shap(record: ModelRecord) -> ModelShap:
    details = record.feature_details or {}
    return ModelShap(
        model_id=record.id,
        importance={f: d.get("shap_mean_abs") for f, d in details.items()},
        regimes=record.regime_importance or {},
        algorithm=record.algorithm,
        cv_score=record.cv_score,
    )


def _spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    from scipy.stats import spearmanr

    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    rho = float(spearmanr(x, y).statistic)
    return rho if math.isfinite(rho) else None


def model_dependence(
    record: ModelRecord, feature: str, *, registry: ModelStore, store: FeatureStore, rows: int = DEPENDENCE_ROWS
) -> dict[str, Any]:
    """Feature value vs its SHAP value on up to ``rows`` of the model's training rows (evenly spaced)."""
    import pandas as pd

    # The explainer choice and the mapping of transformed columns back to input features are the
    # explanations' own (evaluation.importance), so the plot matches the model's stored mean |SHAP|.
    from walkforward.evaluation.importance import aggregate_columns, even_rows, source_map
    from walkforward.evaluation.importance import model_shap as shap_of
    from walkforward.models.catalog import get_algorithm
    from walkforward.preprocessing.pipeline import selected_features
    from walkforward.training.data import prepare
    from walkforward.training.run import request_of, walkforward_artifact

    artifact = walkforward_artifact(registry, record)
    pipe = artifact["pipeline"]
    used = selected_features(pipe)
    req = request_of(record).model_copy(
        update={"feature_whitelist": tuple(artifact["input_features"]), "parent_model_id": None}
    )
    data = prepare(req, store=store, registry=registry)
    train_rows = data.plan.final_train_index
    take = train_rows[even_rows(len(train_rows), rows)]
    X = data.X.iloc[take].loc[:, list(artifact["input_features"])]  # noqa: N806
    cols = [str(c) for c in pipe[:-1].get_feature_names_out()]
    Xt = pipe[:-1].transform(X)  # noqa: N806
    Xt = Xt if isinstance(Xt, pd.DataFrame) else pd.DataFrame(Xt, columns=cols)  # noqa: N806
    values, explainer, output = shap_of(pipe[-1], get_algorithm(record.algorithm).family, Xt, None)
    per_feature = aggregate_columns(values, cols, source_map(pipe, cols, used), used)[:, used.index(feature)]
    x = X[feature].to_numpy(dtype=float)
    ok = np.isfinite(x) & np.isfinite(per_feature)
    return {
        "id": record.id,
        "algorithm": record.algorithm,
        "explainer": explainer,
        "output": output,
        "rows": int(ok.sum()),
        "missing_rows": int((~ok).sum()),
        "spearman": _spearman(x[ok], per_feature[ok]),
        "points": [[float(a), float(b)] for a, b in zip(x[ok], per_feature[ok], strict=True)],
    }


def dependence(
    records: list[ModelRecord],
    feature: str,
    *,
    registry: ModelStore,
    store: FeatureStore,
    max_models: int = MAX_DEPENDENCE_MODELS,
    rows: int = DEPENDENCE_ROWS,
) -> dict[str, Any]:
    """Dependence of ``feature`` for the best-scored models that use it, and whether they agree on its sign."""
    users = [r for r in records if feature in r.features]
    if not users:
        raise InvalidInputError(f"no selected model uses feature {feature!r}: pick one from the consistency table")
    users.sort(key=lambda r: -(r.cv_score if r.cv_score is not None and math.isfinite(r.cv_score) else -math.inf))
    out = []
    for record in users[:max_models]:
        try:
            out.append(model_dependence(record, feature, registry=registry, store=store, rows=rows))
        except Exception as exc:  # one model's failure must not hide the others; it is reported as such
            log.warning("dependence of %s on %s failed: %s", record.id, feature, exc)
            out.append({"id": record.id, "algorithm": record.algorithm, "error": f"{type(exc).__name__}: {exc}"})
    slopes = {d["id"]: d.get("spearman") for d in out}
    return {
        "feature": feature,
        "sample": f"up to {rows} evenly spaced rows of each model's training rows",
        "models_using": len(users),
        "models": out,
        "sign": sign_agreement(slopes),
    }


def shap_across(
    registry: ModelStore,
    store: FeatureStore | None = None,
    *,
    symbol: str | None = None,
    cohort_id: str | None = None,
    feature: str | None = None,
    top: int = DEFAULT_TOP,
    limit: int = MAX_MODELS,
) -> dict[str, Any]:
    """Consistency of features over a symbol's or a cohort's models; with ``feature``, its dependence plots."""
    if not 1 <= top <= 100:
        raise InvalidInputError(f"top must be between 1 and 100, got {top}")
    records = select_models(registry, symbol=symbol, cohort_id=cohort_id, limit=limit)
    out = consistency([_model_shap(r) for r in records], top=top)
    if out["n_models"] == 0:
        raise DataNotFoundError(
            f"none of the {len(records)} model(s) has SHAP explanations: train with explain on, or "
            "`walkforward models explain MODEL`"
        )
    out["selection"] = {"symbol": symbol.upper() if symbol else None, "cohort_id": cohort_id, "limit": limit}
    if feature is not None:
        if store is None:
            raise InvalidInputError("a dependence plot needs the feature store")
        out["dependence"] = dependence(records, feature, registry=registry, store=store)
    return out


__all__ = ["dependence", "model_dependence", "select_models", "shap_across"]
