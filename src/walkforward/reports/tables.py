"""Rich tables for the terminal: what the CLI prints when it is not asked for ``--json``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.tree import Tree

from walkforward.reports.payloads import dataset_dict

if TYPE_CHECKING:
    import pandas as pd

    from walkforward.data.loader import Dataset
    from walkforward.features.pipeline import IngestSummary
    from walkforward.model_selection.splitters import FoldPlan
    from walkforward.registry import ModelRecord, ModelSummary

_MODEL_METRICS = (
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
_IMPORTANCE_COLUMNS = ("shap_mean_abs", "permutation_mean", "permutation_std", "coefficient", "tree_importance")


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def ingest_table(rows: Sequence[IngestSummary], title: str) -> Table:
    """What an ingest wrote, one row per symbol."""
    t = Table(title=title)
    for col in ("symbol", "days", "rows", "features", "bar", "first", "last", "train days", "test days", "adjusted"):
        t.add_column(col, justify="right" if col not in ("symbol", "first", "last", "adjusted") else "left")
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
            r.adjustment or "-",
        )
    return t


def symbols_table(rows: Sequence[Mapping[str, Any]]) -> Table:
    """The feature store's symbols, from :func:`walkforward.queries.symbols`."""
    t = Table(title="Feature store")
    for col in (
        "symbol",
        "first date",
        "last date",
        "days",
        "feature sets",
        "bar",
        "features",
        "time zone",
        "adjusted",
    ):
        t.add_column(col)
    for r in rows:
        t.add_row(
            r["symbol"],
            r["first_date"],
            r["last_date"],
            str(r["days"]),
            ", ".join(r["options"]),
            f"{r['bar_seconds']}s",
            str(r["features"]),
            r.get("timezone") or "none: store migrate",
            r.get("adjustment") or "-",
        )
    return t


