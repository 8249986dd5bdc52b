"""Summaries of what was built or loaded, as plain dicts (for ``--json``) and rich tables."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.table import Table

from walkforward.data.loader import Dataset
from walkforward.errors import DataNotFoundError
from walkforward.evaluation.plots import regime_bars_png, shap_summary_png
from walkforward.features.pipeline import IngestSummary
from walkforward.features.store import SymbolInfo
from walkforward.model_selection.splitters import FoldPlan
from walkforward.registry import ModelRecord


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


_BRIEF_METRICS = ("r2", "rmse", "rmse_price", "hit_rate", "accuracy", "f1", "base_rate")


def model_dict(r: ModelRecord, *, brief: bool = False) -> dict[str, Any]:
    """A registered model as JSON (``brief``: the fields a list shows)."""
    d: dict[str, Any] = {
        "id": r.id,
        "created_at": r.created_at.isoformat(),
        "status": r.status,
        "symbol": r.symbol,
        "symbols": list(r.symbols),
        "algorithm": r.algorithm,
        "timeframe": r.timeframe,
        "target_transform": r.target_transform,
        "cv_score": r.cv_score,
        "cohort_id": r.cohort_id,
        "cohort_rank": r.cohort_rank,
        "parent_model_id": r.parent_model_id,
        "fingerprint": r.fingerprint,
        "features": len(r.features) if brief else list(r.features),
    }
    if brief:
        cv = r.metrics.get("cv", {})
        d["metrics"] = {k: cv[k] for k in _BRIEF_METRICS if k in cv}
        return d
    d.update(
        request=r.request,
        hyperparameters=r.hyperparameters,
        folds=r.folds,
        metrics=r.metrics,
        artifact_path=r.artifact_path,
        artifact_sha256=r.artifact_sha256,
        feature_details=r.feature_details,
        regime_importance=r.regime_importance,
    )
    return d


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def models_table(rows: Sequence[ModelRecord], total: int, offset: int) -> Table:
    t = Table(title=f"Models {offset + 1}-{offset + len(rows)} of {total}" if rows else "No models")
    for col in ("id", "created", "symbols", "algorithm", "tf", "score", "features", "cohort", "parent"):
        t.add_column(col)
    for r in rows:
        score_name = r.metrics.get("score", "")
        t.add_row(
            r.id[:12],
            r.created_at.strftime("%Y-%m-%d %H:%M"),
            ",".join(r.symbols),
            r.algorithm,
            r.timeframe,
            f"{score_name} {_fmt(r.cv_score)}",
            str(len(r.features)),
            f"{r.cohort_id[:8]}#{r.cohort_rank}" if r.cohort_id else "",
            (r.parent_model_id or "")[:12],
        )
    return t


def model_tables(r: ModelRecord) -> list[Table]:
    """A model as tables: identity, per-fold metrics with the aggregate, and the kept features."""
    head = Table(title=f"Model {r.id}", show_header=False)
    head.add_column("field", style="bold")
    head.add_column("value")
    for key, value in (
        ("symbols", ", ".join(r.symbols)),
        ("algorithm", r.algorithm),
        ("timeframe", r.timeframe),
        ("target", f"{r.request.get('target_col')} {r.target_transform}, {r.request.get('lookforward')} ahead"),
        ("validation", f"{r.folds.get('scheme')}, embargo {r.folds.get('embargo')} bars"),
        ("hyperparameters", json.dumps(r.hyperparameters, default=str)),
        (
            "features",
            f"{len(r.features)} kept of {len(r.request.get('input_features', []))} ({r.request.get('feature_source')})",
        ),
        ("parent", r.parent_model_id or "-"),
        ("cohort", r.cohort_id or "-"),
        ("fingerprint", r.fingerprint[:16]),
        ("artifact", r.artifact_path),
    ):
        head.add_row(key, str(value))
    folds: list[dict[str, Any]] = r.metrics.get("folds", [])
    cv: dict[str, Any] = r.metrics.get("cv", {})
    keys = [
        k
        for k in (
            "r2",
            "rmse",
            "rmse_price",
            "mae",
            "hit_rate",
            "accuracy",
            "precision",
            "recall",
            "f1",
            "base_rate",
            "roc_auc",
            "n",
        )
        if k in cv
    ]
    mt = Table(title="Out-of-sample metrics per fold")
    mt.add_column("fold")
    for k in keys:
        mt.add_column(k, justify="right")
    fold_info = {f["fold"]: f for f in r.folds.get("folds", [])}
    for m in folds:
        info = fold_info.get(m["fold"], {})
        mt.add_row(f"{m['fold']} ({str(info.get('test_start', ''))[:10]})", *[_fmt(m.get(k, "")) for k in keys])
    mt.add_row("[bold]mean[/]", *[_fmt(cv.get(k, "")) for k in keys])
    mt.add_row("[dim]std[/]", *[_fmt(cv.get(f"{k}_std", "")) for k in keys])
    return [head, mt]


def search_dict(result: Any) -> dict[str, Any]:
    """A search result as JSON."""
    return {
        "cohort_id": result.cohort_id,
        "strategy": result.strategy,
        "grid_size": result.grid_size,
        "tried": result.tried,
        "existing": result.existing,
        "trained": result.trained,
        "saved": [model_dict(r, brief=True) for r in result.saved],
        "duplicates": result.duplicates,
        "best": model_dict(result.best, brief=True) if result.best else None,
        "selection": result.selection,
        "notes": result.notes,
    }


def cohort_table(rows: Sequence[ModelRecord], selection: dict[str, Any], *, title: str) -> Table:
    """Siblings ranked by CV score, with the hyperparameters that differ between them."""
    varying = sorted(
        {k for r in rows for k, v in r.hyperparameters.items() if any(o.hyperparameters.get(k) != v for o in rows)}
    )
    caption = ""
    if "deflated_score" in selection:
        caption = (
            f"best {selection['best']:.4g} of {selection['n_tried']} tried; expected from luck alone "
            f"{selection['expected_max_luck']:.4g}; deflated {selection['deflated_score']:.4g}"
        )
        if "p_value_adjusted" in selection:
            caption += f"; p (adjusted for {selection['n_tried']} tries) {selection['p_value_adjusted']:.3g}"
    t = Table(title=title, caption=caption)
    for col in ("rank", "id", *varying, "score", "std", "features", "note"):
        t.add_column(col, justify="right" if col not in ("id", "note") else "left")
    for r in rows:
        cv = r.metrics.get("cv", {})
        key = r.metrics.get("score", "r2")
        note = "OLS fallback" if r.request.get("ols_fallback") else ""
        t.add_row(
            str(r.cohort_rank or ""),
            r.id[:12],
            *[_fmt(r.hyperparameters.get(k)) for k in varying],
            _fmt(r.cv_score),
            _fmt(cv.get(f"{key}_std", "")),
            str(len(r.features)),
            note,
        )
    return t


_PLOTS: dict[str, tuple[str, Callable[..., Path]]] = {
    "importance": ("feature_details", shap_summary_png),
    "regimes": ("regime_importance", regime_bars_png),
}


def plot_png(registry: Any, model_id: str, kind: str) -> bytes:
    """The PNG of a model's feature importance (``importance``) or regime importance (``regimes``)."""
    attribute, draw = _PLOTS[kind]
    record = registry.get(model_id)
    data: Mapping[str, Any] | None = getattr(record, attribute)
    if not data:
        raise DataNotFoundError(
            f"model {model_id} has no {attribute.replace('_', ' ')}: it was trained with explain=false "
            "(or its explanations failed): run `walkforward models explain ID` or train with explain=true"
        )
    with tempfile.TemporaryDirectory(prefix="walkforward-plot-") as tmp:
        path = draw(data, Path(tmp) / f"{kind}.png")
        return Path(path).read_bytes()
