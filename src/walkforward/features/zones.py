"""Time zones of bars: UTC instants in the store, each symbol's exchange zone for its calendar.

The store keeps ``ts`` as UTC instants and records each symbol's exchange zone in its metadata
(``timezone``); its days (the ``dt=`` partitions, split blocks, daily buckets) are local dates in
that zone. Naive input is local time in the zone; a local time that does not exist (clocks go
forward) or occurs twice (clocks go back) is reported rather than guessed, so that the caller can
refuse it naming the file and row. Pure computation: no files here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: The store's format: 2 = UTC instants plus each symbol's zone. A symbol whose metadata has no
#: ``format_version`` was written before zones were recorded: naive local exchange times (format 1).
STORE_FORMAT = 2

# A time of day followed by its own offset: "09:30-05:00", "09:30:00.5+0530", "14:30Z", "09:30 UTC".
# The time part is required so that a date's "-02" is never read as an offset.
_OFFSET_RE = r"\d:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[zZ]|UTC|GMT|[+-]\d{2}(?::?\d{2})?)\s*$"


@dataclass(frozen=True)
class LocalTimeProblem:
    """The first local time a zone cannot place on the time line, and how many there are."""

    position: int
    local_time: pd.Timestamp
    ambiguous: bool  # True: occurs twice (clocks go back); False: does not exist (clocks go forward)
    count: int

    def describe(self, zone: str) -> str:
        what = "occurs twice in" if self.ambiguous else "does not exist in"
        why = "clocks go back" if self.ambiguous else "clocks go forward"
        return f"local time {self.local_time} {what} {zone} ({why})"


def has_offset(values: pd.Series) -> np.ndarray:
    """Which raw timestamps carry their own UTC offset (``...-05:00``, ``...Z``) or are instants already.

    Numbers are epoch times, which are UTC by definition.
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_numeric_dtype(values):
        return np.ones(len(values), dtype=bool)
    if pd.api.types.is_datetime64_dtype(values):
        return np.zeros(len(values), dtype=bool)
    return values.astype(str).str.contains(_OFFSET_RE, regex=True).to_numpy(dtype=bool)


def dst_problem(naive: pd.Series, zone: str) -> LocalTimeProblem | None:
    """The first naive local time that is missing or ambiguous in ``zone`` (``None`` when all are fine).

    This is ``tz_localize(ambiguous="raise", nonexistent="raise")`` told apart row by row, so that
    the message can name the row.
    """
    strict = naive.dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
    bad = np.flatnonzero(strict.isna().to_numpy() & naive.notna().to_numpy())
    if not bad.size:
        return None
    i = int(bad[0])
    one = naive.iloc[[i]].dt.tz_localize(zone, ambiguous="NaT", nonexistent="shift_forward")
    return LocalTimeProblem(i, pd.Timestamp(naive.iloc[i]), bool(one.isna().iloc[0]), int(bad.size))


def localize(naive: pd.Series, zone: str) -> pd.Series:
    """Naive local times in ``zone`` -> UTC instants (``datetime64[ns, UTC]``); refuses DST gaps and overlaps."""
    return (
        naive.dt.tz_localize(zone, ambiguous="raise", nonexistent="raise")
        .dt.tz_convert("UTC")
        .astype("datetime64[ns, UTC]")
    )


def as_utc(ts: pd.Series) -> pd.Series:
    """Aware timestamps in any zone -> the same instants as ``datetime64[ns, UTC]``."""
    return ts.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")


def local_days(ts: pd.Series, zone: str) -> pd.Series:
    """The local date (as a naive midnight) in ``zone`` of each UTC instant: the exchange's trading day."""
    return ts.dt.tz_convert(zone).dt.tz_localize(None).dt.normalize()


def local_iso(ts: pd.Timestamp, zone: str) -> str:
    """An instant as local time with its offset, e.g. ``2024-01-02 09:30:00-05:00``."""
    return str(ts.tz_convert(zone))
