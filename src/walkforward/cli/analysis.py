"""The ``models`` group's analyses: drift, a cohort's exploration, SHAP across models, comparisons.

Each goes through the same library function as its API route; ``--json`` prints that payload.
"""

from __future__ import annotations

import contextlib
from typing import Annotated

import typer
from rich.markup import escape

from walkforward import queries
from walkforward.cli import JsonOpt, _emit_json, _registry, _store, err, out
from walkforward.cli.models import models_app


@models_app.command("drift")
def models_drift(
    model_id: str,
    since: Annotated[str | None, typer.Option(help="First day of the new window (YYYY-MM-DD).")] = None,
    top: Annotated[int, typer.Option(min=1, help="Features to list (drifting first).")] = 20,
    json_out: JsonOpt = False,
) -> None:
    """Drift after a model's training end: features (PSI, KS), predictions, performance; ok / warn / alert."""
    from walkforward.cli import state
    from walkforward.reports.drift import drift_tables

    with err.status("comparing with the training rows", spinner="dots") if not json_out else contextlib.nullcontext():
        found = queries.drift(_registry(), _store(), state.settings, model_id, since=since)
    if json_out:
        _emit_json(found)
        return
    for part in drift_tables(found, top):
        out.print(part)


@models_app.command("explore")
def models_explore(cohort_id: str, json_out: JsonOpt = False) -> None:
    """A cohort's hyperparameter importance (fANOVA) and best score by trial order, as the UI's explore view."""
    from rich.table import Table

    found = queries.cohort_explore(_registry(), cohort_id)
    if json_out:
        _emit_json(found)
        return
    imp = found["importance"]
    table = Table(title=f"Cohort {cohort_id}: importance for {found['score_label']}", caption=imp["method"])
    table.add_column("hyperparameter")
    table.add_column("values")
    table.add_column("share of variance", justify="right")
    shares = {i["name"]: i["importance"] for i in imp["items"]}
    for axis in sorted(found["axes"], key=lambda a: -shares.get(a["name"], 0.0)):
        share = shares.get(axis["name"])
        values = ", ".join(str(v) for v in axis["values"])
        table.add_row(axis["name"], f"{values} ({axis['kind']})", "-" if share is None else f"{share:.1%}")
    out.print(table)
    for note in (imp["note"], imp.get("left_out"), imp.get("sampled")):
        if note:
            out.print(escape(note))
    if found.get("n_unregistered"):
        out.print(
            f"over {found['n_registered']} registered model(s) and {found['n_unregistered']} configuration(s)"
            " the searches scored without saving"
        )
    for note in found.get("notes", []):
        out.print(escape(note))
    points = [p for p in found["history"]["points"] if p["best"] is not None]
    if points:
        out.print(
            f"best {points[-1]['best']:.6g} after {len(found['history']['points'])} ({found['history']['label']})"
        )


@models_app.command("shap")
def models_shap(
    symbol: Annotated[str | None, typer.Option(help="A symbol's latest models.")] = None,
    cohort: Annotated[str | None, typer.Option(help="A cohort's models.")] = None,
    feature: Annotated[str | None, typer.Option(help="Dependence plot data of this feature.")] = None,
    top: Annotated[int, typer.Option(min=1, max=100, help="A feature is consistent when in a model's top N.")] = 10,
    json_out: JsonOpt = False,
) -> None:
    """Which features matter consistently across a symbol's or a cohort's models and regimes (SHAP)."""
    from walkforward.reports.shap import shap_tables
    from walkforward.shap_view import shap_across

    store = _store() if feature else None
    payload = shap_across(_registry(), store, symbol=symbol, cohort_id=cohort, feature=feature, top=top)
    if json_out:
        _emit_json(payload)
        return
    for table in shap_tables(payload):
        out.print(table)


@models_app.command("compare")
def models_compare(model_a: str, model_b: str, json_out: JsonOpt = False) -> None:
    """Is one model's forecast better than the other's? Diebold-Mariano on their out-of-sample rows."""
    found = queries.compare(_registry(), model_a, model_b)
    if json_out:
        _emit_json(found)
        return
    dm = found["diebold_mariano"]
    better = model_a if dm["mean_difference"] < 0 else model_b
    p = "-" if dm["p_value"] is None else f"{dm['p_value']:.3g}"
    out.print(
        f"{found['rows']:,} shared out-of-sample rows; mean {found['loss']}: "
        f"{model_a[:12]} {found['mean_loss_a']:.4g}, {model_b[:12]} {found['mean_loss_b']:.4g}; "
        f"lower loss: {better[:12]}; "
        f"Diebold-Mariano (HAC, {dm['lags']} lags) p = {p}"
    )


@models_app.command("compare-many")
def models_compare_many(
    model_ids: Annotated[list[str], typer.Argument(help="2 to 6 model ids (short ids as shown are accepted).")],
    only_differences: Annotated[bool, typer.Option("--only-differences", help="Show only rows that differ.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Models side by side: request, hyperparameters and cross-validated metrics, differing rows marked."""
    from walkforward.reports.side_by_side import side_by_side_table
    from walkforward.side_by_side import compare_many

    found = compare_many(_registry(), model_ids)
    if json_out:
        _emit_json(found)
    else:
        out.print(side_by_side_table(found, only_differences=only_differences))
