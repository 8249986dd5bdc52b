"""A model's drift status from its parts: feature drift, prediction drift, out-of-sample performance; pure.

Performance on the new rows is the model's own cross-validated score metric (``metrics["score"]``:
R2 for regressors, accuracy for classifiers; higher is better), computed as its folds computed it,
and judged against the spread of its fold scores: a fold's score varies by its standard deviation
over a test block of ``fold_rows`` rows, so the whole new window of ``m`` rows is held to a standard
error of ``fold_std * sqrt(max(1, fold_rows / m))`` (a shorter window is noisier; a longer one is
not credited with less spread, since regime changes between folds do not average out). Only a
drop counts: ``z = (new - cv) / se`` at or below ``-perf_warn_z`` warns, ``-perf_alert_z`` alerts.
Consecutive windows of ``fold_rows`` rows are reported beside it (a rolling view, not judged: the
window count would need its own multiple-testing rule).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from walkforward.evaluation.drift import ALERT, OK, WARN, DriftConfig, DriftTable, worst

__all__ = ["PerformanceDrift", "Scorer", "overall", "performance", "uncounted_note"]

#: scores rows ``(start, stop)`` of the new labelled window in the model's metric
Scorer = Callable[[int, int], float]


@dataclass(frozen=True)
class PerformanceDrift:
    """The model's metric on its new labelled rows against its cross-validated level and fold spread."""

    metric: str
    rows: int
    value: float | None
    cv: float
    cv_std: float | None
    folds: int
    fold_rows: int
    standard_error: float | None
    z: float | None
    status: str
    note: str | None = None
    windows: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def performance(
    score: Scorer,
    *,
    rows: int,
    metric: str,
    cv: float,
    fold_scores: Sequence[float],
    fold_rows: int,
    config: DriftConfig,
    starts: Sequence[str] | None = None,
) -> PerformanceDrift:
    """Judge ``score`` over the ``rows`` new labelled rows (in time order) against the folds' scores.

    ``starts`` labels each row (e.g. its timestamp) for the rolling windows' bounds.
    """
    folds = len(fold_scores)
    spread = float(np.std(fold_scores, ddof=1)) if folds > 1 else None
    base: dict[str, Any] = {"metric": metric, "rows": rows, "cv": cv, "cv_std": spread, "folds": folds}
    base["fold_rows"] = fold_rows
    if rows < config.min_rows:
        note = f"{rows} labelled new row(s): at least {config.min_rows} are needed to judge performance"
        return PerformanceDrift(**base, value=None, standard_error=None, z=None, status=OK, note=note)
    value = float(score(0, rows))
    windows = []
    size = max(fold_rows, config.min_rows)
    for lo in range(0, rows, size):
        hi = min(rows, lo + size)
        if hi - lo >= config.min_rows:
            window: dict[str, Any] = {"start_row": lo, "rows": hi - lo, "value": float(score(lo, hi))}
            if starts is not None:
                window.update(start=starts[lo], end=starts[hi - 1])
            windows.append(window)
    if spread is None or not spread > 0 or not math.isfinite(value):
        note = "one fold (no spread to judge against)" if folds < 2 else "the folds' scores have no spread"
        return PerformanceDrift(
            **base, value=value, standard_error=None, z=None, status=OK, note=f"{note}: not judged", windows=windows
        )
    se = spread * math.sqrt(max(1.0, fold_rows / rows))
    z = (value - cv) / se
    status = ALERT if z <= -config.perf_alert_z else WARN if z <= -config.perf_warn_z else OK
    return PerformanceDrift(**base, value=value, standard_error=se, z=z, status=status, windows=windows)


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def overall(
    features: DriftTable,
    predictions: DriftTable | None,
    perf: PerformanceDrift | None,
) -> tuple[str, list[str]]:
    """The model's status (the worst of its parts) and the reasons, most severe first.

    Feature drift counts only the model's *used* features (``counted``): drift in a feature its
    pruning dropped changes nothing it predicts, and is reported apart as a note.
    """
    reasons: list[tuple[str, str]] = []
    for status in (ALERT, WARN):
        hit = [c for c in features.over(status) if c.status == status]
        if hit:
            names = ", ".join(c.name for c in hit[:5]) + (f" and {len(hit) - 5} more" if len(hit) > 5 else "")
            reasons.append((status, f"{len(hit)} feature(s) past their {status} threshold: {names}"))
    if predictions is not None:
        col = predictions.columns[0]
        if col.status != OK:
            reasons.append(
                (col.status, f"predictions drift from the out-of-sample ones (PSI {_fmt(col.psi)}, KS {_fmt(col.ks)})")
            )
    if perf is not None and perf.status != OK and perf.value is not None and perf.z is not None:
        reasons.append(
            (
                perf.status,
                f"{perf.metric} {_fmt(perf.value)} on {perf.rows} new rows vs cv {_fmt(perf.cv)} "
                f"(z {perf.z:.2f} against the fold spread)",
            )
        )
    status = worst([s for s, _ in reasons])
    if status == OK:
        reasons.append((OK, f"no counted feature past its warn threshold ({len(features.columns)} compared)"))
    reasons.sort(key=lambda r: [ALERT, WARN, OK].index(r[0]))
    return status, [text for _, text in reasons]


def uncounted_note(features: DriftTable) -> str | None:
    """A note on drifting features the model does not use (they do not set its status)."""
    drifting = [c.name for c in features.columns if not c.counted and c.status != OK]
    if not drifting:
        return None
    return f"{len(drifting)} feature(s) the model does not use drift too (not counted): {', '.join(drifting[:5])}"
