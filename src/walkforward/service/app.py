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
from walkforward.errors import DataNotFoundError, DiskFullError, InvalidInputError, WalkforwardError
from walkforward.model_selection.executors import SchedulerUnreachableError
from walkforward.redaction import redact_paths, store_roots
from walkforward.registry import (
    ArtifactIntegrityError,
    DuplicateModelError,
    LockboxEvaluatedError,
    ModelNotFoundError,
    RegistryError,
)
from walkforward.registry.jobs import JobNotFoundError, JobStateError
from walkforward.request import describe_errors
from walkforward.service import capacity
from walkforward.service.deps import Services, require_token
from walkforward.service.routes import ensembles, jobs, models, shap, system
from walkforward.service.security import CrossSiteGuard, mount_docs

log = logging.getLogger(__name__)

#: Largest request body accepted (bytes); larger ones get 413 before they are parsed.
MAX_BODY_BYTES = 64 * 1024
#: A refused chunked body is read on (and dropped) up to this many times the limit, then the 413 is sent.
_DRAIN_FACTOR = 16
STATIC_DIR = Path(__file__).resolve().parent / "static"

#: Our errors -> HTTP status (the most specific class wins, as Starlette looks handlers up by MRO).
_STATUS: dict[type[Exception], int] = {
    InvalidInputError: 422,
    DataNotFoundError: 404,
    ModelNotFoundError: 404,
    JobNotFoundError: 404,
    JobStateError: 409,
    DuplicateModelError: 409,
    LockboxEvaluatedError: 409,
    ArtifactIntegrityError: 409,
    SchedulerUnreachableError: 503,
    DiskFullError: 507,
    WalkforwardError: 400,
}


class _Disconnected(Exception):
    pass


class BodySizeLimit:
    """Refuse request bodies over ``max_bytes`` with 413, whether declared (Content-Length) or chunked.

    The body is read here, before the app sees it (it is at most ``max_bytes``), then replayed: an
    error raised while FastAPI itself reads a chunked body would become its generic 400. What a
    refused client still sends is read and dropped (up to :data:`_DRAIN_FACTOR` times the limit) so
    that it reads the 413 rather than a reset connection.
    """

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
        try:
            body = await self._read(receive)
        except _Disconnected:
            return  # the client left: nobody to answer
        if body is None:
            await self._refuse(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # later messages (a disconnect) come from the server
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _read(self, receive: Receive) -> bytes | None:
        """The whole body, or ``None`` once it passes the limit (the rest drained, within a bound)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected()
            chunk = message.get("body", b"")
            size += len(chunk)
            more = bool(message.get("more_body", False))
            if size > self.max_bytes:
                while more and size <= _DRAIN_FACTOR * self.max_bytes:
                    message = await receive()
                    size += len(message.get("body", b""))
                    more = message["type"] == "http.request" and bool(message.get("more_body", False))
                return None
            chunks.append(chunk)
            if not more:
                return b"".join(chunks)

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
            # Our messages name files; a client sees them relative to the stores (MODELS_DIR/...).
            detail = redact_paths(str(exc), store_roots(request.app.state.settings))
            return JSONResponse({"detail": detail}, status_code=status_code)

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
        files, the OpenAPI schema and docs included, needs ``Authorization: Bearer <token>``).
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
        capacity.install()  # thread pools: /health never queues behind other requests
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
        docs_url=None,  # served by mount_docs, behind the token
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.services = services
    _install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=MAX_BODY_BYTES)
    app.add_middleware(CrossSiteGuard)
    protected = [Depends(require_token)]
    app.include_router(system.health_router)
    app.include_router(jobs.router, dependencies=protected)
    app.include_router(models.router, dependencies=protected)
    app.include_router(ensembles.router, dependencies=protected)
    app.include_router(shap.router, dependencies=protected)
    app.include_router(system.router, dependencies=protected)
    mount_docs(app)
    if STATIC_DIR.is_dir():
        _mount_ui(app, STATIC_DIR)
    return app
