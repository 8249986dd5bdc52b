"""The lock-box evaluation as a terminal table, apart from the cross-validated figures it sits beside."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rich.table import Table

if TYPE_CHECKING:
    from walkforward.registry import LockboxRecord, ModelRecord

#: (label, key in ``metrics["lockbox"]`` and ``metrics["cv"]``, shown as a percentage)
_ROWS = (
    ("R2", "r2", False),
    ("RMSE", "rmse", False),
    ("price RMSE", "rmse_price", False),
    ("hit rate", "hit_rate", True),
    ("accuracy", "accuracy", True),
    ("F1", "f1", False),
    ("ROC AUC", "roc_auc", False),
    ("IC", "ic", False),
    ("rank IC", "rank_ic", False),
    ("Sharpe (net)", "sharpe", False),
    ("annual return (net)", "net_annual_return", True),
    ("max drawdown", "max_drawdown", True),
    ("turnover a day", "turnover", False),
)


def _cell(values: Mapping[str, Any], key: str, percent: bool) -> str:
    value = values.get(key)
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "-"
    return f"{100 * value:.1f}%" if percent else f"{value:.4g}"


def lockbox_table(found: LockboxRecord, record: ModelRecord | None = None) -> Table:
    """The recorded lock-box figures, with the model's cross-validated ones beside them for reference."""
    scores: Mapping[str, Any] = found.metrics.get("lockbox", {})
    cv: Mapping[str, Any] = (record.metrics.get("cv") or {}) if record is not None else {}
    t = Table(
        title=f"Lock box (evaluated once at {found.evaluated_at:%Y-%m-%d %H:%M:%S} UTC)",
        caption=(
            f"from {found.lockbox_start}: {found.rows:,} rows in {found.sessions} session(s), never seen by "
            "training, search or ranking; recorded once, apart from the model's metrics"
        ),
    )
    t.add_column("metric")
    t.add_column("lock box", justify="right")
    if cv:
        t.add_column("cv (folds)", justify="right", style="dim")
    for label, key, percent in _ROWS:
        if key not in scores:
            continue
        row = [label, _cell(scores, key, percent)]
        if cv:
            row.append(_cell(cv, key, percent))
        t.add_row(*row)
    return t
