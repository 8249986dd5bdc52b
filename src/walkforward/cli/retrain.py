"""``retrain``: refit a registered model on the data up to now, or simulate a retraining schedule."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from walkforward import queries
from walkforward.cli import JsonOpt, _emit_json, _registry, _store, app, err, out


@contextmanager
def _bar(label: str, json_out: bool) -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress bar fed by the library's ``progress(message, done, total)`` callback."""
    from rich.progress import Progress, TimeElapsedColumn

    with Progress(
        *Progress.get_default_columns(), TimeElapsedColumn(), console=err, transient=True, disable=json_out
    ) as bar:
        task = bar.add_task(label, total=None)
        yield lambda msg, done, total: bar.update(task, completed=done, total=total, description=msg)


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100.0 * value:+.3f}%"


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}"


def schedule_table(report: dict[str, Any]) -> Table:
    """Frozen vs retrained: net figures of each arm and the paired difference."""
    diff = report["difference"]
    table = Table(
        title=f"Retraining every {report['every']} session(s) vs frozen: model {report['model_id']}, "
        f"{len(report['refits'])} refit(s) after {report['initial_days']} initial session(s)"
    )
    for col in ("", "net return", "annual net", "Sharpe", "max drawdown", "sessions"):
        table.add_column(col, justify="left" if not col else "right")
    for arm in ("frozen", "retrained"):
        a = report[arm]
        table.add_row(
            arm,
            _pct(a["net_return"]),
            _pct(a["net_annual_return"]),
            _num(a["sharpe"]),
            _pct(a["max_drawdown"]),
            str(a["sessions"]),
        )
    ci = diff.get("ci95")
    table.caption = (
        f"retrained - frozen: mean daily {_pct(diff['mean_daily'])}"
        + (f", 95% CI [{_pct(ci[0])}, {_pct(ci[1])}]" if ci else "")
        + (f", p = {diff['p_value']:.3g}" if diff.get("p_value") is not None else "")
        + f" ({diff['test']})"
    )
    return table


@app.command("retrain")
def retrain(
    model_id: Annotated[str, typer.Argument(help="The registered model to retrain.")],
    simulate: Annotated[
        bool, typer.Option("--simulate", help="Simulate a retraining schedule instead (registers nothing).")
    ] = False,
    every: Annotated[int, typer.Option(min=1, help="--simulate: refit every N sessions (trading days).")] = 5,
    initial_days: Annotated[
        int | None,
        typer.Option(min=1, help="--simulate: sessions of the initial window (default: up to the model's data end)."),
    ] = None,
    warm_start: Annotated[
        bool,
        typer.Option("--warm-start", help="--simulate, boosters: continue the previous refit's trees on the new rows."),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Refit MODEL's request on every row up to now (lock box excluded) as a child, or simulate a schedule.

    The child's metrics are out-of-sample (the walk-forward folds of the extended data); its final
    fit uses every row, test-labelled ones included. With no new data since the last retrain,
    nothing is trained and the existing child is returned.
    """
    if simulate:
        with _bar("simulating", json_out) as progress:
            report = queries.simulate_retraining(
                _registry(),
                _store(),
                model_id,
                every=every,
                initial_days=initial_days,
                warm_start=warm_start,
                progress=progress,
            )
        if json_out:
            _emit_json(report)
            return
        out.print(schedule_table(report))
        out.print(f"[dim]{escape(report['meaning'])}[/]")
        return
    with _bar("retraining", json_out) as progress:
        done = queries.retrain(_registry(), _store(), model_id, progress=progress)
    if json_out:
        _emit_json(done)
        return
    out.print(escape(done["message"]))
    info = done.get("retrain") or {}
    if info:
        out.print(f"rows: {escape(str(info['rows']))}; data end {info['data_end']}")
        out.print(f"[dim]metrics: {escape(str(info['metrics']))}[/]")
