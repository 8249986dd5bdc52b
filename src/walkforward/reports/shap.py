"""Rich tables of SHAP across models: feature consistency and a feature's dependence per model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.table import Table


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):.0f}%"


def _num(value: Any) -> str:
    return "-" if value is None else f"{float(value):.3g}"


def shap_tables(payload: Mapping[str, Any], *, rows: int = 25) -> list[Table]:
    """The consistency table (first ``rows`` features) and, when computed, the dependence summary."""
    sel = payload["selection"]
    what = f"cohort {sel['cohort_id']}" if sel["cohort_id"] else f"symbol {sel['symbol']}"
    top = payload["top"]
    table = Table(
        title=f"SHAP across {payload['n_models']} model(s) of {what}",
        caption=f"top {top}: share of models where the feature is in their top {top} by mean |SHAP|; "
        f"share: mean share of a model's total mean |SHAP| ({payload['n_regime_cells']} regime cells)",
    )
    for name in ("feature", "models", f"top {top}", "share", "mean rank", f"regime top {top}"):
        table.add_column(name, justify="left" if name == "feature" else "right")
    for f in payload["features"][:rows]:
        table.add_row(
            f["feature"],
            str(f["models"]),
            _pct(f["top_share"]),
            _pct(f["mean_normalised"]),
            f"{f['mean_rank']:.1f}",
            _pct(f["regime_top_share"]),
        )
    tables = [table]
    dep = payload.get("dependence")
    if dep:
        sign = dep["sign"]
        direction = {1: "up", -1: "down", 0: "split"}.get(sign["sign"], "-")
        t = Table(
            title=f"Dependence of {dep['feature']} ({dep['sample']})",
            caption=f"direction {direction}, agreement {_pct(sign['agreement'])} of {sign['models']} model(s); "
            f"{dep['models_using']} model(s) use it",
        )
        for name in ("model", "algorithm", "explainer", "rows", "spearman(value, SHAP)"):
            t.add_column(name, justify="right" if name in ("rows", "spearman(value, SHAP)") else "left")
        for m in dep["models"]:
            if "error" in m:
                t.add_row(m["id"], m["algorithm"], f"[red]{m['error']}[/red]", "-", "-")
            else:
                t.add_row(m["id"], m["algorithm"], m["explainer"], str(m["rows"]), _num(m["spearman"]))
        tables.append(t)
    return tables
