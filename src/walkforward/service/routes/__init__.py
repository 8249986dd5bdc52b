"""The API's routers, one module per resource."""

from __future__ import annotations

from walkforward.service.routes import ensembles, jobs, models, system

__all__ = ["ensembles", "jobs", "models", "system"]
