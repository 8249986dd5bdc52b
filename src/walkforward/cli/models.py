"""The ``models`` group (list, show, lockbox, cohort, explain, lineage, tag, delete, delete-cohort, prune,
predictions), and ``predict``; the analyses of models are in :mod:`walkforward.cli.analysis`.

Every read goes through :mod:`walkforward.queries`, as the API's routes do: ``--json`` prints the
payload the API returns, and the tables render the same query's records.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from walkforward import queries
from walkforward.cli import JsonOpt, _emit_json, _registry, _store, app, err, out
from walkforward.errors import WalkforwardError
from walkforward.model_summary import MAX_PAGE
from walkforward.reports.clusters import clusters_table
from walkforward.reports.lockbox import lockbox_table
from walkforward.reports.tables import (
    cohort_table,
    importance_table,
    lineage_tree,
    model_tables,
    models_table,
    predictions_table,
    prune_table,
    trading_table,
)

models_app = typer.Typer(help="The model registry.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("list")
def models_list(
    symbol: Annotated[str | None, typer.Option(help="A symbol the models use (primary or context).")] = None,
    algorithm: Annotated[str | None, typer.Option(help="Algorithm name.")] = None,
    cohort: Annotated[str | None, typer.Option(help="Cohort id.")] = None,
    parent: Annotated[str | None, typer.Option(help="Parent model id.")] = None,
    sort: Annotated[str, typer.Option(help="created_at, cv_score, ... or metrics.<name>.")] = "created_at",
    ascending: Annotated[bool, typer.Option("--ascending", help="Sort ascending.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=MAX_PAGE, help="Models a page (page on with --offset).")] = 20,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    where: Annotated[
        list[str] | None, typer.Option(help="Metric filter, e.g. 'sharpe > 1 and ic > 0' (repeatable).")
    ] = None,
    primary_only: Annotated[
        bool, typer.Option("--primary-only", help="--symbol matches the primary symbol only.")
    ] = False,
    tag: Annotated[str | None, typer.Option(help="Only models tagged with this (any case), e.g. baseline.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List registered models (filtered, sorted, paginated)."""
    page = queries.list_models(
        _registry(),
        symbol=symbol,
        algorithm=algorithm,
        cohort_id=cohort,
        parent_model_id=parent,
        sort=sort,
        descending=not ascending,
        limit=limit,
        offset=offset,
        where=where or (),
        primary_only=primary_only,
        tag=tag,
    )
    if json_out:
        _emit_json({"total": page.total, "offset": page.offset, "models": page.items()})
    else:
        out.print(models_table(page.models, page.total, page.offset))


@models_app.command("show")
def models_show(model_id: str, json_out: JsonOpt = False) -> None:
    """Show one model: request, features, folds and metrics."""
    if json_out:
        _emit_json(queries.model(_registry(), model_id))
        return
    registry = _registry()
    record = registry.get(model_id)
    for table in model_tables(record):
        out.print(table)
    clusters = clusters_table(record)
    if clusters is not None:
        out.print(clusters)
    found = registry.lockbox(model_id)
    if found is not None:
        out.print(lockbox_table(found, record))


@models_app.command("lockbox")
def models_lockbox(model_id: str, json_out: JsonOpt = False) -> None:
    """Evaluate a model on the lock box (WALKFORWARD_LOCKBOX_START) once; the result is recorded and shown apart.

    A second evaluation is refused (exit 2) and shows the recorded result.
    """
    from walkforward.registry import LockboxEvaluatedError
    from walkforward.training.lockbox import evaluate_lockbox

    registry = _registry()
    record = registry.get(model_id)
    try:
        with err.status("evaluating on the lock box", spinner="dots") if not json_out else contextlib.nullcontext():
            found = evaluate_lockbox(model_id, store=_store(), registry=registry)
    except LockboxEvaluatedError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        if json_out:
            _emit_json({"detail": str(exc), "lockbox": exc.evaluation.to_dict()})
        else:
            out.print(lockbox_table(exc.evaluation, record))
        raise typer.Exit(2) from None
    if json_out:
        _emit_json(found.to_dict())
    else:
        out.print(lockbox_table(found, record))


@models_app.command("cohort")
def models_cohort(cohort_id: str, json_out: JsonOpt = False) -> None:
    """A cohort's siblings, ranked by cross-validated score, with the multiple-testing adjustment."""
    found = queries.cohort(_registry(), cohort_id)
    if json_out:
        _emit_json(found.to_dict())
    else:
        out.print(cohort_table(found.models, found.selection or {}, title=f"Cohort {cohort_id}"))


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
        status = err.status("computing permutation importance and SHAP", spinner="dots")
        with status if not json_out else contextlib.nullcontext():
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
    out.print(importance_table(model_id, record.feature_details or {}, top))
    for written_path in written:
        out.print(f"wrote {written_path}")


