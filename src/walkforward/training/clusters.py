"""Clustered feature importance of a trained model: clusters on training rows, MDA on each fold's test rows.

The clusters are learned on the final model's training rows (``plan.final_train_index``: no lock-box
or held-out test row). The importance refits a clone of the model's pipeline on each fold's training
rows and permutes each cluster on that fold's test rows (:func:`clustered_mda`), so every score drop
is out of sample; the final pipeline is never scored on rows it was fitted on.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from walkforward.evaluation.clusters import DEFAULT_THRESHOLD, LINKAGE, FoldCase, cluster_features, clustered_mda

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.pipeline import Pipeline

    from walkforward.request import TrainRequest
    from walkforward.search.tasks import Outcome
    from walkforward.training.data import PreparedData

log = logging.getLogger(__name__)

#: test rows scored per fold (evenly spaced): bounds the cost of clusters x repeats predictions
MAX_TEST_ROWS = 1000
REPEATS = 3


def _scorer(model: Any, task: str) -> tuple[Any, str]:
    """A higher-is-better score of a fitted estimator: R2 (scale-free, comparable over folds) or -log loss."""
    from sklearn.metrics import log_loss, r2_score

    if task == "classification":

        def neg_log_loss(X: pd.DataFrame, y: np.ndarray) -> float:  # noqa: N803
            return -float(log_loss(y, model.predict_proba(X)[:, 1], labels=[0, 1]))

        return neg_log_loss, "neg_log_loss"

    def r2(X: pd.DataFrame, y: np.ndarray) -> float:  # noqa: N803
        return float(r2_score(y, model.predict(X)))

    return r2, "r2"


def _fold_case(pipe: Pipeline, number: int, X_test: pd.DataFrame, y_test: np.ndarray, task: str) -> FoldCase:  # noqa: N803
    """A fitted fold pipeline's test rows, transformed once, with each input feature's columns.

    Every step before the estimator acts column by column (imputation fills a column with its own
    constant, the cluster and pruning steps select columns, the scalers are per column and one-hot
    expands one column), so a row permutation of a raw feature equals the same permutation of its
    transformed columns: permuting after the transform is exact and calls only the estimator
    (the whole pipeline costs ~0.2 s per call on 72 features, nearly all of it pandas overhead).
    """
    import pandas as pd

    from walkforward.evaluation.importance import source_map
    from walkforward.preprocessing.pipeline import selected_features

    cols = [str(c) for c in pipe[:-1].get_feature_names_out()]
    Xt = pipe[:-1].transform(X_test)  # noqa: N806
    Xt = Xt if isinstance(Xt, pd.DataFrame) else pd.DataFrame(Xt, columns=cols)  # noqa: N806
    columns: dict[str, list[str]] = {}
    for col, (feature, _) in source_map(pipe, cols, selected_features(pipe)).items():
        columns.setdefault(feature, []).append(col)
    score, _ = _scorer(pipe[-1], task)
    return FoldCase(number, score, Xt.reset_index(drop=True), y_test, columns)


def cluster_importance(
    pipe: Pipeline,
    data: PreparedData,
    *,
    task: str,
    threshold: float | None = None,
    repeats: int = REPEATS,
    max_rows: int = MAX_TEST_ROWS,
    random_state: int = 0,
) -> dict[str, Any]:
    """Clusters of the pipeline's input features and their clustered MDA over the folds (JSON-ready).

    ``threshold`` is the cut of the ``1 - |rho|`` dendrogram (default :data:`DEFAULT_THRESHOLD`; a
    model trained with a cluster step uses its own). Costs one extra fit per fold.
    """
    from sklearn.base import clone
    from threadpoolctl import threadpool_limits

    t0 = time.perf_counter()
    cut = DEFAULT_THRESHOLD if threshold is None else float(threshold)
    inputs = [str(c) for c in getattr(pipe, "feature_names_in_", data.features)]
    X, y = data.X.loc[:, inputs], data.y
    rows = data.plan.final_train_index
    clusters = cluster_features(X.iloc[rows], cut)
    cases = []
    name = "neg_log_loss" if task == "classification" else "r2"
    with threadpool_limits(limits=1, user_api="blas"):
        for fold in data.plan.folds:
            fitted = clone(pipe).fit(X.iloc[fold.train_index], y[fold.train_index])
            test = fold.test_index
            test = test[np.unique(np.linspace(0, len(test) - 1, min(max_rows, len(test))).round().astype(np.int64))]
            cases.append(_fold_case(fitted, fold.number, X.iloc[test], y[test], task))
        ranked = clustered_mda(cases, clusters, repeats=repeats, random_state=random_state)
    seconds = time.perf_counter() - t0
    log.info("clustered importance: %d cluster(s) of %d feature(s), %.2fs", len(clusters), len(inputs), seconds)
    return {
        "method": "clustered MDA (López de Prado, MLAM ch. 6)",
        "distance": "1-|rho| (Pearson, training rows)",
        "linkage": LINKAGE,
        "threshold": cut,
        "cluster_rows": len(rows),
        "scoring": name,
        "repeats": repeats,
        "test_rows_per_fold": {str(c.number): len(c.X_test) for c in cases},
        "clusters": ranked,
        "seconds": round(seconds, 3),
    }


def with_cluster_importance(outcome: Outcome, data: PreparedData, req: TrainRequest) -> dict[str, Any] | None:
    """A search outcome's explanation notes with its clustered importance (see :func:`add_to_info`)."""
    if outcome.pipeline is None:
        return outcome.explain_info
    task = "classification" if hasattr(outcome.pipeline[-1], "predict_proba") else "regression"
    return add_to_info(outcome.explain_info, outcome.pipeline, data, task=task, threshold=req.cluster_threshold)


def add_to_info(
    info: dict[str, Any] | None, pipe: Pipeline, data: PreparedData, *, task: str, threshold: float | None
) -> dict[str, Any] | None:
    """``info`` (explanations' notes) with ``clusters`` added; a failure is recorded, never raised."""
    if info is None or "error" in info:
        return info
    try:
        clusters = cluster_importance(pipe, data, task=task, threshold=threshold)
    except Exception as exc:  # explanations must never lose a trained model
        log.warning("clustered importance failed: %s", exc)
        clusters = {"error": f"{type(exc).__name__}: {exc}"}
    return {**info, "clusters": clusters}
