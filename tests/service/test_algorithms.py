"""GET /algorithms: the UI's list of algorithms comes from the catalog, not its own copy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from walkforward.models.catalog import ALGORITHMS, Algorithm


def test_algorithms_endpoint_lists_the_catalog(make_app: Callable[..., Any]) -> None:
    with TestClient(make_app()) as client:
        body = client.get("/algorithms").json()
    assert [a["name"] for a in body] == list(ALGORITHMS) == [a.value for a in Algorithm]
    lgbm = next(a for a in body if a["name"] == "lightgbm_regressor")
    assert lgbm["task"] == "regression" and lgbm["default_grid_size"] == 7**4 * 8
    assert lgbm["grid_names"]["min_data_in_leaf_grid"] == "min_child_samples"
    assert next(a for a in body if a["name"] == "lightgbm_classifier")["score"] == "accuracy"
