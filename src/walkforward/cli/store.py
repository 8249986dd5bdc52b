"""The ``store`` command group: ``store migrate`` brings an older feature store to the current format."""

from __future__ import annotations

from typing import Annotated

import typer

from walkforward.cli import JsonOpt, _emit_json, _store, app, out
from walkforward.cli.data import _zone
from walkforward.domain import DEFAULT_TIMEZONE

store_app = typer.Typer(
    help="The feature store itself: migrate a store written by an older version.", no_args_is_help=True
)
app.add_typer(store_app, name="store")


@store_app.command("migrate")
def migrate(
    timezone: Annotated[
        str | None,
        typer.Option(
            help="Zone (IANA name) the stored naive times were recorded in "
            f"[default: WALKFORWARD_TIMEZONE or {DEFAULT_TIMEZONE}, the demo market's zone]."
        ),
    ] = None,
    symbol: Annotated[
        list[str] | None, typer.Option("--symbol", help="Migrate only this symbol (repeat for several).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Record time zones in a store written before they were: naive times -> UTC instants (idempotent)."""
    from rich.table import Table

    from walkforward.features.migrate import migrate_store, result_dict

    zone, source = _zone(timezone)
    results = migrate_store(_store(), zone, symbols=symbol)
    if json_out:
        _emit_json([result_dict(r) for r in results])
        return
    table = Table(title=f"Store migrated to format 2 (naive times read in {zone}, from {source})")
    for col in ("symbol", "time zone", "status", "files rewritten"):
        table.add_column(col)
    for r in results:
        status = "migrated" if r.status == "migrated" else "already recorded its zone: left alone"
        table.add_row(r.symbol, r.timezone, status, str(r.files))
    out.print(table if results else f"The store at {_store().root} is empty: nothing to migrate.")
