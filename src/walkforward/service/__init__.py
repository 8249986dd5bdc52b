"""The HTTP API and web UI: :func:`create_app` builds the FastAPI app from settings."""

from __future__ import annotations

from walkforward.service.app import create_app
from walkforward.service.deps import Services

__all__ = ["Services", "create_app"]
