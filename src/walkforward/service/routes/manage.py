"""Run management: a model's tags and note, and its artifact as a download (the UI's model page uses them)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from walkforward import manage
from walkforward.registry import ModelStore
from walkforward.registry.notes import MAX_NOTE_CHARS, MAX_TAGS, TAG_PATTERN
from walkforward.service.deps import registry
from walkforward.service.routes._params import ModelId

router = APIRouter(tags=["models"])

Registry = Annotated[ModelStore, Depends(registry)]


class NotesBody(BaseModel):
    """A model's tags and note, replacing what was there (``{"tags": [], "note": ""}`` clears them)."""

    model_config = ConfigDict(extra="forbid")

    tags: list[Annotated[str, Field(pattern=TAG_PATTERN)]] = Field(
        default_factory=list,
        max_length=MAX_TAGS,
        description="Short labels: 1-32 letters, digits or _ - . : / + each, no spaces.",
    )
    note: str = Field(default="", max_length=MAX_NOTE_CHARS, description="Free text (no control characters).")


class NotesOut(BaseModel):
    model_id: str
    tags: list[str]
    note: str
    updated_at: str | None


@router.get("/models/{model_id}/notes", response_model=NotesOut)
def get_notes(model_id: ModelId, reg: Registry) -> dict[str, Any]:
    """A model's tags and note (empty when never set)."""
    return manage.notes(reg, model_id)


@router.put("/models/{model_id}/notes", response_model=NotesOut, responses={422: {"description": "A bad tag or note."}})
def put_notes(model_id: ModelId, body: NotesBody, reg: Registry) -> dict[str, Any]:
    """Replace a model's tags and note; the model's record itself never changes."""
    return manage.set_notes(reg, model_id, tags=body.tags, note=body.note)


def download(found: manage.Download) -> Response:
    """A file as an attachment, with the SHA-256 its bytes were checked against."""
    headers = {"Content-Disposition": f'attachment; filename="{found.filename}"', "X-Content-SHA256": found.sha256}
    return Response(found.data, media_type=found.media_type, headers=headers)


@router.get(
    "/models/{model_id}/artifact",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The joblib file as registered."},
        404: {"description": "No such model, or its file is missing."},
        409: {"description": "The file's bytes differ from the SHA-256 recorded at registration: nothing is sent."},
    },
)
def model_artifact(model_id: ModelId, reg: Registry) -> Response:
    """Download a model's artifact (joblib), its bytes checked against the registry's SHA-256 first.

    Loading it unpickles it: do that only with files from a registry you trust.
    """
    return download(manage.artifact_download(reg, model_id))
