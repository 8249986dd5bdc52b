"""``serve``: the HTTP API and the web UI."""

from __future__ import annotations

from typing import Annotated

import typer

from walkforward.cli import app, state


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    job_concurrency: Annotated[int, typer.Option(min=1, help="Training/search jobs run at a time.")] = 1,
) -> None:
    """Serve the HTTP API and the web UI (jobs run in worker processes started by the server)."""
    import uvicorn

    from walkforward.service import create_app

    app_ = create_app(state.settings, job_concurrency=job_concurrency)
    uvicorn.run(app_, host=host, port=port, log_level=state.settings.log_level.lower())
