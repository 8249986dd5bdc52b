"""The feature store on disk: ``{root}/{SYMBOL}/dt=YYYY-MM-DD/{options}.parquet`` plus ``_meta.json``.

One file per (symbol, day, feature-set version). ``ts`` is stored as UTC instants and the day is
the local date in the symbol's exchange zone, recorded in ``_meta.json`` (``timezone``, with
``format_version`` 2; see :mod:`walkforward.features.zones`). A day is replaced atomically: the new file is written
under a name the readers' ``*.parquet`` glob never matches, then renamed over the old one
(``os.replace`` is atomic on POSIX). Reading is the loader's job (DuckDB); this module only writes
and describes what is stored.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from walkforward.domain import validate_options, validate_symbol, validate_timezone
from walkforward.errors import InvalidInputError, StoreFormatError
from walkforward.features.zones import STORE_FORMAT, as_utc, local_days

log = logging.getLogger(__name__)

META_FILE = "_meta.json"


@dataclass(frozen=True)
class SymbolInfo:
    """What the store holds for one symbol."""

    symbol: str
    first_date: str
    last_date: str
    days: int
    options: tuple[str, ...]
    bar_seconds: int
    features: int
    timezone: str | None = None  # the exchange zone; None: written before zones were recorded


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _atomic_write_table(path: Path, table: pa.Table) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".partial")
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class FeatureStore:
    """Writes and describes the date-partitioned Parquet feature store rooted at ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def symbol_dir(self, symbol: str) -> Path:
        return self.root / validate_symbol(symbol)

    def day_glob(self, symbol: str, options: str | None = None) -> str:
        """The glob DuckDB reads for one symbol (optionally one feature-set version)."""
        name = f"{validate_options(options)}.parquet" if options else "*.parquet"
        return str(self.symbol_dir(symbol) / "dt=*" / name)

    def read_meta(self, symbol: str) -> dict[str, Any]:
        path = self.symbol_dir(symbol) / META_FILE
        if not path.exists():
            return {}
        meta: dict[str, Any] = json.loads(path.read_text())
        return meta

    def feature_names(self, symbol: str, options: str | None = None) -> set[str]:
        """Feature names recorded for ``symbol`` (one feature-set version, or all), from its metadata only."""
        versions = self.read_meta(symbol).get("options", {})
        chosen = [versions.get(options, {})] if options else list(versions.values())
        return {name for v in chosen for name in v.get("features", {})}

    def check_timezone(self, symbol: str, timezone: str) -> None:
        """Refuse to write ``symbol`` in ``timezone`` if it is stored in another zone, or without one."""
        sym = validate_symbol(symbol)
        stored = self.read_meta(sym).get("timezone")
        if stored is None and any((self.root / sym).glob("dt=*/*.parquet")):
            raise StoreFormatError(
                f"{sym}: stored before time zones were recorded (naive local times); run "
                f"`walkforward store migrate --timezone ZONE` first, ZONE being the zone those times are in "
                f"(e.g. {timezone})"
            )
        if stored is not None and stored != timezone:
            raise InvalidInputError(
                f"{sym}: stored in time zone {stored}, but this ingest uses {timezone}; pass --timezone {stored} "
                "(or set WALKFORWARD_TIMEZONE), or ingest it under another symbol"
            )

    def write_days(
        self,
        symbol: str,
        frame: pd.DataFrame,
        *,
        options: str,
        bar_seconds: int,
        bars_per_day: int,
        features: dict[str, dict[str, Any]],
        split_scheme: str | None,
        timezone: str,
    ) -> int:
        """Write ``frame`` (ts, bars, features, options, data_split) one file per day; return days written.

        ``ts`` must be tz-aware; it is stored as UTC instants, and the day of a row is its local date
        in ``timezone``, the symbol's exchange zone (refused if the symbol is stored in another).
        Each day replaces the same day's file of the same ``options`` atomically; other versions
        of that day are left alone. The metadata (zone, bar size, feature lookbacks) is updated last.
        """
        sym = validate_symbol(symbol)
        opt = validate_options(options)
        if not isinstance(frame["ts"].dtype, pd.DatetimeTZDtype):
            raise InvalidInputError(
                f"{sym}: ts must be tz-aware instants (naive times are ambiguous); localize it first"
            )
        timezone = validate_timezone(timezone)
        self.check_timezone(sym, timezone)
        frame = frame.assign(ts=as_utc(frame["ts"]))
        base = self.root / sym
        base.mkdir(parents=True, exist_ok=True)
        dates = local_days(frame["ts"], timezone).dt.strftime("%Y-%m-%d")
        days = 0
        for day, part in frame.groupby(dates, sort=True):
            day_dir = base / f"dt={day}"
            day_dir.mkdir(exist_ok=True)
            table = pa.Table.from_pandas(part.reset_index(drop=True), preserve_index=False)
            _atomic_write_table(day_dir / f"{opt}.parquet", table)
            days += 1
        meta = self.read_meta(sym)
        old_bar = meta.get("bar_seconds")
        if old_bar is not None and old_bar != bar_seconds:
            log.warning("%s: bar size changed from %ss to %ss", sym, old_bar, bar_seconds)
        meta.update(
            {
                "symbol": sym,
                "bar_seconds": bar_seconds,
                "bars_per_day": bars_per_day,
                "timezone": timezone,
                "format_version": STORE_FORMAT,
            }
        )
        meta.setdefault("options", {})[opt] = {"features": features, "split_scheme": split_scheme}
        _atomic_write_bytes(base / META_FILE, json.dumps(meta, indent=1, sort_keys=True).encode())
        log.info("%s: wrote %d day(s) of %s", sym, days, opt)
        return days

    def symbols(self) -> list[str]:
        """Symbols that have at least one day in the store, sorted."""
        if not self.root.exists():
            return []
        out = []
        for p in sorted(self.root.iterdir()):
            if p.is_dir() and not p.name.startswith(".") and any(p.glob("dt=*/*.parquet")):
                out.append(p.name)
        return out

    def describe(self, symbol: str) -> SymbolInfo:
        """Days, date range, versions and feature count for one stored symbol (from file names)."""
        base = self.symbol_dir(symbol)
        files = sorted(base.glob("dt=*/*.parquet"))
        if not files:
            raise FileNotFoundError(symbol)
        dates = sorted({f.parent.name[3:] for f in files})
        meta = self.read_meta(symbol)
        opts = tuple(sorted({f.stem for f in files}))
        n_feat = max((len(v.get("features", {})) for v in meta.get("options", {}).values()), default=0)
        return SymbolInfo(
            symbol=base.name,
            first_date=dates[0],
            last_date=dates[-1],
            days=len(dates),
            options=opts,
            bar_seconds=int(meta.get("bar_seconds", 0)),
            features=n_feat,
            timezone=meta.get("timezone"),
        )
