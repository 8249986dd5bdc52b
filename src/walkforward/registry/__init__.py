"""The model registry: model metadata in SQLite or PostgreSQL, verified artifacts on disk.

Public names: :class:`Database` (the shared engine, migrations and transaction helper) and
:func:`to_json`, :class:`ModelStore` (open, add, get, list, lineage, delete, sweep), the frozen
records :class:`NewModel` and :class:`ModelRecord`, the artifact helpers and the registry's errors.
The job store is :class:`walkforward.registry.jobs.JobStore`.
"""

from __future__ import annotations

from walkforward.registry.artifacts import load_artifact, save_artifact
from walkforward.registry.database import Database, to_json
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
    "Database",
    "DuplicateModelError",
    "ModelNotFoundError",
    "ModelRecord",
    "ModelStore",
    "NewModel",
    "RegistryError",
    "load_artifact",
    "save_artifact",
    "to_json",
]
