"""Leakage-safe loading: primary + context symbols joined on ``ts``, resampled and targeted in DuckDB.

One SQL statement reads the day files a request needs (partition pruning by construction: the file
list is the store manifest's committed files of the local dates in range), inner-joins the symbols
on ``ts`` (UTC instants, so symbols of different exchanges align), and resamples with the
reference's aggregation table on the primary symbol's local clock (a daily bucket is one local
trading day). ``start`` and ``end`` are local dates of the primary's exchange. The loaded ``ts`` is
naive UTC (``datetime64[ns]``); ``Dataset.timezone`` is the primary's zone and ``Dataset.local_ts``
gives local times. Everything a user typed is validated in :mod:`walkforward.domain` and passed as
a parameter; identifiers come from the files' own schema and are checked and quoted.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd

from walkforward.data import lockbox
from walkforward.data.calendar import Window, local_date_range, symbol_timezone, utc_window
from walkforward.data.sql import _Source, build_query
from walkforward.domain import (
    BAR_COLUMNS,
    METADATA_COLUMNS,
    RAW_PRICE_COLUMNS,
    TargetTransform,
    Timeframe,
    parse_date,
    parse_symbols,
    validate_options,
)
from walkforward.errors import DataNotFoundError, InvalidInputError
from walkforward.features.store import FeatureStore

log = logging.getLogger(__name__)

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class LoadRequest:
    """What to load; build it with :meth:`build`, which validates every field."""

    symbols: tuple[str, ...]
    timeframe: Timeframe = Timeframe.M1
    target_col: str = "close"
    target_transform: TargetTransform = TargetTransform.NONE
    lookforward: int = 1
    data_options: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None

    @classmethod
    def build(
        cls,
        symbols: str | Sequence[str],
        *,
        timeframe: str = "1m",
        target_col: str = "close",
        target_transform: str = "none",
        lookforward: int = 1,
        data_options: str | None = None,
        start: str | dt.date | None = None,
        end: str | dt.date | None = None,
    ) -> LoadRequest:
        if target_col not in RAW_PRICE_COLUMNS:
            raise InvalidInputError(f"invalid target_col {target_col!r}: use one of {', '.join(RAW_PRICE_COLUMNS)}")
        if not isinstance(lookforward, int) or isinstance(lookforward, bool) or lookforward < 1:
            raise InvalidInputError(f"invalid lookforward {lookforward!r}: use a whole number of bars >= 1")
        s, e = parse_date(start, "start date"), parse_date(end, "end date")
        if s and e and s > e:
            raise InvalidInputError(f"start date {s} is after end date {e}: swap them")
        return cls(
            symbols=parse_symbols(symbols if isinstance(symbols, str) else tuple(symbols)),
            timeframe=Timeframe.parse(timeframe),
            target_col=target_col,
            target_transform=TargetTransform.parse(target_transform),
            lookforward=lookforward,
            data_options=validate_options(data_options) if data_options else None,
            start=s,
            end=e,
        )

    @property
    def primary(self) -> str:
        return self.symbols[0]


@dataclass(frozen=True)
class Dataset:
    """A loaded, resampled, targeted data set.

    ``frame`` holds ``ts``, ``data_split``, the primary's raw bars (reference only, never features),
    ``target`` and the feature columns. ``lookbacks`` gives each feature's history in bars of the
    requested timeframe (``None`` when the store did not record it).
    """

    request: LoadRequest
    frame: pd.DataFrame = field(repr=False)
    feature_columns: tuple[str, ...]
    lookbacks: Mapping[str, int | None]
    groups: Mapping[str, str]
    symbols_used: tuple[str, ...]
    skipped_symbols: tuple[str, ...]
    has_split: bool
    dropped_no_target: int
    timezone: str = "UTC"  # the primary symbol's exchange zone: its local dates are the trading days
    #: the store's lock box start (``None``: no lock box); ``held_out_sessions`` counts its stored days
    lockbox_start: dt.date | None = None
    held_out_sessions: int = 0

    @property
    def X(self) -> pd.DataFrame:  # noqa: N802 - the conventional name
        return self.frame.loc[:, list(self.feature_columns)]

    @property
    def y(self) -> pd.Series:
        return self.frame["target"]

    @property
    def ts(self) -> pd.Series:
        """Bar (or bucket start) instants, naive UTC."""
        return self.frame["ts"]

    @property
    def local_ts(self) -> pd.Series:
        """The same instants as local times of the primary's exchange (tz-aware)."""
        return self.ts.dt.tz_localize("UTC").dt.tz_convert(self.timezone)

    @property
    def split(self) -> np.ndarray:
        return self.frame["data_split"].to_numpy(dtype=object)

    def max_lookback(self) -> int | None:
        """Longest feature lookback in bars of the timeframe, or None if any is unknown."""
        values = [self.lookbacks.get(c) for c in self.feature_columns]
        if any(v is None for v in values):
            return None
        return max((int(v) for v in values if v is not None), default=0)


