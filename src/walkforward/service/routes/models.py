"""Registered models and cohorts: list, show, delete, lineage, predict, plots."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response

from walkforward import queries
from walkforward.features.store import FeatureStore
from walkforward.registry import ModelStore
from walkforward.reports import plot_png
from walkforward.service.deps import feature_store, registry
from walkforward.service.routes._params import ID_PATTERN, CohortId, Limit, ModelId, Offset
from walkforward.service.schemas import ModelPage, PredictBody

router = APIRouter(tags=["models"])

Registry = Annotated[ModelStore, Depends(registry)]


@router.get("/models", response_model=ModelPage)
def list_models(
    reg: Registry,
    symbol: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,14}$")] = None,
    algorithm: Annotated[str | None, Query(pattern=r"^[a-z0-9_]{1,64}$")] = None,
    cohort_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    parent_model_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    sort: Annotated[
        str, Query(max_length=80, description="created_at, algorithm, symbol, cv_score, cohort_rank or metrics.<name>")
    ] = "created_at",
    descending: bool = True,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ModelPage:
    """Models matching the filters, sorted, one page at a time; ``total`` counts every match."""
    page = queries.list_models(
        reg,
        symbol=symbol,
        algorithm=algorithm,
        cohort_id=cohort_id,
        parent_model_id=parent_model_id,
        sort=sort,
        descending=descending,
        limit=limit,
        offset=offset,
    )
    return ModelPage(total=page.total, items=page.items())


@router.get("/models/{model_id}")
def get_model(model_id: ModelId, reg: Registry) -> dict[str, Any]:
    """A model: request, features, folds, metrics, feature details and regime importance."""
    return queries.model(reg, model_id)


@router.delete("/models/{model_id}")
def delete_model(model_id: ModelId, reg: Registry) -> dict[str, Any]:
    """Delete a model and its artifact file."""
    return queries.delete_model(reg, model_id)


@router.get("/models/{model_id}/lineage")
def model_lineage(model_id: ModelId, reg: Registry) -> dict[str, Any]:
    """The model, its ancestors (parent first) and its descendants."""
    return queries.lineage(reg, model_id).to_dict()


@router.post("/models/{model_id}/predict")
def predict_model(
    model_id: ModelId, reg: Registry, store: Annotated[FeatureStore, Depends(feature_store)], body: PredictBody
) -> dict[str, Any]:
    """The latest ``limit`` predictions of a model on its symbols and timeframe."""
    found = queries.predictions(reg, store, model_id, start=body.start, end=body.end)
    return found.to_dict(body.limit)


@router.get(
    "/models/{model_id}/plots/{kind}.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, 404: {"description": "No such model, or no explanations."}},
)
def model_plot(model_id: ModelId, kind: Literal["importance", "regimes"], reg: Registry) -> Response:
    """Feature importance (mean |SHAP|) or regime importance of a model, as a PNG."""
    return Response(plot_png(reg, model_id, kind), media_type="image/png")


@router.get("/cohorts/{cohort_id}")
def get_cohort(cohort_id: CohortId, reg: Registry) -> dict[str, Any]:
    """A search's models ranked best first, with how much of the best score survives the tries."""
    return queries.cohort(reg, cohort_id).to_dict()


@router.delete("/cohorts/{cohort_id}")
def delete_cohort(cohort_id: CohortId, reg: Registry) -> dict[str, Any]:
    """Delete every model of a cohort and their artifact files."""
    return queries.delete_cohort(reg, cohort_id)
