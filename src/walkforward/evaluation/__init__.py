"""Metrics (per fold and aggregated) and feature importance."""

from walkforward.evaluation.metrics import aggregate, classification_metrics, direction_labels, regression_metrics

__all__ = ["aggregate", "classification_metrics", "direction_labels", "regression_metrics"]
