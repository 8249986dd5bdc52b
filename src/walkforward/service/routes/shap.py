"""SHAP across models: which features matter consistently for a symbol or a cohort, and dependence plots."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from walkforward.service.deps import Services, services
from walkforward.service.routes._params import ID_PATTERN

router = APIRouter(tags=["models"])

Svc = Annotated[Services, Depends(services)]


@router.get("/shap")
def shap_view(
    svc: Svc,
    symbol: Annotated[str | None, Query(max_length=20, pattern=r"^[A-Za-z0-9._\-^]+$")] = None,
    cohort: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    feature: Annotated[str | None, Query(max_length=128, pattern=r"^[A-Za-z][A-Za-z0-9_.\-]*$")] = None,
    top: Annotated[int, Query(ge=1, le=100)] = 10,
    limit: Annotated[int, Query(ge=1, le=50)] = 50,
) -> dict[str, Any]:
    """Feature consistency over a symbol's (latest ``limit``) or a cohort's models from their stored mean
    |SHAP|; with ``feature``, its dependence (value vs SHAP) for up to 3 models, computed on demand."""
    from walkforward.shap_view import shap_across

    store = svc.store if feature else None
    return shap_across(svc.registry, store, symbol=symbol, cohort_id=cohort, feature=feature, top=top, limit=limit)
