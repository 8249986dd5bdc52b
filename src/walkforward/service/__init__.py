"""The HTTP API and web UI: :func:`create_app` builds the FastAPI app from settings.

The names are imported on first use, so that a job worker (``python -m
walkforward.service.jobs.worker``) does not load FastAPI and the routes it never serves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from walkforward.service.app import create_app
    from walkforward.service.deps import Services

__all__ = ["Services", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from walkforward.service.app import create_app

        return create_app
    if name == "Services":
        from walkforward.service.deps import Services

        return Services
    raise AttributeError(f"module 'walkforward.service' has no attribute {name!r}")
