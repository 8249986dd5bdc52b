"""The feature store on disk: ``{root}/{SYMBOL}/dt=YYYY-MM-DD/{options}@{generation}.parquet`` + ``_meta.json``.

One file per (symbol, day, feature-set version). ``ts`` is stored as UTC instants and the day is
the local date in the symbol's exchange zone, recorded in ``_meta.json`` (``timezone``, with
``format_version`` 2; see :mod:`walkforward.features.zones`). A write to a symbol (an ingest, a
migration) is committed as a whole: its day files get names of its own generation, which no reader
opens, then the symbol's ``_meta.json`` (zone, bar size, feature lookbacks and the manifest of
committed day files, see :mod:`walkforward.features.manifest`) is replaced atomically
(``os.replace``). Readers use only the files the manifest lists, so a killed ingest leaves the
previous state, and a re-ingest keeps the old days readable until its manifest lands. Reading the
data is the loader's job (DuckDB); this module writes and describes what is committed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from walkforward.domain import validate_options, validate_symbol, validate_timezone
from walkforward.errors import InvalidInputError, StoreFormatError
from walkforward.features import _files
from walkforward.features import manifest as mf
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
    adjustment: str | None = None  # the column applied at ingest (adj_factor, adj_close), "mixed" across versions


class _Generation:
    """One writer's new day files of one symbol, made visible together by replacing its ``_meta.json``."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.token = mf.generation_token(os.getpid(), secrets.token_hex(4))
        self.written: dict[str, dict[str, str]] = {}  # version -> {date: file name}
        self.new_folders = False
        self.committed = False

    def write(self, options: str, day: str, table: pa.Table) -> None:
        day_dir = self.base / f"dt={day}"
        self.new_folders = self.new_folders or not day_dir.is_dir()
        day_dir.mkdir(exist_ok=True)
        name = mf.day_file_name(options, self.token)
        self.written.setdefault(options, {})[day] = name
        _files.write_table(day_dir / name, table)
        _files.fsync_dir(day_dir)

    def commit(self, meta: dict[str, Any], current: mf.Manifest | None) -> list[str]:
        """Replace ``_meta.json`` with ``meta`` plus the new manifest; return the superseded files."""
        if self.new_folders:  # the new dt= folders' names, before the manifest that needs them
            _files.fsync_dir(self.base)
        new_meta, superseded = mf.commit(meta, current, self.written)
        data = json.dumps(new_meta, indent=1, sort_keys=True).encode()
        _files.replace_bytes(self.base / META_FILE, data, prefix=mf.temp_prefix(os.getpid()))
        self.committed = True
        return superseded

    def discard(self) -> None:
        """Take back what this generation wrote (an error or Ctrl-C before the commit)."""
        for days in self.written.values():
            for day, name in days.items():
                (self.base / f"dt={day}" / name).unlink(missing_ok=True)

    @property
    def days(self) -> int:
        return sum(len(d) for d in self.written.values())


