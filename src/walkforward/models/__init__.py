"""The algorithm catalog: one spec per algorithm."""

from walkforward.models.catalog import ALGORITHMS, Algorithm, AlgorithmSpec, get_algorithm

__all__ = ["ALGORITHMS", "Algorithm", "AlgorithmSpec", "get_algorithm"]
