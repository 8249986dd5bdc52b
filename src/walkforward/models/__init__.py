"""The algorithm catalog: name -> estimator factory, task, family and default hyperparameters."""

from walkforward.models.catalog import ALGORITHMS, AlgorithmSpec, get_algorithm

__all__ = ["ALGORITHMS", "AlgorithmSpec", "get_algorithm"]
