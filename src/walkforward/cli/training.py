"""Training commands: ``train``, ``search`` and ``demo``; their options come from the request models."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from walkforward.cli import JsonOpt, _emit_json, _registry, _store, app, err, out, state
from walkforward.cli.data import _demo_data, _show_dataset
from walkforward.cli.options import request_command
from walkforward.features import DEFAULT_SYMBOLS, FEATURE_SET_VERSION
from walkforward.reports import model_dict, search_dict
from walkforward.reports.tables import cohort_table, ingest_table, model_tables
from walkforward.request import DataRequest, SearchRequest, TrainRequest, parse

if TYPE_CHECKING:
    from rich.progress import Progress


def _search_progress(json_out: bool, label: str) -> tuple[Progress, Callable[[int, int, float | None, str], None]]:
    from rich.progress import Progress, TextColumn

    progress = Progress(
        *Progress.get_default_columns(),
        TextColumn("{task.fields[best]}"),
        console=err,
        transient=True,
        disable=json_out,
    )
    task = progress.add_task(label, total=None, best="")

    def update(done: int, total: int, best: float | None, msg: str) -> None:
        text = "" if best is None else f"best so far {best:.5g}"
        progress.update(task, completed=done, total=total, description=f"{msg} {done}/{total}", best=text)

    return progress, update


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
    from walkforward.search import run_search

    data = {"symbol": ",".join(DEFAULT_SYMBOLS), "timeframe": "5m", "target_transform": "log_return"}
    _show_dataset(parse(DataRequest, data), json_out)
    grid = {"algorithm": "elasticnet_regression", "search": "grid", "save_all_grid_models": True, "explain": False}
    sreq = parse(SearchRequest, {**data, **grid})
    registry, store = _registry(), _store()
    progress, update = _search_progress(json_out, "elastic-net grid")
    with progress:
        result = run_search(sreq, store=store, registry=registry, progress=update)
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


@app.command("train")
@request_command(TrainRequest)
def train_cmd(req: TrainRequest, json_out: JsonOpt = False) -> None:
    """Train one model over walk-forward folds, evaluate it, and register it with its artifact."""
    from rich.progress import Progress

    from walkforward.training import train

    registry = _registry()
    progress = Progress(console=err, transient=True, disable=json_out)
    task = progress.add_task("loading data", total=None)
    with progress:
        record = train(
            req,
            store=_store(),
            registry=registry,
            progress=lambda msg, done, total: progress.update(task, description=msg, completed=done, total=total),
        )
    if json_out:
        _emit_json(model_dict(record))
    else:
        for table in model_tables(record):
            out.print(table)


@app.command("search")
@request_command(SearchRequest, defaults={"search": "grid"})
def search_cmd(
    req: SearchRequest,
    executor: Annotated[str, typer.Option(help="local (worker processes) or dask.")] = "local",
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler, tcp://host:8786.")] = None,
    n_jobs: Annotated[int | None, typer.Option(min=1, help="Local worker processes (default: all cores).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Search hyperparameters over the walk-forward folds; skip what is registered; rank the cohort."""
    from walkforward.model_selection.executors import make_executor
    from walkforward.search import run_search

    registry = _registry()
    progress, update = _search_progress(json_out, f"{req.search} search")
    runner = make_executor(executor, scheduler=scheduler, n_jobs=n_jobs)
    try:
        with progress:
            result = run_search(req, store=_store(), registry=registry, progress=update, executor=runner)
    finally:
        runner.close()
    if json_out:
        _emit_json(search_dict(result))
        return
    for note in result.notes:
        out.print(f"[dim]{note}[/]")
    out.print(cohort_table(registry.cohort(result.cohort_id), result.selection, title=f"Cohort {result.cohort_id}"))
