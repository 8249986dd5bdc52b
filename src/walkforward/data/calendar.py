"""Exchange calendars for the loader: each symbol's zone, and a local date range as UTC instants.

A request's ``start``/``end`` are local dates of the primary symbol's exchange; each symbol's
partitions (``dt=``) are local dates of its own exchange, so a context symbol on another exchange
reads the partitions that the same instants fall in.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from walkforward.errors import StoreFormatError
from walkforward.features.store import FeatureStore

Window = tuple[dt.datetime | None, dt.datetime | None]


def symbol_timezone(store: FeatureStore, symbol: str, meta: dict[str, Any] | None = None) -> str | None:
    """The exchange zone recorded for ``symbol`` (``None`` if nothing of it was committed).

    A symbol stored before zones were recorded (naive local times) is refused, never guessed.
    ``meta``: the symbol's metadata already read (one snapshot).
    """
    meta = store.read_meta(symbol) if meta is None else meta
    zone = meta.get("timezone")
    if zone is None and store.manifest(symbol, meta):
        raise StoreFormatError(
            f"{symbol}: stored before time zones were recorded (naive local times); run "
            "`walkforward store migrate --timezone ZONE` once, ZONE being the zone those times are in "
            "(the demo market and the default: America/New_York)"
        )
    return None if zone is None else str(zone)


def utc_window(start: dt.date | None, end: dt.date | None, zone: str) -> Window:
    """Local dates ``start``..``end`` (inclusive) of ``zone`` as UTC instants ``[lo, hi)``."""
    tz = ZoneInfo(zone)
    lo = dt.datetime.combine(start, dt.time(), tzinfo=tz).astimezone(dt.UTC) if start else None
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=tz).astimezone(dt.UTC) if end else None
    return lo, hi


def local_date_range(window: Window, zone: str) -> tuple[dt.date | None, dt.date | None]:
    """The local dates of ``zone`` that the instants ``[lo, hi)`` touch: the partitions to read."""
    lo, hi = window
    tz = ZoneInfo(zone)
    first = lo.astimezone(tz).date() if lo else None
    last = (hi - dt.timedelta(microseconds=1)).astimezone(tz).date() if hi else None
    return first, last
