"""The only package that speaks DuckDB SQL: load, join, resample, target."""

from walkforward.data.loader import Dataset, LoadRequest, load_dataset

__all__ = ["Dataset", "LoadRequest", "load_dataset"]
