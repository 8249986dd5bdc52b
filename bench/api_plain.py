"""The plain way to list models, for the API benchmark: the registry's list as it was before issue 10.

:func:`plain_page` pages ids on the sort key (a metric is extracted from each row's ``metrics`` JSON),
then reads the page's full rows, decodes every JSON column into records and keeps the brief form.
:func:`create_plain_app` is the service with that list at ``GET /plain/models`` beside the real one,
for a uvicorn process of its own (``uvicorn --factory --app-dir bench api_plain:create_plain_app``).
Bench code only: it reads the registry's private tables.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI

from walkforward.config import load_settings
from walkforward.registry import ModelStore
from walkforward.registry._page import SORT_COLUMNS
from walkforward.registry._rows import to_record
from walkforward.registry._schema import models
from walkforward.reports.payloads import model_dict

_METRIC = re.compile(r"^metrics\.([A-Za-z0-9_]+)$")


def _sort_expression(sort: str) -> sa.ColumnElement[Any]:
    if sort in SORT_COLUMNS:
        return models.c[sort]
    match = _METRIC.fullmatch(sort)
    if match is None:
        raise ValueError(f"unknown sort {sort!r}")
    name = match.group(1)
    return sa.func.coalesce(models.c.metrics[("cv", name)].as_float(), models.c.metrics[name].as_float())


def plain_page(
    registry: ModelStore,
    *,
    symbol: str | None = None,
    algorithm: str | None = None,
    sort: str = "created_at",
    descending: bool = True,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """One page as ``GET /models`` answered it before: full rows, JSON decoded, brief dicts."""
    key = _sort_expression(sort)
    filters = {"symbol": symbol, "algorithm": algorithm}
    conditions = [models.c[name] == value for name, value in filters.items() if value is not None]
    order = (key.desc() if descending else key.asc()).nulls_last()
    with registry.database.transaction() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(models).where(*conditions)).scalar_one()
        ids_query = sa.select(models.c.id).where(*conditions).order_by(order, models.c.id).limit(limit).offset(offset)
        ids = [str(i) for i in conn.execute(ids_query).scalars()]
        rows = conn.execute(sa.select(models).where(models.c.id.in_(ids))).mappings().all() if ids else []
    by_id = {str(row["id"]): to_record(row, registry.models_dir) for row in rows}
    return {"total": int(total), "items": [model_dict(by_id[i], brief=True) for i in ids if i in by_id]}


def create_plain_app() -> FastAPI:
    """The service (settings from the environment) with the plain list at ``GET /plain/models``."""
    from walkforward.service import Services, create_app

    app = create_app(load_settings())

    @app.get("/plain/models")
    def plain_models(
        sort: str = "created_at",
        descending: bool = True,
        limit: int = 50,
        offset: int = 0,
        symbol: str | None = None,
        algorithm: str | None = None,
    ) -> dict[str, Any]:
        svc: Services = app.state.services
        return plain_page(
            svc.registry,
            symbol=symbol,
            algorithm=algorithm,
            sort=sort,
            descending=descending,
            limit=limit,
            offset=offset,
        )

    return app
