"""Feature importance of a fitted model pipeline: coefficients, tree importance, permutation and SHAP.

Everything is reported per INPUT feature (the pipeline's input columns that survived pruning), so the
numbers line up with the feature names a user passed in: one-hot regime dummies of linear models are
mapped back to their source column (SHAP values summed per row, coefficients reported per level).

SHAP explains the estimator ``pipe[-1]`` on ``pipe[:-1].transform(X)`` (no SHAP explainer accepts a
whole Pipeline): ``TreeExplainer`` for the tree boosters and forests, ``LinearExplainer`` for the linear
models. If that fails, a model-agnostic ``PermutationExplainer`` on the whole pipeline is used instead,
and ``info`` says so together with the error of the first attempt.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from walkforward.preprocessing.pipeline import selected_features

log = logging.getLogger(__name__)

EXPLAINERS = ("tree", "linear", "permutation_fallback")
REGIME_PREFIXES = ("regime_vix", "regime_gmm")
MIN_REGIME_ROWS = 5
FOREST_SHAP_ROWS = 100  # TreeExplainer walks every tree of a deep forest per row: keep forests short
FALLBACK_BACKGROUND_ROWS = 50
FALLBACK_MAX_ROWS = 50  # shap calls the whole pipeline once or more per explained row (~0.1-0.2 s each)

FeatureDetails = dict[str, dict[str, Any]]
RegimeImportance = dict[str, dict[str, dict[str, float | None]]]


def _num(value: Any) -> float | None:
    """A plain, finite Python float, or None where the number is undefined (NaN / inf)."""
    v = float(value)
    return v if math.isfinite(v) else None


def _level_key(value: Any) -> str:
    """``1.0`` -> ``"1"``; a non-integral level keeps its own text."""
    v = float(value)
    return str(int(v)) if math.isfinite(v) and v.is_integer() else str(value)


def even_rows(n: int, k: int) -> np.ndarray:
    """At most ``k`` row positions spread evenly over ``n`` rows (deterministic, keeps the time order)."""
    if n <= k:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, k).round().astype(np.int64))


def _is_forest(model: Any) -> bool:
    return type(model).__name__.startswith(("RandomForest", "ExtraTrees"))


def source_map(pipe: Pipeline, transformed: Sequence[str], used: Sequence[str]) -> dict[str, tuple[str, str | None]]:
    """Transformed column -> (input feature, one-hot level or None)."""
    out: dict[str, tuple[str, str | None]] = {c: (c, None) for c in transformed if c in set(used)}
    scale = pipe.named_steps.get("scale")
    encoder = getattr(scale, "named_transformers_", {}).get("regime") if scale is not None else None
    if encoder is not None and hasattr(encoder, "categories_"):
        pairs = [
            (str(f), _level_key(c))
            for f, cats in zip(encoder.feature_names_in_, encoder.categories_, strict=True)
            for c in cats
        ]
        for name, (feature, level) in zip(encoder.get_feature_names_out(), pairs, strict=True):
            out[str(name)] = (feature, level)
    unmapped = [c for c in transformed if c not in out]
    if unmapped:
        raise ValueError(f"cannot map transformed column(s) {', '.join(unmapped[:5])} back to an input feature")
    return out


def aggregate_columns(
    values: np.ndarray, columns: Sequence[str], mapping: dict[str, tuple[str, str | None]], used: Sequence[str]
) -> np.ndarray:
    """Sum per-row values of transformed columns into their input features (rows x used features)."""
    index = {f: i for i, f in enumerate(used)}
    out = np.zeros((values.shape[0], len(used)))
    for j, col in enumerate(columns):
        out[:, index[mapping[col][0]]] += values[:, j]
    return out


def _linear_coefficients(
    model: Any, columns: Sequence[str], mapping: dict[str, tuple[str, str | None]]
) -> FeatureDetails:
    coef = np.asarray(model.coef_, dtype=float)
    if coef.ndim == 2:
        coef = coef[0]  # binary logistic regression: the log-odds of the positive class
    by_feature: FeatureDetails = {}
    for col, c in zip(columns, coef, strict=True):
        feature, level = mapping[col]
        entry = by_feature.setdefault(feature, {})
        if level is None:
            entry["coefficient"] = _num(c)
        else:
            entry.setdefault("coefficients_by_level", {})[level] = _num(c)
    for entry in by_feature.values():
        levels = entry.get("coefficients_by_level")
        if levels:
            finite = [v for v in levels.values() if v is not None]
            entry["coefficient"] = max(finite, key=abs) if finite else None
    return by_feature


def _tree_importance(model: Any) -> tuple[np.ndarray, str]:
    booster = getattr(model, "booster_", None)
    if booster is not None and hasattr(booster, "feature_importance"):  # LightGBM: split counts by default
        return np.asarray(booster.feature_importance(importance_type="gain"), dtype=float), "gain"
    kind = getattr(model, "importance_type", None) or ("gain" if hasattr(model, "get_booster") else "impurity")
    return np.asarray(model.feature_importances_, dtype=float), str(kind)


def _positive_class(values: Any) -> np.ndarray:
    """Per-row SHAP values of the positive class, whatever shape the explainer returned."""
    if isinstance(values, list):
        values = values[1] if len(values) == 2 else values[0]
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 3:
        arr = arr[:, :, 1] if arr.shape[2] == 2 else arr[:, :, 0]
    return arr


def _import_shap() -> Any:
    """Import shap (seconds on first use) without its import-time deprecation noise."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        import shap
    return shap


