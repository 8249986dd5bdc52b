"""The cohort statistics memo: computed once per key, copies out, bounded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from walkforward import selection_cache


@pytest.fixture(autouse=True)
def _empty() -> Iterator[None]:
    selection_cache.clear()
    yield
    selection_cache.clear()


def test_a_key_is_computed_once_and_callers_get_copies() -> None:
    calls: list[int] = []

    def compute() -> dict[str, Any]:
        calls.append(1)
        return {"pbo": {"pbo": 0.25}, "notes": []}

    first = selection_cache.cached(("c1", (("m1", "fp1", 1),)), compute)
    first["notes"].append("changed by a caller")
    again = selection_cache.cached(("c1", (("m1", "fp1", 1),)), compute)
    assert again == {"pbo": {"pbo": 0.25}, "notes": []} and len(calls) == 1
    selection_cache.cached(("c1", (("m1", "fp1", 2),)), compute)  # re-ranked: a new key
    assert len(calls) == 2


def test_the_least_recently_used_go_past_the_bound() -> None:
    calls: list[int] = []
    for i in range(selection_cache.MAX_COHORTS + 1):
        selection_cache.cached(i, lambda i=i: calls.append(i) or {"i": i})
    selection_cache.cached(selection_cache.MAX_COHORTS, lambda: calls.append(-1) or {})  # kept
    selection_cache.cached(0, lambda: calls.append(-2) or {})  # dropped: computed again
    assert calls[-1] == -2 and -1 not in calls
