"""The cohort statistics memo: computed once per key, copies out, bounded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
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


def test_a_file_keeps_the_value_for_its_key_only(tmp_path: Path) -> None:
    calls: list[int] = []

    def compute() -> dict[str, Any]:
        calls.append(1)
        return {"spa": {"p_consistent": 0.04}, "notes": ["n"]}

    file = tmp_path / "models" / "cohorts" / "c1.selection.json"
    key = ("c1", (("m1", "fp1", 1, 0.5, "sha"),), (100, 7))
    assert selection_cache.cached(key, compute, file) == {"spa": {"p_consistent": 0.04}, "notes": ["n"]}
    assert len(calls) == 1 and file.exists()
    selection_cache.clear()  # a new process: only the file remains
    assert selection_cache.kept(key, file) == {"spa": {"p_consistent": 0.04}, "notes": ["n"]}
    assert selection_cache.cached(key, compute, file) == {"spa": {"p_consistent": 0.04}, "notes": ["n"]}
    assert len(calls) == 1
    assert selection_cache.kept(("c1", (("m1", "fp1", 2, 0.5, "sha"),), (100, 7)), file) is None  # re-ranked
    # The file holds no path: the models directory moved elsewhere keeps its values.
    moved = tmp_path / "elsewhere" / "c1.selection.json"
    moved.parent.mkdir()
    moved.write_bytes(file.read_bytes())
    assert selection_cache.kept(key, moved) == {"spa": {"p_consistent": 0.04}, "notes": ["n"]}
    file.write_text("{truncated")
    selection_cache.clear()
    assert selection_cache.kept(key, file) is None