def model_shap(model: Any, family: str, Xt: pd.DataFrame, prefer: str | None) -> tuple[np.ndarray, str, str]:
    """SHAP values of the bare estimator on transformed rows: (values, explainer, output description)."""
    shap = _import_shap()
    kind = prefer or ("linear" if family == "linear" else "tree")
    is_classifier = hasattr(model, "predict_proba")
    if kind == "tree":
        explainer = shap.TreeExplainer(model)
        with warnings.catch_warnings():  # LightGBM binary: "output has changed to a list of ndarray"
            warnings.filterwarnings("ignore", message=".*output has changed to a list.*", category=UserWarning)
            raw = explainer.shap_values(Xt, check_additivity=False)
        values = _positive_class(raw)
        if not is_classifier:
            output = "prediction"
        elif _is_forest(model):
            output = "probability of class 1 (forest raw output)"
        else:
            output = "log-odds (margin) of class 1"
        return values, "tree", output
    if kind == "linear":
        explainer = shap.LinearExplainer(model, Xt)
        values = _positive_class(explainer.shap_values(Xt))
        return values, "linear", "log-odds of class 1" if is_classifier else "prediction"
    raise ValueError(f"unknown explainer {kind!r}: use one of {', '.join(EXPLAINERS)}")


def _fallback_shap(
    pipe: Pipeline, X: pd.DataFrame, background: pd.DataFrame, *, task: str, random_state: int
) -> tuple[np.ndarray, str]:
    """Model-agnostic SHAP on the whole pipeline (raw input columns), with a bounded number of evaluations."""
    shap = _import_shap()  # its permutation explainer JIT-compiles (numba) on first use: ~20 s on 2 cores
    columns = list(X.columns)

    def predict(A: np.ndarray) -> np.ndarray:  # noqa: N803
        frame = pd.DataFrame(np.asarray(A, dtype=float), columns=columns)
        if task == "classification":
            return np.asarray(pipe.predict_proba(frame)[:, 1], dtype=float)
        return np.asarray(pipe.predict(frame), dtype=float)

    masker = shap.maskers.Independent(background.to_numpy(dtype=float), max_samples=len(background))
    explainer = shap.Explainer(predict, masker, algorithm="permutation", seed=random_state, feature_names=columns)
    explanation = explainer(X.to_numpy(dtype=float), max_evals=2 * len(columns) + 1, silent=True)
    output = "probability of class 1" if task == "classification" else "prediction"
    return np.asarray(explanation.values, dtype=float), output


def _regime_importance(
    pipe: Pipeline, X_shap: pd.DataFrame, shap_abs: np.ndarray, used: Sequence[str], notes: list[str]
) -> RegimeImportance:
    regime_cols = [c for c in X_shap.columns if str(c).startswith(REGIME_PREFIXES)]
    if not regime_cols:
        return {}
    imputed = pipe.named_steps["impute"].transform(X_shap)  # the same mode imputation the model saw
    out: RegimeImportance = {}
    for col in regime_cols:
        labels = np.asarray(imputed[col], dtype=float)
        levels: dict[str, dict[str, float | None]] = {}
        for value in np.unique(labels[np.isfinite(labels)]):
            rows = labels == value
            if int(rows.sum()) < MIN_REGIME_ROWS:
                notes.append(f"{col}={_level_key(value)}: only {int(rows.sum())} SHAP row(s), level skipped")
                continue
            means = shap_abs[rows].mean(axis=0)
            levels[_level_key(value)] = {f: _num(m) for f, m in zip(used, means, strict=True)}
        out[str(col)] = levels
    return out