def _resolve_source(
    con: duckdb.DuckDBPyConnection, store: FeatureStore, symbol: str, req: LoadRequest, window: Window
) -> _Source | str:
    """Find the files for one symbol in the instants ``window``, or return why there are none."""
    meta = store.read_meta(symbol)  # one snapshot: the files and their metadata of the same commit
    zone = symbol_timezone(store, symbol, meta)
    if zone is None:
        if store.unfinished(symbol):
            return f"an ingest did not finish; rerun `walkforward ingest` with the {symbol} bars"
        return "not in the store"
    start, end = local_date_range(window, zone)
    by_version = store.day_files(symbol, start=start, end=end, meta=meta)  # committed files only
    if not by_version:
        return f"no data between {req.start or 'the start'} and {req.end or 'the end'}"
    legacy = False
    if req.data_options:
        files = by_version.get(req.data_options)
        if not files:
            files = sorted(f for fs in by_version.values() for f in fs)
            n = con.execute(
                "SELECT count(*) FROM read_parquet($f, hive_partitioning = false, union_by_name = true) "
                "WHERE options IS NULL OR options = ''",
                {"f": [str(f) for f in files]},
            ).fetchone()
            if not n or not n[0]:
                stored = ", ".join(sorted(by_version))
                return f"no rows with data_options {req.data_options!r} (stored: {stored})"
            log.warning(
                "%s: no %r feature set; using legacy rows with empty options (the reference's fallback)",
                symbol,
                req.data_options,
            )
            legacy = True
        version = req.data_options
    else:
        if len(by_version) > 1:
            raise InvalidInputError(
                f"{symbol} holds several feature sets ({', '.join(sorted(by_version))}): "
                "choose one with data_options (--data-options)"
            )
        version, files = next(iter(by_version.items()))
    paths = tuple(str(f) for f in sorted(files))
    # The file list comes from the manifest's dates, so DuckDB's own partition detection is not needed.
    # Reading every footer to unify schemas costs ~0.3 s on 750 files: only when the first and last
    # day disagree (a re-ingest that added a column) is the union by name worth it.
    first, last = (
        con.execute("DESCRIBE SELECT * FROM read_parquet($f, hive_partitioning = false)", {"f": [p]}).fetchall()
        for p in (paths[0], paths[-1])
    )
    union = first != last
    schema = (
        con.execute(
            "DESCRIBE SELECT * FROM read_parquet($f, hive_partitioning = false, union_by_name = true)",
            {"f": list(paths)},
        ).fetchall()
        if union
        else first
    )
    columns = tuple(str(r[0]) for r in schema if _IDENT.fullmatch(str(r[0])))
    features = dict(meta.get("options", {}).get(version, {}).get("features", {}))
    if not features:  # legacy data: every numeric column that is not a bar or metadata column
        numeric = {str(r[0]) for r in schema if str(r[1]).upper() in ("DOUBLE", "FLOAT", "BIGINT", "INTEGER")}
        features = {
            c: {"lookback": None, "group": "standard"}
            for c in columns
            if c in numeric and c not in BAR_COLUMNS and c not in METADATA_COLUMNS
        }
        log.warning("%s: no recorded feature metadata; lookbacks unknown (pass an explicit embargo)", symbol)
    features = {k: v for k, v in features.items() if k in columns}
    return _Source(
        symbol=symbol,
        files=paths,
        legacy_filter=legacy,
        union_by_name=union,
        columns=columns,
        features=features,
        bar_seconds=int(meta.get("bar_seconds", 60)),
        bars_per_day=int(meta.get("bars_per_day", 390)),
        timezone=zone,
    )


def _convert_lookback(lookback: int | None, src: _Source, tf: Timeframe) -> int | None:
    """A lookback in source bars -> bars of ``tf``, rounded up plus one partial bucket."""
    if lookback is None:
        return None
    if tf.seconds <= src.bar_seconds:
        return int(lookback)
    if tf is Timeframe.D1:
        return math.ceil(lookback / max(src.bars_per_day, 1)) + 1
    return math.ceil(lookback * src.bar_seconds / tf.seconds) + 1


def make_target(ref: pd.Series, transform: TargetTransform, lookforward: int) -> pd.Series:
    """The value to predict at each row, from the reference price ``lookforward`` rows ahead.

    Prices are validated positive at ingest, so no epsilon is added inside the logs (the reference's
    ``+ 1e-9`` would only hide a bad price).
    """
    future = ref.shift(-lookforward)
    if transform is TargetTransform.LOG_RETURN:
        return pd.Series(np.log(future / ref), index=ref.index)
    if transform is TargetTransform.PCT_CHANGE:
        return future / ref - 1.0
    if transform is TargetTransform.LOG:
        return pd.Series(np.log(future), index=ref.index)
    return future


