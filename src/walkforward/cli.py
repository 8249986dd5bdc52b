"""The ``walkforward`` command line: thin Typer commands over the library functions."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import Progress, TextColumn

from walkforward.config import Settings, load_settings
from walkforward.data.loader import LoadRequest, load_dataset
from walkforward.domain import SplitScheme, parse_symbols
from walkforward.errors import WalkforwardError
from walkforward.features.demo import DEFAULT_SYMBOLS, generate_market
from walkforward.features.indicators import FEATURE_SET_VERSION
from walkforward.features.pipeline import IngestSummary, ingest_frames, ingest_paths, summary_dict
from walkforward.features.store import FeatureStore
from walkforward.model_selection import plan_folds
from walkforward.registry import ModelStore
from walkforward.reports import (
    cohort_table,
    dataset_dict,
    dataset_tables,
    ingest_table,
    model_dict,
    model_tables,
    models_table,
    search_dict,
    symbols_table,
)
from walkforward.search import SearchRequest, run_search
from walkforward.training import TrainRequest, predict, train

app = typer.Typer(
    help="Leakage-safe training and walk-forward evaluation of price-forecasting models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")]
# The data and training options shared by `dataset`, `train` and `search`, declared once.
SymbolsArg = Annotated[str, typer.Argument(help="Primary symbol then context symbols, e.g. AAPL,QQQ,VIX.")]
TimeframeOpt = Annotated[str, typer.Option(help="1m, 5m, 15m, 1h or 1d.")]
TargetColOpt = Annotated[str, typer.Option(help="Price column to predict.")]
LookforwardOpt = Annotated[int, typer.Option(help="Predict this many bars ahead.")]
DataOptionsOpt = Annotated[str | None, typer.Option(help="Feature-set version to load.")]
StartOpt = Annotated[str | None, typer.Option(help="First date (YYYY-MM-DD).")]
EndOpt = Annotated[str | None, typer.Option(help="Last date (YYYY-MM-DD).")]
EmbargoOpt = Annotated[int | None, typer.Option(help="Embargo in bars (default: longest feature lookback).")]
ValidationOpt = Annotated[str, typer.Option(help="walk_forward, expanding or holdout.")]
PValueOpt = Annotated[float, typer.Option(help="Prune features with p > this (1 keeps all).")]
ParentOpt = Annotated[str | None, typer.Option(help="Inherit the features of this model.")]
WhitelistOpt = Annotated[str | None, typer.Option(help="Comma-separated features (overrides parent).")]


class _State:
    settings: Settings


state = _State()


@app.callback()
def _setup() -> None:
    settings = load_settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(message)s",
        handlers=[RichHandler(console=err, show_path=False, show_time=False)],
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # migration chatter is not news to a user
    state.settings = settings


def _store() -> FeatureStore:
    return FeatureStore(state.settings.features_parquet_dir)


def _emit_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")


def _ingest_progress(total: int, json_out: bool) -> tuple[Progress, Any]:
    progress = Progress(console=err, transient=True, disable=json_out)
    task = progress.add_task("ingest", total=total)
    return progress, lambda msg: progress.update(task, advance=1, description=msg)


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
    rows = _demo_data(days, symbols, seed, split_scheme, options, json_out)
    if json_out:
        _emit_json([summary_dict(r) for r in rows])
    else:
        out.print(ingest_table(rows, f"Demo market written to {state.settings.features_parquet_dir}"))


def _demo_data(
    days: int, symbols: str, seed: int, split_scheme: str, options: str, json_out: bool
) -> list[IngestSummary]:
    syms = parse_symbols(symbols)
    scheme = SplitScheme.parse(split_scheme)
    with err.status("generating the market", spinner="dots") if not json_out else _null():
        frames = generate_market(days=days, symbols=syms, seed=seed)
    progress, step = _ingest_progress(2 * len(frames), json_out)
    with progress:
        return ingest_frames(_store(), frames, options=options, scheme=scheme, progress=step)


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="CSV or Parquet bar files (one per symbol, or long format).")],
    symbol: Annotated[str | None, typer.Option(help="Symbol of a single file (default: the file's stem).")] = None,
    options: Annotated[str, typer.Option(help="Feature-set version name.")] = FEATURE_SET_VERSION,
    split_scheme: Annotated[str, typer.Option(help="TRAIN_DAYS:TEST_DAYS walk-forward blocks, or none.")] = "none",
    json_out: JsonOpt = False,
) -> None:
    """Ingest OHLCV bars: validate, compute causal features, write the store (a day at a time, atomically)."""
    progress, step = _ingest_progress(2 * len(paths), json_out)
    with progress:
        rows = ingest_paths(
            _store(),
            paths,
            symbol=symbol,
            options=options,
            scheme=SplitScheme.parse(split_scheme),
            progress=step,
        )
    if json_out:
        _emit_json([summary_dict(r) for r in rows])
    else:
        out.print(ingest_table(rows, "Ingested"))


@app.command()
def symbols(json_out: JsonOpt = False) -> None:
    """List what the feature store holds."""
    store = _store()
    infos = [store.describe(s) for s in store.symbols()]
    if json_out:
        _emit_json([i.__dict__ for i in infos])
    elif not infos:
        out.print(f"The store at {store.root} is empty: run `walkforward demo-data` or `walkforward ingest FILE`.")
    else:
        out.print(symbols_table(infos))


@app.command()
def dataset(
    symbols: SymbolsArg,
    timeframe: TimeframeOpt = "1m",
    target_col: TargetColOpt = "close",
    target_transform: Annotated[str, typer.Option(help="log_return, pct_change, log or none.")] = "none",
    lookforward: LookforwardOpt = 1,
    data_options: DataOptionsOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    embargo: EmbargoOpt = None,
    validation: ValidationOpt = "walk_forward",
    json_out: JsonOpt = False,
) -> None:
    """Load a data set exactly as training will, and show its rows, features and folds."""
    _show_dataset(
        symbols,
        timeframe,
        target_col,
        target_transform,
        lookforward,
        data_options,
        start,
        end,
        embargo,
        validation,
        json_out,
    )


def _show_dataset(
    symbols: str,
    timeframe: str,
    target_col: str,
    target_transform: str,
    lookforward: int,
    data_options: str | None,
    start: str | None,
    end: str | None,
    embargo: int | None,
    validation: str,
    json_out: bool,
) -> None:
    if validation not in ("walk_forward", "expanding", "holdout"):
        raise WalkforwardError(f"unknown validation {validation!r}: use walk_forward, expanding or holdout")
    req = LoadRequest.build(
        symbols,
        timeframe=timeframe,
        target_col=target_col,
        target_transform=target_transform,
        lookforward=lookforward,
        data_options=data_options,
        start=start,
        end=end,
    )
    ds = load_dataset(_store(), req)
    plan = plan_folds(ds, embargo=embargo, scheme=validation)  # type: ignore[arg-type]
    if json_out:
        _emit_json(dataset_dict(ds, plan))
    else:
        for table in dataset_tables(ds, plan):
            out.print(table)


@app.command()
def demo(
    days: Annotated[int, typer.Option(min=1, help="Trading days of 1-minute bars.")] = 150,
    json_out: JsonOpt = False,
) -> None:
    """The main job on embedded defaults: a demo market, its folds, an elastic-net grid, the best model explained."""
    from walkforward.training import explain_registered

    rows = _demo_data(days, ",".join(DEFAULT_SYMBOLS), 7, "40:10", FEATURE_SET_VERSION, json_out)
    if not json_out:
        out.print(ingest_table(rows, f"Demo market written to {state.settings.features_parquet_dir}"))
    symbols = ",".join(DEFAULT_SYMBOLS)
    _show_dataset(symbols, "5m", "close", "log_return", 1, None, None, None, None, "walk_forward", json_out)
    sreq = SearchRequest(
        train=TrainRequest(symbols, "elasticnet_regression", timeframe="5m", target_transform="log_return"),
        save_all_grid_models=True,
        explain=False,
    )
    registry, store = _registry(), _store()
    progress = Progress(
        *Progress.get_default_columns(),
        TextColumn("{task.fields[best]}"),
        console=err,
        transient=True,
        disable=json_out,
    )
    task = progress.add_task("elastic-net grid", total=None, best="")
    with progress:
        result = run_search(
            sreq,
            store=store,
            registry=registry,
            progress=lambda done, total, best, msg: progress.update(
                task, completed=done, total=total, best="" if best is None else f"best so far {best:.4g}"
            ),
        )
        best = explain_registered(result.best.id, store=store, registry=registry) if result.best else None
    if json_out:
        _emit_json({"search": search_dict(result), "best": model_dict(best) if best else None})
        return
    for note in result.notes:
        out.print(f"[dim]{note}[/]")
    out.print(cohort_table(registry.cohort(result.cohort_id), result.selection, title=f"Cohort {result.cohort_id}"))
    if best is not None:
        for table in model_tables(best):
            out.print(table)
        ranked = sorted((best.feature_details or {}).items(), key=lambda kv: -(kv[1].get("shap_mean_abs") or 0.0))
        if ranked:
            out.print(
                "Top features by mean |SHAP|: "
                + ", ".join(f"{k} ({v.get('shap_mean_abs', 0):.3g})" for k, v in ranked[:5])
            )
    out.print("Next: `walkforward models list`, `walkforward predict ID`, or `walkforward serve` for the web UI.")


def _registry() -> ModelStore:
    return ModelStore.open(state.settings.database_url, state.settings.models_dir)


def _parse_params(params: list[str], hyperparameters: str | None) -> dict[str, Any]:
    """``--param alpha=0.01`` (repeatable, values parsed as JSON when they can be) and ``--hyperparameters JSON``."""
    out: dict[str, Any] = {}
    if hyperparameters:
        try:
            parsed = json.loads(hyperparameters)
        except json.JSONDecodeError as exc:
            raise WalkforwardError(
                f"--hyperparameters is not valid JSON ({exc.msg}): use '{{\"alpha\": 0.01}}'"
            ) from None
        if not isinstance(parsed, dict):
            raise WalkforwardError("--hyperparameters must be a JSON object such as '{\"alpha\": 0.01}'")
        out.update(parsed)
    for item in params:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise WalkforwardError(f"--param {item!r} is not KEY=VALUE: use e.g. --param alpha=0.01")
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[key.strip()] = raw
    return out


@app.command("train")
def train_cmd(
    symbols: SymbolsArg,
    algorithm: Annotated[str, typer.Option(help="One of the nine algorithms, e.g. elasticnet_regression.")],
    timeframe: TimeframeOpt = "1m",
    target_col: TargetColOpt = "close",
    target_transform: Annotated[
        str, typer.Option(help="log_return, pct_change, log or none (returns are stationary: prefer them).")
    ] = "none",
    lookforward: LookforwardOpt = 1,
    data_options: DataOptionsOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    p_value_threshold: PValueOpt = 0.05,
    parent_model_id: ParentOpt = None,
    feature_whitelist: WhitelistOpt = None,
    param: Annotated[list[str] | None, typer.Option(help="Hyperparameter KEY=VALUE (repeatable).")] = None,
    hyperparameters: Annotated[str | None, typer.Option(help="Hyperparameters as a JSON object.")] = None,
    validation: ValidationOpt = "walk_forward",
    embargo: EmbargoOpt = None,
    explain: Annotated[bool, typer.Option(help="Compute SHAP and permutation importance.")] = True,
    json_out: JsonOpt = False,
) -> None:
    """Train one model over walk-forward folds, evaluate it, and register it with its artifact."""
    req = _train_request(
        symbols,
        algorithm,
        timeframe,
        target_col,
        target_transform,
        lookforward,
        data_options,
        start,
        end,
        p_value_threshold,
        parent_model_id,
        feature_whitelist,
        param,
        hyperparameters,
        validation,
        embargo,
    )
    req.validate()
    registry = _registry()
    progress = Progress(console=err, transient=True, disable=json_out)
    task = progress.add_task("loading data", total=None)
    with progress:
        record = train(
            req,
            store=_store(),
            registry=registry,
            progress=lambda msg, done, total: progress.update(task, description=msg, completed=done, total=total),
            explain=explain,
        )
    if json_out:
        _emit_json(model_dict(record))
    else:
        for table in model_tables(record):
            out.print(table)


def _train_request(
    symbols: str,
    algorithm: str,
    timeframe: str,
    target_col: str,
    target_transform: str,
    lookforward: int,
    data_options: str | None,
    start: str | None,
    end: str | None,
    p_value_threshold: float,
    parent_model_id: str | None,
    feature_whitelist: str | None,
    param: list[str] | None,
    hyperparameters: str | None,
    validation: str,
    embargo: int | None,
) -> TrainRequest:
    return TrainRequest(
        symbol=symbols,
        algorithm=algorithm,
        target_col=target_col,
        timeframe=timeframe,
        target_transform=target_transform,
        lookforward=lookforward,
        data_options=data_options,
        start=start,
        end=end,
        p_value_threshold=p_value_threshold,
        parent_model_id=parent_model_id,
        feature_whitelist=tuple(f.strip() for f in feature_whitelist.split(",") if f.strip())
        if feature_whitelist
        else None,
        hyperparameters=_parse_params(param or [], hyperparameters),
        validation=validation,
        embargo=embargo,
    )


def _parse_grids(grid: list[str]) -> dict[str, Any]:
    """``--grid alpha_grid=[0.001,0.01]`` (repeatable) -> {"alpha_grid": [0.001, 0.01]}."""
    out: dict[str, Any] = {}
    for item in grid:
        key, sep, raw = item.partition("=")
        try:
            values = json.loads(raw) if sep else None
        except json.JSONDecodeError:
            values = None
        if not isinstance(values, list):
            raise WalkforwardError(f"--grid {item!r} is not NAME=[values]: use e.g. --grid 'alpha_grid=[0.001, 0.01]'")
        out[key.strip()] = values
    return out


@app.command("search")
def search_cmd(
    symbols: SymbolsArg,
    algorithm: Annotated[str, typer.Option(help="One of the nine algorithms, e.g. elasticnet_regression.")],
    grid: Annotated[
        list[str] | None, typer.Option(help="Grid values NAME=[...], e.g. 'alpha_grid=[0.001,0.01]'.")
    ] = None,
    search: Annotated[str, typer.Option(help="grid (exhaustive), halving or optuna.")] = "grid",
    n_trials: Annotated[int, typer.Option(help="Trials for --search optuna.")] = 40,
    default_grid: Annotated[bool, typer.Option(help="Start from the reference's default grid.")] = True,
    save_all_grid_models: Annotated[bool, typer.Option(help="Register every combination, not just the best.")] = False,
    explain: Annotated[bool, typer.Option(help="Compute SHAP and permutation importance for saved models.")] = True,
    executor: Annotated[str, typer.Option(help="local (worker processes) or dask.")] = "local",
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler, tcp://host:8786.")] = None,
    n_jobs: Annotated[int | None, typer.Option(help="Local worker processes (default: all cores).")] = None,
    timeframe: TimeframeOpt = "1m",
    target_col: TargetColOpt = "close",
    target_transform: Annotated[str, typer.Option(help="log_return, pct_change, log or none.")] = "none",
    lookforward: LookforwardOpt = 1,
    data_options: DataOptionsOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    p_value_threshold: PValueOpt = 0.05,
    parent_model_id: ParentOpt = None,
    feature_whitelist: WhitelistOpt = None,
    param: Annotated[list[str] | None, typer.Option(help="Fixed hyperparameter KEY=VALUE (repeatable).")] = None,
    validation: ValidationOpt = "walk_forward",
    embargo: EmbargoOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Search hyperparameters over the walk-forward folds; skip what is registered; rank the cohort."""
    req = _train_request(
        symbols,
        algorithm,
        timeframe,
        target_col,
        target_transform,
        lookforward,
        data_options,
        start,
        end,
        p_value_threshold,
        parent_model_id,
        feature_whitelist,
        param,
        None,
        validation,
        embargo,
    )
    sreq = SearchRequest(
        train=req,
        grids=_parse_grids(grid or []),
        search=search,
        n_trials=n_trials,
        save_all_grid_models=save_all_grid_models,
        explain=explain,
        use_default_grid=default_grid,
        executor=executor,
        scheduler=scheduler,
        n_jobs=n_jobs,
    )
    sreq.validate()
    registry = _registry()
    progress = Progress(
        *Progress.get_default_columns(),
        TextColumn("{task.fields[best]}"),
        console=err,
        transient=True,
        disable=json_out,
    )
    task = progress.add_task(f"{search} search", total=None, best="")

    def on_progress(done: int, total: int, best: float | None, msg: str) -> None:
        label = "" if best is None else f"best so far {best:.5g}"
        progress.update(task, completed=done, total=total, description=f"{msg} {done}/{total}", best=label)

    with progress:
        result = run_search(sreq, store=_store(), registry=registry, progress=on_progress)
    if json_out:
        _emit_json(search_dict(result))
        return
    for note in result.notes:
        out.print(f"[dim]{note}[/]")
    cohort = registry.cohort(result.cohort_id)
    out.print(cohort_table(cohort, result.selection, title=f"Cohort {result.cohort_id}"))


