"""The feature pipeline: validated bars -> causal features + split labels -> the store.

This is the reference's ``feature_service/pipeline.py``. Every ingest validates all its input first
(bars, split adjustment, unadjusted splits), computes every feature, then writes each symbol's days
and commits them at once (see :mod:`walkforward.features.store`). Timestamps are UTC instants; a
"day" is a local date in the symbol's exchange zone (``timezone``, default America/New_York), which
naive input is read in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from walkforward.domain import DEFAULT_TIMEZONE, SplitScheme, validate_options, validate_symbol, validate_timezone
from walkforward.errors import IngestError, InvalidInputError
from walkforward.features.corporate import adjust, check_splits
from walkforward.features.indicators import FEATURE_SET_VERSION, compute_features
from walkforward.features.ingest import read_bars
from walkforward.features.store import FeatureStore
from walkforward.features.zones import as_utc, dst_problem, local_days, local_iso, localize

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestSummary:
    """What one symbol's ingest wrote."""

    symbol: str
    days: int
    rows: int
    features: int
    bar_seconds: int
    first: str
    last: str
    train_days: int
    test_days: int
    timezone: str  # the exchange zone: naive input was read in it, days are its local dates
    adjustment: str | None = None  # the column a split adjustment came from


def infer_bar_shape(ts: pd.Series, timezone: str = DEFAULT_TIMEZONE) -> tuple[int, int]:
    """Return (bar size in seconds, typical bars per trading day) of a sorted timestamp series.

    The bar size is the most common gap between consecutive bars of the same day (the smallest gap
    when every day has a single bar, i.e. daily data). Days are local dates in ``timezone``.
    """
    day = local_days(ts, timezone)
    per_day = day.value_counts()
    bars_per_day = int(max(1, round(float(per_day.median()))))
    if bars_per_day <= 1:
        return 86400, 1
    gaps = ts.diff().dt.total_seconds()[day.eq(day.shift())]
    bar_seconds = int(gaps.mode().iloc[0]) if len(gaps) else 60
    return max(bar_seconds, 1), bars_per_day


def split_labels(ts: pd.Series, scheme: SplitScheme | None, timezone: str = DEFAULT_TIMEZONE) -> np.ndarray:
    """Walk-forward train/test labels by trading day: ``train_days`` train, ``test_days`` test, repeated.

    Days (local dates in ``timezone``) are counted from the first trading day of the batch; with no scheme
    every row is 'train' (the loader then falls back to an 80/20 time split).
    """
    if scheme is None:
        return np.full(len(ts), "train", dtype=object)
    day_codes, _ = pd.factorize(local_days(ts, timezone), sort=True)
    cycle = scheme.train_days + scheme.test_days
    return np.where(day_codes % cycle < scheme.train_days, "train", "test").astype(object)


def build_feature_frame(
    bars: pd.DataFrame, *, options: str, scheme: SplitScheme | None, timezone: str = DEFAULT_TIMEZONE
) -> tuple[pd.DataFrame, dict[str, dict[str, object]], int, int]:
    """Bars (UTC ``ts``) -> the stored frame (ts, raw bars, features, options, data_split) and feature metadata."""
    bar_seconds, bars_per_day = infer_bar_shape(bars["ts"], timezone)
    feats, defs = compute_features(bars, bars_per_day=bars_per_day)
    # volume and trade_count are bar columns and features at once: store them once
    feats = feats.drop(columns=[c for c in feats.columns if c in bars.columns])
    frame = pd.concat([bars.reset_index(drop=True), feats.reset_index(drop=True)], axis=1)
    frame["options"] = options
    frame["data_split"] = split_labels(bars["ts"], scheme, timezone)
    meta = {name: {"lookback": d.lookback, "group": d.group} for name, d in defs.items()}
    return frame, meta, bar_seconds, bars_per_day


def _utc_bars(symbol: str, bars: pd.DataFrame, timezone: str) -> pd.DataFrame:
    """A frame's ``ts`` as UTC instants: aware times converted, naive ones read as local times in ``timezone``."""
    ts = pd.to_datetime(bars["ts"])
    if isinstance(ts.dtype, pd.DatetimeTZDtype):
        return bars.assign(ts=as_utc(ts))
    problem = dst_problem(ts, timezone)
    if problem is not None:
        raise InvalidInputError(
            f"{symbol}: row {problem.position + 1}: {problem.describe(timezone)}; "
            "give ts as tz-aware instants (or UTC times), or check the time zone"
        )
    return bars.assign(ts=localize(ts, timezone))


