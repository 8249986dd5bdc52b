"""Corporate actions: unadjusted splits found in bars, and adjustment columns applied (pure; no I/O).

An N:1 split divides the share price by N and multiplies the share volume by N from its effective
day on. Left unadjusted, it is an overnight "return" of -50% (2:1) that no market made: it poisons
the return features and the target of every window that spans it. So a day is a suspect when the
overnight move (last close of the day before -> first price of the day) exceeds :data:`MIN_JUMP`,
lands near a common split ratio and, when the bars carry volume, the typical daily volume around
the day moves by roughly the inverse factor. A crash of 33% on heavy volume can still look like a
3:2 split; that is why the refusal names the override.

An adjustment column makes the bars continuous: ``adj_factor`` multiplies the prices (adjusted =
raw x adj_factor, e.g. 0.5 before a 2:1 split and 1 after) and divides the volume; ``adj_close``
gives the factor as adj_close / close.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from walkforward.domain import RAW_PRICE_COLUMNS
from walkforward.errors import IngestError
from walkforward.features.zones import local_days

ADJUSTMENT_COLUMNS: tuple[str, ...] = ("adj_factor", "adj_close")
#: An overnight move smaller than this factor (either way) is never a suspect: a 10% gap is news, not a split.
MIN_JUMP = 1.3
#: How close (in log terms, ~5%) the move must come to a split ratio; the rest is the overnight move itself.
PRICE_TOLERANCE = 0.05
#: Sessions on each side whose volumes are compared (medians of the daily volume); with fewer than
#: VOLUME_MIN on a side (a split near the file's start or end) a price match stays unconfirmed.
VOLUME_WINDOW = 20
VOLUME_MIN = 8
VOLUME_SETTLE = 3
#: Price ratio before/after -> the split's name. Forward N:1 splits make the ratio N, reverse 1:N ones 1/N.
SPLIT_RATIOS: tuple[tuple[float, str], ...] = (
    *((n, f"{n:g}:1") for n in (2.0, 3.0, 4.0, 5.0, 7.0, 8.0, 10.0, 20.0)),
    (1.5, "3:2"),
    *((1 / n, f"1:{n:g}") for n in (2.0, 3.0, 4.0, 5.0, 8.0, 10.0, 15.0, 20.0, 25.0, 50.0)),
)


@dataclass(frozen=True)
class SplitSuspect:
    """A day whose overnight move looks like an unadjusted split."""

    day: str
    before: float  # last close of the session before
    after: float  # first price (open, else close) of the day
    label: str  # "2:1", "3:2", "1:10"
    volume_ratio: float | None  # typical daily volume after / before; None: the bars carry no volume
    confirmed: bool  # the volume moved as a split's would, over enough sessions (False: price evidence only)

    def describe(self) -> str:
        if self.volume_ratio is None:
            vol = "no volume to confirm"
        else:
            vol = f"daily volume x{self.volume_ratio:.2f}" + (
                "" if self.confirmed else " over too few sessions to confirm"
            )
        move = f"price {self.before:.6g} -> {self.after:.6g}"
        return f"{self.day} looks like an unadjusted {self.label} split ({move}, {vol})"


def _sessions(bars: pd.DataFrame, timezone: str | None) -> pd.DataFrame:
    """Per trading day (local date in ``timezone`` of aware ``ts``): first price, last close, total volume."""
    first_col = "open" if "open" in bars.columns else "close"
    ts = bars["ts"]
    day = local_days(ts, timezone or "UTC") if isinstance(ts.dtype, pd.DatetimeTZDtype) else ts.dt.normalize()
    grouped = bars.groupby(day, sort=True)
    out = pd.DataFrame({"first": grouped[first_col].first(), "last": grouped["close"].last()})
    out["volume"] = grouped["volume"].sum() if "volume" in bars.columns else np.nan
    out.index = pd.DatetimeIndex(out.index).strftime("%Y-%m-%d")
    return out


def _nearest_ratio(ratio: float) -> str | None:
    for value, label in SPLIT_RATIOS:
        if abs(math.log(ratio / value)) <= PRICE_TOLERANCE:
            return label
    return None


def _volume_ratio(volume: np.ndarray, i: int) -> tuple[float, int] | None:
    """Median daily volume of the sessions after day ``i`` over those before it, and the fewer sessions of the two.

    A crash trades heavily for a few days while a split changes every day after it: so medians,
    and the sessions after skip the first :data:`VOLUME_SETTLE` when there are more.
    """
    before = volume[max(0, i - VOLUME_WINDOW) : i]
    start = i + VOLUME_SETTLE if i + VOLUME_SETTLE < len(volume) else i
    after = volume[start : start + VOLUME_WINDOW]
    before, after = before[before > 0], after[after > 0]
    if not before.size or not after.size:
        return None
    return float(np.median(after) / np.median(before)), min(before.size, after.size)


def detect_splits(bars: pd.DataFrame, timezone: str | None = None) -> list[SplitSuspect]:
    """Days of ``bars`` (sorted ``ts``, ``close``, optionally ``open`` and ``volume``) that look like unadjusted splits.

    Days are local dates in ``timezone`` (the exchange's) when ``ts`` is tz-aware, else calendar dates.

    With volume, a day counts only when the volume moved with the split: in its direction, by at
    least half and at most 2.5 times its factor in log terms (volume is noisy; the price
    match is the sharp test). Without volume, or with too few sessions on a side to tell, price
    matches are returned unconfirmed.

    Examples
    --------
    >>> ts = pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04"])
    >>> bars = pd.DataFrame({"ts": ts, "close": [100.0, 50.5, 51.0], "volume": [1e6, 2.1e6, 1.9e6]})
    >>> [s.label for s in detect_splits(bars)]
    ['2:1']
    """
    sessions = _sessions(bars, timezone)
    first, last = sessions["first"].to_numpy(), sessions["last"].to_numpy()
    volume = sessions["volume"].to_numpy(dtype=float)
    has_volume = bool(np.nansum(volume) > 0)
    out = []
    for i in range(1, len(sessions)):
        ratio = last[i - 1] / first[i]
        if max(ratio, 1 / ratio) <= MIN_JUMP or (label := _nearest_ratio(ratio)) is None:
            continue
        measured = _volume_ratio(volume, i) if has_volume else None
        vr, confirmed = None, False
        if measured is not None:
            vr, sessions_seen = measured
            moved, expected = math.log(vr), math.log(ratio)
            split_like = abs(expected) / 2 <= moved * math.copysign(1, expected) <= 2.5 * abs(expected)
            confirmed = split_like and sessions_seen >= VOLUME_MIN
            if not split_like and sessions_seen >= VOLUME_MIN:
                continue  # the volume did not move as a split's would: a real move
        elif has_volume:
            continue
        day = str(sessions.index[i])
        out.append(SplitSuspect(day, float(last[i - 1]), float(first[i]), label, vr, confirmed))
    return out


def adjust(bars: pd.DataFrame, symbol: str) -> tuple[pd.DataFrame, str | None]:
    """Apply an ``adj_factor`` or ``adj_close`` column (then dropped) to the prices and, inversely, the volume.

    Returns the adjusted bars and the column used (None when there was none). The columns were
    validated finite and positive at read time.
    """
    present = [c for c in ADJUSTMENT_COLUMNS if c in bars.columns]
    if not present:
        return bars, None
    if len(present) > 1:
        raise IngestError(f"{symbol}: both adj_factor and adj_close are given; keep the one your data source defines")
    col = present[0]
    factor = bars[col] if col == "adj_factor" else bars["adj_close"] / bars["close"]
    out = bars.drop(columns=present)
    for c in RAW_PRICE_COLUMNS:
        if c in out.columns:
            out[c] = out[c] * factor
    if "volume" in out.columns:
        out["volume"] = out["volume"] / factor
    return out, col


def check_splits(
    symbol: str, bars: pd.DataFrame, adjustment: str | None, *, allow_unadjusted: bool, timezone: str | None = None
) -> list[str]:
    """Refuse bars with a volume-confirmed unadjusted split; return warnings (price-only suspects, allowed ones).

    Refusing is the default because a split left in the data silently trains the model on a
    move that never happened, while the fix (an adjustment column) or the override costs one flag.
    """
    suspects = detect_splits(bars, timezone)
    confirmed = [s for s in suspects if s.confirmed]
    if confirmed and not allow_unadjusted:
        others = ", ".join(s.day for s in confirmed[1:4])
        more = f" (and {len(confirmed) - 1} more: {others})" if len(confirmed) > 1 else ""
        if adjustment:
            fix = (
                f"after applying {adjustment} the bars still jump: check the factor's direction "
                "(adjusted = raw x adj_factor, e.g. 0.5 before a 2:1 split), or pass --allow-unadjusted"
            )
        else:
            fix = (
                "pass an adj_factor (adjusted = raw x adj_factor) or adj_close column with the bars, "
                "or --allow-unadjusted if the move is real"
            )
        raise IngestError(f"{symbol}: {confirmed[0].describe()}{more}; {fix}")
    return [
        f"{symbol}: {s.describe()}; ingested as it is"
        + ("" if s.confirmed else " (add a volume column, or an adjustment column if it is a split)")
        for s in suspects
    ]


__all__ = ["ADJUSTMENT_COLUMNS", "SplitSuspect", "adjust", "check_splits", "detect_splits"]
