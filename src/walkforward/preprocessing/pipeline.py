"""The model pipeline: impute -> (cluster) -> prune -> heterogeneous column transformer -> estimator.

Everything that learns lives in this one scikit-learn ``Pipeline``, which cross-validation clones and
refits on each fold's training rows (and the final model on all training rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, RobustScaler, StandardScaler

from walkforward.preprocessing.clustering import ClusterSelector
from walkforward.preprocessing.groups import FeatureGroup, feature_group
from walkforward.preprocessing.pruning import PValuePruner

if TYPE_CHECKING:
    from walkforward.request import TrainRequest


class GroupSelector:
    """Picks the columns of one group from a DataFrame (a picklable callable for ColumnTransformer)."""

    def __init__(self, group: FeatureGroup | str, negate: bool = False) -> None:
        self.group = FeatureGroup(group)
        self.negate = negate

    def __call__(self, X: pd.DataFrame) -> list[str]:  # noqa: N803
        return [c for c in X.columns if (feature_group(str(c)) is self.group) != self.negate]


def _imputer() -> ColumnTransformer:
    # Regimes are categories: their missing values take the most frequent label, not a fractional mean.
    return ColumnTransformer(
        [
            ("regime", SimpleImputer(strategy="most_frequent"), GroupSelector(FeatureGroup.REGIME)),
            ("mean", SimpleImputer(strategy="mean"), GroupSelector(FeatureGroup.REGIME, negate=True)),
        ],
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")


def _scaler(linear: bool) -> ColumnTransformer:
    regime = OneHotEncoder(handle_unknown="ignore", sparse_output=False) if linear else "passthrough"
    return ColumnTransformer(
        [
            ("regime", regime, GroupSelector(FeatureGroup.REGIME)),
            ("robust", RobustScaler(), GroupSelector(FeatureGroup.ROBUST)),
            ("bounded", "passthrough", GroupSelector(FeatureGroup.BOUNDED)),
            ("standard", StandardScaler(), GroupSelector(FeatureGroup.STANDARD)),
        ],
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")


def build_pipeline(estimator: BaseEstimator, *, linear: bool, p_value_threshold: float | None) -> Pipeline:
    """The full pipeline for one model; ``linear`` one-hot encodes regimes (trees take them as ordinals)."""
    return Pipeline(
        [
            ("impute", _imputer()),
            ("prune", PValuePruner(threshold=p_value_threshold).set_output(transform="pandas")),
            ("scale", _scaler(linear)),
            ("model", estimator),
        ]
    )


def with_cluster_step(pipe: Pipeline, threshold: float | None) -> Pipeline:
    """``pipe`` with a :class:`ClusterSelector` after imputation (``threshold`` None: ``pipe`` unchanged).

    The step keeps one feature per correlation cluster, learned, like every step, on the rows the
    pipeline is fitted on.
    """
    if threshold is None:
        return pipe
    names = [name for name, _ in pipe.steps]
    at = names.index("impute") + 1
    step = ("cluster", ClusterSelector(threshold=threshold).set_output(transform="pandas"))
    return Pipeline([*pipe.steps[:at], step, *pipe.steps[at:]])


def request_pipeline(estimator: BaseEstimator, *, linear: bool, req: TrainRequest) -> Pipeline:
    """:func:`build_pipeline` with a training request's pruning and clustering thresholds."""
    pipe = build_pipeline(estimator, linear=linear, p_value_threshold=req.p_value_threshold)
    return with_cluster_step(pipe, req.cluster_threshold)


def selected_features(pipe: Pipeline) -> list[str]:
    """Feature names that survived pruning in a fitted pipeline."""
    return [str(c) for c in pipe.named_steps["prune"].get_feature_names_out()]


def pruning_report(pipe: Pipeline, columns: Sequence[str]) -> dict[str, dict[str, float | bool]]:
    """Per input feature: p-value, standardized beta and whether it was kept."""
    pr = pipe.named_steps["prune"]
    names = [str(c) for c in pr.feature_names_in_]  # after the cluster step, if any
    return {
        n: {"p_value": float(p), "beta": float(b), "kept": bool(k)}
        for n, p, b, k in zip(names, pr.pvalues_, pr.betas_, pr.support_, strict=True)
        if n in set(columns)
    }


def cluster_report(pipe: Pipeline) -> dict[str, object] | None:
    """The fitted cluster step's clusters and kept features, or None without one."""
    step = pipe.named_steps.get("cluster")
    return None if step is None else step.report()
