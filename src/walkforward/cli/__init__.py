"""The ``walkforward`` command line: thin Typer commands over the library functions.

This module holds the Typer ``app``, :func:`main` (the console script), the settings callback and
what every command shares (options declared once, the stores, JSON output, progress). The commands
live by subject: :mod:`~walkforward.cli.data` (demo-data, ingest, symbols, dataset),
:mod:`~walkforward.cli.training` (train, search, demo), :mod:`~walkforward.cli.models` (the
``models`` group and predict), :mod:`~walkforward.cli.store` (``store migrate``) and
:mod:`~walkforward.cli.serve`. Reads of the registry and the store go through
:mod:`walkforward.queries`, the same functions the API routes call, so ``--json`` prints what the
API returns.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from walkforward.diskfull import is_disk_full
from walkforward.errors import WalkforwardError
from walkforward.shutdown import settle_heap

if TYPE_CHECKING:
    from rich.progress import Progress

    from walkforward.config import Settings
    from walkforward.features.store import FeatureStore
    from walkforward.registry import ModelStore

app = typer.Typer(
    help="Leakage-safe training and walk-forward evaluation of price-forecasting models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")]


class _State:
    settings: Settings
    command: str | None = None


state = _State()

#: The store a command writes (named in a full disk's one line when the error names no file).
_WRITES = {name: "FEATURES_PARQUET_DIR" for name in ("demo-data", "ingest", "demo", "store")}


@app.callback()
def _setup(ctx: typer.Context) -> None:
    from rich.logging import RichHandler

    from walkforward.config import load_settings  # pydantic-settings: not needed by --help

    settings = load_settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(message)s",
        handlers=[RichHandler(console=err, show_path=False, show_time=False)],
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # migration chatter is not news to a user
    state.settings = settings
    state.command = ctx.invoked_subcommand


def _store() -> FeatureStore:
    from walkforward.features.store import FeatureStore

    return FeatureStore(state.settings.features_parquet_dir, lockbox_start=state.settings.walkforward_lockbox_start)


def _registry() -> ModelStore:
    from walkforward.registry import ModelStore

    return ModelStore.open(state.settings.database_url, state.settings.models_dir)


def _emit_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")


def _ingest_progress(total: int, json_out: bool) -> tuple[Progress, Callable[[str], None]]:
    from rich.progress import Progress

    progress = Progress(console=err, transient=True, disable=json_out)
    task = progress.add_task("ingest", total=total)
    return progress, lambda msg: progress.update(task, advance=1, description=msg)


def main() -> None:
    """Console-script entry point: run the app, turning our own errors into one clear line."""
    try:
        app()
    except WalkforwardError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise SystemExit(2) from None
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        err.print(f"[bold red]error:[/] {escape(str(_disk_full(exc)))}")
        raise SystemExit(2) from None
    finally:
        settle_heap()  # the process exits next: its shutdown need not walk the heap


def _disk_full(exc: OSError) -> WalkforwardError:
    """A full disk met outside our own writers (a Parquet file of the store, an --output file) as one line."""
    from walkforward.diskfull import from_os_error

    settings = getattr(state, "settings", None)
    roots = {}
    if settings is not None:
        roots = {
            "FEATURES_PARQUET_DIR": settings.features_parquet_dir,
            "MODELS_DIR": settings.models_dir,
            "METADATA_DB_PATH": settings.metadata_db_path.parent,
        }
    return from_os_error(exc, roots, _WRITES.get(state.command or ""))


# The command modules register themselves on `app`; the order is the order of `--help`.
from walkforward.cli import data, store, training, models, analysis, retrain, ensemble, serve  # noqa: E402, F401, I001

__all__ = ["app", "main"]
