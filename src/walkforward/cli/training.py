"""Training commands: ``train``, ``search`` and ``demo``; their options come from the request models."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from walkforward.cli import JsonOpt, _emit_json, _registry, _store, app, err, out, state
from walkforward.cli.data import _demo_data, _show_dataset
from walkforward.cli.options import request_command
from walkforward.errors import WalkforwardError
from walkforward.features import DEFAULT_SYMBOLS, FEATURE_SET_VERSION
from walkforward.model_selection.cleanup import sweep_quietly
from walkforward.reports import model_dict, search_dict
from walkforward.reports.tables import cohort_table, ingest_table, model_tables
from walkforward.request import DataRequest, SearchRequest, TrainRequest, parse

if TYPE_CHECKING:
    from walkforward.registry import ModelStore


def _duration(seconds: float) -> str:
    """``42s``, ``1m40s``, ``3h12m``: short enough for a progress line."""
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class SearchProgressView:
    """A search's progress: a rich bar with ETA on a terminal, else a plain stderr line every interval.

    A piped or logged search would otherwise print nothing for minutes. The plain line comes from a
    timer thread, so it appears even while one long task runs; the interval is
    ``WALKFORWARD_PROGRESS_INTERVAL`` seconds (default 10). Call the object as the search's
    ``progress`` callback and use it as a context manager around the search.
    """

    def __init__(self, label: str, *, json_out: bool) -> None:
        self.label = label
        self.plain = not err.is_terminal
        self.interval = float(os.environ.get("WALKFORWARD_PROGRESS_INTERVAL") or 10)
        from rich.progress import Progress, TextColumn, TimeElapsedColumn  # on first use: fast --help

        self.bar = Progress(
            *Progress.get_default_columns(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[best]}"),
            console=err,
            transient=True,
            disable=json_out or self.plain,
        )
        self.task = self.bar.add_task(label, total=None, best="")
        self.started = time.monotonic()
        self.first_tick: float | None = None
        self.state: tuple[int, int, float | None, str] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self, done: int, total: int, best: float | None, msg: str) -> None:
        if self.first_tick is None:
            self.first_tick = time.monotonic()
        self.state = (done, total, best, msg)
        text = "" if best is None else f"best so far {best:.5g}"
        self.bar.update(self.task, completed=done, total=total, description=f"{msg} {done}/{total}", best=text)

    def line(self) -> str:
        """``grid 120/19208 (0.6%), best so far 0.0123, elapsed 1m40s, ETA 3h12m``."""
        now = time.monotonic()
        elapsed = _duration(now - self.started)
        if self.state is None or self.first_tick is None:
            return f"{self.label}: preparing data and folds, elapsed {elapsed}"
        done, total, best, msg = self.state
        pct = 100.0 * done / total if total else 100.0
        eta = _duration((now - self.first_tick) / done * (total - done)) if done else "unknown"
        best_text = "" if best is None else f", best so far {best:.4g}"
        return f"{msg} {done}/{total} ({pct:.1f}%){best_text}, elapsed {elapsed}, ETA {eta}"

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            err.print(self.line(), markup=False, highlight=False, soft_wrap=True)

    def __enter__(self) -> SearchProgressView:
        self.bar.__enter__()
        if self.plain:  # a line at once, one per interval, and the last state at the end
            err.print(self.line(), markup=False, highlight=False, soft_wrap=True)
            self._thread = threading.Thread(target=self._beat, name="search-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            if self.state is not None:
                err.print(self.line(), markup=False, highlight=False, soft_wrap=True)
        self.bar.__exit__(None, None, None)


@contextlib.contextmanager
def _interruptible() -> Iterator[list[int]]:
    """Turn the first SIGINT or SIGTERM into KeyboardInterrupt, so ``finally`` blocks stop the workers.

    Python's default SIGTERM ends the process at once: no ``finally``, no executor shutdown, and the
    pool's memmaps and semaphores stay in /dev/shm. Later signals are only recorded, so a second
    Ctrl-C cannot cut the clean-up short. Yields the signals received.
    """
    caught: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)
        if len(caught) == 1:
            raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield caught
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


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
    try:
        with SearchProgressView("elastic-net grid", json_out=json_out) as view:
            result = run_search(sreq, store=store, registry=registry, progress=view)
            best = explain_registered(result.best.id, store=store, registry=registry) if result.best else None
    finally:
        sweep_quietly(registry, "after the search")
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
    try:
        with progress:
            record = train(
                req,
                store=_store(),
                registry=registry,
                progress=lambda msg, done, total: progress.update(task, description=msg, completed=done, total=total),
            )
    finally:
        sweep_quietly(registry, "after training")
    if json_out:
        _emit_json(model_dict(record))
    else:
        for table in model_tables(record):
            out.print(table)


def _print_plan(
    req: SearchRequest, n_jobs: int, registry: ModelStore, json_out: bool, close: Callable[[], None]
) -> None:
    """``search --dry-run``: the plan of the search, as a table or JSON (the API's dry run returns the same)."""
    from walkforward.reports.tables import plan_table
    from walkforward.search.plan import dry_run

    try:
        plan = dry_run(req, store=_store(), registry=registry, n_jobs=n_jobs).to_dict()
    finally:
        close()
    if json_out:
        _emit_json(plan)
    else:
        out.print(plan_table(plan))


@app.command("search")
@request_command(SearchRequest, defaults={"search": "auto"})
def search_cmd(
    req: SearchRequest,
    executor: Annotated[str, typer.Option(help="local (worker processes) or dask.")] = "local",
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler, tcp://host:8786.")] = None,
    n_jobs: Annotated[int | None, typer.Option(min=1, help="Local worker processes (default: all cores).")] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Print the plan and an estimated time (one short timed fit); train nothing."),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Search hyperparameters over the walk-forward folds; skip what is registered; rank the cohort."""
    from walkforward.model_selection.executors import make_executor
    from walkforward.search import run_search

    registry = _registry()
    before = registry.list(limit=1)[1]
    runner = make_executor(executor, scheduler=scheduler or state.settings.walkforward_dask_scheduler, n_jobs=n_jobs)
    if dry_run:
        _print_plan(req, runner.n_jobs, registry, json_out, close=runner.close)
        return
    with _interruptible() as caught:
        try:
            try:
                with SearchProgressView(f"{req.strategy()} search", json_out=json_out) as view:
                    result = run_search(req, store=_store(), registry=registry, progress=view, executor=runner)
            finally:
                runner.close()
                sweep_quietly(registry, "after the search")
        except (KeyboardInterrupt, WalkforwardError):
            if not caught:  # an error of its own, not a worker dying of our signal
                raise
            saved = registry.list(limit=1)[1] - before
            err.print(
                f"interrupted: {saved} models saved; rerun the same command to train only what is missing",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(128 + caught[0]) from None
    if json_out:
        _emit_json(search_dict(result))
        return
    for note in result.notes:
        out.print(f"[dim]{note}[/]")
    out.print(cohort_table(registry.cohort(result.cohort_id), result.selection, title=f"Cohort {result.cohort_id}"))
