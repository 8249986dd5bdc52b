"""The FastAPI app factory: routes, error mapping, body-size limit, optional token, the web UI."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from walkforward.config import Settings
from walkforward.errors import DataNotFoundError, InvalidInputError, WalkforwardError
from walkforward.model_selection.executors import SchedulerUnreachableError
from walkforward.registry import ArtifactIntegrityError, DuplicateModelError, ModelNotFoundError, RegistryError
from walkforward.registry.jobs import JobNotFoundError, JobStateError
from walkforward.request import describe_errors
from walkforward.service import capacity
from walkforward.service.deps import Services, require_token
from walkforward.service.routes import jobs, models, system

log = logging.getLogger(__name__)

#: Largest request body accepted (bytes); larger ones get 413 before they are parsed.
MAX_BODY_BYTES = 64 * 1024
STATIC_DIR = Path(__file__).resolve().parent / "static"

#: Our errors -> HTTP status (the most specific class wins, as Starlette looks handlers up by MRO).
_STATUS: dict[type[Exception], int] = {
    InvalidInputError: 422,
    DataNotFoundError: 404,
    ModelNotFoundError: 404,
    JobNotFoundError: 404,
    JobStateError: 409,
    DuplicateModelError: 409,
    ArtifactIntegrityError: 409,
    SchedulerUnreachableError: 503,
    WalkforwardError: 400,
}


class _BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """Refuse request bodies over ``max_bytes`` with 413 (by Content-Length, or while streaming)."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _BodyTooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"request body too large: the limit is {self.max_bytes // 1024} KiB; send a smaller request"
        await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)


def _validation_message(exc: RequestValidationError) -> str:
    # The same one-line wording as the CLI and the library (walkforward.request.describe_errors).
    return describe_errors(list(exc.errors())[:10]) or "invalid request body"


def _install_error_handlers(app: FastAPI) -> None:
    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return JSONResponse({"detail": _validation_message(exc)}, status_code=422)

    def our_error(status_code: int) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
        async def handler(request: Request, exc: Exception) -> JSONResponse:
            return JSONResponse({"detail": str(exc)}, status_code=status_code)

        return handler

    async def registry_error(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s: registry error: %s", request.method, request.url.path, exc)
        detail = "the registry database refused or failed the operation; see the server log"
        return JSONResponse({"detail": detail}, status_code=503)

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": "internal server error; the details are in the server log"}, status_code=500)

    app.add_exception_handler(RequestValidationError, validation_error)
    for cls, code in _STATUS.items():
        app.add_exception_handler(cls, our_error(code))
    app.add_exception_handler(RegistryError, registry_error)
    app.add_exception_handler(Exception, unexpected)


def _mount_ui(app: FastAPI, static_dir: Path) -> None:
    index = static_dir / "index.html"

    @app.get("/", include_in_schema=False)
    def ui_index() -> Any:
        if index.is_file():
            return FileResponse(index)
        return JSONResponse({"detail": "no web UI is installed; the API is documented at /docs"}, status_code=404)

    app.mount("/static", StaticFiles(directory=static_dir), name="static")


def create_app(
    settings: Settings,
    *,
    services: Services | None = None,
    run_jobs: bool = True,
    job_concurrency: int = 1,
) -> FastAPI:
    """Build the API.

    Parameters
    ----------
    settings
        Where the data lives, and ``api_token`` (when set, every route but ``/health`` and the UI
        files needs ``Authorization: Bearer <token>``).
    services
        Already opened stores to use (tests); by default the lifespan opens them and starts the
        job runner, and closes them at shutdown.
    run_jobs
        Start a job runner (worker processes) when the lifespan opens the services.
    job_concurrency
        Jobs run at a time by this server.

    Examples
    --------
    >>> import uvicorn  # doctest: +SKIP
    >>> uvicorn.run(create_app(load_settings()), port=8000)  # doctest: +SKIP
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        capacity.install(app)  # thread pools: /health never queues behind other requests
        svc: Services | None = app.state.services
        opened_here = svc is None
        if svc is None:
            svc = await run_in_threadpool(Services.open, settings, run_jobs=run_jobs, job_concurrency=job_concurrency)
            app.state.services = svc
        if opened_here and svc.runner is not None:
            await run_in_threadpool(svc.runner.start)
        try:
            yield
        finally:
            if opened_here:
                await run_in_threadpool(svc.close)
                app.state.services = None

    app = FastAPI(
        title="walkforward",
        summary="Leakage-safe training, search and walk-forward evaluation of price-forecasting models.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.services = services
    _install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=MAX_BODY_BYTES)
    protected = [Depends(require_token)]
    app.include_router(system.health_router)
    app.include_router(jobs.router, dependencies=protected)
    app.include_router(models.router, dependencies=protected)
    app.include_router(system.router, dependencies=protected)
    if STATIC_DIR.is_dir():
        _mount_ui(app, STATIC_DIR)
    return app
