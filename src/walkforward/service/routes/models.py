"""Registered models and cohorts: list, show, delete, lineage, predict, lock box, plots."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from walkforward import manage, queries, side_by_side
from walkforward.model_summary import MAX_PAGE
from walkforward.registry import LockboxEvaluatedError, ModelStore
from walkforward.registry.notes import TAG_PATTERN
from walkforward.service.deps import Services, registry, services
from walkforward.service.plot_cache import chart_png
from walkforward.service.routes._params import ID_PATTERN, CohortId, ModelId, Offset
from walkforward.service.routes.manage import download
from walkforward.service.schemas import LockboxBody, ModelPage, PredictBody, RetrainBody, ScheduleBody, Submitted

router = APIRouter(tags=["models"])

Registry = Annotated[ModelStore, Depends(registry)]
Svc = Annotated[Services, Depends(services)]
#: Larger pages are refused by the registry with a 422 that says how to page on (not clamped silently).
PageSize = Annotated[
    int,
    Query(
        ge=1, description=f"Page size, 1 to {MAX_PAGE}; page on with offset.", json_schema_extra={"maximum": MAX_PAGE}
    ),
]


@router.get("/models", response_model=ModelPage)
async def list_models(
    reg: Registry,
    symbol: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,14}$")] = None,
    algorithm: Annotated[str | None, Query(pattern=r"^[a-z0-9_]{1,64}$")] = None,
    cohort_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    parent_model_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    sort: Annotated[
        str, Query(max_length=80, description="created_at, algorithm, symbol, cv_score, cohort_rank or metrics.<name>")
    ] = "created_at",
    descending: bool = True,
    limit: PageSize = 50,
    offset: Offset = 0,
    task: Annotated[
        Literal["regression", "classification"] | None, Query(description="Only the models of this task's algorithms.")
    ] = None,
    id_prefix: Annotated[
        str | None, Query(pattern=r"^[A-Za-z0-9_\-]{1,64}$", description="Only models whose id starts with this.")
    ] = None,
    where: Annotated[
        list[str] | None,
        Query(
            max_length=10,
            description="Metric filters such as `sharpe > 1` or `net_annual_return >= 0.05 and ic > 0` "
            "(listed metrics, any case; < <= > >= =; repeatable, all must hold).",
        ),
    ] = None,
    primary_only: Annotated[
        bool, Query(description="Match `symbol` against the primary symbol only (default: any symbol).")
    ] = False,
    tag: Annotated[
        str | None, Query(pattern=TAG_PATTERN, description="Only models tagged with this (any case), e.g. baseline.")
    ] = None,
) -> ModelPage:
    """Models matching the filters, sorted, one page at a time (at most 200); ``total`` counts every match.

    The rows are brief (no request, folds or explanations: ``GET /models/{id}`` has them), read from
    the registry's list tables without decoding any model's JSON.
    """

    # One trip to a route thread for the database and the rows (a ``def`` route would take a second
    # one to validate the answer).
    def read() -> ModelPage:
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
            task=task,
            id_prefix=id_prefix,
            where=where or (),
            primary_only=primary_only,
            tag=tag,
        )
        return ModelPage(total=page.total, items=page.items())

    return await run_in_threadpool(read)


@router.get("/models/{model_id}")
def get_model(model_id: ModelId, reg: Registry) -> dict[str, Any]:
    """A model: request, features, folds, metrics, feature details and regime importance."""
    return queries.model(reg, model_id)


@router.delete("/models/{model_id}")
def delete_model(model_id: ModelId, svc: Svc) -> dict[str, Any]:
    """Delete a model and its artifact file."""
    deleted = queries.delete_model(svc.registry, model_id)
    svc.plots.evict(model_id)
    return deleted


@router.get("/models/{model_id}/lineage")
def model_lineage(model_id: ModelId, reg: Registry) -> dict[str, Any]:
    """The model, its ancestors (parent first), its descendants, an ensemble's members and the ensembles built on it."""
    return queries.lineage(reg, model_id).to_dict()


@router.post("/models/{model_id}/predict")
def predict_model(model_id: ModelId, svc: Svc, body: PredictBody) -> dict[str, Any]:
    """The latest ``limit`` predictions of a model on its symbols and timeframe."""
    found = queries.predictions(svc.registry, svc.store, model_id, start=body.start, end=body.end)
    return found.to_dict(body.limit)


