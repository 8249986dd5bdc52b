"""Tags and a note on a model (migration 0008), on every backend (SQLite file and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from hypothesis import given, settings
from hypothesis import strategies as st
from migrating import migration_config, schema_diffs, table_names

from walkforward.errors import InvalidInputError
from walkforward.registry import ModelNotes, ModelNotFoundError, ModelStore, NewModel
from walkforward.registry._schema import model_notes
from walkforward.registry.notes import MAX_NOTE_CHARS, MAX_TAGS, TAG_PATTERN, check


def _rows(store: ModelStore) -> int:
    with store.database.transaction() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(model_notes)).scalar_one())


def test_tags_and_note_round_trip_and_show_in_a_page_of_tags(
    store: ModelStore, new_model: Callable[..., NewModel]
) -> None:
    a, b = store.add(new_model(), "a"), store.add(new_model(), "b")
    assert store.notes(a.id) == ModelNotes(a.id)  # never set: empty, not an error
    before = dt.datetime.now(dt.UTC)
    saved = store.set_notes(a.id, tags=[" baseline", "to-review", "baseline"], note="  first try\nsecond line ")
    assert saved.tags == ("baseline", "to-review") and saved.note == "first try\nsecond line"
    read = store.notes(a.id)
    assert read == saved and read.updated_at is not None and read.updated_at >= before - dt.timedelta(seconds=1)
    assert store.tags_of([a.id, b.id, "unknown"]) == {a.id: ("baseline", "to-review")}

    # Saving again replaces both (an upsert, not a second row); a note without tags is kept.
    again = store.set_notes(a.id, tags=[], note="only a note")
    assert store.notes(a.id) == again and again.tags == ()
    assert store.tags_of([a.id]) == {} and _rows(store) == 1
    # Nothing at all clears the row.
    assert store.set_notes(a.id) == ModelNotes(a.id)
    assert store.notes(a.id) == ModelNotes(a.id) and _rows(store) == 0
    assert store.get(a.id) == a  # the model's own record is untouched


@pytest.mark.parametrize(
    ("tags", "note", "says"),
    [
        (["two words"], "", "invalid tag 'two words'"),
        (["-dash-first"], "", "invalid tag"),
        (["x" * 33], "", "invalid tag"),
        ([""], "", "invalid tag ''"),
        (["<script>"], "", "invalid tag"),
        ([f"t{i}" for i in range(MAX_TAGS + 1)], "", f"at most {MAX_TAGS}"),
        ([], "x" * (MAX_NOTE_CHARS + 1), f"at most {MAX_NOTE_CHARS}"),
        ([], "bell\x07", "control characters"),
    ],
)
def test_out_of_bounds_notes_are_refused_and_nothing_is_written(
    store: ModelStore, new_model: Callable[..., NewModel], tags: list[str], note: str, says: str
) -> None:
    record = store.add(new_model(), "a")
    store.set_notes(record.id, tags=["kept"], note="kept")
    with pytest.raises(InvalidInputError, match=says):
        store.set_notes(record.id, tags=tags, note=note)
    assert store.notes(record.id).tags == ("kept",) and store.notes(record.id).note == "kept"


def test_notes_of_an_unknown_model_are_not_found(store: ModelStore) -> None:
    with pytest.raises(ModelNotFoundError, match="no model with id 'nope'"):
        store.set_notes("nope", tags=["a"])
    with pytest.raises(ModelNotFoundError):
        store.notes("nope")
    assert _rows(store) == 0 and store.tags_of([]) == {}


def test_notes_go_with_their_model_its_cohort_and_a_prune(
    store: ModelStore, new_model: Callable[..., NewModel]
) -> None:
    alone = store.add(new_model(), "alone")
    cohort = [store.add(new_model(cohort_id="c1", cv_score=s), f"c{s}") for s in (0.1, 0.2)]
    old = [store.add(new_model(cohort_id="old", cv_score=s), f"o{s}") for s in (0.1, 0.2, 0.3)]
    for record in [alone, *cohort, *old]:
        store.set_notes(record.id, tags=["t"], note=record.id)
    store.delete(alone.id)
    assert _rows(store) == 5
    assert store.delete_cohort("c1") == 2
    assert _rows(store) == 3
    plan = store.prune(dt.timedelta(seconds=-60), apply=True)  # "older than a minute from now": every cohort
    assert len(plan.delete) == 2
    assert _rows(store) == 1  # the kept best model keeps its note
    (best,) = [r for r in old if store.tags_of([r.id])]
    assert store.notes(best.id).note == best.id


@settings(max_examples=60, deadline=None)
@given(st.lists(st.from_regex(TAG_PATTERN, fullmatch=True), max_size=MAX_TAGS), st.text(max_size=200))
def test_check_keeps_valid_tags_in_order_once(tags: list[str], note: str) -> None:
    try:
        kept, text = check(tags, note)
    except InvalidInputError as exc:
        assert "note" in str(exc)  # only the free text can be refused here (control characters)
        return
    assert list(kept) == list(dict.fromkeys(tags)) and text == note.strip()


def test_0008_adds_the_notes_table_and_drops_it_again(
    backend_url: str, models_dir: Path, new_model: Callable[..., NewModel]
) -> None:
    config = migration_config(backend_url)
    command.upgrade(config, "0007")
    with ModelStore.open(backend_url, models_dir) as store:  # migrates to head
        record = store.add(new_model(), "artifact")
        store.set_notes(record.id, tags=["a"], note="n")
    command.downgrade(config, "0007")
    assert "model_notes" not in table_names(backend_url)
    with ModelStore.open(backend_url, models_dir) as store:
        assert store.get(record.id) == record and store.notes(record.id) == ModelNotes(record.id)
    assert schema_diffs(backend_url) == []
