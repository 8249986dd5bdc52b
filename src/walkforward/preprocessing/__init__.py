"""What learns from the data before the estimator: imputation, p-value pruning, heterogeneous scaling."""

from walkforward.preprocessing.groups import FeatureGroup, feature_group
from walkforward.preprocessing.pipeline import build_pipeline
from walkforward.preprocessing.pruning import PValuePruner

__all__ = ["FeatureGroup", "PValuePruner", "build_pipeline", "feature_group"]