class FeatureStore:
    """Writes and describes the date-partitioned Parquet feature store rooted at ``root``.

    ``lockbox_start`` (the ``WALKFORWARD_LOCKBOX_START`` setting) travels with the store so that every
    load for training, search or statistics through it is clipped before the lock box by the loader
    (:mod:`walkforward.data.lockbox`): a caller cannot forget to pass it.
    """

    def __init__(self, root: Path, *, lockbox_start: dt.date | None = None) -> None:
        self.root = Path(root)
        self.lockbox_start = lockbox_start

    def symbol_dir(self, symbol: str) -> Path:
        return self.root / validate_symbol(symbol)

    def read_meta(self, symbol: str) -> dict[str, Any]:
        """The symbol's committed ``_meta.json`` ({} when nothing was ever committed)."""
        path = self.symbol_dir(symbol) / META_FILE
        try:
            meta: dict[str, Any] = json.loads(path.read_text())
        except FileNotFoundError:
            return {}
        return meta

    def manifest(self, symbol: str, meta: dict[str, Any] | None = None) -> mf.Manifest | None:
        """The committed day files of ``symbol`` (from ``meta`` when given), or None when none were committed."""
        base = self.symbol_dir(symbol)
        return mf.from_meta(self.read_meta(symbol) if meta is None else meta, lambda: _day_listing(base))

    def unfinished(self, symbol: str) -> bool:
        """True when the symbol's folder exists but no ingest of it ever committed (a killed first ingest)."""
        return self.symbol_dir(symbol).is_dir() and not self.manifest(symbol)

    def stamp(self, symbol: str) -> tuple[int, int] | None:
        """Changes whenever an ingest of ``symbol`` commits (its ``_meta.json`` inode and mtime)."""
        try:
            st = (self.symbol_dir(symbol) / META_FILE).stat()
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns

    def day_files(
        self,
        symbol: str,
        options: str | None = None,
        *,
        start: dt.date | None = None,
        end: dt.date | None = None,
        meta: dict[str, Any] | None = None,
    ) -> dict[str, list[Path]]:
        """Committed files per feature-set version (one version if ``options``), by date, within ``start``..``end``.

        Pass the ``meta`` already read to get the files of that same commit.
        """
        base = self.symbol_dir(symbol)
        man = self.manifest(symbol, meta)
        out: dict[str, list[Path]] = {}
        for opt, days in man.versions.items() if man else ():
            if options and opt != options:
                continue
            for day, rel in days.items():
                try:
                    date = dt.date.fromisoformat(day)
                except ValueError:
                    continue
                if (start and date < start) or (end and date > end):
                    continue
                out.setdefault(opt, []).append(base / rel)
        return out

    def feature_names(self, symbol: str, options: str | None = None) -> set[str]:
        """Feature names recorded for ``symbol`` (one feature-set version, or all), from its metadata only."""
        versions = self.read_meta(symbol).get("options", {})
        chosen = [versions.get(options, {})] if options else list(versions.values())
        return {name for v in chosen for name in v.get("features", {})}

    def check_timezone(self, symbol: str, timezone: str, meta: dict[str, Any] | None = None) -> None:
        """Refuse to write ``symbol`` in ``timezone`` if it is stored in another zone, or without one."""
        sym = validate_symbol(symbol)
        meta = self.read_meta(sym) if meta is None else meta
        stored = meta.get("timezone")
        if stored is None and self.manifest(sym, meta):
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
        adjustment: str | None = None,
    ) -> int:
        """Write ``frame`` (ts, bars, features, options, data_split) one file per day and commit; return days written.

        ``ts`` must be tz-aware; it is stored as UTC instants, and the day of a row is its local date
        in ``timezone``, the symbol's exchange zone (refused if the symbol is stored in another).
        The days replace the same days of the same ``options`` and become visible together, when the
        new ``_meta.json`` lands; other days and versions are kept. Before writing, what an
        interrupted write of this symbol left is swept; after the commit, the superseded files go.
        ``adjustment`` records the column a split adjustment came from (``adj_factor``, ``adj_close``).
        """
        sym = validate_symbol(symbol)
        opt = validate_options(options)
        if not isinstance(frame["ts"].dtype, pd.DatetimeTZDtype):
            raise InvalidInputError(
                f"{sym}: ts must be tz-aware instants (naive times are ambiguous); localize it first"
            )
        timezone = validate_timezone(timezone)
        frame = frame.assign(ts=as_utc(frame["ts"]))
        dates = local_days(frame["ts"], timezone).dt.strftime("%Y-%m-%d")

        def write(meta: dict[str, Any], current: mf.Manifest | None, gen: _Generation) -> None:
            self.check_timezone(sym, timezone, meta)
            for day, part in frame.groupby(dates, sort=True):
                gen.write(opt, str(day), pa.Table.from_pandas(part.reset_index(drop=True), preserve_index=False))
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
            entry = {"features": features, "split_scheme": split_scheme, "adjustment": adjustment}
            meta.setdefault("options", {})[opt] = entry

        days = self._transaction(sym, write).days
        log.info("%s: committed %d day(s) of %s", sym, days, opt)
        return days

    def rewrite_days(
        self,
        symbol: str,
        convert: Callable[[pa.Table, Path], pa.Table | None],
        meta_update: Mapping[str, Any],
    ) -> int:
        """Pass every committed day file of ``symbol`` through ``convert`` and commit the results with ``meta_update``.

        ``convert`` returns the new table, or None to keep the file as it is. All of it lands at
        once (a migration interrupted anywhere leaves the symbol as it was). Returns the files rewritten.
        """
        sym = validate_symbol(symbol)

        def rewrite(meta: dict[str, Any], current: mf.Manifest | None, gen: _Generation) -> None:
            import pyarrow.parquet as pq

            base = self.root / sym
            for opt, days in current.versions.items() if current else ():
                for day, rel in days.items():
                    new = convert(pq.read_table(base / rel), base / rel)
                    if new is not None:
                        gen.write(opt, day, new)
            meta.update({"symbol": sym, **meta_update})

        return self._transaction(sym, rewrite).days

    def _transaction(
        self, sym: str, body: Callable[[dict[str, Any], mf.Manifest | None, _Generation], None]
    ) -> _Generation:
        """Under the symbol's lock: sweep, let ``body`` write a generation and update the meta, commit, clean up."""
        base = self.root / sym
        new_folder = not base.is_dir()
        base.mkdir(parents=True, exist_ok=True)
        if new_folder:
            _files.fsync_dir(self.root)
        with _files.symbol_lock(base):
            meta = self.read_meta(sym)
            current = self.manifest(sym, meta)
            self._sweep(base, current)
            gen = _Generation(base)
            try:
                body(meta, current, gen)
                superseded = gen.commit(meta, current)
            except BaseException:
                if not gen.committed:
                    gen.discard()
                raise
            _files.fsync_dir(base)
            for rel in superseded:
                (base / rel).unlink(missing_ok=True)
        return gen

    def _sweep(self, base: Path, current: mf.Manifest | None) -> list[str]:
        """Delete what interrupted ingests of this symbol left (the caller holds its lock); return it."""
        files = []
        for p in _walk(base):
            try:
                files.append((p.relative_to(base).as_posix(), p.stat().st_mtime))
            except FileNotFoundError:
                continue
        gone = mf.leftovers(files, current, now=time.time(), alive=_files.pid_alive)
        for rel in gone:
            (base / rel).unlink(missing_ok=True)
        for day_dir in base.glob("dt=*"):
            if day_dir.is_dir() and not any(day_dir.iterdir()):
                day_dir.rmdir()
        if gone:
            log.info("%s: swept %d file(s) left by an interrupted ingest", base.name, len(gone))
        return gone

    def sweep(self, symbol: str) -> list[str]:
        """Delete what interrupted ingests of ``symbol`` left behind, under its lock; return the paths removed."""
        base = self.symbol_dir(symbol)
        if not base.is_dir():
            return []
        with _files.symbol_lock(base):
            return self._sweep(base, self.manifest(symbol))

    def symbols(self) -> list[str]:
        """Symbols with at least one committed day, sorted (a killed first ingest is not one)."""
        if not self.root.exists():
            return []
        out = []
        for p in sorted(self.root.iterdir()):
            if not p.is_dir() or p.name.startswith("."):
                continue
            try:
                man = self.manifest(p.name)
            except InvalidInputError:  # a folder that is not a symbol (lost+found, ...)
                continue
            if man and man.dates():
                out.append(p.name)
        return out

    def describe(self, symbol: str) -> SymbolInfo:
        """Days, date range, versions and feature count for one stored symbol (from its manifest)."""
        meta = self.read_meta(symbol)
        man = self.manifest(symbol, meta)
        dates = man.dates() if man else []
        if not man or not dates:
            raise FileNotFoundError(symbol)
        versions = meta.get("options", {})
        n_feat = max((len(v.get("features", {})) for v in versions.values()), default=0)
        adjustments = {versions.get(o, {}).get("adjustment") for o in man.versions}
        return SymbolInfo(
            symbol=self.symbol_dir(symbol).name,
            first_date=dates[0],
            last_date=dates[-1],
            days=len(dates),
            options=tuple(sorted(man.versions)),
            bar_seconds=int(meta.get("bar_seconds", 0)),
            features=n_feat,
            timezone=meta.get("timezone"),
            adjustment=adjustments.pop() if len(adjustments) == 1 else "mixed",
        )


def _day_listing(base: Path) -> Iterator[str]:
    """The symbol's ``dt=*/*.parquet`` files as relative paths (for adopting a legacy store)."""
    for f in sorted(base.glob("dt=*/*.parquet")):
        yield f"{f.parent.name}/{f.name}"


def _walk(base: Path) -> Iterator[Path]:
    """Every file of a symbol folder and of its ``dt=`` folders."""
    for p in base.iterdir():
        if p.is_file():
            yield p
        elif p.is_dir() and p.name.startswith("dt="):
            yield from (f for f in p.iterdir() if f.is_file())