@router.post(
    "/models/{model_id}/lockbox",
    responses={
        409: {"description": "Already evaluated: the detail and the recorded evaluation (`lockbox`)."},
        422: {"description": "No lock box is set, or the model was trained on data reaching it."},
    },
)
def evaluate_lockbox(model_id: ModelId, svc: Svc, body: LockboxBody) -> Any:
    """Evaluate a model on the lock box (``WALKFORWARD_LOCKBOX_START``) once and record the result.

    A second request is refused with 409, whose body carries the recorded evaluation under ``lockbox``.
    """
    try:
        return queries.evaluate_lockbox(svc.registry, svc.store, model_id)
    except LockboxEvaluatedError as exc:
        return JSONResponse({"detail": str(exc), "lockbox": exc.evaluation.to_dict()}, status_code=409)


#: What a route that queues a job of a model answers before any 409 or 422 of its own.
_QUEUED: dict[int | str, dict[str, Any]] = {
    202: {"description": "Queued: the job's id; `Location` is its `/jobs/{id}`."},
    404: {"description": "No such model."},
}


@router.post(
    "/models/{model_id}/retrain",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Submitted,
    responses={
        **_QUEUED,
        409: {"description": "A retrain of this model is already queued or running (its job is named)."},
        422: {"description": "An ensemble (retrain its members), or data the store no longer holds."},
    },
)
def retrain_model(model_id: ModelId, svc: Svc, body: RetrainBody, request: Request, response: Response) -> Submitted:
    """Queue a retrain: the model's request refitted on every row up to now (lock box excluded) as a
    child "retrained from" it. Returns 202 with the job id at once; ``GET /jobs/{id}`` follows it.

    Refused before queueing (no job is made): an unknown model (404), a retrain of it already queued
    or running (409), an ensemble or data the store no longer holds (422). The done job's ``result``
    is what the call answered when it was synchronous: ``model_id`` (the child), ``trained`` (false,
    with the existing child, when no data arrived since the last retrain), ``message``, ``retrain``
    (rows, ``rows_used``, data end) and ``rows_used``. The child's metrics are out of sample (the
    walk-forward folds of the extended data); its final fit uses every row, test-labelled ones
    included. A cancelled or interrupted retrain resumes with ``POST /jobs/{id}/resume``. The CLI's
    ``walkforward retrain`` stays synchronous.
    """
    job = svc.submit_retrain(model_id)
    response.headers["Location"] = _job_location(request, job.id)
    return Submitted(job_id=job.id, status=job.status)


@router.post(
    "/models/{model_id}/retrain/simulate",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Submitted,
    responses={
        **_QUEUED,
        422: {"description": "An ensemble, data the store no longer holds, or warm_start for a non-booster."},
    },
)
def simulate_retraining(
    model_id: ModelId, svc: Svc, body: ScheduleBody, request: Request, response: Response
) -> Submitted:
    """Queue a simulation: frozen vs refitted every ``every`` sessions, on the same rows with the model's
    costs; registers nothing. Returns 202 with the job id; the done job's ``result`` is the report
    (each arm, the difference, the refits, the daily returns), ``message`` one line of it.

    Refused before queueing as a retrain is (404, 422); one that needs the data to be refused (no
    session after the model's data end: pass ``initial_days``) fails as a job with that line.
    """
    job = svc.submit_schedule(model_id, body.model_dump())
    response.headers["Location"] = _job_location(request, job.id)
    return Submitted(job_id=job.id, status=job.status)


def _job_location(request: Request, job_id: str) -> str:
    return f"{request.scope.get('root_path', '')}/jobs/{job_id}"


@router.get("/models/{model_id}/lockbox")
def model_lockbox(model_id: ModelId, reg: Registry) -> dict[str, Any]:
    """A model's recorded lock-box evaluation (404 if it was never evaluated)."""
    return queries.lockbox(reg, model_id)


