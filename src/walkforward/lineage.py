"""A model's lineage, shared by the CLI (``models lineage``) and the API (``GET /models/{id}/lineage``).

Parents and children come from ``parent_model_id`` (retrains, runs seeded from a parent's features);
ensembles link the other way round too: an ensemble lists the registered models it was built from
(``members``) and each of those lists the ensembles built on it (``used_in_ensembles``), so a model's
page says which ensembles would change if it were retrained or deleted.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from walkforward.reports.payloads import model_dict

if TYPE_CHECKING:
    from walkforward.registry import ModelRecord, ModelStore


@dataclass(frozen=True)
class Lineage:
    """A model with its ancestors (parent first), its descendants (breadth-first), for an ensemble the
    registered models it was built from (``members``; deleted ones are left out), and the ensembles that
    have the model among their candidates (``used_in``, oldest first)."""

    model: ModelRecord
    ancestors: list[ModelRecord]
    descendants: list[ModelRecord]
    members: list[ModelRecord] = dataclasses.field(default_factory=list)
    used_in: list[ModelRecord] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; each of ``used_in_ensembles`` says whether the model is among its final members
        (``final_member``: the ensemble predicts with it) or was a candidate only."""
        return {
            "model": _lineage_entry(self.model),
            "ancestors": [_lineage_entry(r) for r in self.ancestors],
            "descendants": [_lineage_entry(r) for r in self.descendants],
            "members": [_lineage_entry(r) for r in self.members],
            "used_in_ensembles": [
                {**_lineage_entry(r), "final_member": self.model.id in final_members(r)} for r in self.used_in
            ],
        }


def final_members(ensemble: ModelRecord) -> list[str]:
    """The ids an ensemble predicts with (its final choice; its candidates are in ``request["ensemble"]``)."""
    return list((ensemble.derived.get("ensemble") or {}).get("members") or [])


def _lineage_entry(r: ModelRecord) -> dict[str, Any]:
    """A brief model with the id it was retrained from (``None`` unless it is a retrain) and when its data ends."""
    return {
        **model_dict(r, brief=True),
        "retrained_from": r.derived.get("retrained_from"),
        "data_end": r.derived.get("data_end"),
    }


def lineage(registry: ModelStore, model_id: str) -> Lineage:
    """A model with its ancestors, descendants, ensemble members and the ensembles built on it
    (unknown model: ``ModelNotFoundError``)."""
    from walkforward.registry import ModelNotFoundError

    record = registry.get(model_id)
    members = []
    for member_id in (record.request.get("ensemble") or {}).get("models", []):
        try:
            members.append(registry.get(member_id))
        except ModelNotFoundError:
            continue  # deleted since: the ensemble's artifact holds its fitted pipeline, its row is gone
    return Lineage(
        record,
        registry.ancestors(model_id),
        registry.descendants(model_id),
        members,
        registry.ensembles_using(model_id),
    )


__all__ = ["Lineage", "final_members", "lineage"]
