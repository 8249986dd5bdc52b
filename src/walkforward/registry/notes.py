"""A researcher's tags and note on a model: the ``model_notes`` table (migration 0008).

Tags are short labels ("baseline", "to-review", "paper:v2") a list row shows and a note is free
text; both are the user's, edited at will, so they live beside the model's row (written once) and
are deleted with it. :func:`check` is the one place their limits are stated: the API's body, the
CLI and the store all refuse the same things with the same message.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from walkforward.errors import InvalidInputError
from walkforward.registry import _queries
from walkforward.registry._schema import model_notes as table
from walkforward.registry._schema import models

if TYPE_CHECKING:
    from walkforward.registry.database import Database

__all__ = [
    "MAX_NOTE_CHARS",
    "MAX_TAGS",
    "TAG_PATTERN",
    "ModelNotes",
    "ModelNotesMixin",
    "check",
    "delete_for",
    "get",
    "put",
    "tag_members",
    "tags_of",
]

#: A tag: 1-32 characters, a letter or digit first, then letters, digits and ``_ - . : / +`` (no spaces,
#: so a list of tags reads unambiguously on the command line and in a table cell).
TAG_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:/+\-]{0,31}$"
MAX_TAGS = 20
MAX_NOTE_CHARS = 4000
_TAG_RE = re.compile(TAG_PATTERN)
# Control characters other than tab and newline: invisible in a page, and a terminal would act on them.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_IN_CHUNK = 500


@dataclass(frozen=True)
class ModelNotes:
    """A model's tags (in the order given, each once) and note; ``updated_at`` is ``None`` when never set."""

    model_id: str
    tags: tuple[str, ...] = ()
    note: str = ""
    updated_at: dt.datetime | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (ISO time)."""
        return {
            "tags": list(self.tags),
            "note": self.note,
            "updated_at": None if self.updated_at is None else self.updated_at.isoformat(),
        }


def check(tags: Iterable[str], note: str) -> tuple[tuple[str, ...], str]:
    """``tags`` (stripped, duplicates dropped, order kept) and ``note`` (stripped) within the limits.

    Raises
    ------
    InvalidInputError
        A tag that is empty, too long or has other characters, more than :data:`MAX_TAGS` tags, or a
        note over :data:`MAX_NOTE_CHARS` characters or with control characters; the message says which.

    Examples
    --------
    >>> check([" baseline", "to-review", "baseline"], " first try ")
    (('baseline', 'to-review'), 'first try')
    """
    kept = tuple(dict.fromkeys(t.strip() for t in tags))
    bad = [t for t in kept if not _TAG_RE.fullmatch(t)]
    if bad:
        raise InvalidInputError(
            f"invalid tag {bad[0]!r}: a tag is 1-32 letters, digits or _ - . : / + (no spaces), "
            "starting with a letter or digit"
        )
    if len(kept) > MAX_TAGS:
        raise InvalidInputError(f"{len(kept)} tags: at most {MAX_TAGS} a model; drop some")
    text = note.strip()
    if len(text) > MAX_NOTE_CHARS:
        raise InvalidInputError(f"the note has {len(text)} characters: at most {MAX_NOTE_CHARS}; shorten it")
    if _CONTROL_RE.search(text):
        raise InvalidInputError("the note holds control characters: use plain text (tabs and new lines are fine)")
    return kept, text


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)  # SQLite: naive UTC


def _record(row: Mapping[Any, Any]) -> ModelNotes:
    return ModelNotes(str(row["model_id"]), tuple(row["tags"]), str(row["note"]), _utc(row["updated_at"]))


def get(conn: Connection, model_id: str) -> ModelNotes:
    """The notes of ``model_id`` (empty ones when none were set; the caller checks the model exists)."""
    row = conn.execute(sa.select(table).where(table.c.model_id == model_id)).mappings().first()
    return ModelNotes(model_id) if row is None else _record(row)


def put(conn: Connection, model_id: str, tags: Sequence[str], note: str) -> ModelNotes:
    """Replace the notes of ``model_id`` (already checked, the model known to exist); none at all deletes the row.

    One statement whatever the backend (``INSERT ... ON CONFLICT DO UPDATE``: SQLite and PostgreSQL spell
    it alike), so two users saving at once leave one of their versions, never an error.
    """
    if not tags and not note:
        conn.execute(sa.delete(table).where(table.c.model_id == model_id))
        return ModelNotes(model_id)
    values = {"model_id": model_id, "tags": list(tags), "note": note, "updated_at": dt.datetime.now(dt.UTC)}
    from sqlalchemy.dialects import postgresql, sqlite

    statement = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table).values(values)
    update = {name: statement.excluded[name] for name in ("tags", "note", "updated_at")}
    conn.execute(statement.on_conflict_do_update(index_elements=[table.c.model_id], set_=update))
    return _record(values)


def tags_of(conn: Connection, model_ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The tags of those of ``model_ids`` that have any (one query per 500 ids: a page of the list)."""
    found: dict[str, tuple[str, ...]] = {}
    for start in range(0, len(model_ids), _IN_CHUNK):
        chunk = list(model_ids[start : start + _IN_CHUNK])
        query = sa.select(table.c.model_id, table.c.tags).where(table.c.model_id.in_(chunk))
        for model_id, tags in conn.execute(query):
            if tags:
                found[str(model_id)] = tuple(tags)
    return found


