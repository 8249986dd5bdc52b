"""Rich tables of a model's feature clusters: clustered importance and the cluster step's kept features."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rich.table import Table

if TYPE_CHECKING:
    from walkforward.registry import ModelRecord

#: members listed per cluster before "+N more"
MEMBERS_SHOWN = 6


def _members(names: Sequence[str], kept: set[str]) -> str:
    shown = [f"[bold]{n}[/bold]" if n in kept else n for n in names[:MEMBERS_SHOWN]]
    more = len(names) - MEMBERS_SHOWN
    return ", ".join(shown) + (f" +{more} more" if more > 0 else "")


def _num(value: Any) -> str:
    return "-" if value is None else f"{float(value):.4g}"


def clusters_table(record: ModelRecord) -> Table | None:
    """Clustered MDA of a model (most important first), or None when it has none.

    Features the model's cluster step kept are in bold.
    """
    explanations: Mapping[str, Any] = (record.derived or {}).get("explanations") or {}
    clusters: Mapping[str, Any] = explanations.get("clusters") or {}
    step = (record.derived or {}).get("cluster_step") or {}
    kept = {str(c["kept"]) for c in step.get("clusters", [])}
    if "error" in clusters:
        table = Table(title=f"Clustered importance of {record.id}: failed")
        table.add_column("error")
        table.add_row(str(clusters["error"]))
        return table
    if not clusters.get("clusters"):
        return None
    caption = (
        f"{clusters['method']}; {clusters['distance']}, {clusters['linkage']} linkage cut at "
        f"{clusters['threshold']}; score {clusters['scoring']} drop, mean ± spread over folds"
        + ("; bold: kept by the cluster step" if kept else "")
    )
    table = Table(title=f"Clustered importance of {record.id}", caption=caption)
    for name, justify in (("cluster", "right"), ("members", "left"), ("importance", "right"), ("± std", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for entry in clusters["clusters"]:
        unused = entry.get("seen_folds") == 0  # pruned in every fold
        table.add_row(
            str(entry["cluster"]),
            _members(entry["members"], kept),
            "not used" if unused else _num(entry["importance"]),
            "" if unused else _num(entry["std"]),
        )
    return table
