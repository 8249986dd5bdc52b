"""Summaries of what was built or loaded, as plain dicts (for ``--json``) and rich tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.table import Table

from walkforward.data.loader import Dataset
from walkforward.features.pipeline import IngestSummary
from walkforward.features.store import SymbolInfo
from walkforward.model_selection.splitters import FoldPlan


def dataset_dict(ds: Dataset, plan: FoldPlan) -> dict[str, Any]:
    """A JSON-ready description of a loaded data set and its folds."""
    req = ds.request
    return {
        "symbols": list(ds.symbols_used),
        "skipped_symbols": list(ds.skipped_symbols),
        "timeframe": req.timeframe.value,
        "target_col": req.target_col,
        "target_transform": req.target_transform.value,
        "lookforward": req.lookforward,
        "data_options": req.data_options,
        "rows": len(ds.frame),
        "first_ts": str(ds.ts.iloc[0]),
        "last_ts": str(ds.ts.iloc[-1]),
        "days": int(ds.ts.dt.normalize().nunique()),
        "features": len(ds.feature_columns),
        "feature_columns": list(ds.feature_columns),
        "test_rows": int((ds.frame["data_split"] == "test").sum()),
        "folds": plan.to_dict(),
    }


def ingest_table(rows: Sequence[IngestSummary], title: str) -> Table:
    t = Table(title=title)
    for col in ("symbol", "days", "rows", "features", "bar", "first", "last", "train days", "test days"):
        t.add_column(col, justify="right" if col not in ("symbol", "first", "last") else "left")
    for r in rows:
        t.add_row(
            r.symbol,
            f"{r.days:,}",
            f"{r.rows:,}",
            str(r.features),
            f"{r.bar_seconds}s",
            r.first,
            r.last,
            str(r.train_days),
            str(r.test_days),
        )
    return t


def symbols_table(rows: Sequence[SymbolInfo]) -> Table:
    t = Table(title="Feature store")
    for col in ("symbol", "first date", "last date", "days", "feature sets", "bar", "features"):
        t.add_column(col)
    for r in rows:
        t.add_row(
            r.symbol,
            r.first_date,
            r.last_date,
            str(r.days),
            ", ".join(r.options),
            f"{r.bar_seconds}s",
            str(r.features),
        )
    return t


def dataset_tables(ds: Dataset, plan: FoldPlan) -> list[Table]:
    d = dataset_dict(ds, plan)
    summary = Table(title="Data set", show_header=False)
    summary.add_column("field", style="bold")
    summary.add_column("value")
    for key in (
        "symbols",
        "timeframe",
        "target_transform",
        "lookforward",
        "rows",
        "days",
        "features",
        "test_rows",
    ):
        value = d[key]
        summary.add_row(
            key,
            ", ".join(value) if isinstance(value, list) else f"{value:,}" if isinstance(value, int) else str(value),
        )
    if ds.skipped_symbols:
        summary.add_row("skipped", ", ".join(ds.skipped_symbols))
    summary.add_row("range", f"{d['first_ts']} .. {d['last_ts']}")
    summary.add_row("validation", f"{plan.scheme}, embargo {plan.embargo} bars, purge {plan.lookforward} bars")
    for note in plan.notes:
        summary.add_row("note", f"[yellow]{note}[/]")
    folds = Table(title=f"Folds ({plan.scheme})")
    for col in (
        "fold",
        "train from",
        "train to",
        "train rows",
        "purged",
        "embargoed",
        "test from",
        "test to",
        "test rows",
    ):
        folds.add_column(col, justify="right" if "rows" in col or col in ("fold", "purged", "embargoed") else "left")
    for f in plan.folds:
        folds.add_row(
            str(f.number),
            str(f.train_start),
            str(f.train_end),
            f"{len(f.train_index):,}",
            str(f.purged),
            str(f.embargoed),
            str(f.test_start),
            str(f.test_end),
            f"{len(f.test_index):,}",
        )
    return [summary, folds]
