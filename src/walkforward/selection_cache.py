"""A process-wide, bounded memo of cohorts' selection statistics (PBO, DSR, SPA) and explorations.

A cohort's statistics read every sibling's kept predictions (hash-checked Parquet files) and run a
bootstrap: about a second each time the cohort modal opens. They are a pure function of the
cohort's members and of those files, which never change once written, so they are kept by a key
naming both (ids, fingerprints, ranks, scores, the predictions' SHA-256 and the search matrix's size
and time); a member added, deleted or re-ranked makes a new key. Hand-written rather than
``functools.lru_cache``: the key is computed from the records, and the value is copied out so a
caller cannot alter what the next one gets.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

#: Cohorts whose statistics are kept (each a few KB).
MAX_COHORTS = 128

_lock = threading.Lock()
_kept: OrderedDict[Hashable, dict[str, Any]] = OrderedDict()


def cached(key: Hashable, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The value kept for ``key``, else ``compute()`` kept (least recently used dropped past the bound)."""
    with _lock:
        found = _kept.get(key)
        if found is not None:
            _kept.move_to_end(key)
            return copy.deepcopy(found)
    value = compute()  # outside the lock: two first requests may both compute; the same value is kept
    with _lock:
        _kept[key] = copy.deepcopy(value)
        while len(_kept) > MAX_COHORTS:
            _kept.popitem(last=False)
    return value


def clear() -> None:
    """Forget every kept value."""
    with _lock:
        _kept.clear()


__all__ = ["MAX_COHORTS", "cached", "clear"]