def explain(
    pipe: Pipeline,
    X_test: pd.DataFrame,
    y_test: np.ndarray,
    *,
    task: str,
    family: str,
    max_rows: int = 500,
    shap_rows: int = 200,
    repeats: int = 5,
    random_state: int = 0,
    prefer: str | None = None,
) -> tuple[FeatureDetails, RegimeImportance, dict[str, Any]]:
    """Return (feature_details, regime_importance, info) for a fitted pipeline on out-of-sample rows.

    Parameters
    ----------
    pipe : fitted ``build_pipeline`` pipeline (impute -> prune -> scale -> model).
    X_test, y_test : raw input rows (the pipeline's input columns) and their labels, out of sample.
    task : ``"regression"`` or ``"classification"`` (binary, class 1 = up).
    family : ``"linear"`` or ``"tree"``: picks the SHAP explainer.
    max_rows, shap_rows : evenly spaced row samples for permutation importance and for SHAP.
    repeats : permutation repeats per feature.
    prefer : force an explainer (``"tree"``, ``"linear"`` or ``"permutation_fallback"``); None picks by family.

    Returns
    -------
    feature_details : per used input feature: ``permutation_mean``, ``permutation_std``, ``shap_mean_abs``,
        plus ``coefficient`` (and ``coefficients_by_level`` for one-hot regimes) for linear models or
        ``tree_importance`` (normalized to sum 1) for trees. Coefficients are on the scaled features.
    regime_importance : ``{regime column: {level: {feature: mean |SHAP|}}}`` over the SHAP rows.
    info : explainer used, SHAP output units, row counts, timings and notes. Everything is JSON-safe
        (plain floats; None where a number is undefined).
    """
    if task not in ("regression", "classification"):
        raise ValueError(f"unknown task {task!r}: use 'regression' or 'classification'")
    if prefer is not None and prefer not in EXPLAINERS:
        raise ValueError(f"unknown explainer {prefer!r}: use one of {', '.join(EXPLAINERS)}")
    inputs = [str(c) for c in getattr(pipe, "feature_names_in_", X_test.columns)]
    missing = [c for c in inputs if c not in X_test.columns]
    if missing:
        raise ValueError(f"X_test lacks the pipeline's input column(s) {', '.join(missing[:5])}")
    y = np.asarray(y_test)
    if len(y) != len(X_test):
        raise ValueError(f"X_test has {len(X_test)} rows but y_test has {len(y)}")
    if len(X_test) == 0:
        raise ValueError("no rows to explain")
    X = X_test.loc[:, inputs].reset_index(drop=True)
    model = pipe[-1]
    used = [f for f in inputs if f in set(selected_features(pipe))]
    notes: list[str] = []
    info: dict[str, Any] = {"notes": notes}
    details: FeatureDetails = {f: {} for f in used}

    with threadpool_limits(limits=1, user_api="blas"):
        Xt_cols = [str(c) for c in pipe[:-1].get_feature_names_out()]
        mapping = source_map(pipe, Xt_cols, used)

        # Model-specific numbers.
        if hasattr(model, "coef_"):
            for f, entry in _linear_coefficients(model, Xt_cols, mapping).items():
                details[f].update(entry)
            notes.append("coefficients are on the scaled features (standardized / robust-scaled / one-hot)")
        if hasattr(model, "feature_importances_"):
            raw, kind = _tree_importance(model)
            total = float(raw.sum())
            agg = aggregate_columns(raw[None, :], Xt_cols, mapping, used)[0]
            if total <= 0:
                notes.append("the model made no split: every tree importance is 0")
            for f, v in zip(used, agg, strict=True):
                details[f]["tree_importance"] = _num(v / total) if total > 0 else 0.0
            info["tree_importance_type"] = kind

        # Permutation importance of the raw input columns through the pipeline. Imputation fills each
        # column with its own learned constant and pruning only selects columns, so permuting a raw
        # column equals permuting it after those two steps: the permutations run on the kept columns
        # through the remaining steps, which skips the pruned ones and the per-call imputer cost
        # (measured 5-20x faster on ~100 features).
        t0 = time.perf_counter()
        perm_idx = even_rows(len(X), max_rows)
        scoring = "accuracy" if task == "classification" else "neg_mean_squared_error"
        # The cluster step, when present, only selects columns too: it belongs to the head.
        names = [name for name, _ in pipe.steps[:-1]]
        head = names.index("prune") + 1 if "prune" in names else 0
        if head and set(names[:head]) <= {"impute", "cluster", "prune"} and names[0] == "impute":
            kept = pipe[:head].transform(X.iloc[perm_idx])
            tail = Pipeline(pipe.steps[head:])
            perm = permutation_importance(
                tail, kept, y[perm_idx], scoring=scoring, n_repeats=repeats, random_state=random_state
            )
            perm_features: list[str] = [str(c) for c in kept.columns]
        else:
            perm = permutation_importance(
                pipe, X.iloc[perm_idx], y[perm_idx], scoring=scoring, n_repeats=repeats, random_state=random_state
            )
            perm_features = list(inputs)
        for f, m, s in zip(perm_features, perm.importances_mean, perm.importances_std, strict=True):
            if f in details:
                details[f]["permutation_mean"] = _num(m)
                details[f]["permutation_std"] = _num(s)
        info["permutation_rows"] = len(perm_idx)
        info["permutation_scoring"] = scoring
        t_perm = time.perf_counter() - t0

        # SHAP on a (smaller) evenly spaced sample.
        t0 = time.perf_counter()
        n_shap = shap_rows
        if _is_forest(model) and prefer != "permutation_fallback" and shap_rows > FOREST_SHAP_ROWS:
            n_shap = FOREST_SHAP_ROWS
            notes.append(f"random forest: SHAP limited to {FOREST_SHAP_ROWS} rows (TreeExplainer is slow on forests)")
        X_shap = X.iloc[even_rows(len(X), n_shap)].reset_index(drop=True)
        shap_used: np.ndarray | None = None
        if prefer != "permutation_fallback":
            try:
                Xt = pipe[:-1].transform(X_shap)
                Xt = Xt if isinstance(Xt, pd.DataFrame) else pd.DataFrame(Xt, columns=Xt_cols)
                values, explainer, output = model_shap(model, family, Xt, prefer)
                shap_used = aggregate_columns(values, Xt_cols, mapping, used)
                info["explainer"], info["shap_output"] = explainer, output
            except Exception as exc:  # any failure of the fast path -> the model-agnostic one
                kind = prefer or ("linear" if family == "linear" else "tree")
                log.warning("SHAP %s explainer failed (%s): falling back to the permutation explainer", kind, exc)
                info["first_attempt_error"] = f"{type(exc).__name__}: {exc}"
        if shap_used is None:
            n_shap = min(shap_rows, FALLBACK_MAX_ROWS)
            if shap_rows > n_shap:
                notes.append(f"permutation fallback: SHAP limited to {n_shap} rows (one pipeline call per row)")
            X_shap = X.iloc[even_rows(len(X), n_shap)].reset_index(drop=True)
            bg_idx = np.random.default_rng(random_state).choice(
                len(X), size=min(FALLBACK_BACKGROUND_ROWS, len(X)), replace=False
            )
            values, output = _fallback_shap(pipe, X_shap, X.iloc[np.sort(bg_idx)], task=task, random_state=random_state)
            position = {f: i for i, f in enumerate(inputs)}
            shap_used = values[:, [position[f] for f in used]]
            info["explainer"], info["shap_output"] = "permutation_fallback", output
            notes.append(
                f"SHAP by the model-agnostic permutation explainer on the whole pipeline "
                f"({FALLBACK_BACKGROUND_ROWS}-row background, {2 * len(inputs) + 1} evaluations per row)"
            )
        shap_abs = np.abs(shap_used)
        for f, v in zip(used, shap_abs.mean(axis=0), strict=True):
            details[f]["shap_mean_abs"] = _num(v)
        info["shap_rows"] = len(X_shap)
        regimes = _regime_importance(pipe, X_shap, shap_abs, used, notes)
        t_shap = time.perf_counter() - t0

    info["seconds"] = {"permutation": round(t_perm, 3), "shap": round(t_shap, 3)}
    log.info(
        "importance: %d feature(s), permutation %.2fs on %d rows, SHAP (%s) %.2fs on %d rows",
        len(used),
        t_perm,
        info["permutation_rows"],
        info["explainer"],
        t_shap,
        info["shap_rows"],
    )
    return details, regimes, info


__all__ = ["EXPLAINERS", "aggregate_columns", "even_rows", "explain", "model_shap", "source_map"]
