"""A drift report (``walkforward models drift``) as terminal tables: status, features drifting first, the rest."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

_STYLE = {"ok": "green", "warn": "yellow", "alert": "bold red"}


def _num(value: Any, digits: int = 3) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "-"
    return f"{value:.{digits}g}"


def _status(status: str) -> Text:
    return Text(status.upper(), style=_STYLE.get(status, ""))


def _head(report: Mapping[str, Any]) -> RenderableType:
    window, training = report["window"], report["training"]
    lines: list[RenderableType] = [
        Text.assemble(f"model {report['model_id']}: ", _status(report["status"])),
        Text(
            f"{window['rows']:,} new rows {window['start']} -> {window['end']} "
            f"({window['labelled_rows']:,} with a known target) vs {training['rows']:,} training rows "
            f"{training['start']} -> {training['end']}",
            style="dim",
        ),
    ]
    lines += [Text(f"- {r}") for r in report["reasons"]]
    lines += [Text(f"note: {n}", style="dim") for n in report.get("notes", [])]
    return Group(*lines)


def _features(report: Mapping[str, Any], top: int) -> Table:
    feats = report["features"]
    method = report["method"]
    columns: Sequence[Mapping[str, Any]] = feats["columns"]
    t = Table(
        title=f"Features, drifting first ({feats['over_warn']} over warn, {feats['over_alert']} over alert, "
        f"of {len(columns)})",
        caption=(
            f"thresholds: circular block bootstrap of the training rows (block {method['block_length']}, "
            f"{method['draws']} draws, seed {method['seed']}), family-wise {method['warn_level']:.0%} / "
            f"{method['alert_level']:.0%}, floors PSI {method['psi_warn']} / {method['psi_alert']}, "
            f"KS {method['ks_warn']} / {method['ks_alert']}; (unused): pruned, not counted"
        ),
    )
    for name, justify in [
        ("feature", "left"),
        ("status", "left"),
        ("PSI", "right"),
        ("warn / alert", "right"),
        ("KS", "right"),
        ("warn / alert ", "right"),
        ("mean train -> new", "right"),
        ("std train -> new", "right"),
    ]:
        t.add_column(name, justify=justify)  # type: ignore[arg-type]
    for c in columns[:top]:
        label = escape(c["name"]) + ("" if c["counted"] else " [dim](unused)[/]")
        t.add_row(
            label,
            _status(c["status"]),
            _num(c["psi"]),
            f"{_num(c['psi_warn'])} / {_num(c['psi_alert'])}",
            _num(c["ks"]),
            f"{_num(c['ks_warn'])} / {_num(c['ks_alert'])}",
            f"{_num(c['mean_ref'])} -> {_num(c['mean_new'])}",
            f"{_num(c['std_ref'])} -> {_num(c['std_new'])}",
        )
    if len(columns) > top:
        t.add_row(f"... {len(columns) - top} more (--top, --json)", "", "", "", "", "", "", "")
    return t


def _other(report: Mapping[str, Any]) -> Table | None:
    pred, perf = report.get("predictions"), report.get("performance")
    if pred is None and perf is None:
        return None
    t = Table(title="Predictions and performance")
    for name in ("what", "status", "value", "against"):
        t.add_column(name)
    if pred is not None:
        c = pred["columns"][0]
        t.add_row(
            f"{pred['column']} distribution vs out-of-sample ({pred['rows_reference']:,} rows)",
            _status(c["status"]),
            f"PSI {_num(c['psi'])}, KS {_num(c['ks'])}",
            f"alert PSI {_num(c['psi_alert'])}, KS {_num(c['ks_alert'])}",
        )
    if perf is not None:
        against = f"cv {_num(perf['cv'])}" + (
            f" ± {_num(perf['cv_std'])} over {perf['folds']} folds" if perf["cv_std"] is not None else ""
        )
        value = _num(perf["value"]) + (f" (z {perf['z']:.2f})" if perf["z"] is not None else "")
        t.add_row(f"{perf['metric']} on {perf['rows']:,} labelled new rows", _status(perf["status"]), value, against)
        if perf.get("note"):
            t.add_row("", "", Text(perf["note"], style="dim"), "")
    return t


def drift_tables(report: Mapping[str, Any], top: int = 20) -> list[RenderableType]:
    """The renderables of a drift report, in reading order."""
    parts: list[RenderableType] = [_head(report), _features(report, top)]
    other = _other(report)
    if other is not None:
        parts.append(other)
    return parts