def dataset_tables(ds: Dataset, plan: FoldPlan) -> list[Table]:
    """A data set's summary and its folds (purged and embargoed rows included)."""
    d = dataset_dict(ds, plan)
    summary = Table(title="Data set", show_header=False)
    summary.add_column("field", style="bold")
    summary.add_column("value")
    for key in (
        "symbols",
        "timezone",
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
    folds = Table(title=f"Folds ({plan.scheme}; times in UTC)")
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


def models_table(rows: Sequence[ModelSummary], total: int, offset: int) -> Table:
    """One page of registered models."""
    t = Table(title=f"Models {offset + 1}-{offset + len(rows)} of {total}" if rows else "No models")
    for col in ("id", "created", "symbols", "algorithm", "tf", "score", "features", "cohort", "parent"):
        t.add_column(col)
    for r in rows:
        score_name = r.score_name or ""
        t.add_row(
            r.id[:12],
            r.created_at.strftime("%Y-%m-%d %H:%M"),
            ",".join(r.symbols),
            r.algorithm,
            r.timeframe,
            f"{score_name} {_fmt(r.cv_score)}",
            "" if r.n_features is None else str(r.n_features),
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
        *(
            [("early stopping", r.derived["early_stopping"]["summary"].removeprefix("early stopping: "))]
            if r.derived.get("early_stopping")
            else []
        ),
        (
            "features",
            f"{len(r.features)} kept of {len(r.derived.get('input_features', []))} ({r.derived.get('feature_source')})",
        ),
        ("parent", r.parent_model_id or "-"),
        ("cohort", r.cohort_id or "-"),
        ("fingerprint", r.fingerprint[:16]),
        ("artifact", r.artifact_path),
    ):
        head.add_row(key, str(value))
    folds: list[dict[str, Any]] = r.metrics.get("folds", [])
    cv: dict[str, Any] = r.metrics.get("cv", {})
    keys = [k for k in _MODEL_METRICS if k in cv]
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
    trading = trading_table(r)
    return [head, mt] if trading is None else [head, mt, trading]


#: (column, key in a trading segment, percent?) shown per fold, overall and for buy-and-hold
_TRADING_COLUMNS = (
    ("Sharpe", "sharpe", False),
    ("net/yr", "annual_return", True),
    ("max DD", "max_drawdown", True),
    ("turnover/day", "turnover_daily", False),
    ("exposure", "exposure", True),
    ("hit", "hit_rate", True),
    ("IC", "ic", False),
)


def _trading_cell(segment: Mapping[str, Any], key: str, percent: bool) -> str:
    value = segment.get(key)
    if value is None:
        return "-"
    return f"{100 * value:.1f}%" if percent else f"{value:.3g}"


def trading_table(r: ModelRecord) -> Table | None:
    """The money: net of costs per fold, overall and buy-and-hold beside it (None if not evaluated)."""
    report = r.metrics.get("trading")
    if not report:
        return None
    st = report["settings"]
    caption = (
        f"out-of-sample, daily Sharpe x sqrt({st['periods_per_year']}); costs {st['commission_bps']}+"
        f"{st['slippage_bps']} bp per unit traded, lag {st['lag']} bar(s), "
        f"{'long only' if st['long_only'] else 'long-short'}"
    )
    t = Table(title="Trading out-of-sample (net of costs)", caption=caption)
    t.add_column("segment")
    for name, _, _ in _TRADING_COLUMNS:
        t.add_column(name, justify="right")
    for fold in report["folds"]:
        t.add_row(f"fold {fold['fold']}", *[_trading_cell(fold, k, pct) for _, k, pct in _TRADING_COLUMNS])
    t.add_row("[bold]overall[/]", *[_trading_cell(report["overall"], k, pct) for _, k, pct in _TRADING_COLUMNS])
    bench = report["overall"]["benchmark"]
    t.add_row("[dim]buy and hold[/]", *[_trading_cell(bench, k, pct) for _, k, pct in _TRADING_COLUMNS])
    return t


def selection_caption(selection: Mapping[str, Any]) -> str:
    """PBO, DSR and SPA of a search in one line (and why any is missing)."""
    parts = [f"{selection.get('n_tried', 0)} configuration(s) over {selection.get('n_sessions', 0)} sessions"]
    if "best_sharpe_annual" in selection:
        parts.append(f"best net Sharpe {selection['best_sharpe_annual']:.2f}")
    if "pbo" in selection:
        parts.append(f"PBO {selection['pbo']['pbo']:.2f}")
    if "dsr" in selection and selection["dsr"].get("p_value") is not None:
        parts.append(f"DSR p {selection['dsr']['p_value']:.3g} (N eff {selection['dsr']['n_effective_trials']:.1f})")
    if "spa" in selection:
        parts.append(f"SPA p {selection['spa']['p_consistent']:.3g} (upper {selection['spa']['p_upper']:.3g})")
    return "; ".join(parts) + "".join(f"\n{note}" for note in selection.get("notes", []))


def cohort_table(rows: Sequence[ModelRecord], selection: Mapping[str, Any], *, title: str) -> Table:
    """Siblings ranked by CV score, with the hyperparameters that differ between them."""
    varying = sorted(
        {k for r in rows for k, v in r.hyperparameters.items() if any(o.hyperparameters.get(k) != v for o in rows)}
    )
    t = Table(title=title, caption=selection_caption(selection))
    for col in ("rank", "id", *varying, "score", "std", "features", "note"):
        t.add_column(col, justify="right" if col not in ("id", "note") else "left")
    for r in rows:
        cv = r.metrics.get("cv", {})
        key = r.metrics.get("score", "r2")
        fallback = r.derived.get("fallback") or r.derived.get("ols_fallback")
        note = f"fallback: {fallback.get('fitted', 'OLS')}" if isinstance(fallback, dict) else ""
        stopping = r.derived.get("early_stopping")
        if isinstance(stopping, dict):
            note = f"stopped early: final fit {stopping.get('final_rounds')} rounds"
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


def plan_table(plan: Mapping[str, Any]) -> Table:
    """A dry run's plan (:meth:`walkforward.search.plan.SearchPlan.to_dict`): fits per fidelity and the estimate."""
    est = plan.get("estimate") or {}
    head = (
        f"{plan['algorithm']}: {plan['strategy']} over {plan['grid_size']:,} combinations, {plan['folds']} folds; "
        f"{plan['registered']:,} registered, {plan['scored_before']:,} scored before (trials)"
    )
    caption = "\n".join([*plan.get("notes", []), f"estimated time: {est['text']}" if est else ""]).strip()
    t = Table(title=f"Search plan (dry run: nothing trained)\n{head}", caption=caption, caption_justify="left")
    for col in ("fidelity", "of the rounds", "configurations", "fits", "trainings"):
        t.add_column(col, justify="left" if col == "fidelity" else "right")
    for f in plan["fidelities"]:
        t.add_row(
            f["label"], f"{f['fraction']:.3g}", f"{f['configurations']:,}", f"{f['fits']:,}", f"{f['trainings']:,}"
        )
    t.add_row("final fit(s)", "1", "", str(plan["final_fits"]), str(plan["final_fits"]), end_section=True)
    t.add_row("total", "", f"{plan['configurations']:,}", f"{plan['fits']:,}", "")
    return t


def prune_table(plan: Mapping[str, Any]) -> Table:
    """What ``models prune`` deletes (or would delete), one row per model, old cohorts' best kept."""
    verb = "Deleted" if plan["applied"] else "Would delete"
    t = Table(
        title=f"{verb} {len(plan['delete'])} model(s) of {plan['cohorts']} cohort(s) older than {plan['older_than']}",
        caption=(
            f"kept: {len(plan['kept_best'])} best, {len(plan['kept_parents'])} parent(s) of kept models"
            + ("" if plan["applied"] else "; run again with --yes to delete")
        ),
    )
    t.add_column("id", overflow="fold")  # wrapped on a narrow terminal, never cut: it is what a user copies
    for col in ("cohort", "algorithm", "symbol", "cv_score", "rank", "created"):
        t.add_column(col)
    for m in plan["delete"]:
        t.add_row(
            m["id"],
            m["cohort_id"],
            m["algorithm"],
            m["symbol"],
            _fmt(m["cv_score"]) if m["cv_score"] is not None else "",
            str(m["cohort_rank"] or ""),
            m["created_at"][:19],
        )
    return t


def lineage_tree(model: ModelRecord, ancestors: Sequence[ModelRecord], descendants: Sequence[ModelRecord]) -> Tree:
    """A model with its chain of ancestors (parent first) and its descendants."""
    root = Tree(f"[bold]{model.id}[/] {model.algorithm} ({len(model.features)} features, score {model.cv_score})")
    node = root
    for a in ancestors:
        node = node.add(f"[purple]parent[/] {a.id} {a.algorithm} ({len(a.features)} features, score {a.cv_score})")
    kids = root.add(f"descendants ({len(descendants)})")
    for d in descendants:
        kids.add(f"{d.id} {d.algorithm} parent={d.parent_model_id} ({len(d.features)} features, score {d.cv_score})")
    return root


def importance_table(model_id: str, feature_details: Mapping[str, Mapping[str, Any]], top: int) -> Table:
    """The ``top`` features of a model by mean |SHAP| (permutation importance where SHAP is missing)."""
    ranked = sorted(
        feature_details.items(), key=lambda kv: -(kv[1].get("shap_mean_abs") or kv[1].get("permutation_mean") or 0)
    )
    table = Table(title=f"Feature importance of {model_id} (top {min(top, len(ranked))} of {len(ranked)})")
    table.add_column("feature")
    for c in _IMPORTANCE_COLUMNS:
        table.add_column(c, justify="right")
    for name, entry in ranked[:top]:
        table.add_row(name, *[("-" if entry.get(c) is None else f"{entry[c]:.4g}") for c in _IMPORTANCE_COLUMNS])
    return table


def predictions_table(model_id: str, shown: pd.DataFrame, rows: int) -> Table:
    """The latest predictions of a model (``shown``), out of ``rows`` predicted."""
    import pandas as pd

    table = Table(title=f"Predictions of {model_id} ({rows:,} rows, latest {len(shown)})")
    for col in shown.columns:
        table.add_column(col, justify="left" if col == "ts" else "right")
    for row in shown.itertuples(index=False):
        table.add_row(*[str(v) if isinstance(v, pd.Timestamp) else f"{v:.6g}" for v in row])
    return table


__all__ = [
    "cohort_table",
    "dataset_tables",
    "importance_table",
    "ingest_table",
    "lineage_tree",
    "model_tables",
    "models_table",
    "predictions_table",
    "symbols_table",
]
