"""Reading and validating OHLCV bar files (CSV or Parquet) before anything is written.

A file is refused as a whole, with a message naming the file, the row and the fix; the store is
only touched after every file of an ingest has passed (see :func:`walkforward.features.pipeline.ingest`).
Timestamps become UTC instants: those with an offset (``-05:00``, ``Z``) are converted, naive ones
are read as local time in the exchange zone given (see :mod:`walkforward.features.zones`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from walkforward.domain import BAR_COLUMNS, DEFAULT_TIMEZONE, RAW_PRICE_COLUMNS, validate_symbol
from walkforward.errors import IngestError, InvalidInputError
from walkforward.features.corporate import ADJUSTMENT_COLUMNS
from walkforward.features.zones import dst_problem, has_offset, localize

TS_ALIASES = ("ts", "timestamp", "time", "datetime", "date")
SYMBOL_ALIASES = ("symbol", "ticker")
COUNT_COLUMNS = ("volume", "trade_count")
# what a value out of range is, per column: {col} and {v} are filled in
_RANGE_RULES = {
    **dict.fromkeys(
        RAW_PRICE_COLUMNS,
        "non-positive price {col}={v}; prices must be > 0 (is the file adjusted or scaled correctly?)",
    ),
    **dict.fromkeys(COUNT_COLUMNS, "negative count {col}={v}; {col} must be >= 0 (is the column's sign right?)"),
    "adj_factor": "non-positive adj_factor={v}; an adjustment factor must be > 0 (adjusted = raw x adj_factor)",
    "adj_close": "non-positive adj_close={v}; an adjusted close must be > 0",
}


def _read_any(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise IngestError(f"{path}: no such file; check the path")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if suffix in (".csv", ".txt", ".gz"):
            return pd.read_csv(path)
    except Exception as exc:  # the parser's own message is the useful part
        raise IngestError(f"{path}: could not be read as {suffix[1:]} ({exc}); is the file complete?") from exc
    raise IngestError(f"{path}: unknown file type {suffix!r}; use .csv or .parquet")


def _row(i: int, path: Path) -> str:
    # 1-based data row; for CSV also the line number (header is line 1).
    if path.suffix.lower() in (".csv", ".txt", ".gz"):
        return f"row {i + 1} (line {i + 2})"
    return f"row {i + 1}"


def _timestamps(values: pd.Series, path: Path, rows: np.ndarray, zone: str) -> pd.Series:
    """Raw timestamps -> UTC instants, or IngestError naming the first bad row and the fix."""
    aware = has_offset(values)
    if aware.any() and not aware.all():
        i = int(np.flatnonzero(aware != aware[0])[0])
        has = "has no UTC offset" if aware[0] else "has a UTC offset"
        first = _row(int(rows[0]), path)
        raise IngestError(
            f"{path}: {_row(int(rows[i]), path)}: timestamp {values.iloc[i]!r} {has} unlike {first}; "
            "give every row an offset (e.g. 2024-01-02T09:30:00-05:00) or none (local exchange time)"
        )
    try:
        ts = pd.to_datetime(values, errors="coerce", utc=bool(aware.all()), format="mixed")
    except ValueError:  # an offset our pattern did not recognise, next to rows without one
        raise IngestError(
            f"{path}: timestamps mix UTC offsets and local times; give every row an offset or none"
        ) from None
    bad = np.flatnonzero(ts.isna().to_numpy())
    if bad.size:
        i = int(bad[0])
        raise IngestError(
            f"{path}: {_row(int(rows[i]), path)}: unparsable timestamp {values.iloc[i]!r}; "
            f"use ISO 8601 such as 2024-01-02 09:30:00 ({bad.size} bad row(s))"
        )
    if isinstance(ts.dtype, pd.DatetimeTZDtype):
        return ts.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    problem = dst_problem(ts, zone)
    if problem is not None:
        raise IngestError(
            f"{path}: {_row(int(rows[problem.position]), path)}: {problem.describe(zone)}; "
            "give the timestamps UTC offsets (e.g. 2024-11-03T01:30:00-04:00) or UTC times, "
            f"or check --timezone ({problem.count} such row(s))"
        )
    return localize(ts, zone)


def validate_bars(raw: pd.DataFrame, path: Path, timezone: str = DEFAULT_TIMEZONE) -> pd.DataFrame:
    """Normalise one symbol's bars (UTC ``ts`` + bar and adjustment columns, float64, sorted) or raise IngestError.

    Naive timestamps are local times in ``timezone`` (an IANA name, already validated).
    """
    df = raw.rename(columns={c: str(c).strip().lower() for c in raw.columns})
    rows = np.asarray(raw.index)  # positions in the original file, also for one symbol of a long file
    ts_col = next((c for c in TS_ALIASES if c in df.columns), None)
    if ts_col is None:
        raise IngestError(
            f"{path}: no timestamp column; name one of {', '.join(TS_ALIASES)} (found: {', '.join(df.columns)})"
        )
    if "close" not in df.columns:
        raise IngestError(f"{path}: no 'close' column; a close price is required (found: {', '.join(df.columns)})")
    if df.empty:
        raise IngestError(f"{path}: the file holds no rows")
    out = pd.DataFrame({"ts": _timestamps(df[ts_col], path, rows, timezone)})
    for col in (*BAR_COLUMNS, *ADJUSTMENT_COLUMNS):
        if col not in df.columns:
            continue
        values = pd.to_numeric(df[col], errors="coerce").astype("float64")
        bad = np.flatnonzero(~np.isfinite(values.to_numpy()))
        if bad.size:
            i = int(bad[0])
            raise IngestError(
                f"{path}: {_row(int(rows[i]), path)}: column {col!r} is not a finite number "
                f"({df[col].iloc[i]!r}); "
                f"fix or remove the row ({bad.size} bad row(s))"
            )
        positive = col not in COUNT_COLUMNS
        bad = np.flatnonzero((values <= 0 if positive else values < 0).to_numpy())
        if bad.size:
            i = int(bad[0])
            raise IngestError(
                f"{path}: {_row(int(rows[i]), path)}: {_RANGE_RULES[col].format(col=col, v=values.iloc[i])} "
                f"({bad.size} bad row(s))"
            )
        out[col] = values.to_numpy()
    dup = np.flatnonzero(out["ts"].duplicated().to_numpy())
    if dup.size:
        i = int(dup[0])
        raise IngestError(
            f"{path}: {_row(int(rows[i]), path)}: duplicate timestamp {df[ts_col].iloc[i]}; "
            "keep one bar per timestamp "
            f"({dup.size} duplicate(s))"
        )
    if {"high", "low"} <= set(out.columns):
        bad = np.flatnonzero((out["high"] < out["low"]).to_numpy())
        if bad.size:
            i = int(bad[0])
            raise IngestError(f"{path}: {_row(int(rows[i]), path)}: high < low; check the column order")
    if len(out) < 2:
        raise IngestError(
            f"{path}: a single bar; the bar size (minute, hour, day) cannot be inferred from one row: "
            "ingest at least two bars of the series"
        )
    return out.sort_values("ts", kind="stable").reset_index(drop=True)


def read_bars(path: Path, symbol: str | None = None, timezone: str = DEFAULT_TIMEZONE) -> dict[str, pd.DataFrame]:
    """Read one bars file into validated frames per symbol (naive timestamps read in ``timezone``).

    A file with a ``symbol`` (or ``ticker``) column holds several symbols (long format); otherwise
    the symbol is ``symbol`` or the file's stem (``AAPL.csv`` -> ``AAPL``).
    """
    path = Path(path)
    raw = _read_any(path).reset_index(drop=True)  # row numbers = positions in the file
    lower = {str(c).strip().lower(): c for c in raw.columns}
    sym_col = next((lower[a] for a in SYMBOL_ALIASES if a in lower), None)
    if sym_col is not None and symbol is None:
        out: dict[str, pd.DataFrame] = {}
        for name, part in raw.groupby(raw[sym_col].astype(str), sort=True):
            try:
                sym = validate_symbol(str(name))
            except InvalidInputError as exc:
                raise IngestError(f"{path}: {exc}") from None
            out[sym] = validate_bars(part.drop(columns=[sym_col]), path, timezone)
        return dict(sorted(out.items()))
    try:
        sym = validate_symbol(symbol or path.name.split(".")[0])
    except InvalidInputError as exc:
        raise IngestError(f"{path}: {exc}; pass --symbol NAME") from None
    frame = raw.drop(columns=[sym_col]) if sym_col is not None else raw
    return {sym: validate_bars(frame, path, timezone)}
