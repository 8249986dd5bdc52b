"""The terminal table of ``walkforward models compare-many``: one column per model, differing rows marked."""

from __future__ import annotations

import json
from typing import Any

from rich.table import Table

#: Rows of a model's identity shown above its hyperparameters, request and metrics.
_IDENTITY = ("algorithm", "symbols", "timeframe", "target_transform", "cohort_id", "cohort_rank", "predictions_kept")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | dict):
        return json.dumps(value, default=str)
    return str(value)


def side_by_side_table(payload: dict[str, Any], *, only_differences: bool = False) -> Table:
    """The payload of :func:`walkforward.side_by_side.compare_many` as a table; "≠" marks rows that differ."""
    models = payload["models"]
    table = Table(title=f"{len(models)} models side by side (≠: the models differ)")
    table.add_column("")
    for m in models:
        table.add_column(f"{m['id'][:12]}", overflow="fold")
    differences = payload["differences"]
    for group in ("identity", "hyperparameters", "request", "cv"):
        if group == "identity":
            keys = list(_IDENTITY)
            differ = {k for k in keys if len({json.dumps(m.get(k), default=str) for m in models}) > 1}
            values = {k: [m.get(k) for m in models] for k in keys}
        else:
            keys = list(dict.fromkeys(k for m in models for k in m[group]))
            differ = set(differences.get(group, []))
            values = {k: [m[group].get(k) for m in models] for k in keys}
        rows = [k for k in keys if k in differ or not only_differences]
        if not rows:
            continue
        table.add_section()
        table.add_row(f"[bold]{group}[/]", *[""] * len(models))
        for k in rows:
            mark = "≠ " if k in differ else "  "
            style = "yellow" if k in differ else None
            table.add_row(f"{mark}{k}", *[_cell(v) for v in values[k]], style=style)
    return table


__all__ = ["side_by_side_table"]