def ingest_frames(
    store: FeatureStore,
    frames: Mapping[str, pd.DataFrame],
    *,
    options: str = FEATURE_SET_VERSION,
    scheme: SplitScheme | None = None,
    progress: Callable[[str], None] | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    allow_unadjusted: bool = False,
) -> list[IngestSummary]:
    """Compute features for validated bars of each symbol and write them to ``store``.

    ``timezone`` is the symbols' exchange zone: tz-aware ``ts`` keep their instants, naive ``ts``
    are local times there, and days are its local dates. A symbol stored in another zone is
    refused before anything is written. An ``adj_factor`` or ``adj_close`` column is applied
    first; bars that still hold a volume-confirmed split are refused unless ``allow_unadjusted``
    (see :mod:`walkforward.features.corporate`). ``progress`` is called with a short message after
    each step (one per symbol computed and written).
    """
    opt = validate_options(options)
    zone = validate_timezone(timezone)
    adjusted = {}
    for symbol, raw in frames.items():  # check every symbol before computing or writing anything
        sym = validate_symbol(symbol)
        if len(raw) < 2:
            raise IngestError(
                f"{sym}: a single bar; the bar size cannot be inferred from one row: ingest at least two bars"
            )
        bars, adjustment = adjust(_utc_bars(sym, raw, zone), sym)
        for warning in check_splits(sym, bars, adjustment, allow_unadjusted=allow_unadjusted, timezone=zone):
            log.warning("%s", warning)
        store.check_timezone(sym, zone)  # a zone conflict stops the ingest before any write
        adjusted[sym] = (bars, adjustment)
    built = {}
    for sym, (bars, adjustment) in adjusted.items():  # compute everything before writing anything
        built[sym] = (*build_feature_frame(bars, options=opt, scheme=scheme, timezone=zone), adjustment)
        if progress:
            progress(f"features {sym}")
    out = []
    for sym, (frame, meta, bar_seconds, bars_per_day, adjustment) in built.items():
        days = store.write_days(
            sym,
            frame,
            options=opt,
            bar_seconds=bar_seconds,
            bars_per_day=bars_per_day,
            features=meta,
            split_scheme=str(scheme) if scheme else None,
            timezone=zone,
            adjustment=adjustment,
        )
        if progress:
            progress(f"wrote {sym}")
        split_by_day = frame.groupby(local_days(frame["ts"], zone))["data_split"].first()
        out.append(
            IngestSummary(
                symbol=sym,
                days=days,
                rows=len(frame),
                features=len(meta),
                bar_seconds=bar_seconds,
                first=local_iso(frame["ts"].iloc[0], zone),
                last=local_iso(frame["ts"].iloc[-1], zone),
                train_days=int((split_by_day == "train").sum()),
                test_days=int((split_by_day == "test").sum()),
                timezone=zone,
                adjustment=adjustment,
            )
        )
    return out


def ingest_paths(
    store: FeatureStore,
    paths: Iterable[Path],
    *,
    symbol: str | None = None,
    options: str = FEATURE_SET_VERSION,
    scheme: SplitScheme | None = None,
    progress: Callable[[str], None] | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    allow_unadjusted: bool = False,
) -> list[IngestSummary]:
    """Validate every file, then ingest them all; a bad file stops the ingest before any write.

    Naive timestamps are read as local times in ``timezone`` (an IANA name), the exchange zone
    recorded for every symbol ingested.
    """
    paths = list(paths)
    zone = validate_timezone(timezone)
    if symbol is not None and len(paths) != 1:
        raise IngestError("--symbol names one file's symbol; pass exactly one file with it")
    frames: dict[str, pd.DataFrame] = {}
    for path in paths:
        for sym, bars in read_bars(Path(path), symbol, zone).items():
            if sym in frames:
                raise IngestError(f"{path}: symbol {sym} appears in more than one file; ingest one file per symbol")
            frames[sym] = bars
    return ingest_frames(
        store,
        frames,
        options=options,
        scheme=scheme,
        progress=progress,
        timezone=zone,
        allow_unadjusted=allow_unadjusted,
    )


def summary_dict(s: IngestSummary) -> dict[str, object]:
    return asdict(s)


def write_demo_market(
    store: FeatureStore,
    *,
    days: int = 150,
    symbols: Sequence[str] | None = None,
    seed: int = 7,
    split_scheme: str = "40:10",
    options: str = FEATURE_SET_VERSION,
    timezone: str = DEFAULT_TIMEZONE,
) -> list[IngestSummary]:
    """Generate the deterministic demo market and ingest it into ``store`` (same seed, same market).

    Its sessions are 09:30-16:00 local time in ``timezone``, stored as UTC instants.
    """
    from walkforward.features.demo import DEFAULT_SYMBOLS, generate_market

    frames = generate_market(days=days, symbols=tuple(symbols or DEFAULT_SYMBOLS), seed=seed, timezone=timezone)
    return ingest_frames(store, frames, options=options, scheme=SplitScheme.parse(split_scheme), timezone=timezone)
