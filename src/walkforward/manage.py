"""Run management shared by the CLI and the API: a model's tags and note, and its files as downloads.

Like :mod:`walkforward.queries`, each function takes the opened registry, does one thing and returns
JSON-ready data or a small frozen value; no HTTP and no terminal here.

Examples
--------
>>> from walkforward import manage
>>> manage.set_notes(registry, "3f2a...", tags=["baseline"], note="first try")  # doctest: +SKIP
{'model_id': '3f2a...', 'tags': ['baseline'], 'note': 'first try', 'updated_at': '2026-...'}
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from walkforward.errors import DataNotFoundError
from walkforward.forecast_queries import no_kept_predictions

if TYPE_CHECKING:
    from walkforward.registry import ModelStore

__all__ = ["Download", "artifact_download", "notes", "predictions_download", "set_notes"]


@dataclass(frozen=True)
class Download:
    """A model's file as sent: its name, bytes (checked against the registry's SHA-256) and digest."""

    filename: str
    data: bytes
    sha256: str
    media_type: str


def set_notes(registry: ModelStore, model_id: str, *, tags: Iterable[str] = (), note: str = "") -> dict[str, Any]:
    """Replace a model's tags and note (empty ones clear them); what is stored, JSON-ready."""
    return {"model_id": model_id, **registry.set_notes(model_id, tags=tags, note=note).to_dict()}


def notes(registry: ModelStore, model_id: str) -> dict[str, Any]:
    """A model's tags and note (empty when never set)."""
    return {"model_id": model_id, **registry.notes(model_id).to_dict()}


def artifact_download(registry: ModelStore, model_id: str) -> Download:
    """The model's joblib artifact, its bytes checked against the SHA-256 recorded at registration.

    Raises
    ------
    DataNotFoundError
        The file is missing (deleted, or the models directory moved).
    ArtifactIntegrityError
        The bytes differ from what was registered: nothing is sent.
    """
    from walkforward.registry import ArtifactMissingError
    from walkforward.registry.artifacts import verified_bytes

    record = registry.get(model_id)
    path = Path(record.artifact_path)
    try:
        data = verified_bytes(path, record.artifact_sha256, "model artifact")
    except ArtifactMissingError as exc:
        raise DataNotFoundError(str(exc)) from None
    return Download(path.name, data, record.artifact_sha256, "application/octet-stream")


def predictions_download(registry: ModelStore, model_id: str) -> Download:
    """The model's kept out-of-sample predictions, the Parquet file as registered (hash-checked).

    Raises
    ------
    DataNotFoundError
        The model was registered before predictions were kept, or the file is missing.
    ArtifactIntegrityError
        The file was changed since it was written.
    """
    from walkforward.registry import ArtifactMissingError
    from walkforward.registry.artifacts import verified_bytes

    record = registry.get(model_id)
    kept = record.derived.get("predictions")
    if not kept:
        raise no_kept_predictions(model_id)
    path = registry.models_dir / str(kept["file"])
    try:
        data = verified_bytes(path, str(kept["sha256"]), "predictions file")
    except ArtifactMissingError as exc:
        raise DataNotFoundError(str(exc)) from None
    return Download(path.name, data, str(kept["sha256"]), "application/vnd.apache.parquet")
