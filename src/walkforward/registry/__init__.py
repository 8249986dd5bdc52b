"""The model registry: model metadata in SQLite or PostgreSQL, verified artifacts on disk.

Public names: :class:`Database` (the shared engine, migrations and transaction helper) and
:func:`to_json`, :class:`ModelStore` (open, add, get, list, lineage, delete, sweep), the frozen
records :class:`NewModel`, :class:`ModelRecord` and :class:`ModelSummary` (a list row), the artifact
helpers and the registry's errors.
:class:`LockboxRecord` is a model's one recorded evaluation on the lock box; :class:`ModelNotes` its tags and note.
:class:`TrialStore` keeps searches' per-combination fold scores (:class:`TrialScore`, at a fidelity
such as :data:`FULL_FIDELITY`). The job store is :class:`walkforward.registry.jobs.JobStore`.
"""

from __future__ import annotations

from walkforward.model_summary import LISTED_METRICS
from walkforward.registry.artifacts import load_artifact, save_artifact
from walkforward.registry.database import Database, to_json
from walkforward.registry.errors import (
    ArtifactIntegrityError,
    ArtifactMissingError,
    DuplicateModelError,
    LockboxEvaluatedError,
    ModelNotFoundError,
    RegistryError,
)
from walkforward.registry.lockbox import LockboxRecord
from walkforward.registry.notes import ModelNotes
from walkforward.registry.records import ModelRecord, ModelSummary, NewModel
from walkforward.registry.store import MAX_PAGE, SORT_COLUMNS, ModelStore
from walkforward.registry.trials import FULL_FIDELITY, CohortTrial, TrialMeta, TrialScore, TrialStore

__all__ = [
    "FULL_FIDELITY",
    "LISTED_METRICS",
    "MAX_PAGE",
    "SORT_COLUMNS",
    "ArtifactIntegrityError",
    "ArtifactMissingError",
    "CohortTrial",
    "Database",
    "DuplicateModelError",
    "LockboxEvaluatedError",
    "LockboxRecord",
    "ModelNotFoundError",
    "ModelNotes",
    "ModelRecord",
    "ModelStore",
    "ModelSummary",
    "NewModel",
    "RegistryError",
    "TrialMeta",
    "TrialScore",
    "TrialStore",
    "load_artifact",
    "save_artifact",
    "to_json",
]