def tag_members(tag: str) -> sa.Select[Any]:
    """The ids of the models tagged ``tag``, in any case (the model list's tag filter); ``tag`` is checked.

    One statement both backends run alike, with no JSON function: a tag has no quote, backslash or
    space (:data:`TAG_PATTERN`), so the stored array's text holds ``"tag"`` exactly when the array
    holds the tag (``_`` is escaped for ``LIKE``). It reads ``model_notes`` only: the tagged models.
    """
    (tag,), _ = check([tag], "")
    text = sa.func.lower(sa.cast(table.c.tags, sa.Text))
    return sa.select(table.c.model_id).where(text.contains(f'"{tag.lower()}"', autoescape=True))


def delete_for(conn: Connection, model_ids: sa.ColumnElement[Any] | Sequence[str]) -> None:
    """Delete the notes of the given models (a list of ids or a subquery of them), before their rows go.

    Explicitly, not by the foreign key's cascade: SQLite enforces foreign keys only when asked.
    """
    conn.execute(sa.delete(table).where(table.c.model_id.in_(model_ids)))


class ModelNotesMixin:
    """The store's methods for tags and notes (:class:`~walkforward.registry.ModelStore` has them).

    A mixin so that the model store keeps one interface while its module stays about one thing.
    """

    _db: Database

    def _require(self, conn: Connection, model_id: str) -> None:
        if conn.execute(sa.select(models.c.id).where(models.c.id == model_id)).first() is None:
            _queries.row_by_id(conn, model_id)  # raises ModelNotFoundError with the registry's wording

    def set_notes(self, model_id: str, *, tags: Iterable[str] = (), note: str = "") -> ModelNotes:
        """Replace a model's tags and note (see :func:`check` for what is refused); empty ones clear them.

        Raises
        ------
        ModelNotFoundError
            No model with ``model_id``.
        InvalidInputError
            A tag or the note is out of bounds (nothing is written).
        """
        kept, text = check(tags, note)
        with self._db.transaction(write=True) as conn:
            self._require(conn, model_id)
            return put(conn, model_id, kept, text)

    def notes(self, model_id: str) -> ModelNotes:
        """A model's tags and note (empty when never set); :class:`ModelNotFoundError` for an unknown model."""
        with self._db.transaction() as conn:
            self._require(conn, model_id)
            return get(conn, model_id)

    def tags_of(self, model_ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """The tags of those of ``model_ids`` that have any (what a page of the list shows)."""
        if not model_ids:
            return {}
        with self._db.transaction() as conn:
            return tags_of(conn, model_ids)
