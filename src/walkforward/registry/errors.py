"""Errors raised by the model registry (all are :class:`~walkforward.errors.WalkforwardError`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from walkforward.errors import WalkforwardError

if TYPE_CHECKING:
    from walkforward.registry.lockbox import LockboxRecord


class RegistryError(WalkforwardError):
    """The registry database refused or failed an operation (driver errors are wrapped in this)."""


class DuplicateModelError(RegistryError):
    """A model with the same fingerprint (or id) is already registered.

    Parameters
    ----------
    message
        What collided and how to proceed.
    existing_id
        Id of the model already stored, when it could be determined.
    """

    def __init__(self, message: str, existing_id: str | None = None) -> None:
        super().__init__(message)
        self.existing_id = existing_id


class ModelNotFoundError(RegistryError, LookupError):
    """No model with the requested id is registered."""


class ArtifactIntegrityError(WalkforwardError):
    """A model artifact file is missing, changed or truncated; it was not unpickled."""


class ArtifactMissingError(ArtifactIntegrityError):
    """The artifact file a registry row points to does not exist."""


class LockboxEvaluatedError(RegistryError):
    """A model (or one with its fingerprint) was already evaluated on the lock box; ``evaluation`` is that record."""

    def __init__(self, message: str, evaluation: LockboxRecord) -> None:
        super().__init__(message)
        self.evaluation = evaluation