@models_app.command("lineage")
def models_lineage(model_id: str, json_out: JsonOpt = False) -> None:
    """A model's ancestors (parent, grandparent, ...), descendants (all generations) and ensembles built on it."""
    from walkforward.lineage import final_members

    found = queries.lineage(_registry(), model_id)
    if json_out:
        _emit_json(found.to_dict())
    else:
        tree = lineage_tree(found.model, found.ancestors, found.descendants)
        if found.members:  # an ensemble's members (see walkforward.ensembles)
            built = tree.add(f"ensemble members ({len(found.members)})")
            for m in found.members:
                built.add(f"{m.id} {m.algorithm} ({len(m.features)} features, score {m.cv_score})")
        if found.used_in:  # the ensembles built on this model
            used = tree.add(f"used in ensembles ({len(found.used_in)})")
            for e in found.used_in:
                role = "final member" if found.model.id in final_members(e) else "candidate only"
                used.add(f"{e.id} ensemble {e.hyperparameters.get('method')} ({role}, score {e.cv_score})")
        out.print(tree)


@models_app.command("delete")
def models_delete(model_id: str, json_out: JsonOpt = False) -> None:
    """Delete a model and its artifact."""
    deleted = queries.delete_model(_registry(), model_id)
    _emit_json(deleted) if json_out else out.print(f"deleted {model_id}")


@models_app.command("delete-cohort")
def models_delete_cohort(cohort_id: str, json_out: JsonOpt = False) -> None:
    """Delete every model of a cohort and their artifacts."""
    deleted = queries.delete_cohort(_registry(), cohort_id)
    _emit_json(deleted) if json_out else out.print(f"deleted {deleted['deleted']} model(s)")


@models_app.command("tag")
def models_tag(
    model_id: str,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="A tag (repeat for several); replaces the model's tags.")
    ] = None,
    note: Annotated[str | None, typer.Option(help="A note; replaces the model's note.")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the tags and the note first.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Set a model's tags and note (what is not given is kept); the web UI's model page edits the same."""
    from walkforward import manage

    registry = _registry()
    current = manage.notes(registry, model_id)
    tags = tag if tag else ([] if clear else current["tags"])
    text = note if note is not None else ("" if clear else current["note"])
    saved = manage.set_notes(registry, model_id, tags=tags, note=text)
    if json_out:
        _emit_json(saved)
        return
    shown = ", ".join(saved["tags"]) or "no tags"
    out.print(f"{model_id}: {escape(shown)}" + (f" · note: {escape(saved['note'])}" if saved["note"] else " · no note"))


@models_app.command("prune")
def models_prune(
    older_than: Annotated[
        str, typer.Option("--older-than", help="Age of a cohort's newest model: 30d, 12h, 2w.")
    ] = "30d",
    apply: Annotated[
        bool, typer.Option("--yes/--dry-run", help="Delete (--yes), or only list what would go (the default).")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Delete the non-best models of cohorts older than --older-than (each cohort keeps its best and their parents)."""
    found = queries.prune_models(_registry(), older_than, apply=apply)
    if json_out:
        _emit_json(found)
    else:
        out.print(prune_table(found))


@models_app.command("predictions")
def models_predictions(
    model_id: str,
    output: Annotated[Path | None, typer.Option(help="Write them to a .csv or .parquet file.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """The out-of-sample predictions a model was evaluated on (each fold's test rows), and its money."""
    if output is not None and output.suffix.lower() not in (".csv", ".parquet"):
        raise WalkforwardError(f"--output {output}: use a .csv or .parquet file name")
    registry = _registry()
    frame = queries.kept_predictions(registry, model_id)
    if output is not None:
        frame.to_parquet(output, index=False) if output.suffix.lower() == ".parquet" else frame.to_csv(
            output, index=False
        )
    if json_out:
        _emit_json(queries.predictions_dict(model_id, frame))
        return
    table = trading_table(registry.get(model_id))
    if table is not None:
        out.print(table)
    out.print(f"{len(frame):,} out-of-sample rows in {frame['fold'].nunique()} fold(s)")
    if output is not None:
        out.print(f"wrote {len(frame):,} rows to {output}")


@app.command("predict")
def predict_cmd(
    model_id: str,
    start: Annotated[str | None, typer.Option(help="First date (YYYY-MM-DD); default: the model's range.")] = None,
    end: Annotated[str | None, typer.Option(help="Last date (YYYY-MM-DD).")] = None,
    output: Annotated[Path | None, typer.Option(help="Write all predictions to a .csv or .parquet file.")] = None,
    tail: Annotated[int, typer.Option(help="Rows to print (the latest).")] = 10,
    json_out: JsonOpt = False,
) -> None:
    """Predict with a registered model through the same loader and pipeline it was trained with."""
    if output is not None and output.suffix.lower() not in (".csv", ".parquet"):
        raise WalkforwardError(f"--output {output}: use a .csv or .parquet file name")
    found = queries.predictions(_registry(), _store(), model_id, start=start, end=end)
    frame = found.frame
    if output is not None:
        if output.suffix.lower() == ".parquet":
            frame.to_parquet(output, index=False)
        else:
            frame.to_csv(output, index=False)
    if json_out:
        _emit_json(found.to_dict(tail))
        return
    out.print(predictions_table(model_id, found.latest(tail), len(frame)))
    if output is not None:
        out.print(f"wrote {len(frame):,} rows to {output}")


__all__ = ["models_app"]
