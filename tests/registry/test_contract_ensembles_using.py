"""A model's lineage lists the ensembles built on it, on every backend (SQLite file and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable

from walkforward.lineage import lineage
from walkforward.registry import ModelRecord, ModelStore, NewModel


def _ensemble(
    store: ModelStore, new_model: Callable[..., NewModel], candidates: list[str], final: list[str]
) -> ModelRecord:
    """An ensemble's registry row as :mod:`walkforward.ensembles.register` writes it (candidates and final choice)."""
    return store.add(
        new_model(
            algorithm="ensemble",
            request={"symbol": "AAPL,QQQ", "algorithm": "ensemble", "ensemble": {"models": candidates, "top": 1}},
            derived={"ensemble": {"candidates": candidates, "members": final}},
            hyperparameters={"method": "average", "top": len(final), "first_fold": "equal"},
        ),
        "ensemble",
    )


def test_a_members_lineage_lists_the_ensembles_built_on_it(
    store: ModelStore, new_model: Callable[..., NewModel]
) -> None:
    a, b, c = (store.add(new_model(), name) for name in "abc")
    first = _ensemble(store, new_model, [a.id, b.id], [a.id])
    second = _ensemble(store, new_model, [b.id, a.id, c.id], [b.id, c.id])
    # Rows that name a's id elsewhere are not ensembles built on it.
    store.add(new_model(request={"symbol": "AAPL,QQQ", "parent_model_id": a.id}, parent_model_id=a.id), "child")
    store.add(new_model(algorithm="ensemble", request={"note": a.id, "ensemble": {"models": [b.id]}}), "decoy")

    assert [e.id for e in store.ensembles_using(a.id)] == [first.id, second.id]  # oldest first
    assert [e.id for e in store.ensembles_using(c.id)] == [second.id]
    assert store.ensembles_using(first.id) == []  # nothing is built on the ensemble itself

    used = lineage(store, a.id).to_dict()["used_in_ensembles"]
    assert [(e["id"], e["final_member"], e["algorithm"]) for e in used] == [
        (first.id, True, "ensemble"),
        (second.id, False, "ensemble"),  # a candidate its final choice left out
    ]
    assert [e["final_member"] for e in lineage(store, c.id).to_dict()["used_in_ensembles"]] == [True]
    members = lineage(store, second.id).to_dict()
    assert sorted(m["id"] for m in members["members"]) == sorted([a.id, b.id, c.id])
    assert members["used_in_ensembles"] == []

    store.delete(first.id)
    assert [e["id"] for e in lineage(store, a.id).to_dict()["used_in_ensembles"]] == [second.id]
