"""The model registry: model metadata in SQLite or PostgreSQL, verified artifacts on disk.

Public names: :class:`ModelStore` (open, add, get, list, lineage, delete, sweep), the frozen records
:class:`NewModel` and :class:`ModelRecord`, the artifact helpers and the registry's errors.
"""

from __future__ import annotations

from walkforward.registry.artifacts import load_artifact, save_artifact
from walkforward.registry.errors import (
    ArtifactIntegrityError,
    ArtifactMissingError,
    DuplicateModelError,
    ModelNotFoundError,
    RegistryError,
)
from walkforward.registry.records import ModelRecord, NewModel
from walkforward.registry.store import SORT_COLUMNS, ModelStore

__all__ = [
    "SORT_COLUMNS",
    "ArtifactIntegrityError",
    "ArtifactMissingError",
    "DuplicateModelError",
    "ModelNotFoundError",
    "ModelRecord",
    "ModelStore",
    "NewModel",
    "RegistryError",
    "load_artifact",
    "save_artifact",
]
