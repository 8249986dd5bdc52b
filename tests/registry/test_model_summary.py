"""The list-row rule (which metrics a model lists and sorts by) and migration 0006's frozen copy of it."""

from __future__ import annotations

import functools
import importlib.util
import math
from types import ModuleType
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from walkforward.model_summary import LISTED_METRICS, METRIC_NAME_MAX, listed_metrics, metric_values, score_name
from walkforward.registry.database import MIGRATIONS_DIR

NAMES = st.sampled_from([*LISTED_METRICS, "mse", "r2_std", "n", "score", "x" * (METRIC_NAME_MAX + 1)])
VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**6), 10**6),
    st.booleans(),
    st.none(),
    st.text(max_size=5),
    st.lists(st.floats(allow_nan=False), max_size=3),
)
FLAT = st.dictionaries(NAMES, VALUES, max_size=8)
METRICS = st.one_of(FLAT, st.builds(lambda cv, top: {**top, "cv": cv}, st.one_of(FLAT, VALUES), FLAT))


@functools.cache
def _migration() -> ModuleType:
    path = MIGRATIONS_DIR / "versions" / "0006_list_summary.py"
    spec = importlib.util.spec_from_file_location("wf_migration_0006", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@settings(max_examples=150, deadline=None)
@given(METRICS)
def test_metric_values_are_finite_numbers_and_cv_wins(metrics: dict[str, Any]) -> None:
    values = metric_values(metrics)
    cv = metrics.get("cv") if isinstance(metrics.get("cv"), dict) else {}
    for name, value in values.items():
        assert isinstance(value, float) and math.isfinite(value) and len(name) <= METRIC_NAME_MAX
        source = cv if name in cv and metric_values({name: cv[name]}) else metrics
        assert value == float(source[name]) and not isinstance(source[name], bool)
    # Every finite number of either level is kept (under a short enough name).
    for level in (cv, metrics):
        for name, value in level.items():
            numeric = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
            if numeric and len(name) <= METRIC_NAME_MAX:
                assert name in values
    assert list(listed_metrics(values)) == [n for n in LISTED_METRICS if n in values]


@settings(max_examples=150, deadline=None)
@given(METRICS)
def test_migration_0006_backfills_with_the_same_rule(metrics: dict[str, Any]) -> None:
    """The migration keeps its own copy of the rule (revisions must not change): it must agree."""
    assert _migration()._metric_values(metrics) == metric_values(metrics)


def test_migration_lists_the_same_metrics() -> None:
    """Metrics listed after migration 0006 are appended: models saved before simply lack them."""
    frozen = _migration()._LISTED
    assert LISTED_METRICS[: len(frozen)] == frozen


def test_score_name() -> None:
    assert score_name({"score": "r2"}) == "r2"
    assert score_name({"score": ""}) is None and score_name({"score": 3}) is None and score_name({}) is None
    assert score_name({"score": "x" * (METRIC_NAME_MAX + 1)}) is None
