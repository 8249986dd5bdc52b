"""Several models side by side: identity, request, hyperparameters and metrics, and which of them differ.

The read behind ``GET /compare?ids=...`` and ``walkforward models compare-many``. One call resolves
the ids (a short id as shown in the list is accepted when it names one model), reads each model once
and says which parameters and metrics differ, so the UI and the CLI mark the same rows.

Examples
--------
>>> from walkforward.side_by_side import compare_many
>>> compare_many(registry, ["3f2a9c1b", "77d0e4aa"])["differences"]["hyperparameters"]  # doctest: +SKIP
['alpha']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from walkforward.errors import InvalidInputError
from walkforward.registry.artifacts import validate_model_id
from walkforward.registry.errors import ModelNotFoundError
from walkforward.reports.payloads import model_dict

if TYPE_CHECKING:
    from walkforward.registry import ModelRecord, ModelStore

#: Fewest and most models one comparison shows (more than six columns no longer reads side by side).
MIN_MODELS = 2
MAX_MODELS = 6
#: The groups whose differing keys are reported, in the order a reader scans them.
GROUPS = ("request", "hyperparameters", "cv")


def parse_ids(text: str | Sequence[str]) -> list[str]:
    """Ids from ``"a,b,c"`` (or a list of such strings): trimmed, empty entries dropped, each checked."""
    parts = [text] if isinstance(text, str) else list(text)
    ids = [p.strip() for part in parts for p in part.split(",") if p.strip()]
    if not MIN_MODELS <= len(ids) <= MAX_MODELS:
        raise InvalidInputError(
            f"compare takes {MIN_MODELS} to {MAX_MODELS} model ids, got {len(ids)}: "
            "pick between two and six models (ids=a,b,c)"
        )
    return [validate_model_id(i) for i in ids]


def resolve_id(registry: ModelStore, given: str) -> str:
    """The full id of ``given``: itself when registered, else the one model whose id starts with it.

    An id matching nothing is :class:`ModelNotFoundError` (404); a prefix matching several models is
    refused (422) rather than guessed.
    """
    page, total = registry.list(id_prefix=given, limit=2)
    if any(row.id == given for row in page):
        return given
    if total == 0:
        raise ModelNotFoundError(
            f"no model {given!r}: `walkforward models list` (or GET /models) shows the registered ids"
        )
    if total > 1:
        raise InvalidInputError(f"id {given!r} starts {total} models' ids: give more of the id to name one")
    return page[0].id


def resolve_ids(registry: ModelStore, ids: Sequence[str]) -> list[str]:
    """Each id resolved (:func:`resolve_id`), in the given order; one model named twice is refused."""
    resolved: list[str] = []
    for given in ids:
        full = resolve_id(registry, given)
        if full in resolved:
            raise InvalidInputError(f"model {full} is named twice ({given!r}): compare different models")
        resolved.append(full)
    return resolved


def _scalar(value: Any) -> bool:
    return value is None or (isinstance(value, int | float | str) and not isinstance(value, bool))


def _metrics(values: Mapping[str, Any]) -> dict[str, Any]:
    """The scalar metrics of a mapping (a confusion matrix, a nested report, are left out)."""
    return {k: v for k, v in values.items() if _scalar(v) and not isinstance(v, str)}


def differing_keys(mappings: Sequence[Mapping[str, Any]]) -> list[str]:
    """The keys (in first-seen order) whose values are not all equal; a key some mappings lack differs.

    Values are compared exactly (``0.1`` and ``0.1000001`` differ even when a table rounds them alike).

    >>> differing_keys([{"a": 1, "b": 2}, {"a": 1, "b": 3, "c": None}])
    ['b', 'c']
    """
    missing = object()
    keys = list(dict.fromkeys(k for m in mappings for k in m))
    return [k for k in keys if len({_frozen(m.get(k, missing)) for m in mappings}) > 1]


def _frozen(value: Any) -> Any:
    """A hashable stand-in for a JSON value, so values can be compared as a set."""
    if isinstance(value, Mapping):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value if isinstance(value, str | int | float | bool | type(None)) else repr(value)


def model_entry(record: ModelRecord) -> dict[str, Any]:
    """One model's column: identity (as a list row), request, hyperparameters, cv and per-fold metrics."""
    identity = model_dict(record, brief=True)
    identity.pop("metrics", None)  # the brief subset: ``cv`` below has every aggregate
    metrics = record.metrics or {}
    cv = metrics.get("cv")
    folds = metrics.get("folds")
    return {
        **identity,
        "score": metrics.get("score") if isinstance(metrics.get("score"), str) else None,
        "predictions_kept": bool(record.derived.get("predictions")),
        "request": dict(record.request),
        "hyperparameters": dict(record.hyperparameters),
        "cv": _metrics(cv) if isinstance(cv, Mapping) else {},
        "folds": [_metrics(f) for f in folds if isinstance(f, Mapping)] if isinstance(folds, list) else [],
    }


def side_by_side(records: Sequence[ModelRecord]) -> dict[str, Any]:
    """The comparison of already-read models: their columns and, per group, the keys that differ."""
    entries = [model_entry(r) for r in records]
    return {
        "ids": [e["id"] for e in entries],
        "models": entries,
        "differences": {group: differing_keys([e[group] for e in entries]) for group in GROUPS},
    }


def compare_many(registry: ModelStore, ids: str | Sequence[str]) -> dict[str, Any]:
    """Two to six models side by side (see :func:`side_by_side`); ids may be short prefixes, comma-separated."""
    resolved = resolve_ids(registry, parse_ids(ids))
    return side_by_side([registry.get(i) for i in resolved])


__all__ = [
    "MAX_MODELS",
    "MIN_MODELS",
    "compare_many",
    "differing_keys",
    "model_entry",
    "parse_ids",
    "resolve_id",
    "resolve_ids",
    "side_by_side",
]
