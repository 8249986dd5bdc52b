"""Data commands: ``demo-data``, ``ingest``, ``symbols``, ``dataset`` and ``store migrate``."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from walkforward import queries
from walkforward.cli import (
    JsonOpt,
    _emit_json,
    _ingest_progress,
    _store,
    app,
    err,
    out,
    state,
)
from walkforward.cli.options import request_command
from walkforward.domain import DEFAULT_TIMEZONE, SplitScheme, parse_symbols, validate_timezone
from walkforward.features import DEFAULT_SYMBOLS, FEATURE_SET_VERSION
from walkforward.reports import dataset_dict
from walkforward.reports.tables import dataset_tables, ingest_table, symbols_table
from walkforward.request import DataRequest

if TYPE_CHECKING:
    from walkforward.features.pipeline import IngestSummary


@app.command("demo-data")
def demo_data(
    days: Annotated[int, typer.Option(min=1, help="Trading days of 1-minute bars.")] = 150,
    symbols: Annotated[str, typer.Option(help="Symbols to generate (a VIX symbol is a close-only index).")] = ",".join(
        DEFAULT_SYMBOLS
    ),
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same market).")] = 7,
    split_scheme: Annotated[str, typer.Option(help="TRAIN_DAYS:TEST_DAYS walk-forward blocks, or none.")] = "40:10",
    options: Annotated[str, typer.Option(help="Feature-set version name.")] = FEATURE_SET_VERSION,
    json_out: JsonOpt = False,
) -> None:
    """Write a deterministic synthetic market through the feature pipeline."""
    from walkforward.features.pipeline import summary_dict

    rows = _demo_data(days, symbols, seed, split_scheme, options, json_out)
    if json_out:
        _emit_json([summary_dict(r) for r in rows])
    else:
        out.print(ingest_table(rows, f"Demo market written to {state.settings.features_parquet_dir}"))
        out.print(f"Time zone {DEFAULT_TIMEZONE}: sessions are 09:30-16:00 local time, stored as UTC instants.")


def _demo_data(
    days: int, symbols: str, seed: int, split_scheme: str, options: str, json_out: bool
) -> list[IngestSummary]:
    from walkforward.features.demo import generate_market
    from walkforward.features.pipeline import ingest_frames

    syms = parse_symbols(symbols)
    scheme = SplitScheme.parse(split_scheme)
    with err.status("generating the market", spinner="dots") if not json_out else contextlib.nullcontext():
        frames = generate_market(days=days, symbols=syms, seed=seed)
    progress, step = _ingest_progress(2 * len(frames), json_out)
    with progress:
        return ingest_frames(_store(), frames, options=options, scheme=scheme, progress=step, timezone=DEFAULT_TIMEZONE)


def _zone(flag: str | None) -> tuple[str, str]:
    """The exchange zone of an ingest or migration and where it came from: the flag, the setting, or the default."""
    if flag is not None:
        return validate_timezone(flag, "--timezone"), "--timezone"
    setting = state.settings.walkforward_timezone
    source = "the default" if setting == DEFAULT_TIMEZONE else "WALKFORWARD_TIMEZONE"
    return validate_timezone(setting, "WALKFORWARD_TIMEZONE"), source


def zone_line(zone: str, source: str) -> str:
    """The one line every ingest prints about time zones."""
    return (
        f"Time zone {zone} ({source}): naive timestamps were read as local time there, timestamps with an "
        "offset kept their instant; stored as UTC, days are local dates in that zone."
    )


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="CSV or Parquet bar files (one per symbol, or long format).")],
    symbol: Annotated[str | None, typer.Option(help="Symbol of a single file (default: the file's stem).")] = None,
    options: Annotated[str, typer.Option(help="Feature-set version name.")] = FEATURE_SET_VERSION,
    split_scheme: Annotated[str, typer.Option(help="TRAIN_DAYS:TEST_DAYS walk-forward blocks, or none.")] = "none",
    timezone: Annotated[
        str | None,
        typer.Option(
            help="Exchange zone (IANA name) of the bars: naive timestamps are local time there and days are its "
            f"local dates [default: WALKFORWARD_TIMEZONE or {DEFAULT_TIMEZONE}]."
        ),
    ] = None,
    allow_unadjusted: Annotated[
        bool,
        typer.Option(
            "--allow-unadjusted",
            help="Ingest bars that look like they hold an unadjusted split (default: refused; "
            "better: add an adj_factor or adj_close column).",
        ),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Ingest OHLCV bars: validate, compute causal features, commit each symbol's days at once."""
    from walkforward.features.pipeline import ingest_paths, summary_dict

    zone, source = _zone(timezone)
    progress, step = _ingest_progress(2 * len(paths), json_out)
    with progress:
        rows = ingest_paths(
            _store(),
            paths,
            symbol=symbol,
            options=options,
            scheme=SplitScheme.parse(split_scheme),
            progress=step,
            timezone=zone,
            allow_unadjusted=allow_unadjusted,
        )
    if json_out:
        _emit_json([summary_dict(r) for r in rows])
    else:
        out.print(ingest_table(rows, "Ingested"))
        out.print(zone_line(zone, source))


@app.command()
def symbols(json_out: JsonOpt = False) -> None:
    """List what the feature store holds."""
    store = _store()
    infos = queries.symbols(store)
    if json_out:
        _emit_json(infos)
    elif not infos:
        out.print(f"The store at {store.root} is empty: run `walkforward demo-data` or `walkforward ingest FILE`.")
    else:
        out.print(symbols_table(infos))


@app.command()
@request_command(DataRequest)
def dataset(req: DataRequest, json_out: JsonOpt = False) -> None:
    """Load a data set exactly as training will, and show its rows, features and folds."""
    _show_dataset(req, json_out)


def _show_dataset(req: DataRequest, json_out: bool) -> None:
    from walkforward.data.loader import load_dataset
    from walkforward.model_selection import plan_folds

    ds = load_dataset(_store(), req.load_request())
    plan = plan_folds(ds, embargo=req.embargo, scheme=req.validation.scheme, strict_embargo=req.strict_embargo)
    if json_out:
        _emit_json(dataset_dict(ds, plan))
    else:
        for table in dataset_tables(ds, plan):
            out.print(table)
