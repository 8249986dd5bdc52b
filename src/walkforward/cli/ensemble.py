"""``walkforward ensemble``: combine registered models (a cohort's best K, or listed ids) into a registered model.

The options' help comes from :class:`walkforward.ensembles.request.EnsembleRequest`'s fields (declared
once there); the command parses them into that model and calls the function ``POST /ensembles`` calls.
"""

from __future__ import annotations

from typing import Annotated

import typer

from walkforward.cli import JsonOpt, _emit_json, _registry, app, out
from walkforward.ensembles.request import EnsembleRequest


def _help(name: str) -> str:
    return str(EnsembleRequest.model_fields[name].description)


@app.command("ensemble")
def ensemble_cmd(
    from_cohort: Annotated[str | None, typer.Option("--from-cohort", help=_help("from_cohort"))] = None,
    models: Annotated[str | None, typer.Option("--models", help=_help("models") + " Comma-separated.")] = None,
    top: Annotated[int | None, typer.Option("--top", help=_help("top"))] = None,
    method: Annotated[str, typer.Option("--method", help=_help("method"))] = "average",
    first_fold: Annotated[str, typer.Option("--first-fold", help=_help("first_fold"))] = "equal",
    json_out: JsonOpt = False,
) -> None:
    """Build an ensemble of registered models, each fold's members and weights chosen on earlier folds only."""
    from walkforward.ensembles import build_ensemble, parse_ensemble

    req = parse_ensemble(
        {"from_cohort": from_cohort, "models": models, "top": top, "method": method, "first_fold": first_fold}
    )
    built = build_ensemble(req, registry=_registry())
    if json_out:
        _emit_json(built.to_dict())
        return
    r = built.record
    info = r.derived["ensemble"]
    verb = "already registered" if built.reused else "registered"
    score = "-" if r.cv_score is None else f"{r.cv_score:.4g}"
    out.print(
        f"{verb} ensemble [bold]{r.id}[/] ({info['method']}, top {info['top']} of {len(info['candidates'])}): "
        f"cv {r.metrics.get('score', 'score')} {score}"
    )
    for fold in info["folds"]:
        members = ", ".join(m[:8] for m in fold["members"]) or "-"
        out.print(f"  fold {fold['fold']}: {fold['basis']}; members {members}")
    out.print(f"  final: {info['final']['basis']}; members {', '.join(m[:8] for m in info['members'])}")
