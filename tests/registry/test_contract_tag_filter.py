"""The model list's tag filter, on every backend (SQLite file and PostgreSQL): exactly the tagged models."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from walkforward.errors import InvalidInputError
from walkforward.registry import ModelStore, NewModel

# Tags that differ only where a text search could go wrong: prefixes, suffixes, LIKE's "_" and case.
TRICKY = ["base", "baseline", "baseline2", "my-baseline", "a_c", "abc", "aXc", "paper:v2", "paper:v2/b", "x+y", "x.y"]


def _ids(store: ModelStore, **kw: object) -> tuple[set[str], int]:
    rows, total = store.list(limit=200, **kw)  # type: ignore[arg-type]
    return {r.id for r in rows}, total


def test_the_tag_filter_keeps_exactly_the_tagged_models(store: ModelStore, new_model: Callable[..., NewModel]) -> None:
    rnd = random.Random(7)
    models = [store.add(new_model(symbol="MSFT" if i % 3 == 0 else "AAPL"), f"m{i}") for i in range(24)]
    tagged: dict[str, list[str]] = {}
    for i, rec in enumerate(models[:20]):  # the last four are never tagged
        tags = rnd.sample(TRICKY, rnd.randint(0, 4))
        if i == 0:
            tags = ["Baseline", "a_c"]  # stored as written, found in any case
        store.set_notes(rec.id, tags=tags, note="baseline" if i == 1 else "")  # a note is not a tag
        tagged[rec.id] = tags
    for tag in [*TRICKY, "BASELINE", "A_C", "never-used"]:
        want = {i for i, tags in tagged.items() if tag.lower() in {t.lower() for t in tags}}
        found, total = _ids(store, tag=tag)
        assert found == want and total == len(want), tag
        # with another filter, both hold
        msft = {r.id for r in models if r.symbol == "MSFT"}
        assert _ids(store, tag=tag, symbol="MSFT", primary_only=True) == (want & msft, len(want & msft))
    # Paged: the pages of a tag's models are its models, each once, in the list's order.
    want = {i for i, tags in tagged.items() if "baseline" in {t.lower() for t in tags}}
    assert len(want) >= 3
    seen: list[str] = []
    for offset in range(0, len(want) + 2, 2):
        rows, total = store.list(tag="baseline", limit=2, offset=offset, sort="created_at", descending=False)
        assert total == len(want)
        seen.extend(r.id for r in rows)
    assert len(seen) == len(set(seen)) and set(seen) == want


def test_a_deleted_model_leaves_the_tag_filter(store: ModelStore, new_model: Callable[..., NewModel]) -> None:
    a, b = store.add(new_model(), "a"), store.add(new_model(), "b")
    for rec in (a, b):
        store.set_notes(rec.id, tags=["keep"])
    store.delete(a.id)
    assert _ids(store, tag="keep") == ({b.id}, 1)


@pytest.mark.parametrize("tag", ["two words", '"', "%", "a%", "-x", ""])
def test_a_tag_that_cannot_be_one_is_refused(store: ModelStore, tag: str) -> None:
    with pytest.raises(InvalidInputError, match="invalid tag"):
        store.list(tag=tag)