models_app = typer.Typer(help="The model registry.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("list")
def models_list(
    symbol: Annotated[str | None, typer.Option(help="Primary symbol.")] = None,
    algorithm: Annotated[str | None, typer.Option(help="Algorithm name.")] = None,
    cohort: Annotated[str | None, typer.Option(help="Cohort id.")] = None,
    parent: Annotated[str | None, typer.Option(help="Parent model id.")] = None,
    sort: Annotated[str, typer.Option(help="created_at, cv_score, ... or metrics.<name>.")] = "created_at",
    ascending: Annotated[bool, typer.Option("--ascending", help="Sort ascending.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    json_out: JsonOpt = False,
) -> None:
    """List registered models (filtered, sorted, paginated)."""
    rows, total = _registry().list(
        symbol=symbol.upper() if symbol else None,
        algorithm=algorithm,
        cohort_id=cohort,
        parent_model_id=parent,
        sort=sort,
        descending=not ascending,
        limit=limit,
        offset=offset,
    )
    if json_out:
        _emit_json({"total": total, "offset": offset, "models": [model_dict(r, brief=True) for r in rows]})
    else:
        out.print(models_table(rows, total, offset))


@models_app.command("show")
def models_show(model_id: str, json_out: JsonOpt = False) -> None:
    """Show one model: request, features, folds and metrics."""
    record = _registry().get(model_id)
    if json_out:
        _emit_json(model_dict(record))
    else:
        for table in model_tables(record):
            out.print(table)


@models_app.command("cohort")
def models_cohort(cohort_id: str, json_out: JsonOpt = False) -> None:
    """A cohort's siblings, ranked by cross-validated score, with the multiple-testing adjustment."""
    from walkforward.search import cohort_selection

    rows = _registry().cohort(cohort_id)
    if not rows:
        raise WalkforwardError(f"no cohort {cohort_id!r}: see `walkforward models list` for cohort ids")
    summary = cohort_selection(rows)
    if json_out:
        _emit_json({"cohort_id": cohort_id, "selection": summary, "models": [model_dict(r, brief=True) for r in rows]})
    else:
        out.print(cohort_table(rows, summary, title=f"Cohort {cohort_id}"))


@models_app.command("explain")
def models_explain(
    model_id: str,
    plot_dir: Annotated[Path | None, typer.Option(help="Write importance.png and regimes.png here.")] = None,
    recompute: Annotated[bool, typer.Option(help="Recompute explanations even if the model has them.")] = False,
    top: Annotated[int, typer.Option(min=1, help="Features to list.")] = 15,
    json_out: JsonOpt = False,
) -> None:
    """A model's feature importance (coefficients, tree, permutation, SHAP) and SHAP per regime; plots."""
    from walkforward.reports import plot_png
    from walkforward.training import explain_registered

    registry = _registry()
    record = registry.get(model_id)
    if recompute or not record.feature_details:
        with err.status("computing permutation importance and SHAP", spinner="dots") if not json_out else _null():
            record = explain_registered(model_id, store=_store(), registry=registry)
    written = []
    if plot_dir is not None:
        plot_dir.mkdir(parents=True, exist_ok=True)
        for kind in ("importance", "regimes"):
            if record.feature_details if kind == "importance" else record.regime_importance:
                path = plot_dir / f"{model_id}_{kind}.png"
                path.write_bytes(plot_png(registry, model_id, kind))
                written.append(str(path))
    if json_out:
        _emit_json(
            {
                "model_id": model_id,
                "feature_details": record.feature_details,
                "regime_importance": record.regime_importance,
                "plots": written,
            }
        )
        return
    from rich.table import Table

    details = record.feature_details or {}
    ranked = sorted(details.items(), key=lambda kv: -(kv[1].get("shap_mean_abs") or kv[1].get("permutation_mean") or 0))
    table = Table(title=f"Feature importance of {model_id} (top {min(top, len(ranked))} of {len(ranked)})")
    columns = ("shap_mean_abs", "permutation_mean", "permutation_std", "coefficient", "tree_importance")
    table.add_column("feature")
    for c in columns:
        table.add_column(c, justify="right")
    for name, entry in ranked[:top]:
        table.add_row(name, *[("-" if entry.get(c) is None else f"{entry[c]:.4g}") for c in columns])
    out.print(table)
    for written_path in written:
        out.print(f"wrote {written_path}")


@models_app.command("lineage")
def models_lineage(model_id: str, json_out: JsonOpt = False) -> None:
    """A model's ancestors (parent, grandparent, ...) and descendants (all generations)."""
    registry = _registry()
    me = registry.get(model_id)
    ancestors, descendants = registry.ancestors(model_id), registry.descendants(model_id)
    if json_out:
        _emit_json(
            {
                "model": model_dict(me, brief=True),
                "ancestors": [model_dict(r, brief=True) for r in ancestors],
                "descendants": [model_dict(r, brief=True) for r in descendants],
            }
        )
        return
    from rich.tree import Tree

    root = Tree(f"[bold]{model_id}[/] {me.algorithm} ({len(me.features)} features, score {me.cv_score})")
    node = root
    for a in ancestors:
        node = node.add(f"[purple]parent[/] {a.id} {a.algorithm} ({len(a.features)} features, score {a.cv_score})")
    kids = root.add(f"descendants ({len(descendants)})")
    for d in descendants:
        kids.add(f"{d.id} {d.algorithm} parent={d.parent_model_id} ({len(d.features)} features, score {d.cv_score})")
    out.print(root)


@models_app.command("delete")
def models_delete(model_id: str, json_out: JsonOpt = False) -> None:
    """Delete a model and its artifact."""
    _registry().delete(model_id)
    _emit_json({"deleted": [model_id]}) if json_out else out.print(f"deleted {model_id}")


@models_app.command("delete-cohort")
def models_delete_cohort(cohort_id: str, json_out: JsonOpt = False) -> None:
    """Delete every model of a cohort and their artifacts."""
    n = _registry().delete_cohort(cohort_id)
    _emit_json({"cohort_id": cohort_id, "deleted": n}) if json_out else out.print(f"deleted {n} model(s)")


@app.command("predict")
def predict_cmd(
    model_id: str,
    start: Annotated[str | None, typer.Option(help="First date (YYYY-MM-DD); default: the model's range.")] = None,
    end: EndOpt = None,
    output: Annotated[Path | None, typer.Option(help="Write all predictions to a .csv or .parquet file.")] = None,
    tail: Annotated[int, typer.Option(help="Rows to print (the latest).")] = 10,
    json_out: JsonOpt = False,
) -> None:
    """Predict with a registered model through the same loader and pipeline it was trained with."""
    frame = predict(model_id, store=_store(), registry=_registry(), start=start, end=end)
    if output is not None:
        if output.suffix.lower() == ".parquet":
            frame.to_parquet(output, index=False)
        elif output.suffix.lower() == ".csv":
            frame.to_csv(output, index=False)
        else:
            raise WalkforwardError(f"--output {output}: use a .csv or .parquet file name")
    shown = frame.tail(tail)
    if json_out:
        _emit_json(
            {
                "model_id": model_id,
                "rows": len(frame),
                "predictions": json.loads(shown.to_json(orient="records", date_format="iso")),
            }
        )
    else:
        from rich.table import Table

        table = Table(title=f"Predictions of {model_id} ({len(frame):,} rows, latest {len(shown)})")
        for col in shown.columns:
            table.add_column(col, justify="left" if col == "ts" else "right")
        for row in shown.itertuples(index=False):
            table.add_row(*[str(v) if isinstance(v, pd.Timestamp) else f"{v:.6g}" for v in row])
        out.print(table)
        if output is not None:
            out.print(f"wrote {len(frame):,} rows to {output}")


def main() -> None:
    """Console-script entry point: run the app, turning our own errors into one clear line."""
    try:
        app()
    except WalkforwardError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise SystemExit(2) from None


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


@app.command("job-worker", hidden=True)
def job_worker(job_id: str) -> None:
    """Run one claimed job (started by the server's job runner, not by hand)."""
    from walkforward.jobs import run_job

    raise SystemExit(run_job(job_id, state.settings))