def _read(
    con: duckdb.DuckDBPyConnection, store: FeatureStore, req: LoadRequest
) -> tuple[list[_Source], list[str], pd.DataFrame, list[str]]:
    """Resolve every symbol's files and run the one query: sources, skipped symbols, frame, feature names."""
    sources: list[_Source] = []
    skipped: list[str] = []
    primary_zone = symbol_timezone(store, req.primary) or "UTC"  # not stored: refused just below
    window = utc_window(req.start, req.end, primary_zone)
    for i, sym in enumerate(req.symbols):
        src = _resolve_source(con, store, sym, req, window)
        if isinstance(src, str):
            if i == 0:
                stored = ", ".join(store.symbols()) or "none (run `walkforward demo-data` or `walkforward ingest`)"
                raise DataNotFoundError(f"primary symbol {sym}: {src}. Symbols in the store: {stored}")
            log.warning("context symbol %s skipped: %s", sym, src)
            skipped.append(sym)
            continue
        sources.append(src)
    base_seconds = max(s.bar_seconds for s in sources)
    if req.timeframe.seconds < base_seconds:
        raise InvalidInputError(
            f"timeframe {req.timeframe.value} is finer than the stored {base_seconds}s bars: "
            "choose a timeframe at least as coarse as the data"
        )
    sql, params, feature_cols = build_query(sources, req, window)
    frame = con.sql(sql, params=params).to_arrow_table().to_pandas()
    frame["ts"] = frame["ts"].astype("datetime64[ns]")
    return sources, skipped, frame, feature_cols


def _read_committed(
    con: duckdb.DuckDBPyConnection, store: FeatureStore, req: LoadRequest
) -> tuple[list[_Source], list[str], pd.DataFrame, list[str]]:
    """:func:`_read`, once more if a re-ingest committed meanwhile (it deletes the files it superseded)."""
    before = [store.stamp(s) for s in req.symbols]
    try:
        return _read(con, store, req)
    except duckdb.Error:
        if [store.stamp(s) for s in req.symbols] == before:
            raise
    log.info("%s: a re-ingest committed while loading; reading its files", ", ".join(req.symbols))
    return _read(con, store, req)


def load_dataset(
    store: FeatureStore,
    req: LoadRequest,
    *,
    con: duckdb.DuckDBPyConnection | None = None,
    drop_unlabelled: bool = True,
    include_lockbox: bool = False,
) -> Dataset:
    """Load ``req`` from ``store``: join, resample, target; raw prices never become features.

    The last ``lookforward`` rows have no target yet; they are dropped for training and kept (with a
    NaN target) when ``drop_unlabelled=False``, which prediction uses to score the latest bars.
    When ``store`` carries a lock box, the load ends the day before it (a ``start`` or ``end`` inside
    it is refused, see :mod:`walkforward.data.lockbox`) unless ``include_lockbox``: only prediction
    and a registered model's one lock-box evaluation ask for it.

    Examples
    --------
    >>> ds = load_dataset(store, LoadRequest.build("AAPL,QQQ,VIX", timeframe="5m",
    ...                                            target_transform="log_return"))  # doctest: +SKIP
    >>> ds.X.shape, ds.y.name  # doctest: +SKIP
    """
    lockbox_start = store.lockbox_start
    held_out = 0
    if lockbox_start is not None:
        held_out = lockbox.held_out_sessions(store, req.primary, lockbox_start)
        if not include_lockbox:
            req = lockbox.guard(req, lockbox_start)
    own = con is None
    if con is None:
        con = duckdb.connect()
        con.execute("SET enable_progress_bar = false")  # a library never draws on the caller's terminal
    try:
        sources, skipped, frame, feature_cols = _read_committed(con, store, req)
    finally:
        if own:
            con.close()
    if frame.empty:
        raise DataNotFoundError(
            f"{', '.join(s.symbol for s in sources)} share no timestamps in the requested range: "
            "drop a context symbol or widen the dates"
        )
    n_before = len(frame)
    if req.lookforward >= n_before:
        raise InvalidInputError(
            f"lookforward {req.lookforward} is not smaller than the {n_before} rows "
            f"at {req.timeframe.value}: "
            "use a smaller lookforward, a finer timeframe or more data"
        )
    frame["target"] = make_target(frame[req.target_col], req.target_transform, req.lookforward)
    if drop_unlabelled:
        frame = frame.iloc[: n_before - req.lookforward].reset_index(drop=True)
    lookbacks: dict[str, int | None] = {}
    groups: dict[str, str] = {}
    for i, src in enumerate(sources):
        suffix = "" if i == 0 else f"_{src.symbol.replace('.', '_').replace('-', '_')}"
        for c, info in src.features.items():
            lookbacks[c + suffix] = _convert_lookback(info.get("lookback"), src, req.timeframe)
            groups[c + suffix] = str(info.get("group", "standard"))
    has_split = any("data_split" in s.columns for s in sources) and bool((frame["data_split"] == "test").any())
    return Dataset(
        request=req,
        frame=frame,
        feature_columns=tuple(feature_cols),
        lookbacks=lookbacks,
        groups=groups,
        symbols_used=tuple(s.symbol for s in sources),
        skipped_symbols=tuple(skipped),
        has_split=has_split,
        dropped_no_target=req.lookforward if drop_unlabelled else 0,
        timezone=sources[0].timezone,
        lockbox_start=lockbox_start,
        held_out_sessions=held_out,
    )
