"""The API's edges toward browsers: the docs behind the token, and no state change from another site.

- ``/openapi.json``, ``/docs`` and ``/redoc`` need the bearer token when ``API_TOKEN`` is set, as
  every route but ``/health`` does (the web UI does not use them).
- A state-changing request (POST, PUT, PATCH, DELETE) must be JSON (``Content-Type:
  application/json``) or carry the header ``X-Requested-With``. A page of another site can post a
  form, or a ``fetch`` with no body, without asking; it cannot send either of these without a CORS
  preflight, which this server never grants. So a form post is refused with 415 and a bodiless
  post without the header with 403, each with one line saying what to send.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from walkforward.service.deps import require_token

#: Methods that change state: each must prove it does not come from a plain cross-site form.
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: The custom header that marks a script's request (any non-empty value); the web UI sends it.
CUSTOM_HEADER = "X-Requested-With"
_CUSTOM = CUSTOM_HEADER.lower().encode()


def is_json(content_type: bytes) -> bool:
    """``application/json`` or an ``application/*+json`` type, parameters ignored.

    >>> is_json(b"application/json; charset=utf-8"), is_json(b"application/problem+json"), is_json(b"text/plain")
    (True, True, False)
    """
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))


class CrossSiteGuard:
    """Refuse state-changing requests that are neither JSON nor marked with :data:`CUSTOM_HEADER`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"")
        if is_json(content_type) or headers.get(_CUSTOM, b"").strip():
            await self.app(scope, receive, send)
            return
        route = f"{scope['method']} {scope.get('path', '')}"
        fix = (
            f"send a JSON body with 'Content-Type: application/json' ({{}} when there is nothing to send) "
            f"or the header '{CUSTOM_HEADER}: walkforward'"
        )
        if content_type:
            kind = content_type.split(b";", 1)[0].decode("latin-1").strip()
            detail, status = f"{route}: a body of type {kind[:80]} is refused (cross-site form protection); {fix}", 415
        else:
            detail, status = f"{route}: refused without a JSON body or the {CUSTOM_HEADER} header; {fix}", 403
        await JSONResponse({"detail": detail}, status_code=status)(scope, receive, send)


def mount_docs(app: FastAPI) -> None:
    """Serve the OpenAPI schema and its two viewers behind the token (build the app with them off)."""
    protected = [Depends(require_token)]
    title = app.title

    @app.get("/openapi.json", include_in_schema=False, dependencies=protected)
    def openapi() -> JSONResponse:
        schema: dict[str, Any] = app.openapi()
        return JSONResponse(schema)

    @app.get("/docs", include_in_schema=False, dependencies=protected)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{title} - Swagger UI")

    @app.get("/redoc", include_in_schema=False, dependencies=protected)
    def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title=f"{title} - ReDoc")


__all__ = ["CUSTOM_HEADER", "UNSAFE_METHODS", "CrossSiteGuard", "is_json", "mount_docs"]
