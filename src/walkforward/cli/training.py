"""Training commands: ``train`` (one model), ``search`` (a cohort) and ``demo`` (the main job end to end)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.progress import Progress, TextColumn

from walkforward.cli import (
    DataOptionsOpt,
    EmbargoOpt,
    EndOpt,
    JsonOpt,
    LookforwardOpt,
    ParentOpt,
    PValueOpt,
    StartOpt,
    SymbolsArg,
    TargetColOpt,
    TimeframeOpt,
    ValidationOpt,
    WhitelistOpt,
    _emit_json,
    _registry,
    _store,
    app,
    err,
    out,
    state,
)
from walkforward.cli.data import _demo_data, _show_dataset
from walkforward.errors import WalkforwardError
from walkforward.features.demo import DEFAULT_SYMBOLS
from walkforward.features.indicators import FEATURE_SET_VERSION
from walkforward.reports import model_dict, search_dict
from walkforward.reports.tables import cohort_table, ingest_table, model_tables
from walkforward.search import SearchRequest, run_search
from walkforward.training import TrainRequest, train


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
