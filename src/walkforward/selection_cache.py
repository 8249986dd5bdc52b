"""A cohort's selection statistics (PBO, DSR, SPA) computed once: kept in memory and on disk.

A cohort's statistics read every sibling's kept predictions (hash-checked Parquet files) and run a
bootstrap: a fraction of a second, and about a second more on a cold server (importing sklearn and
scipy). They are a pure function of the cohort's members and of those files, which never change
once written, so they are kept by a key naming both (ids, fingerprints, ranks, scores, the
predictions' SHA-256, the search matrix's size and time, and :data:`METHOD`); a member added,
deleted or re-ranked makes a new key, so what is kept is never stale, only unused. Two places keep them:

- a process-wide, bounded memo (also used for the explore view's fANOVA);
- ``MODELS_DIR/cohorts/{cohort}.selection.json`` (and ``.explore.json``), holding the key's
  SHA-256 beside the value, written when a search ends (``walkforward.search.run_search``),
  so a freshly started server's first opening of the cohort needs no statistics stack at all. A
  file whose key does not match is recomputed and replaced; an unreadable one is ignored.

Hand-written rather than ``functools.lru_cache``: the key is computed from the records, and the
value is copied out so a caller cannot alter what the next one gets.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from walkforward.atomic import replace_file

if TYPE_CHECKING:
    from walkforward.registry import ModelRecord, ModelStore

log = logging.getLogger(__name__)

#: Cohorts whose statistics are kept (each a few KB).
MAX_COHORTS = 128

#: Part of every key: raised when the statistics' method changes, so values kept by an older one
#: are recomputed (2: the studentized SPA of :mod:`walkforward.evaluation.spa` replaced ``arch``'s).
METHOD = 2

_lock = threading.Lock()
_kept: OrderedDict[Hashable, dict[str, Any]] = OrderedDict()


def kept(key: Hashable, file: Path | None = None) -> dict[str, Any] | None:
    """The value kept for ``key`` in memory, else in ``file`` when it holds this key; ``None`` if neither.

    ``file`` says where (its models directory), ``key`` what: the file holds the key's digest without
    the directory's path, so a models directory moved or mounted elsewhere keeps its values.
    """
    where = (None if file is None else str(file), key)
    with _lock:
        found = _kept.get(where)
        if found is not None:
            _kept.move_to_end(where)
            return copy.deepcopy(found)
    value = _read(file, _digest(key)) if file is not None else None
    if value is not None:
        _keep(where, value)
    return value


def cached(key: Hashable, compute: Callable[[], dict[str, Any]], file: Path | None = None) -> dict[str, Any]:
    """The value :func:`kept` for ``key``, else ``compute()``, then kept in memory (the least recently
    used dropped past the bound) and in ``file``."""
    value = kept(key, file)
    if value is None:
        value = compute()  # outside the lock: two first requests may both compute; the same value is kept
        if file is not None:
            _write(file, _digest(key), value)
        _keep((None if file is None else str(file), key), value)
    return value


def _keep(key: Hashable, value: dict[str, Any]) -> None:
    with _lock:
        _kept[key] = copy.deepcopy(value)
        while len(_kept) > MAX_COHORTS:
            _kept.popitem(last=False)


def _digest(key: Hashable) -> str:
    """The SHA-256 naming ``key`` in a file (the same in every process)."""
    return hashlib.sha256(json.dumps(key, default=str).encode()).hexdigest()


def _read(file: Path, digest: str) -> dict[str, Any] | None:
    """The value in ``file`` if it was kept under ``digest`` (absent, unreadable or another key: None)."""
    try:
        kept = json.loads(file.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(kept, dict) or kept.get("key") != digest or not isinstance(kept.get("value"), dict):
        return None
    return kept["value"]


def _write(file: Path, digest: str, value: dict[str, Any]) -> None:
    """Keep ``value`` in ``file`` atomically; a failure (full disk, read-only models dir) only costs a recompute."""
    try:
        data = json.dumps({"key": digest, "value": value}).encode()
        replace_file(file, lambda fh: fh.write(data))
    except (OSError, TypeError, ValueError) as exc:
        log.warning("could not keep the selection statistics in %s: %s", file, exc)


def cohort_selection(
    registry: ModelStore, cohort_id: str, rows: Sequence[ModelRecord], *, compute: bool = True
) -> dict[str, Any] | None:
    """PBO, DSR and SPA over a cohort's ``rows`` (its registered models, best first), computed by
    :func:`walkforward.training.evaluate.cohort_selection` once per set of members and files; with
    ``compute=False``, only what is kept (``None`` when they were never computed for these members)."""
    from walkforward.registry.artifacts import cohort_predictions_file, cohort_selection_file

    path = cohort_predictions_file(registry.models_dir, cohort_id)
    stat = path.stat() if path.exists() else None
    key = (
        METHOD,
        cohort_id,
        tuple((r.id, r.fingerprint, r.cohort_rank, r.cv_score, str(r.derived.get("predictions"))) for r in rows),
        None if stat is None else (stat.st_size, stat.st_mtime_ns),
    )
    file = cohort_selection_file(registry.models_dir, cohort_id)
    if not compute:
        return kept(key, file)

    def statistics() -> dict[str, Any]:
        # Imported here, not above: they bring sklearn and scipy (about 1 s on a cold server),
        # which a value read from memory or from its file does not need.
        from walkforward.search.selection import load_matrix
        from walkforward.training.evaluate import cohort_selection as of_records

        return of_records(rows, registry.load_predictions, lambda n: load_matrix(path, n))

    return cached(key, statistics, file)


def clear() -> None:
    """Forget every value kept in memory (the files stay)."""
    with _lock:
        _kept.clear()


__all__ = ["MAX_COHORTS", "cached", "clear", "cohort_selection", "kept"]