@router.get(
    "/models/{model_id}/predictions",
    response_model=None,
    responses={200: {"content": {"application/json": {}, "application/vnd.apache.parquet": {}}}},
)
def model_predictions(
    model_id: ModelId, reg: Registry, format: Literal["json", "parquet"] = "json"
) -> Response | dict[str, Any]:
    """The out-of-sample predictions a model was evaluated on (one row per test row of each fold).

    ``format=parquet`` downloads the file as kept (hash-checked) instead of JSON columns.
    """
    if format == "parquet":  # the file itself: its sha256 is the registry's (X-Content-SHA256)
        return download(manage.predictions_download(reg, model_id))
    return queries.predictions_dict(model_id, queries.kept_predictions(reg, model_id))


@router.get(
    "/models/{model_id}/drift",
    responses={404: {"description": "No such model, or no data after its training end (ingest newer bars)."}},
)
def model_drift(
    model_id: ModelId,
    svc: Svc,
    since: Annotated[
        str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$", description="First day of the new window (YYYY-MM-DD).")
    ] = None,
) -> dict[str, Any]:
    """Drift after the model's training end: features (PSI, KS vs block-bootstrap thresholds), predictions,
    performance; status ok / warn / alert with reasons, drifting features first."""
    return queries.drift(svc.registry, svc.store, svc.settings, model_id, since=since)


@router.get("/models/{model_id}/compare/{other_id}")
def compare_models(model_id: ModelId, other_id: ModelId, reg: Registry) -> dict[str, Any]:
    """Diebold-Mariano test of two models' out-of-sample forecasts on the rows both scored."""
    return queries.compare(reg, model_id, other_id)


@router.get("/compare")
def compare_many(
    reg: Registry,
    ids: Annotated[
        str,
        Query(max_length=400, description="2 to 6 model ids (or short ids as shown), comma-separated: ids=a,b,c"),
    ],
) -> dict[str, Any]:
    """Models side by side: identity, request, hyperparameters, cv and per-fold metrics, and the keys that differ."""
    return side_by_side.compare_many(reg, ids)


@router.get("/models/{model_id}/equity")
def model_equity(model_id: ModelId, reg: Registry) -> dict[str, Any]:
    """Compounded daily net return out-of-sample, buy-and-hold beside it, and the drawdown under it."""
    return queries.equity(reg, model_id)


@router.get(
    "/models/{model_id}/plots/{kind}.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, 404: {"description": "No such model, or no explanations."}},
)
async def model_plot(model_id: ModelId, kind: Literal["importance", "regimes"], svc: Svc) -> Response:
    """Feature importance (mean |SHAP|) or regime importance of a model, as a PNG.

    Drawn once (about 2 s) on the server's heavy-work thread, then served from memory until the
    model's explanations change or it is deleted.
    """
    png = await chart_png(svc.registry, svc.plots, model_id, kind)
    return Response(png, media_type="image/png")


@router.get("/cohorts/{cohort_id}")
def get_cohort(
    cohort_id: CohortId,
    reg: Registry,
    selection: Annotated[
        Literal["true", "false", "kept"],
        Query(description="The selection statistics: computed if need be (true), only if already kept (kept), or not."),
    ] = "true",
) -> dict[str, Any]:
    """A search's models ranked best first, with how much of the best score survives the tries (PBO,
    DSR, SPA: about a second the first time they are computed, then kept in memory and beside the models;
    ``null`` with ``selection=false``, or ``kept`` when they are not kept yet)."""
    return queries.cohort(reg, cohort_id, selection=selection).to_dict()


@router.get("/cohorts/{cohort_id}/explore")
def explore_cohort(
    cohort_id: CohortId,
    reg: Registry,
    selection: Annotated[bool, Query(description="Also return the selection statistics of GET /cohorts/{id}.")] = False,
) -> dict[str, Any]:
    """A cohort as optuna-dashboard shows a study: varied hyperparameters (axes), each sibling's score
    and each configuration its searches scored without registering (``model_id`` null), fANOVA
    parameter importance and the score history with its running best; with ``selection=true``,
    the cohort's selection statistics too (the UI's cohort modal: siblings first, then this)."""
    return queries.cohort_explore(reg, cohort_id, selection=selection)


@router.delete("/cohorts/{cohort_id}")
def delete_cohort(cohort_id: CohortId, svc: Svc) -> dict[str, Any]:
    """Delete every model of a cohort and their artifact files."""
    members = svc.registry.cohort_ids(cohort_id)
    deleted = queries.delete_cohort(svc.registry, cohort_id)
    for model_id in members:
        svc.plots.evict(model_id)
    return deleted
